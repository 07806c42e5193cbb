"""Running a study: every section in order, each cached in ``DIR/sections/NAME/section.json``
with the settings it ran with, so re-running the same command skips what is finished (and the
runs inside resume from their checkpoints) and rebuilds the report."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from backprop_lab.core.files import make_folder, write_json
from backprop_lab.core.version import __version__
from backprop_lab.runs.record import versions
from backprop_lab.studies.config import Study
from backprop_lab.studies.report import write_html, write_markdown
from backprop_lab.studies.sections import SECTION_FUNCTIONS, Context, Section

# Rough relative cost of each section (seconds in the quick study on mnist-5k), for the time-left estimate.
WEIGHTS = {
    "network": 2,
    "forward": 2,
    "backward": 2,
    "equations": 3,
    "tape": 8,
    "engines": 30,
    "numpy33": 30,
    "experiments": 40,
    "cifar": 10,
    "blend": 6,
    "cnn": 15,
    "saveload": 5,
    "transfer": 10,
}
DEPENDS = {"saveload": "cnn", "transfer": "cnn"}
PACKAGE = Path(__file__).resolve().parents[1]  # backprop_lab/


@dataclass
class StudyResult:
    folder: Path
    html: Path
    markdown: Path
    sections: list[Section] = field(default_factory=list)
    cached: set[str] = field(default_factory=set)
    seconds: float = 0.0


def fingerprint(study: Study, key: str) -> dict:
    """What a finished section was made with: its settings, the data, and the code (``code_digest``), so that a
    section is reused only where this run would compute it the same way (a changed verdict rule re-runs it)."""

    own = study.settings(key)
    extra = {"uses": study.settings(DEPENDS[key])} if key in DEPENDS else {}
    return {
        "version": __version__,
        "code": code_digest(),
        "settings": own,
        **extra,
        "study_data": study.common.get("data"),
    }


@functools.lru_cache(maxsize=None)
def code_digest(root: Path = PACKAGE) -> str:
    """SHA-256 over the package's files (path and bytes, in path order; caches left out): any change to the code,
    a template or the reference study gives another digest."""
    digest = hashlib.sha256()
    for path in sorted(
        p
        for p in Path(root).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".nbi", ".nbc")
    ):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def run_study(study: Study, out: Path, command: str, progress=None) -> StudyResult:
    out = Path(out)
    make_folder(out / "sections")
    begin = time.perf_counter()
    sections, cached = [], set()
    for key in study.sections:
        folder = out / "sections" / key
        record = folder / "section.json"
        wanted = fingerprint(study, key)
        if progress:
            progress.start(key, WEIGHTS.get(key, 5))
        section = None
        if record.is_file():
            try:
                doc = json.loads(record.read_text())
                if doc.get("fingerprint") == json.loads(json.dumps(wanted)):
                    section = Section.from_dict(doc["section"])
                    cached.add(key)
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                section = None
            if section is None:  # other settings than last time: start the section afresh
                shutil.rmtree(folder)
        if section is None:
            started = time.perf_counter()
            section = SECTION_FUNCTIONS[key](Context(out, study.settings(key), key, study))
            section.seconds = time.perf_counter() - started
            write_json(record, {"fingerprint": wanted, "section": section.to_dict()})
        sections.append(section)
        if progress:
            progress.done(key)

    total = time.perf_counter() - begin
    data = study.common.get("data")
    footer = [
        ("command", command),
        ("study", f"{study.source}, preset {study.preset}"),
        ("data set", str(data)),
        ("seeds", f"{study.common.get('seeds')} (from seed {study.common.get('seed', 0)})"),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions().items())),
        ("machine", machine()),
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("wall time", f"{total:.1f} s this run"),
    ]
    footer += [
        (f"section {i}: {s.title}", f"{s.seconds:.1f} s" + (" (earlier run)" if s.key in cached else ""))
        for i, s in enumerate(sections, start=1)
    ]
    title = "backprop-lab study"
    subtitle = (
        f"{study.common.get('model')} and cnn on {data}: derived, trained three ways from the same weights and "
        f"batches, and measured."
    )
    html_path = write_html(out / "report.html", out, title, subtitle, sections, cached, footer)
    md_path = write_markdown(out / "report.md", title, subtitle, sections, footer)
    return StudyResult(out, html_path, md_path, sections, cached, total)
