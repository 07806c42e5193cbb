"""Matrix-form lines written back as text (``matrix_writer``) and the study's wrong lines made from the known
mistakes (``typical_matrix_mistakes``): every printed line is read back to the value of the tree it came from,
evaluated numerically on the stand-in network, and every wrong line is judged wrong by the checker."""

from __future__ import annotations

import functools

import pytest

from backprop_lab.classroom.derivation import check_derivation, typical_matrix_mistakes
from backprop_lab.classroom.derivation.matrix import (
    BATCHES,
    LAYOUTS,
    SCALES,
    Model,
    Unjudged,
    close,
    correct_text,
    parse_rhs,
    value,
)
from backprop_lab.classroom.derivation.matrix_writer import show, tidy
from backprop_lab.classroom.mistakes import candidates
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

MODELS = [("mlp:16,8,4", 0.0), ("mlp:8/act=sigmoid", 0.01), ("mlp:7,5/act=tanh", 0.0)]


@functools.lru_cache(maxsize=None)
def derivation(model: str, l2: float):
    return derive(parse_model(model, (8, 8, 1), 10), TrainConfig(l2=l2))


def _values(model, tree, layout, scale):
    return [value(model, tree, layout, model.env(k, layout, scale), None) for k in range(len(BATCHES))]


@pytest.mark.parametrize("name,l2", MODELS)
def test_every_correct_line_and_every_mutation_reads_back_to_its_own_value(name, l2):
    model = Model.of(derivation(name, l2))
    seen = 0
    for layout in LAYOUTS:
        for scale in SCALES:
            for l in range(1, model.L + 1):
                for kind in ("Z", "A", "dA", "dZ", "dW", "db"):
                    text = correct_text(model, kind, l, layout, scale)
                    if text is None:
                        continue
                    correct = parse_rhs(text)
                    for tree in [correct] + [t for _, t in candidates(correct)]:
                        try:
                            want = _values(model, tree, layout, scale)
                        except Unjudged:  # a mutation whose shapes do not fit: nothing to compare
                            continue
                        printed = show(tidy(tree))
                        got = _values(model, parse_rhs(printed), layout, scale)
                        assert all(close(a, b) for a, b in zip(got, want)), (kind, l, layout, scale, printed)
                        seen += 1
    assert seen > 100


def test_tidy_writes_what_a_learner_writes():
    assert show(tidy(("T", parse_rhs("(1/m) A[1]^T dZ[2]")))) == "(1/m) dZ[2]^T A[1]"
    assert show(tidy(("mm", ("ref", parse_rhs("m")[1]), parse_rhs("(1/m) A[1]^T dZ[2]")))) == "A[1]^T dZ[2]"
    assert show(tidy(("neg", parse_rhs("A[2] - Y")))) == "Y - A[2]"
    assert show(parse_rhs("dZ[2] W[2]^T * relu'(Z[1])")) == "dZ[2] W[2]^T * relu'(Z[1])"


@pytest.mark.parametrize("name,l2", MODELS)
def test_the_typical_matrix_mistakes_are_each_judged_wrong_and_named(name, l2):
    d = derivation(name, l2)
    typical = typical_matrix_mistakes(d)
    codes = [code for code, _ in typical.lines]
    assert {"transposed", "missing-activation-derivative", "missing-1/m", "wrong-sign", "sum-axis"} <= set(codes)
    # σ'(A) is a mistake for sigmoid and tanh, not for relu (whose derivative is the same at A as at Z)
    assert ("derivative-of-wrong-tensor" in codes) == ("relu" not in name and "act=" in name)
    assert ("missing-l2" in codes) == bool(l2)
    for code, line in typical.lines:
        verdict = check_derivation(typical.file(line), d, name, layout="rows").verdicts[1]
        assert verdict.text == line and verdict.issues, line
        if code != "product-order":  # a product in the wrong order does not fit these pairwise distinct sizes
            assert verdict.issues[0].code == code, (line, verdict.issues)
    assert check_derivation(typical.first, d, name, layout="rows").verdicts[0].issues == []


def test_a_scalars_transpose_is_the_scalar_not_a_crash():
    d = derivation("mlp:8/act=sigmoid", 0.01)
    report = check_derivation("dW[2] = (1/m) A[1]^T dZ[2] + 2 λ^T W[2]", d, "mlp:8/act=sigmoid", layout="rows")
    assert report.verdicts[0].issues == []
