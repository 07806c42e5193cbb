"""Worked examples: a published hand-worked example reproduced to every printed digit, and random small
networks (MLP and a tiny CNN) checked against TensorFlow autograd and finite differences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.cli import bplab

from backprop_lab.analysis.derivation_check import dropout_masks, rel
from backprop_lab.maths.equations import derive
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from maths.tf_reference import tf_loss_and_grads

# The classic step-by-step example (a 2-2-2 sigmoid network, squared error E = sum 1/2 (t - o)^2,
# learning rate 0.5, biases kept fixed): w1..w4 feed the hidden layer, w5..w8 the outputs.
# In our (in, out) layout kernel[i][j] is the weight from unit i to unit j: w1 = i1->h1, w2 = i2->h1,
# w3 = i1->h2, w4 = i2->h2, w5 = h1->o1, w6 = h2->o1, w7 = h1->o2, w8 = h2->o2.
PUBLISHED = {
    "dense_0/kernel": [[0.15, 0.25], [0.20, 0.30]],
    "dense_0/bias": [0.35, 0.35],
    "dense_1/kernel": [[0.40, 0.50], [0.45, 0.55]],
    "dense_1/bias": [0.60, 0.60],
}
PRINTED_ERROR = "0.298371109"
PRINTED_WEIGHTS = {
    "w1": "0.149780716",
    "w2": "0.19956143",
    "w3": "0.24975114",
    "w4": "0.29950229",
    "w5": "0.35891648",
    "w6": "0.408666186",
    "w7": "0.511301270",
    "w8": "0.561370121",
}
WHERE = {
    "w1": ("dense_0/kernel", 0, 0),
    "w2": ("dense_0/kernel", 1, 0),
    "w3": ("dense_0/kernel", 0, 1),
    "w4": ("dense_0/kernel", 1, 1),
    "w5": ("dense_1/kernel", 0, 0),
    "w6": ("dense_1/kernel", 1, 0),
    "w7": ("dense_1/kernel", 0, 1),
    "w8": ("dense_1/kernel", 1, 1),
}


def _printed_digits(value: float, printed: str) -> bool:
    """``value`` agrees with ``printed`` to every digit printed (rounded half up at the last)."""
    decimals = len(printed.split(".")[1])
    return abs(value - float(printed)) <= 0.5 * 10**-decimals + 1e-15


def test_the_published_example_to_every_printed_digit():
    spec = parse_model("mlp:2/act=sigmoid/out=sigmoid", (2,), 2)
    w = {k: np.array(v) for k, v in PUBLISHED.items()}
    ex = worked_example(
        spec,
        TrainConfig(optimizer="sgd", lr=0.5, loss="half_squared_error"),
        w,
        np.array([[0.05, 0.10]]),
        np.array([[0.01, 0.99]]),
        fixed_biases=True,
        digits=9,
    )
    assert _printed_digits(ex.loss_before, PRINTED_ERROR)
    for name, printed in PRINTED_WEIGHTS.items():
        key, i, j = WHERE[name]
        assert _printed_digits(ex.weights[key][i, j], printed), (name, ex.weights[key][i, j], printed)
    assert np.array_equal(ex.weights["dense_0/bias"], [0.35, 0.35])  # kept fixed


def test_the_published_example_from_the_command_line(tmp_path):
    weights = tmp_path / "example.json"
    weights.write_text(json.dumps(PUBLISHED))
    result = bplab(
        "derive",
        "--model",
        "mlp:2/act=sigmoid/out=sigmoid",
        "--weights",
        str(weights),
        "--input",
        "0.05,0.10",
        "--target",
        "0.01,0.99",
        "--loss",
        "half_squared_error",
        "--lr",
        "0.5",
        "--fixed-biases",
        "--digits",
        "9",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"= {PRINTED_ERROR}" in text
    # the textbook order: forward, loss, output delta, backward, gradients, update, loss per step
    marks = [
        text.index(h)
        for h in (
            "## Forward pass",
            "## Loss",
            "## Output delta",
            "## Backward pass",
            "## Weight and bias gradients",
            "## Update rule",
            "## Loss after each step",
        )
    ]
    assert marks == sorted(marks)
    assert "`Z[1] = A[0] W[1] + b[1]`" in text and "[[0.05, 0.1]] [[0.15, 0.25], [0.2, 0.3]] + [0.35, 0.35]" in text
    assert "[[0.35891648, 0.51130127], [0.408666186, 0.561370121]]" in text  # w5 w7 / w6 w8 after the step
    assert "| 2 |" in text  # the loss after each of the two steps
    for name in ("worked.md", "worked.tex", "worked.html"):
        assert (tmp_path / "out" / name).stat().st_size > 500
    assert "<math" in (tmp_path / "out" / "worked.html").read_text()


@pytest.mark.parametrize(
    "model, shape, loss, l2, optimizer",
    [
        ("mlp:4,3/act=tanh", (5,), "categorical_crossentropy", 0.01, "sgd"),
        ("mlp:3/act=sigmoid/dropout=0.3/out=sigmoid", (4,), "mse", 0.0, "sgd"),
        ("cnn:2/dropout=0.2", (6, 6, 1), "categorical_crossentropy", 0.0, "sgd"),
    ],
)
def test_random_worked_examples_match_tensorflow_and_finite_differences(model, shape, loss, l2, optimizer):
    rng = np.random.default_rng(11)
    spec = parse_model(model, shape, 3)
    config = TrainConfig(optimizer=optimizer, lr=0.1, loss=loss, l2=l2, dtype="float64")
    w = {k: 0.5 * rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    x = rng.standard_normal((2, *shape))
    y = np.eye(3)[[0, 2]]
    d = derive(spec, config)
    masks = dropout_masks(d, 2, 5)
    ex = worked_example(spec, config, w, x, y, masks=masks)
    value, grads = tf_loss_and_grads(spec, loss, l2, w, x, y, list(masks.values()))
    assert ex.loss_before == pytest.approx(value, rel=1e-12)
    shown = {line.equation.name: line.value for line in ex.lines}
    for layer in d.layers:
        assert rel(shown[f"dW{layer.l}"], grads[f"{layer.info.name}/kernel"]) < 1e-7
        assert rel(shown[f"db{layer.l}"], grads[f"{layer.info.name}/bias"]) < 1e-7
        # one plain gradient step, as the example writes it
        assert (
            rel(
                ex.weights[f"{layer.info.name}/kernel"],
                w[f"{layer.info.name}/kernel"] - 0.1 * grads[f"{layer.info.name}/kernel"],
            )
            < 1e-12
        )
    # and the loss is the derived loss: a finite difference along the gradient agrees with its norm
    eps = 1e-6
    g = {k: grads[k] for k in w}
    up = d.evaluate({k: w[k] + eps * g[k] for k in w}, x, y, masks, ("forward", "loss"))["loss"]
    down = d.evaluate({k: w[k] - eps * g[k] for k in w}, x, y, masks, ("forward", "loss"))["loss"]
    assert (up - down) / (2 * eps) == pytest.approx(sum((v**2).sum() for v in g.values()), rel=1e-6)


def test_more_steps_lower_the_loss_and_adam_state_carries_over():
    spec = parse_model("mlp:3/act=sigmoid/out=sigmoid", (2,), 2)
    w = {k: 0.3 * np.random.default_rng(0).standard_normal(s) for k, s in spec.param_shapes().items()}
    ex = worked_example(
        spec,
        TrainConfig(optimizer="adam", lr=0.05, loss="mse"),
        w,
        np.array([[0.05, 0.1]]),
        np.array([[0.01, 0.99]]),
        steps=5,
    )
    assert len(ex.losses) == 6 and all(b < a for a, b in zip(ex.losses, ex.losses[1:]))
    updates = [line.text[0] for line in ex.lines if line.section == "update"]
    assert any(u.startswith("m_W[1] ←") for u in updates) and any(u.startswith("W[2] ←") for u in updates)


def test_a_hand_written_weights_file_with_a_wrong_shape_is_named(tmp_path):
    bad = dict(PUBLISHED, **{"dense_1/kernel": [[0.4, 0.5]]})
    (tmp_path / "w.toml").write_text("\n".join(f'"{k}" = {json.dumps(v)}' for k, v in bad.items()))
    result = bplab("derive", "--weights", str(tmp_path / "w.toml"), "--input", "0.05,0.1", "--target", "0.01,0.99")
    assert result.returncode == 2 and "weight dense_1/kernel has shape (1, 2), the spec needs (2, 2)" in result.stderr


def _small_example(**kw):
    spec = parse_model("mlp:3/act=sigmoid/out=sigmoid", (3,), 2)
    rng = np.random.default_rng(4)
    w = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    x, y = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    return worked_example(spec, TrainConfig(loss="mse", optimizer="momentum", lr=0.5), w, x, y, **kw)


def test_digits_apply_to_the_loss_after_each_step():
    ex = _small_example(steps=3, digits=4)
    assert len(ex.losses) == 4 and all(len(f"{v:.9g}") > len(f"{v:.4g}") for v in ex.losses)  # digits to lose
    md, page, tex = ex.to_markdown(), ex.to_html(), ex.latex_body()
    for i, v in enumerate(ex.losses):
        assert f"| {i} | {v:.4g} |" in md and f"<td>{i}</td><td>{v:.4g}</td>" in page and f"${v:.4g}$" in tex
        assert f"{v:.9g}" not in md + page + tex


def test_later_steps_written_out_start_from_the_weights_the_step_before_left():
    two = _small_example(steps=2, written=2)
    assert [line.step for line in two.lines] == [1] * (len(two.lines) // 2) + [2] * (len(two.lines) // 2)
    assert _small_example(steps=2).written == 1 and two.written == 2
    after_one = _small_example(steps=1)  # step 2's forward pass and gradients: step 1's from the weights it left
    spec = parse_model("mlp:3/act=sigmoid/out=sigmoid", (3,), 2)
    config = TrainConfig(loss="mse", optimizer="momentum", lr=0.5)
    x, y = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    again = worked_example(spec, config, after_one.weights, x, y)
    second = {line.equation.name: line.value for line in two.lines if line.step == 2 and line.section != "update"}
    for line in again.lines:
        if line.section != "update":
            assert np.allclose(second[line.equation.name], line.value, rtol=1e-12), line.equation.name
    md = two.to_markdown()
    assert "## Step 1: Forward pass" in md and "## Step 2: Update rule" in md and "## Forward pass" not in md
    assert "\\section*{Step 2: Loss}" in two.latex_body() and "<h2>Step 2: Loss</h2>" in two.to_html()
    bare = _small_example(steps=2, written=2, printed=False)  # the values only, as a candidate exercise sheet
    assert all(a.text == ("", "", "") and np.array_equal(a.value, b.value) for a, b in zip(bare.lines, two.lines))


def test_latex_fragments_line_up_at_the_equals_signs(tmp_path):
    import re
    import shutil
    import subprocess

    ex = _small_example(layout="columns", title="mlp:3: the weights in my_weights.json; 100% & #1")
    body, doc = ex.latex_body(), ex.to_latex()
    assert "\\documentclass" not in body and "\\begin{document}" not in body and body in doc
    blocks = re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", body, flags=re.S)
    assert len(blocks) == len(ex.lines)
    for block in blocks:
        rows = block.split(" \\\\\n")
        assert len(rows) >= 2 and all(("&=" in r or "&\\leftarrow" in r) for r in rows), block
        assert rows[0].split("&")[0].strip() and not any(r.split("&")[0].strip() for r in rows[1:]), block
    assert r"my\_weights.json; 100\% \& \#1" in doc  # titles name files and losses: escaped
    latex = shutil.which("pdflatex") or shutil.which("lualatex")
    if latex:  # where a TeX engine is installed, both compile
        (tmp_path / "doc.tex").write_text(doc)
        (tmp_path / "slide.tex").write_text(
            "\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}" + body + "\\end{document}"
        )
        for name in ("doc.tex", "slide.tex"):
            done = subprocess.run([latex, "-interaction=nonstopmode", name], cwd=tmp_path, capture_output=True)
            assert done.returncode == 0, done.stdout[-2000:]


def test_matrix_brackets_stretch_over_the_rows_in_chromium(tmp_path):
    from helpers.browser import chromium

    page = tmp_path / "worked.html"
    page.write_text(_small_example(layout="columns").to_html())  # 3-row matrices: W[1] (3, 3), A[1] (3, 2)
    script = (
        "return Array.from(document.querySelectorAll('mtable')).filter(t => t.querySelectorAll('mtr').length >= 3"
        " && t.previousElementSibling && t.previousElementSibling.textContent === '[').map(t => ["
        "t.getBoundingClientRect().height, t.previousElementSibling.getBoundingClientRect().height,"
        " t.nextElementSibling.getBoundingClientRect().height]);"
    )
    with chromium() as browser:
        browser.get(page.resolve().as_uri())
        sizes = browser.execute_script(script)
    assert len(sizes) >= 4, sizes
    for table, left, right in sizes:  # each bracket as tall as its matrix (a one-line bracket is a third of it)
        assert left >= 0.9 * table and right >= 0.9 * table, sizes
