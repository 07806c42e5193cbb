"""The columns layout (Z = W A + b): derived from the rows equations by a tree transform, so every equation
evaluates (maths.expr.evaluate) to the rows value transposed, and a worked example's printed numbers are the
rows example's transposed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import bplab

from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import derive
from backprop_lab.maths.expr import evaluate
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from backprop_lab.viz.equations import write_equations

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "published-2-2-2.json"


def _weights(spec, rng):
    return {f"{i.name}/{k}": rng.normal(size=s) for i in spec.infos for k, s in i.params.items()}


def _as_columns(v):
    v = np.asarray(v)
    return v[:, None] if v.ndim == 1 else v.T if v.ndim == 2 else v


@pytest.mark.parametrize(
    "model, shape, classes, loss, l2",
    [
        ("mlp:5,4", (3,), 2, "categorical_crossentropy", 0.01),  # softmax from the logits: a column-wise softmax
        ("mlp:4/act=tanh/out=sigmoid", (6,), 3, "binary_crossentropy", 0.0),
        ("mlp:4/act=sigmoid/dropout=0.3/out=softmax", (2,), 3, "mse", 0.0),  # softmax's Jacobian: column sums
        ("mlp:3", (4, 4, 1), 5, "categorical_crossentropy", 0.0),  # images: A[0] = flatten(X)^T
    ],
)
def test_every_columns_equation_evaluates_to_the_rows_value_transposed(model, shape, classes, loss, l2):
    spec = parse_model(model, shape, classes)
    config = TrainConfig(loss=loss, l2=l2)
    rows, cols = derive(spec, config), derive(spec, config, "columns")
    rng = np.random.default_rng(3)
    m = 7  # pairwise distinct from every width, so a transposition cannot hide
    w, x = _weights(spec, rng), rng.normal(size=(m, *shape))
    y = np.eye(classes)[rng.integers(0, classes, m)]
    masks = {name: (rng.random((m, *s)) > rate).astype(float) for name, (_, rate, s) in rows.masks.items()}
    r, c = rows.evaluate(w, x, y, masks), cols.evaluate(w, x, y, masks)
    checked = 0
    for eq_r, eq_c in zip(rows.equations, cols.equations):
        if eq_r.section == "update":
            continue
        assert eq_c.name == eq_r.name
        value = evaluate(eq_c.rhs, c)  # the printed tree, interpreted
        assert np.shape(value) == np.shape(_as_columns(r[eq_r.name])), eq_c.text
        np.testing.assert_allclose(value, _as_columns(r[eq_r.name]), rtol=1e-10, atol=1e-12, err_msg=eq_c.text)
        checked += 1
    assert checked >= 4 * len(cols.layers)
    for key, g in rows.gradients(r).items():  # handed back in the weights files' (in, out) layout
        np.testing.assert_allclose(cols.gradients(c)[key], g, rtol=1e-10, atol=1e-12)
    # the gradient is the loss's: a central difference on one kernel entry
    key = f"{spec.infos[-1].name}/kernel"
    w_plus, w_minus = {**w, key: w[key].copy()}, {**w, key: w[key].copy()}
    w_plus[key][1, 0] += 1e-6
    w_minus[key][1, 0] -= 1e-6
    fd = (cols.evaluate(w_plus, x, y, masks)["loss"] - cols.evaluate(w_minus, x, y, masks)["loss"]) / 2e-6
    assert abs(fd - c[f"dW{len(cols.layers)}"][0, 1]) < 1e-6 * max(1, abs(fd))


def test_the_columns_equations_read_as_the_courses_write_them():
    d = derive(parse_model("mlp:5/act=sigmoid/out=sigmoid", (3,), 2), TrainConfig(loss="mse"), "columns")
    text = {eq.name: eq.text for eq in d.equations}
    assert text["Z1"] == "Z[1] = W[1] A[0] + b[1]"
    assert text["dW2"] == "dW[2] = δ[2] A[1]ᵀ"
    assert text["delta1"] == "δ[1] = (W[2]ᵀ δ[2]) ⊙ A[1] ⊙ (1 - A[1])"
    tex = {eq.name: eq.tex for eq in d.equations}
    assert tex["db2"] == r"db^{[2]} = \delta^{[2]} \mathbf{1}"
    assert d.layers[0].w.shape == (5, 3) and d.layers[0].b.shape == (5, 1) and d.layers[0].z.shape == (5, "m")
    rows = {eq.name: eq.text for eq in derive(d.spec, d.config).equations}
    assert rows["Z1"] == "Z[1] = A[0] W[1] + b[1]" and rows["dW2"] == "dW[2] = A[1]ᵀ δ[2]"


def test_a_columns_worked_example_is_the_rows_one_transposed():
    spec = parse_model("mlp:3/act=tanh/out=sigmoid", (2,), 4)
    rng = np.random.default_rng(0)
    w, x, y = _weights(spec, rng), rng.normal(size=(5, 2)), rng.random((5, 4))
    config = TrainConfig(loss="mse", optimizer="adam", lr=0.1)
    rows = worked_example(spec, config, w, x, y, steps=3, digits=8)
    cols = worked_example(spec, config, w, x, y, steps=3, digits=8, layout="columns")
    assert [line.equation.name for line in cols.lines] == [line.equation.name for line in rows.lines]
    for lr, lc in zip(rows.lines, cols.lines):
        np.testing.assert_allclose(lc.value, _as_columns(lr.value), rtol=1e-12, atol=1e-14)
        printed = np.array(json.loads(lc.text[2].replace("nan", "NaN")), dtype=float)  # the result as printed
        np.testing.assert_allclose(printed, _as_columns(lr.value).reshape(printed.shape), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(cols.losses, rows.losses, rtol=1e-12)
    for key in rows.weights:  # after three Adam steps, handed back in the files' layout
        np.testing.assert_allclose(cols.weights[key], rows.weights[key], rtol=1e-12)
    z1 = next(line for line in cols.lines if line.equation.name == "Z1")
    assert z1.text[0] == "Z[1] = W[1] A[0] + b[1]"
    assert z1.text[1].startswith(json.dumps(w["dense_0/kernel"].T.round(8).tolist())[:8])


def test_a_convolution_has_no_columns_form():
    with pytest.raises(BplabError, match="--layout columns: written for dense networks.*conv2d"):
        derive(parse_model("cnn:2", (6, 6, 1), 3), TrainConfig(), "columns")


def test_columns_equation_files(tmp_path):
    md = write_equations(parse_model("mlp:4", (3,), 2), TrainConfig(), tmp_path, "t", "columns")[0].read_text()
    assert "Columns layout" in md and "`Z[1] = W[1] A[0] + b[1]`" in md and "`dW[1] = δ[1] A[0]ᵀ`" in md


def test_derive_in_the_columns_layout_from_the_command_line(tmp_path):
    args = ("derive", "--weights", EXAMPLE, "--input", "0.05,0.10", "--target", "0.01,0.99")
    args += ("--loss", "half_squared_error", "--lr", "0.5", "--fixed-biases", "--digits", "9", "--layout", "columns")
    result = bplab(*args)
    assert result.returncode == 0, result.stderr
    # the classic example's own layout: W[1] = [[w1, w2], [w3, w4]], the inputs a column
    assert "`Z[1] = W[1] A[0] + b[1]`" in result.stdout
    assert "[[0.15, 0.2], [0.25, 0.3]] [[0.05], [0.1]] + [[0.35], [0.35]]" in result.stdout
    assert "[[0.35891648, 0.408666186], [0.51130127, 0.561370121]]" in result.stdout  # w5 w6 / w7 w8
    bad = bplab("derive", "--input", "1,2", "--target", "1,0", "--layout", "cols")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --layout: expected rows (Z = A W + b, as the code runs it) or columns (Z = W A + b), got 'cols'"
    ]
