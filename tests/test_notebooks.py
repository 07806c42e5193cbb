"""The quickstart notebook in examples/ runs with a real Jupyter kernel and shows what it promises (the study
notebook's test is tests/studies/test_notebook.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
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
