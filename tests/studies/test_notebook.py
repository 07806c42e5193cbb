"""The study notebook (studies/notebook.py) that ``bplab study --notebook`` writes, run with a real Jupyter
kernel: a cell per section, and the numbers of the report (on digits, three sections)."""

import re

import pytest
from helpers.cli import bplab
from helpers.notebooks import execute, outputs

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

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
