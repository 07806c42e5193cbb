"""The Makefile's two commands on a fresh clone: `make demo` installs the package alone (no test-only
package), `make test` adds the test extras, `make docs` the docs extras. Read from `make -n` (what make
would run), with the venv in a folder that does not exist yet, as in a fresh clone."""

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str, tmp_path: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    done = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def installs(plan: str) -> list[str]:
    return [line.split("pip install -q ", 1)[1] for line in plan.splitlines() if "pip install -q -e" in line]


def test_make_demo_installs_no_test_extras(tmp_path):
    plan = planned("demo", tmp_path)
    assert installs(plan) == ["-e ."], plan
    assert "bplab study" in plan


def test_make_test_and_make_docs_add_their_extras(tmp_path):
    assert installs(planned("test", tmp_path)) == ["-e .", '-e ".[test]"']
    assert installs(planned("docs", tmp_path)) == ["-e .", '-e ".[docs]"']
    assert "mkdocs build --strict" in planned("docs", tmp_path)


def test_no_test_only_package_is_a_main_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = {d.split(">")[0].split("[")[0].strip() for d in project["dependencies"]}
    test_only = {d.split(">")[0].split("[")[0].strip() for d in project["optional-dependencies"]["test"]}
    assert not main & test_only, main & test_only
    assert {"ray", "selenium", "nbclient", "pytest", "hypothesis"} <= test_only


def test_make_test_runs_the_fast_tier_make_test_slow_the_rest_and_ci_runs_both(tmp_path):
    fast, slow = planned("test", tmp_path), planned("test-slow", tmp_path)
    assert '-m "not slow"' in fast and "-m slow" in slow
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test\n" in ci and "make test-slow" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme and "make test-slow" in readme
