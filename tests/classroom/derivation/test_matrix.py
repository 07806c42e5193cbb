"""Matrix-form lines: a corpus of derivations with the verdict and named cause of each line, checked numerically
against the model's derivation (maths/equations.py), never by comparing text."""

from __future__ import annotations

import functools
import itertools
import sys

import numpy as np
import pytest

from backprop_lab.classroom.choices import L2_FORMS, L2_GRADIENTS
from backprop_lab.classroom.derivation import check_derivation
from backprop_lab.classroom.derivation.matrix import (
    BATCHES,
    LAYOUTS,
    SCALES,
    Model,
    Unjudged,
    close,
    correct_lines,
    correct_text,
    output_delta_text,
    parse_rhs,
    value,
)
from backprop_lab.classroom.derivation.matrix_writer import show, tidy
from backprop_lab.classroom.mistakes import MATRIX_MISTAKES, candidates
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

DIGITS = ((8, 8, 1), 10)


@functools.lru_cache(maxsize=None)
def derivation(model: str, l2: float = 0.0, loss: str = "categorical_crossentropy"):
    shape, classes = ((6,), 1) if model.endswith("/out=sigmoid") else DIGITS
    return derive(parse_model(model, shape, classes), TrainConfig(l2=l2, loss=loss))


def verdicts(text: str, model: str, l2: float = 0.0, layout: str | None = None):
    report = check_derivation(text, derivation(model, l2), model, layout=layout)
    return report, {v.line: (v.status, v.codes) for v in report.verdicts}


COURSE_COLUMNS = """dZ[2] = A[2] - Y
dW[2] = (1/m) dZ[2] A[1]^T
db[2] = (1/m) sum(dZ[2], axis=1, keepdims=True)
dZ[1] = W[2]^T dZ[2] * g'(Z[1])
dW[1] = (1/m) dZ[1] X^T
db[1] = (1/m) np.sum(dZ[1], axis=1, keepdims=True)"""
COURSE_ROWS = """dZ[2] = A[2] - Y
dW[2] = (1/m) A[1]^T dZ[2]
db[2] = (1/m) sum(dZ[2], axis=0)
dZ[1] = dZ[2] W[2]^T * relu'(Z[1])
dW[1] = (1/m) X^T dZ[1]
db[1] = (1/m) sum(dZ[1])"""
OK6 = {k: ("correct", []) for k in range(1, 7)}


def swap(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


# (id, model, l2, text, {line: (status, codes)} for the lines that are not correct)
CORPUS = [
    ("course-columns", "mlp:8", 0.0, COURSE_COLUMNS, {}),
    ("course-rows", "mlp:8", 0.0, COURSE_ROWS, {}),
    ("mean-scale-rows", "mlp:8", 0.0, COURSE_ROWS.replace("A[2] - Y", "(A[2] - Y) / m").replace("(1/m) ", ""), {}),
    (
        "mean-scale-columns",
        "mlp:8",
        0.0,
        COURSE_COLUMNS.replace("A[2] - Y", "(A[2] - Y)/m").replace("(1/m) ", ""),
        {},
    ),
    ("unicode", "mlp:8", 0.0, "δ[2] = A[2] − Y\ndW[2] = (1/m) δ[2] A[1]ᵀ\nδ[1] = W[2]ᵀ δ[2] ⊙ relu′(Z[1])", {}),
    (
        "latex",
        "mlp:8",
        0.0,
        "$dZ^{[2]} = A^{[2]} - Y$\n$dW^{[2]} = \\frac{1}{m} dZ^{[2]} A^{[1]T}$\n"
        "$\\delta^{[1]} = W^{[2]\\top} dZ^{[2]} \\odot g^{[1]'}(Z^{[1]})$\n"
        "$dW^{[1]} = \\frac{1}{m} \\delta^{[1]} X^{T}$",
        {},
    ),
    (
        "numpy",
        "mlp:8",
        0.0,
        "dZ2 = A2 - Y\ndW2 = np.dot(dZ2, A1.T) / m\ndZ1 = np.multiply(np.dot(W2.T, dZ2), Z1 > 0)",
        {},
    ),
    ("hat-and-AL", "mlp:8", 0.0, "dZ[2] = \\hat{Y} - Y\ndZ[L] = AL - Y", {}),
    ("step-forms", "mlp:8", 0.0, "dZ[2] = A[2] - Y\ndZ[1] = W[2]^T dZ[2] * 1[Z[1] > 0]", {}),
    ("sigmoid-A-form", "mlp:8/act=sigmoid", 0.0, "dZ[2] = A[2] - Y\ndZ[1] = W[2]^T dZ[2] * A[1] * (1 - A[1])", {}),
    ("tanh-form", "mlp:8/act=tanh", 0.0, "dZ[2] = A[2] - Y\ndZ[1] = W[2]^T dZ[2] * (1 - A[1]^2)", {}),
    ("tanh-prime", "mlp:8/act=tanh", 0.0, "dZ[2] = A[2] - Y\ndZ[1] = dZ[2] W[2]^T * tanh'(Z[1])", {}),
    ("forward-columns", "mlp:8", 0.0, "Z[1] = W[1] X + b[1]\nA[1] = relu(Z[1])\nZ[2] = W[2] A[1] + b[2]", {}),
    ("forward-rows", "mlp:8", 0.0, "Z[1] = X W[1] + b[1]\nA[1] = g(Z[1])\nZ[2] = A[1] @ W[2] + b[2]", {}),
    ("softmax-forward", "mlp:8", 0.0, "Z[2] = A[1] W[2] + b[2]\nA[2] = softmax(Z[2])", {}),
    ("dA-lines", "mlp:8,6", 0.0, "dZ[3] = A[3] - Y\ndA[2] = W[3]^T dZ[3]\ndZ[2] = dA[2] * relu'(Z[2])", {}),
    (
        "general-l",
        "mlp:8,6,5",
        0.0,
        "dZ[L] = A[L] - Y\ndZ[l] = W[l+1]^T dZ[l+1] * g'(Z[l])\ndW[l] = (1/m) dZ[l] A[l-1]^T\n"
        "db[l] = (1/m) sum(dZ[l], axis=1)",
        {},
    ),
    ("general-l-rows", "mlp:8,6", 0.0, "dZ[L] = A[L] - Y\ndZ[l] = dZ[l+1] W[l+1]^T * g'(Z[l])", {}),
    ("sigmoid-output", "mlp:8/out=sigmoid", 0.0, "dZ[2] = A[2] - Y\ndW[2] = (1/m) dZ[2] A[1]^T", {}),
    ("l2", "mlp:8", 0.01, "dZ[2] = A[2] - Y\ndW[2] = (1/m) dZ[2] A[1]^T + 2 λ W[2]", {}),
    ("l2-latex", "mlp:8", 0.01, "dW[2] = \\frac{1}{m} dZ[2] A[1]^T + 2 \\lambda W[2]", {}),
    ("missing-lines-fine", "mlp:8,6,5", 0.0, "dW[1] = (1/m) dZ[1] X^T", {}),
    ("three-hidden", "mlp:8,6,5", 0.0, "dZ[4] = A[4] - Y\ndZ[3] = W[4]^T dZ[4] * g'(Z[3])", {}),
    # mistakes, each named
    ("transposed", "mlp:8", 0.0, swap(COURSE_ROWS, 2, "dW[2] = (1/m) dZ[2]^T A[1]"), {2: ("wrong", ["transposed"])}),
    (
        "order",
        "mlp:8,6",
        0.0,
        "dZ[3] = A[3] - Y\ndZ[2] = W[3]^T dZ[3] * g'(Z[2])\ndA[1] = dZ[2] W[2]^T",
        {3: ("wrong", ["shapes"])},
    ),
    (
        "missing-g-prime",
        "mlp:8",
        0.0,
        swap(COURSE_COLUMNS, 4, "dZ[1] = W[2]^T dZ[2]"),
        {4: ("wrong", ["missing-activation-derivative"]), 5: ("wrong", ["carried"]), 6: ("wrong", ["carried"])},
    ),
    (
        "sigma-prime-of-A",
        "mlp:8/act=sigmoid",
        0.0,
        "dZ[2] = A[2] - Y\ndZ[1] = W[2]^T dZ[2] * σ'(A[1])",
        {2: ("wrong", ["derivative-of-wrong-tensor"])},
    ),
    ("missing-1/m", "mlp:8", 0.0, swap(COURSE_COLUMNS, 2, "dW[2] = dZ[2] A[1]^T"), {2: ("wrong", ["missing-1/m"])}),
    (
        "doubled-1/m",
        "mlp:8",
        0.0,
        "dZ[2] = (A[2] - Y) / m\ndW[2] = (1/m) dZ[2] A[1]^T",
        {2: ("wrong", ["doubled-1/m"])},
    ),
    ("sign", "mlp:8", 0.0, "dZ[2] = Y - A[2]", {1: ("wrong", ["wrong-sign"])}),
    ("axis", "mlp:8", 0.0, swap(COURSE_COLUMNS, 3, "db[2] = (1/m) sum(dZ[2], axis=0)"), {3: ("wrong", ["sum-axis"])}),
    ("l2-missing", "mlp:8", 0.01, "dW[2] = (1/m) dZ[2] A[1]^T", {1: ("wrong", ["missing-l2"])}),
    ("l2-other-form", "mlp:8", 0.01, "dW[2] = (1/m) dZ[2] A[1]^T + (λ/m) W[2]", {1: ("wrong", ["other-form-l2"])}),
    (
        "scale-switch",
        "mlp:8",
        0.0,
        "dZ[2] = A[2] - Y\ndZ[1] = (W[2]^T dZ[2] * g'(Z[1])) / m",
        {2: ("wrong", ["scale-mismatch"])},
    ),
    ("shapes", "mlp:8", 0.0, "dZ[2] = A[2] - Y\ndW[2] = (1/m) dZ[2] A[1]", {2: ("wrong", ["shapes"])}),
    ("layer-too-high", "mlp:8", 0.0, "dW[3] = (1/m) dZ[3] A[2]^T", {1: ("wrong", ["unknown-layer"])}),
    (
        "rows-file-columns-answer",
        "mlp:8",
        0.0,
        "Z[1] = X W[1] + b[1]\ndW[2] = (1/m) dZ[2] A[1]^T",
        {2: ("wrong", ["shapes"])},
    ),
    (
        "general-l-wrong",
        "mlp:8,6",
        0.0,
        "dZ[L] = A[L] - Y\ndZ[l] = W[l+1]^T dZ[l+1]",
        {2: ("wrong", ["missing-activation-derivative", "missing-activation-derivative"])},
    ),
    ("unreadable-among-good", "mlp:8", 0.0, swap(COURSE_ROWS, 3, "db[2] = mean(dZ[2])"), {3: ("unreadable", [])}),
    ("chain-and-matrix", "mlp:8", 0.0, "dC/dW[2] = dC/dz[2] * dz[2]/dW[2]\n" + COURSE_ROWS, {}),
    ("cnn-unsupported", "cnn:4", 0.0, "dZ[2] = A[2] - Y", {1: ("unreadable", [])}),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(case):
    _, model, l2, text, wrong = case
    report, got = verdicts(text, model, l2)
    expected = {line: wrong.get(line, ("correct", [])) for line in got}
    assert got == expected, report.text()


def test_the_corpus_is_large_and_mixed():
    assert len(CORPUS) >= 40
    assert sum(not c[4] for c in CORPUS) >= 15 and sum(bool(c[4]) for c in CORPUS) >= 15


def test_layout_and_scale_are_decided_per_file_or_given():
    report, _ = verdicts(COURSE_COLUMNS, "mlp:8")
    assert (report.layout, report.scale) == ("columns", "sum")
    report, _ = verdicts(COURSE_ROWS.replace("A[2] - Y", "(A[2] - Y) / m"), "mlp:8")
    assert (report.layout, report.scale) == ("rows", "mean")
    report, got = verdicts(COURSE_COLUMNS, "mlp:8", layout="rows")  # every line judged in the given layout
    assert report.layout == "rows" and got[2][0] == "wrong" and got[1][0] == "correct"


def test_a_wrong_line_names_its_carried_successors_by_line():
    report, _ = verdicts(swap(COURSE_COLUMNS, 4, "dZ[1] = W[2]^T dZ[2]"), "mlp:8")
    assert "wrong because of line 4" in report.verdicts[4].issues[0].message


def test_an_unreadable_line_says_where_and_what():
    report, _ = verdicts("dZ[2] = A[2] - Y\ndW[2] = (1/m) dZ[2] \\nabla A[1]\ndW[1] = (1/m) dZ[1] X^T", "mlp:8")
    assert [v.status for v in report.verdicts] == ["correct", "unreadable", "correct"]
    assert "column 21" in report.verdicts[1].error and "not supported" in report.verdicts[1].error
    assert report.exit_code == 2


@pytest.mark.parametrize("model", ["mlp:8", "mlp:8,6/act=tanh", "mlp:8,6,5/act=sigmoid", "mlp:8/out=sigmoid"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_the_correct_lines_match_the_derivation_in_every_layout_and_scale(model, l2):
    """The course formulas that --show-chains --form matrix prints equal the derivation's numbers (an
    independent statement of the same maths: a check that can fail, see below)."""
    m = Model.of(derivation(model, l2))
    for layout in LAYOUTS:
        for scale in SCALES:
            for line in correct_lines(m, layout, scale):
                lhs, rhs = line.split(" = ")
                name = lhs.replace("[", "").replace("]", "")
                for k in range(len(BATCHES)):
                    env = m.env(k, layout, scale)
                    got = value(m, parse_rhs(rhs), layout, env, None)
                    assert np.allclose(np.squeeze(got), np.squeeze(env[name]), rtol=1e-9, atol=1e-12), line


def test_cli_matrix_form_and_show_chains(tmp_path):
    from helpers.cli import bplab

    path = tmp_path / "course.txt"
    path.write_text(swap(COURSE_COLUMNS, 4, "dZ[1] = W[2]^T dZ[2]"), encoding="utf-8")
    result = bplab("check-derivation", path, "--model", "mlp:8", timeout=120)
    assert result.returncode == 1, result.stderr
    assert "missing-activation-derivative" in result.stdout and "correct line: dZ[1] = W[2]^T dZ[2] * relu'(Z[1])" in (
        result.stdout
    )
    shown = bplab(
        "check-derivation", "--show-chains", "--form", "matrix", "--layout", "columns", "--model", "mlp:8", timeout=120
    )
    assert shown.returncode == 0 and shown.stdout.splitlines()[0] == "dZ[2] = A[2] - Y"
    path.write_text(shown.stdout, encoding="utf-8")  # the printed lines, checked, are right
    assert bplab("check-derivation", path, "--model", "mlp:8", timeout=120).returncode == 0


# ---------------------------------------------------------------------------------------------
# The loss and the L2 penalty's form the derivation is about (--loss, --l2-form)

LOSS_MODELS = {  # a model whose output fits each loss (linear: K = 3 outputs, so mse's 2/K shows)
    "categorical_crossentropy": "mlp:8",
    "binary_crossentropy": "mlp:8/act=tanh/out=sigmoid",
    "mse": "mlp:8,6/out=linear",
    "squared_error": "mlp:8/act=sigmoid/out=sigmoid",
    "half_squared_error": "mlp:8/out=tanh",
}


@pytest.mark.parametrize("loss", list(LOSS_MODELS))
def test_for_each_loss_and_l2_form_the_written_lines_are_right_and_another_form_is_named(loss):
    """The lines --show-chains --form matrix writes for a loss and L2 form are judged right in both layouts (so
    they equal the derivation's values); dW lines with another form's L2 term are other-form-l2 naming that
    form, and without one missing-l2 naming the chosen form's term."""
    import backprop_lab as bl

    model = LOSS_MODELS[loss]
    for form, layout in itertools.product(L2_FORMS, LAYOUTS):
        options = dict(model=model, loss=loss, l2=0.01, l2_form=form)
        lines = bl.check_derivation(show_chains=True, form="matrix", layout=layout, **options).chains
        if loss != "categorical_crossentropy" and loss != "binary_crossentropy":
            assert lines[0] != "dZ[2] = A[2] - Y" and lines[0].startswith(f"dZ[{len(lines) // 3}] = ")
        dw = next(line for line in lines if line.startswith("dW["))
        term = L2_GRADIENTS[form]
        assert dw.endswith(f" + {term}[{dw[3]}]"), dw
        others = [f for f in L2_FORMS if f != form]
        extra = [dw.replace(f" + {term}[", f" + {L2_GRADIENTS[f]}[") for f in others] + [dw.split(" + ")[0]]
        report = bl.check_derivation(text="\n".join(lines + extra), layout=layout, **options)
        tag = f"{loss}, {form}, {layout}"
        assert report.layout == layout and [v.correct for v in report.verdicts] == [True] * len(lines) + [False] * 4, (
            tag + "\n" + report.text()
        )
        for other, verdict in zip(others, report.verdicts[len(lines) :]):
            assert verdict.codes == ["other-form-l2"], tag + "\n" + report.text()
            message = verdict.issues[0].message
            assert f"matches the penalty {L2_FORMS[other]}, not the chosen {L2_FORMS[form]}" in message, message
            assert f"(--l2-form {other} if you meant it)" in message, message
        missing = report.verdicts[-1]
        assert missing.codes == ["missing-l2"] and f"{term} of the chosen penalty {L2_FORMS[form]}" in (
            missing.issues[0].message
        )


@pytest.mark.parametrize("loss", ["mse", "squared_error", "half_squared_error"])
def test_an_output_delta_of_another_loss_is_named_with_its_loss(loss):
    m = Model.of(derivation("mlp:8/out=linear", loss=loss))
    for other in ("mse", "squared_error", "half_squared_error"):
        for layout, scale in itertools.product(LAYOUTS, SCALES):
            text = f"dZ[2] = {output_delta_text(other, 'linear', 2, scale)}\ndW[2] = {correct_text(m, 'dW', 2, layout, scale)}"
            report = check_derivation(text, derivation("mlp:8/out=linear", loss=loss), layout=layout)
            if other == loss:
                assert report.correct, report.text()
                continue
            assert report.verdicts[0].codes == ["other-loss"], report.text()
            assert f"(--loss {other} if you meant it)" in report.verdicts[0].issues[0].message
            assert report.verdicts[1].codes == ["carried"], report.text()


PAIR_SET = ("transposed", "missing-1/m", "wrong-sign", "missing-activation-derivative", "sum-axis", "other-form-l2")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_mistakes_in_one_line_are_both_named(seed):
    """Every pair of two mistakes of a small set, made in one correct line of a random model (layout, scale and
    L2 form at random too) where the pair's value is not one mistake's, is named with both codes."""
    rng = np.random.default_rng(seed)
    model = str(rng.choice(["mlp:9,7/act=tanh", "mlp:8,6/act=sigmoid", "mlp:8,6,5", "mlp:8/act=tanh/out=sigmoid"]))
    layout, scale, form = (str(rng.choice(c)) for c in (LAYOUTS, SCALES, list(L2_FORMS)))
    m = Model.of(derivation(model, 0.01), form)
    first = f"dZ[{m.L}] = {correct_text(m, 'dZ', m.L, layout, scale)}"
    lines = [(f"{k}[{l}]", correct_text(m, k, l, layout, scale)) for l in range(m.L, 0, -1) for k in ("dZ", "dW", "db")]
    by_code = {mistake.code: mistake for mistake in MATRIX_MISTAKES}
    named = []
    for a, b in itertools.combinations(PAIR_SET, 2):
        for lhs, text in lines:
            correct = parse_rhs(text)
            truth = values_of(m, correct, layout, scale)
            singles = [values_of(m, t, layout, scale) for _, t in candidates(correct)]
            made = [  # both mistakes show: the value is neither the truth, nor one mistake's, nor the first's alone
                t2
                for t1 in by_code[a].trees(correct)
                if not same(values_of(m, t1, layout, scale), truth)
                for t2 in by_code[b].trees(t1)
                if (v := values_of(m, t2, layout, scale))
                and not any(same(v, s) for s in [truth, values_of(m, t1, layout, scale)] + singles)
            ]
            if not made:
                continue
            line = f"{lhs} = {show(tidy(made[0]))}"
            report = check_derivation(f"{first}\n{line}", derivation(model, 0.01), layout=layout, l2_form=form)
            assert sorted(report.verdicts[1].codes) == sorted([a, b]), (
                f"{model} {layout} {scale} {form}\n{report.text()}"
            )
            assert all("of 2" in i.message for i in report.verdicts[1].issues)
            named.append((a, b))
            break
    assert len(named) == 11, named  # the pairs that can meet in one line (not g' with a sum or L2 term, ...)


def values_of(m: Model, tree, layout: str, scale: str) -> list | None:
    try:
        return [value(m, tree, layout, m.env(k, layout, scale), None) for k in range(len(BATCHES))]
    except Unjudged:
        return None


def same(a: list | None, b: list | None) -> bool:
    return a is not None and b is not None and all(close(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--loss", "hinge"], "--loss: unknown loss 'hinge' (choose from categorical_crossentropy, "),
        (["--loss", "mse"], "--loss mse: a softmax output takes categorical_crossentropy"),
        (["--loss", "binary_crossentropy", "--model", "mlp:8/out=linear"], "needs a sigmoid output"),
        (["--l2-form", "quarter"], "--l2-form: unknown L2 form 'quarter' (choose from keras, half, half-mean, mean)"),
    ],
)
def test_cli_bad_loss_or_l2_form_is_one_line_and_exit_2(args, message, monkeypatch, capsys):
    from backprop_lab.cli import main

    argv = ["bplab", "check-derivation", "--show-chains", "--form", "matrix", *args]
    monkeypatch.setattr(sys, "argv", argv if "--model" in args else [*argv, "--model", "mlp:8"])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
