"""The documentation site: `make docs`'s build (mkdocs, --strict: any warning fails) gives a page for every
public name and every result type, makes no request to any network, and every tutorial's code runs as a
reader would run it, in order, in an empty folder (Python blocks in one namespace, `bplab` lines of sh blocks
as the real command). Skipped where the docs extra (mkdocs) is not installed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import bplab, bplab_env

import backprop_lab as bl

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
SLOW = {"first-study", "three-engines"}  # they train networks for 20-40 s
RESULT_TYPES = ["Model", "Summary", "DataInfo", "Drawing", "WorkedExample", "CheckReport", "Chains", "Run", "History",
                "ClassificationReport", "Evaluation", "GradCheck", "Comparison", "PairParity", "SweepResult",
                "Transfer", "StudyReport", "Exported"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=bplab_env({"NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def anchors(page: Path) -> set[str]:
    return set(re.findall(r'id="(backprop_lab[^"]*)"', page.read_text()))


def test_every_public_name_and_result_type_has_its_entry(site):
    functions = anchors(site / "reference" / "api.html")
    for name in bl.__all__:
        assert f"backprop_lab.api.{name}" in functions or f"backprop_lab.{name}" in functions, name
    results = {a.rsplit(".", 1)[-1] for a in anchors(site / "reference" / "results.html")}
    missing = set(RESULT_TYPES) - results
    assert not missing, f"result types without an entry: {sorted(missing)}"
    assert "Example" in (site / "reference" / "api.html").read_text()


def test_the_site_makes_no_network_request(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 10 and (site / "search" / "search_index.js").exists()  # search works from file://
    for page in pages:
        remote = re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(https?://[^"]+)"', page.read_text())
        assert not remote, f"{page.relative_to(site)} loads {remote}"
    for css in site.rglob("*.css"):
        assert "fonts.googleapis" not in css.read_text() and "@import url(http" not in css.read_text(), css


def test_every_tutorial_is_in_the_navigation_and_none_is_a_stub():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in TUTORIALS:
        assert f"tutorials/{page.name}" in nav, page.name
        assert len(page.read_text().splitlines()) >= 30, f"{page.name} is a stub"


def blocks(page: Path) -> list[tuple[str, str]]:
    return re.findall(r"```(python|sh)\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=pytest.mark.slow) if p.stem in SLOW else p for p in TUTORIALS], ids=lambda p: p.stem
)
def test_the_tutorial_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__tutorial__"}
    for kind, code in blocks(page):
        if kind == "python":
            exec(compile(code, f"{page.name}", "exec"), namespace)  # noqa: S102 - the tutorial's own code
            continue
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if not line.startswith("bplab "):
                continue
            args = shlex.split(line)[1:]
            redirect = args[args.index(">") + 1] if ">" in args else None
            result = bplab(*(args[: args.index(">")] if redirect else args), cwd=tmp_path)
            assert result.returncode == 0, f"{line}\n{result.stderr[-2000:]}"
            if redirect:
                (tmp_path / redirect).write_text(result.stdout)


def test_the_site_opens_from_file_in_a_browser_without_network_or_console_errors(site):
    from helpers.browser import chromium

    with chromium() as browser:
        for page in ("index.html", "reference/api.html", "tutorials/check-derivation.html", "explore.html"):
            browser.get((site / page).as_uri())
            entries = browser.execute_script("return performance.getEntries().map((e) => e.name)")
            remote = [e for e in entries if e.startswith(("http:", "https:"))]
            assert not remote, f"{page}: {remote}"
            severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert not severe, f"{page}: {severe}"
        browser.get((site / "reference" / "api.html").as_uri())
        text = browser.find_element("tag name", "body").text
        assert all(name in text for name in bl.__all__), [n for n in bl.__all__ if n not in text]
