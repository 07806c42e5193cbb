"""The notebooks run with a real Jupyter kernel and show what they promise: the quickstart in
examples/, and the study notebook that ``bplab study --notebook`` writes (on digits, three sections)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers.cli import bplab
from helpers.notebooks import execute, outputs

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs_and_shows_tables_pictures_equations_and_numbers(tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    nb = execute(tmp_path / "examples" / "quickstart.ipynb", tmp_path / "examples", tmp_path / "jupyter")
    found = outputs(nb)
    assert not [o for o in found if o["type"] == "error"]
    text = "\n".join(o["text"] for o in found)
    html = "\n".join(o["html"] for o in found)
    assert "58,442 parameters" in text and "Total params: 58,442" in html  # the summary
    assert html.count("<svg") >= 3, "the network and both computation graphs inline as SVG"
    assert "<math" in html, "equations as MathML"
    accs = re.search(r"tape test accuracy (\d\.\d{4}), fit test accuracy (\d\.\d{4})", text)
    assert accs and all(0.5 < float(a) <= 1 for a in accs.groups())
    assert re.search(r"digit 3: F1 \d\.\d{4} \(tape\)", text)
    assert re.search(r"scratch vs tape: gradients \d\.\d\de-\d\d", text)
    assert "parity" in html and "scratch vs tape" in html  # the comparison's table
    assert re.search(r"passed: True; worst relative error \d\.\d\de-\d\d", text)
    assert (tmp_path / "examples" / "runs" / "quickstart" / "tape" / "model.json").is_file()
    cells = {
        name: next(c for c in nb.cells if c.cell_type == "code" and name in c.source)
        for name in ("bl.compare(", "bl.train(")
    }
    bars = [o for o in cells["bl.compare("].outputs if "<progress" in o.get("data", {}).get("text/html", "")]
    assert len(bars) == 1, "one progress bar, updated in place, for all six trainings of the comparison"
    assert 'value="' in bars[0]["data"]["text/html"]
    assert not any("<progress" in o.get("data", {}).get("text/html", "") for o in cells["bl.train("].outputs)  # quiet


STUDY = """data = "digits"
model = "mlp:32,16"
optimizer = "adam"
lr = 0.001
init = "he_normal"
batch_size = 64
epochs = 1
seeds = 1
seed = 0
sections = ["network", "equations", "tape"]

[presets.quick]
epochs = 1
"""


def test_study_notebook_has_a_cell_per_section_and_reproduces_its_numbers(tmp_path):
    (tmp_path / "study.toml").write_text(STUDY)
    result = bplab("study", tmp_path / "study.toml", "--out", tmp_path / "study", "--notebook", "--quiet")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "study" / "study.ipynb"
    assert f"notebook: {path}" in " ".join(result.stdout.split())
    nb = execute(path, tmp_path / "study", tmp_path / "jupyter")
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert [m.splitlines()[0].split(".")[0] for m in markdown[1:]] == ["## 1", "## 2", "## 3"]
    assert len(code) == 4 and "bl.train(engine='tape'" in code[3]
    found = outputs(nb)
    assert not [o for o in found if o["type"] == "error"]
    html = "\n".join(o["html"] for o in found)
    assert "<img" in html or "<svg" in html  # the drawings (the section asks for PNG)
    assert "all passed" in html  # the gradient check
    accuracy = re.search(r"test accuracy (\d\.\d{4})", html)
    assert accuracy, "the tape run shows its test accuracy"
    reported = (tmp_path / "study" / "report.md").read_text()
    assert accuracy.group(1) in reported, "the notebook gives the report's number"
