"""Exercise sheets and keys: the keys agree with `bplab derive` and TensorFlow autograd, the published 2-2-2
example set with its own numbers has the published answers, sheets are pairwise apart and avoid the
degenerate cases, the same seed gives a byte-identical folder, and the sheets render in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from maths.tf_reference import tf_loss_and_grads

import backprop_lab as bl
from backprop_lab.classroom.exercises import (
    Setting,
    Student,
    degenerate,
    distinct,
    make_exercises,
    round_sig,
    within,
)
from backprop_lab.maths.equations import derive
from backprop_lab.maths.expr import MATH_FONT_CSS
from backprop_lab.maths.layout import columns_shape, columns_value

PUBLISHED = "examples/published-2-2-2.json"


def test_rounding_and_tolerance_can_fail():
    assert round_sig([0.123456, -98765.4], 4).tolist() == [0.1235, -98770.0]
    assert within(0.1235, 0.12346, 4) and within(0.1236, 0.12346, 4)  # 1.4 units of the 4th figure
    assert not within(0.1238, 0.12346, 4)  # 3.4 units
    assert not within([0.1, 0.2], [0.1], 4)  # the shapes differ


@pytest.mark.parametrize(
    "model, loss, rows",
    [("mlp:2/act=sigmoid/out=sigmoid", "half_squared_error", 1), ("mlp:3/act=tanh/out=sigmoid", "mse", 2)],
)
def test_keys_agree_with_derive_and_tensorflow(model, loss, rows, tmp_path):
    ex = bl.exercise(model=model, loss=loss, rows=rows, inputs=3, count=2, seed=3)
    setting = ex.setting
    for sheet in ex.sheets:
        key = sheet.key
        value, grads = tf_loss_and_grads(setting.spec(), loss, 0.0, key.weights, key.x, key.y, [])
        assert np.isclose(key.quantity("L").value, value, rtol=1e-12)
        for l, layer in enumerate(setting.spec().infos, start=1):
            assert np.allclose(key.quantity(f"dW[{l}]").value, grads[f"{layer.name}/kernel"], rtol=1e-10, atol=0)
            after = key.weights[f"{layer.name}/kernel"] - setting.config().learning_rate * grads[f"{layer.name}/kernel"]
            assert np.allclose(key.quantity(f"W[{l}] after the step").value, after, rtol=1e-12)
    # and `derive` for the same numbers prints the key's values
    key = ex.sheets[0].key
    path = tmp_path / "w.json"
    path.write_text(json.dumps({k: v.tolist() for k, v in key.weights.items()}))
    example = bl.derive(model, key.x.tolist(), key.y.tolist(), weights=path, loss=loss, lr=0.5, digits=4)
    derived = {line.equation.name: line.value for line in example.lines if line.section != "update"}
    for q in key.quantities:
        if q.section != "update":
            assert np.allclose(derived[q.symbol], q.value, rtol=1e-12), q.name


def test_a_columns_key_is_the_transpose_of_the_rows_key_and_agrees_with_derive(tmp_path):
    rows = bl.exercise(count=2, seed=3, rows=2, steps=2)
    cols = bl.exercise(out=tmp_path / "ex", count=2, seed=3, rows=2, steps=2, layout="columns")
    for a, b in zip(rows.sheets, cols.sheets):
        assert a.key.x.tolist() == b.key.x.tolist() and [q.name for q in a.key.quantities] == [
            q.name for q in b.key.quantities
        ]
        for p, q in zip(a.key.quantities, b.key.quantities):
            assert q.shape == columns_shape(p.shape) and q.step == p.step, p.name
            assert np.allclose(q.value, columns_value(p.value), rtol=1e-12, atol=1e-15), p.name
            assert np.array_equal(q.rounded, columns_value(p.rounded)), p.name
    doc = json.loads((tmp_path / "ex" / "keys.json").read_text())
    assert doc["version"] == 2 and doc["exercise"]["layout"] == "columns" and doc["exercise"]["steps"] == 2
    z1 = next(q for q in doc["students"][0]["quantities"] if q["name"] == "Z[1] (step 2)")
    assert z1["shape"] == [2, 2] and z1["step"] == 2  # units x examples
    sheet = (tmp_path / "ex" / "sheets" / "s1" / "sheet.md").read_text()
    assert "Z[l] = W[l] A[l-1] + b[l]" in sheet and "one per column of X" in sheet and "`W[2] after step 2`" in sheet
    # derive --layout columns prints the key's values of step 1
    key = cols.sheets[0].key
    path = tmp_path / "w.json"
    path.write_text(json.dumps({k: v.tolist() for k, v in key.weights.items()}))
    example = bl.derive(
        input=key.x.tolist(), target=key.y.tolist(), weights=path, loss="half_squared_error", lr=0.5, layout="columns"
    )
    derived = {line.equation.name: line.value for line in example.lines if line.section != "update"}
    for q in key.quantities:
        if q.step == 1 and q.section != "update":
            assert np.allclose(derived[q.symbol], q.value, rtol=1e-12), q.name


def test_the_published_example_has_the_published_answers():
    ex = bl.exercise(weights=PUBLISHED, input=["0.05,0.10"], target=["0.01,0.99"], fixed_biases=True, digits=9, count=2)
    key = ex.sheets[0].key
    assert f"{key.quantity('L').rounded:.9g}" == "0.298371109"
    # w5..w8 after the step, (in, out) layout: [[w5, w7], [w6, w8]]
    w2 = key.quantity("W[2] after the step").value
    assert np.allclose(w2, [[0.35891648, 0.511301270], [0.408666186, 0.561370121]], atol=5e-9)
    w1 = key.quantity("W[1] after the step").value
    assert np.allclose(w1, [[0.149780716, 0.24975114], [0.19956143, 0.29950229]], atol=5e-9)
    assert not any(q.name.startswith("b[") and "after" in q.name for q in key.quantities)  # fixed biases
    assert ex.notes and "same sheet" in ex.notes[0]


def test_sheets_are_pairwise_apart_and_not_degenerate_over_many_seeds():
    for model in ("mlp:2/act=sigmoid/out=sigmoid", "mlp:3/act=relu/out=sigmoid"):
        setting = Setting(model=model, rows=2)
        ex = make_exercises(setting, [Student(f"s{i}") for i in range(12)])
        d = derive(setting.spec(), setting.config())
        keys = [s.key for s in ex.sheets]
        for i, a in enumerate(ex.sheets):
            assert degenerate(setting, d, a.worked, a.key.quantities) is None
            for b in keys[i + 1 :]:
                assert distinct(a.key.quantities, b.quantities, setting.digits)
                assert not np.array_equal(a.key.x, b.x) or a.key.weights["dense_0/kernel"].tolist() != (
                    b.weights["dense_0/kernel"].tolist()
                )


def test_the_degenerate_check_can_fail():
    setting = Setting(model="mlp:2/act=relu/out=sigmoid")
    w = {
        "dense_0/kernel": np.array([[1.0, 0.5], [-1.0, 0.5]]),
        "dense_0/bias": np.zeros(2),
        "dense_1/kernel": np.array([[0.3, 0.2], [0.1, 0.4]]),
        "dense_1/bias": np.zeros(2),
    }
    ex = make_exercises(setting, [Student("a")], np.array([[0.5, 0.5]]), np.array([[0.2, 0.8]]), w)
    sheet = ex.sheets[0]
    why = degenerate(setting, derive(setting.spec(), setting.config()), sheet.worked, sheet.key.quantities)
    assert why is not None and "ReLU input near 0" in why


@pytest.mark.parametrize("options", [{}, {"layout": "columns", "steps": 2}], ids=["rows", "columns-2-steps"])
def test_the_same_seed_gives_a_byte_identical_folder(tmp_path, options):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\na1,Ada,ada@x\nb2,Alan,alan@x\n")
    for name in ("one", "two"):
        bl.exercise(out=tmp_path / name, students=roster, seed=5, solutions=True, **options)
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*") if p.is_file())
    assert one == two and len(one) > 10
    for rel in one:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    assert str(tmp_path) not in (tmp_path / "one" / "keys.json").read_text()
    other = bl.exercise(students=roster, seed=6, **options)
    assert other.sheets[0].key.x.tolist() != bl.exercise(students=roster, seed=5, **options).sheets[0].key.x.tolist()
    if options:
        solution = (tmp_path / "one" / "solutions" / "a1" / "solution.md").read_text()
        assert "## Step 2: Forward pass" in solution and "Z[1] = W[1] A[0] + b[1]" in solution


def test_the_key_format_is_versioned_and_complete(tmp_path):
    bl.exercise(out=tmp_path / "ex", count=2, seed=1)
    doc = json.loads((tmp_path / "ex" / "keys.json").read_text())
    assert doc["format"] == "bplab-exercise-keys" and doc["version"] == 2 and doc["exercise"]["layout"] == "rows"
    assert {"model", "loss", "optimizer", "lr", "digits", "tolerance"} <= set(doc["exercise"])
    q = doc["students"][0]["quantities"][0]
    assert q["name"] == "Z[1]" and len(q["value"]) == len(q["rounded"]) == np.prod(q["shape"]) and q["step"] == 1
    template = (tmp_path / "ex" / "sheets" / "s1" / "answers.csv").read_text().splitlines()
    assert template[0] == "quantity,values" and "δ[2]," in template and "W[2] after the step," in template
    assert "keys" not in {p.name for p in (tmp_path / "ex" / "sheets").rglob("*")}
    for page in ("sheets/s1/sheet.html", "class.html"):  # a math font, so that matrix brackets stretch
        assert MATH_FONT_CSS in (tmp_path / "ex" / page).read_text()


def test_bad_options_are_named(tmp_path):
    for kwargs, message in (
        ({"ask": "forward,everything"}, "--ask: unknown everything"),
        ({"digits": 1}, "--digits"),
        ({"students": tmp_path / "none.csv"}, "--students"),
        ({"names": "greek"}, "--names"),
        ({"steps": 9}, "--steps: 1 to 5 training steps, got 9"),
        ({"layout": "cols"}, "--layout: expected rows .* or columns"),
    ):
        with pytest.raises(bl.BplabError, match=message):
            bl.exercise(**kwargs)
    (tmp_path / "r.csv").write_text("name\nAda\n")
    with pytest.raises(bl.BplabError, match="needs an 'id' column"):
        bl.exercise(students=tmp_path / "r.csv")


def test_the_sheet_and_the_class_file_render_in_chromium(tmp_path):
    from helpers.browser import chromium

    bl.exercise(out=tmp_path / "ex", count=3, seed=2)
    bl.exercise(out=tmp_path / "cols", count=1, seed=2, layout="columns", steps=2)
    with chromium() as browser:
        for page in ("ex/sheets/s1/sheet.html", "ex/class.html", "cols/sheets/s1/sheet.html"):
            browser.get((tmp_path / page).as_uri())
            sizes = browser.execute_script(
                "return [...document.querySelectorAll('math')].map(m => m.getBoundingClientRect())"
                ".map(r => [r.width, r.height])"
            )
            assert len(sizes) > 10 and all(w > 0 and h > 0 for w, h in sizes), page
    assert (tmp_path / "ex" / "class.html").read_text().count("<section>") == 3


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="no TeX engine installed")
def test_the_latex_compiles(tmp_path):
    bl.exercise(out=tmp_path / "ex", count=2, seed=2)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "class.tex"], cwd=tmp_path / "ex", capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:]
