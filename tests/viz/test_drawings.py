"""Every drawing of a model in one folder: three graphs (picture and DOT) and the equations, in either direction."""

from __future__ import annotations

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from backprop_lab.viz.drawings import drawn_graphs, write_drawings

SPEC = parse_model("mlp:3", (4,), 2)


def test_the_three_graphs_are_laid_out_in_the_asked_direction():
    graphs = drawn_graphs(SPEC, ["no", "yes"], derive(SPEC, TrainConfig()), rankdir="tb")
    assert [g.direction for g in graphs] == ["TB"] * 3
    assert [n.label for n in graphs[0].nodes if n.kind == "neuron"][-2:] == ["no", "yes"]
    with pytest.raises(BplabError, match="--rankdir"):
        drawn_graphs(SPEC, ["no", "yes"], derive(SPEC, TrainConfig()), rankdir="up")


def test_one_folder_holds_the_pictures_the_dot_files_and_the_equations(tmp_path):
    written, used = write_drawings(SPEC, ["no", "yes"], TrainConfig(), tmp_path, "svg", "matplotlib", "tiny")
    assert used == "matplotlib" and all(p.parent == tmp_path and p.is_file() for p in written)
    names = {p.name for p in written}
    assert {f"{g}.{x}" for g in ("network", "forward", "backward") for x in ("svg", "dot")} <= names
    assert {"equations.md", "equations.tex", "equations.html"} <= names
    assert "Z[1] = A[0] W[1] + b[1]" in (tmp_path / "equations.md").read_text()


def test_draw_in_the_columns_layout(tmp_path):
    from helpers.cli import bplab

    out = tmp_path / "d"
    result = bplab(
        "draw", "--model", "mlp:6", "--data", "digits", "--renderer", "matplotlib", "--layout", "columns", "--out", out
    )
    assert result.returncode == 0, result.stderr
    md = (out / "equations.md").read_text()
    assert "`Z[1] = W[1] A[0] + b[1]`" in md and "`dW[1] = δ[1] A[0]ᵀ`" in md
    assert "W[1] (6, 64)" in (out / "forward.dot").read_text()  # the graph's W is (out, in) too
    conv = bplab("draw", "--model", "cnn:2", "--data", "digits", "--layout", "columns", "--out", tmp_path / "c")
    assert conv.returncode == 2 and "written for dense networks" in conv.stderr and not (tmp_path / "c").exists()
