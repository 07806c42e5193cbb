"""The chain-rule checker on a corpus of hand derivations, each with its expected verdict (the issue
codes) and fragments of the messages a learner reads; the parser's errors; the graph it reads (from
``graphs.dependencies``, so dropout, pooling and L2 change it); and ``bplab check-derivation`` run as
a real command (exit codes 0, 1 and 2, --json, the README example)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from helpers.cli import bplab

from backprop_lab.classroom.derivation import (
    CODES,
    COST,
    Node,
    chain_graph,
    check_derivation,
    correct_chains,
    parse_derivation,
)
from backprop_lab.classroom.mistakes import MATRIX_MISTAKES
from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

MATRIX_CODES = {m.code for m in MATRIX_MISTAKES} | {
    "carried",
    "scale-mismatch",
    "other-loss",
    "shapes",
    "unknown-tensor",
    "wrong",
}
README = Path(__file__).resolve().parents[2] / "README.md"
DIGITS = ((8, 8, 1), 10)  # the input shape and classes of --data digits, the command's default

MLP2, MLP3, MLP4, MLP5 = "mlp:8", "mlp:8,8", "mlp:16,8,4", "mlp:8,8,8,8"  # 2 to 5 layers with weights


@functools.lru_cache(maxsize=None)
def derivation(model: str, l2: float = 0.0):
    return derive(parse_model(model, *DIGITS), TrainConfig(l2=l2))


def check_one(model: str, line: str, l2: float = 0.0):
    report = check_derivation(line, derivation(model, l2), model)
    assert len(report.verdicts) == 1
    return report.verdicts[0]


def chain(top: int, kind: str, l: int, *, d: str = "d", cost: str = "C", w: str = "W", op: str = " * ") -> str:
    """The correct plain chain dC/dW[l] for a network whose output layer is `top` (written independently
    of the checker, to test it)."""
    factors = [f"{d}{cost}/{d}a[{top}]"]
    for k in range(top, l, -1):
        factors += [f"{d}a[{k}]/{d}z[{k}]", f"{d}z[{k}]/{d}a[{k - 1}]"]
    factors += [f"{d}a[{l}]/{d}z[{l}]", f"{d}z[{l}]/{d}{w if kind == 'W' else 'b'}[{l}]"]
    return f"{d}{cost}/{d}{w if kind == 'W' else 'b'}[{l}] = " + op.join(factors)


def tex(
    top: int,
    l: int,
    *,
    diff: str = "\\partial",
    cost: str = "c",
    w: str = "\\omega",
    idx: str = "^{{[{}]}}",
    op: str = " \\cdot ",
) -> str:
    sym = lambda s, n: s + idx.format(n)  # noqa: E731
    frac = lambda n, d: f"\\frac{{{diff} {n}}}{{{diff} {d}}}"  # noqa: E731
    factors = [frac(cost, sym("a", top))]
    for k in range(top, l, -1):
        factors += [frac(sym("a", k), sym("z", k)), frac(sym("z", k), sym("a", k - 1))]
    factors += [frac(sym("a", l), sym("z", l)), frac(sym("z", l), sym(w, l))]
    return f"{frac(cost, sym(w, l))} = " + op.join(factors)


# (id, model, equation, expected issue codes (empty: correct), fragments of the messages)
CORPUS = [
    # correct chains
    ("mlp2-W2", MLP2, chain(2, "W", 2), [], []),
    ("mlp2-W1", MLP2, chain(2, "W", 1), [], []),
    ("mlp2-b1", MLP2, chain(2, "b", 1), [], []),
    ("mlp3-W1-lower-w-and-L", MLP3, chain(3, "W", 1, cost="L", w="w"), [], []),
    ("mlp4-W2-unicode", MLP4, chain(4, "W", 2, d="∂", op=" · "), [], []),
    ("mlp5-b3", MLP5, chain(5, "b", 3), [], []),
    ("mlp4-latex-partial-omega", MLP4, "$$" + tex(4, 2) + "$$", [], []),
    (
        "mlp5-latex-delta-times",
        MLP5,
        tex(5, 4, diff="\\delta", cost="C", w="w", idx="^{{({})}}", op=" \\times ") + r" \\",
        [],
        [],
    ),
    (
        "mlp3-latex-mathcal-juxtaposed",
        MLP3,
        r"\[" + tex(3, 2, cost="\\mathcal{L}", w="W", idx="_{{{}}}", op=" ") + r"\]",
        [],
        [],
    ),
    (
        "mlp3-index-styles",
        MLP3,
        "dC/dW^2 = dC/da(3) * da_3/dz_{3} * dz3/da[2] * da^{[2]}/dz^{(2)} * dz[2]/dW[2]",
        [],
        [],
    ),
    (
        "mlp4-index-from-L",
        MLP4,
        r"dC/dW[L-1] = dC/da^{[L]} \cdot da^{[L]}/dz^{[L]} \cdot dz^{[L]}/da^{[L-1]} "
        r"\cdot da^{[L-1]}/dz^{[L-1]} \cdot dz^{[L-1]}/dW^{[L-1]}",
        [],
        [],
    ),
    (
        "mlp3-parentheses",
        MLP3,
        "dC/dW[2] = (dC/da[3] * da[3]/dz[3]) * (dz[3]/da[2] * (da[2]/dz[2] * dz[2]/dW[2]))",
        [],
        [],
    ),
    ("mlp2-written-backwards", MLP2, "dC/dW[2] = dz[2]/dW[2] * da[2]/dz[2] * dC/da[2]", [], []),
    (
        "mlp3-superscript-digits",
        MLP3,
        chain(3, "W", 1, d="∂").translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")).replace("[", "").replace("]", ""),
        [],
        [],
    ),
    (
        "mlp3-subscript-digits-dots",
        MLP3,
        chain(3, "b", 2, op=" · ")
        .translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
        .replace("[", "")
        .replace("]", ""),
        [],
        [],
    ),
    ("mlp3-x-as-times", MLP3, chain(3, "W", 2, cost="L", op=" x "), [], []),
    (
        "mlp3-superscript-wrong",
        MLP3,
        "∂C/∂W¹ = ∂C/∂a³ ∂a³/∂z³ ∂z³/∂W¹",  # ∂z³/∂W¹ is a total derivative (over a², z², a¹, z¹): right
        [],
        [],
    ),
    ("mlp3-delta-of-a-layer", MLP3, "dC/dz[2] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2] * da[2]/dz[2]", [], []),
    ("mlp3-zero-derivative", MLP3, "dz[2]/dW[3] = 0", [], []),
    ("dropout-collapses", "mlp:8,8/dropout=0.5", chain(3, "W", 2), [], []),
    ("cnn-pool-flatten-collapse", "cnn:4", chain(2, "W", 1), [], []),
    ("total-delta-form", MLP3, "dC/dW[3] = dC/dz[3] * dz[3]/dW[3]", [], []),
    ("total-dz-dz", MLP4, "dC/dW[2] = dC/dz[4] * dz[4]/dz[3] * dz[3]/dz[2] * dz[2]/dW[2]", [], []),
    ("total-dC-da-later", MLP5, "dC/db[1] = dC/da[3] * da[3]/da[1] * da[1]/dz[1] * dz[1]/db[1]", [], []),
    ("total-reversed-factor", MLP3, "dC/dW[1] = dC/dz[1] * dz[2]/dz[1] * dz[1]/dW[1]", ["chain-broken"], []),
    ("mlp2-l2-two-paths", MLP2, chain(2, "W", 1) + " + dC/dW[1]", [], []),  # with --l2 (see L2 below)
    # (a) factors that are not edges of the graph
    (
        "mlp4-da3-dz2",
        MLP4,
        "dC/dW[2] = dC/da[4] * da[4]/dz[4] * dz[4]/da[3] * da[3]/dz[2] * dz[2]/dW[2]",  # da[3]/dz[2]: total
        [],
        [],
    ),
    (
        "mlp4-dz4-da2",
        MLP4,
        "dC/dW[2] = dC/da[4] * da[4]/dz[4] * dz[4]/da[2] * da[2]/dz[2] * dz[2]/dW[2]",
        [],
        [],
    ),
    (
        "mlp3-reversed-factor",
        MLP3,
        "dC/dW[3] = dC/da[3] * dz[3]/da[3] * dz[3]/dW[3]",
        ["no-dependence", "chain-broken", "chain-broken"],
        ["it is the other way round: a[3] depends on z[3]"],
    ),
    (
        "mlp2-parameter-numerator",
        MLP2,
        "dC/db[2] = dC/da[2] * da[2]/db[2]",  # a[2] depends on b[2] through z[2]
        [],
        [],
    ),
    (
        "dropout-edge-is-collapsed",
        "mlp:8,8/dropout=0.5",
        "dC/dW[3] = dC/da[3] * da[3]/dz[3] * dz[3]/da[3]",
        ["no-dependence", "lhs-mismatch"],
        ["z[3] depends on a[2], W[3] and b[3], not on a[3]"],
    ),
    # (b) chains that break
    (
        "mlp3-missing-factors",
        MLP3,
        "dC/dW[2] = dC/da[3] * da[3]/dz[3] * dz[2]/dW[2]",
        ["chain-broken"],
        ["between da[3]/dz[3] and dz[2]/dW[2]: z[3] is not z[2]", "missing: dz[3]/da[2] * da[2]/dz[2]"],
    ),
    (
        "mlp5-chain-gap-latex",
        MLP5,
        r"\frac{\partial C}{\partial b^{[5]}} = \frac{\partial C}{\partial a^{[5]}} "
        r"\frac{\partial z^{[5]}}{\partial b^{[5]}}",
        ["chain-broken"],
        ["∂C/∂a[5] and ∂z[5]/∂b[5]: a[5] is not z[5] (missing: ∂a[5]/∂z[5])"],
    ),
    # (c) a left-hand side that does not match the chain's ends
    (
        "mlp3-chain-stops-early",
        MLP3,
        "dC/dW[2] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2] * da[2]/dz[2]",
        ["lhs-mismatch"],
        ["the chain ends at z[2], but the left-hand side is with respect to W[2] (missing: dz[2]/dW[2])"],
    ),
    (
        "mlp2-chain-starts-late",
        MLP2,
        "dC/db[2] = da[2]/dz[2] * dz[2]/db[2]",
        ["lhs-mismatch"],
        ["the chain starts at a[2], but the left-hand side differentiates C (missing: dC/da[2])"],
    ),
    (
        "mlp3-chain-stops-two-short",
        MLP3,
        "dC/db[1] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2] * da[2]/dz[2] * dz[2]/da[1]",
        ["lhs-mismatch"],
        ["the chain ends at a[1], but the left-hand side is with respect to b[1] (missing: da[1]/dz[1] * dz[1]/db[1])"],
    ),
    (
        "mlp3-chain-starts-two-late",
        MLP3,
        "dC/dW[3] = dz[3]/dW[3]",
        ["lhs-mismatch"],
        ["the chain starts at z[3], but the left-hand side differentiates C (missing: dC/da[3] * da[3]/dz[3])"],
    ),
    (
        "mlp4-bias-chain-for-weight",
        MLP4,
        "dE/db[4] = dE/da[4] * da[4]/dz[4] * dz[4]/dW[4]",
        ["lhs-mismatch"],
        ["the chain ends at W[4], but the left-hand side is with respect to b[4]"],
    ),
    (
        "mlp3-chain-runs-past",
        MLP3,
        "dC/dW[3] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2]",  # no path joins a[2] to W[3]
        ["lhs-mismatch"],
        ["the chain ends at a[2], but the left-hand side is with respect to W[3]"],
    ),
    # (d) sums over paths: one that does not exist, a repeated one, a missing one
    (
        "mlp3-sum-with-a-false-path",
        MLP3,
        chain(3, "W", 1) + " + dC/da[3] * da[3]/dz[3] * dz[3]/da[1] * da[1]/dz[1] * dz[1]/dW[1]",
        ["duplicate-path"],  # dz[3]/da[1] is total: term 2 counts term 1's path again
        ["term 2: the path C → a[3] → z[3] → a[2] → z[2] → a[1] → z[1] → W[1] is counted twice (terms 1 and 2)"],
    ),
    (
        "mlp3-factored-false-path",
        MLP3,
        "dC/dW[1] = dC/da[3] * da[3]/dz[3] * (dz[3]/da[2] * da[2]/dz[2] * dz[2]/da[1] "
        "+ dz[3]/da[1]) * da[1]/dz[1] * dz[1]/dW[1]",
        ["duplicate-path"],
        ["is counted twice (terms 1 and 2)"],
    ),
    (
        "mlp2-same-path-twice",
        MLP2,
        chain(2, "b", 2) + " + " + chain(2, "b", 2).split(" = ")[1],
        ["duplicate-path"],
        ["the path C → a[2] → z[2] → b[2] is counted twice (terms 1 and 2)"],
    ),
    (
        "mlp3-zero-but-a-path-exists",
        MLP3,
        "dC/dW[1] = 0",
        ["missing-path"],
        ["no term for the path C → a[3] → z[3] → a[2] → z[2] → a[1] → z[1] → W[1]"],
    ),
    (
        "mlp3-no-path",
        MLP3,
        "dz[2]/dW[3] = dz[2]/dW[3]",
        ["no-path", "no-dependence", "nonexistent-path"],
        ["z[2] does not depend on W[3]: dz[2]/dW[3] is 0"],
    ),
    # (e) off by one
    (
        "mlp5-brief-example",
        MLP5,
        "dC/dw[5] = dC/da[4] * da[4]/dz[4] * dz[4]/dw[5]",
        ["off-by-one", "no-dependence", "nonexistent-path"],
        [
            "a[4] and z[4] are one layer too low: they should be a[5] and z[5]",
            "z[4] depends on a[3], w[4] and b[4], not on w[5]",
        ],
    ),
    (
        "mlp3-numbered-from-0",
        MLP3,
        "dC/dW[2] = dC/da[2] * da[2]/dz[2] * dz[2]/dW[2]",  # dC/da[2] is a total derivative: right
        [],
        [],
    ),
    (
        "mlp3-term-shifted",
        MLP3,
        "dC/dW[3] = dC/da[2] * da[2]/dz[2] * dz[2]/dW[2]",
        ["off-by-one", "lhs-mismatch"],
        ["every layer number in this term is one too low: it should read dC/da[3] * da[3]/dz[3] * dz[3]/dW[3]"],
    ),
    (
        "mlp4-one-symbol-high",
        MLP4,
        "dC/db[3] = dC/da[4] * da[4]/dz[4] * dz[4]/da[3] * da[3]/dz[4] * dz[3]/db[3]",
        ["off-by-one", "no-dependence", "chain-broken"],
        ["z[4] is one layer too high: it should be z[3]"],
    ),
    # (f) layers the model does not have
    (
        "mlp3-layer-4",
        MLP3,
        "dC/dW[4] = dC/da[4] * da[4]/dz[4] * dz[4]/dW[4]",
        ["off-by-one", "unknown-layer"],
        [
            "W[4], a[4] and z[4] do not exist: this model has 3 layers with weights",
            "with -1 throughout, this is the correct chain for dC/dW[3]",
        ],
    ),
    (
        "mlp2-layer-0",
        MLP2,
        "dC/dW[0] = dC/da[2] * da[2]/dz[2] * dz[2]/dW[0]",
        ["unknown-layer"],
        ["W[0] does not exist: layer 0 is the input"],
    ),
]


WITH_L2 = {"mlp2-l2-two-paths"}  # checked with --l2 0.01: the cost also depends on W[1] directly


@pytest.mark.parametrize("name, model, line, codes, fragments", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(name, model, line, codes, fragments):
    verdict = check_one(model, line, l2=0.01 if name in WITH_L2 else 0.0)
    assert sorted(verdict.codes) == sorted(codes), [i.message for i in verdict.issues]
    assert verdict.correct == (not codes)
    messages = "\n".join(i.message for i in verdict.issues)
    for fragment in fragments:
        assert fragment in messages
    if name == "mlp3-chain-runs-past" or name == "mlp4-bias-chain-for-weight":
        assert "missing" not in messages  # no path of the graph closes the gap: no factors to name
    lhs_unknown = name in ("mlp3-layer-4", "mlp2-layer-0")
    assert (verdict.expected is None) == lhs_unknown  # the correct chain for every left-hand side the model has
    if not codes:
        assert verdict.expected.replace(" ", "") != ""
    for code in verdict.codes:
        assert code in CODES


def test_the_corpus_is_large_and_covers_every_code():
    assert len(CORPUS) >= 25
    assert len({c[1] for c in CORPUS}) >= 5
    chain_codes = {code for code in CODES if code not in MATRIX_CODES}
    assert {code for c in CORPUS for code in c[3]} == chain_codes
    assert sum(not c[3] for c in CORPUS) >= 10 and sum(bool(c[3]) for c in CORPUS) >= 15


def test_the_correct_chain_comes_back_in_the_learners_notation():
    wrong = tex(4, 2).replace("z^{[3]}}{\\partial a^{[2]}", "z^{[3]}}{\\partial a^{[1]}")
    verdict = check_one(MLP4, wrong)
    assert verdict.codes and verdict.expected == tex(4, 2)
    messages = [i.message for i in verdict.issues]
    assert "a[1] is one layer too low: it should be a[2]" in messages
    mine = r"\frac{\delta L}{\delta w^{(3)}} = \frac{\delta L}{\delta a^{(3)}} \frac{\delta z^{(3)}}{\delta w^{(3)}}"
    assert check_one(MLP3, mine).expected == tex(3, 3, diff="\\delta", cost="L", w="w", idx="^{{({})}}", op=" ")
    assert check_one(MLP3, "dL/dw[1] = dL/dw[1]").expected == chain(3, "W", 1, cost="L", w="w")
    assert check_one(MLP3, "∂C/∂W2 = ∂C/∂W2").expected.startswith("∂C/∂W2 = ∂C/∂a3 * ∂a3/∂z3 * ")
    assert (
        check_one(MLP2, "∂C/∂W¹ = ∂C/∂a² ∂a²/∂z² ∂z²/∂W¹").expected == "∂C/∂W¹ = ∂C/∂a² ∂a²/∂z² ∂z²/∂a¹ ∂a¹/∂z¹ ∂z¹/∂W¹"
    )
    assert check_one(MLP2, "dC/db₁ = dC/db₁").expected.startswith("dC/db₁ = dC/da₂ * da₂/dz₂ * ")
    assert (
        check_one(MLP2, "dJ/dW[2] = dJ/da[2] x dz[2]/dW[2]").expected
        == "dJ/dW[2] = dJ/da[2] x da[2]/dz[2] x dz[2]/dW[2]"
    )


def test_an_unknown_left_hand_side_has_no_correct_chain():
    verdict = check_one(MLP2, "dC/dW[7] = dC/dW[7]")
    assert verdict.codes == ["unknown-layer"] and verdict.expected is None


def test_the_graph_is_the_models():
    """Edges come from graphs.dependencies: weightless layers collapse, L2 adds the direct edge C -> W[l]."""
    plain = chain_graph(derivation(MLP3))
    assert plain.parents[Node("z", 2)] == (Node("a", 1), Node("W", 2), Node("b", 2))
    assert plain.parents[COST] == (Node("a", 3),) and plain.parents[Node("a", 0)] == ()
    assert chain_graph(derivation("mlp:8,8/dropout=0.5")).parents == plain.parents
    assert chain_graph(derivation("cnn:4")).parents[Node("z", 2)][0] == Node("a", 1)  # through pooling, flatten
    with_l2 = chain_graph(derivation(MLP3, 0.01))
    assert set(with_l2.parents[COST]) == {Node("a", 3), Node("W", 1), Node("W", 2), Node("W", 3)}
    assert len(with_l2.paths(COST, Node("W", 1))) == 2 and len(plain.paths(COST, Node("W", 1))) == 1
    verdict = check_one(MLP2, chain(2, "W", 1), l2=0.01)  # one path of two
    assert verdict.codes == ["missing-path"] and "the path C → W[1]" in verdict.issues[0].message


def test_the_correct_chains_check_as_correct():
    for model in (MLP2, MLP5, "cnn:4"):
        for latex in (False, True):
            text = "\n".join(correct_chains(derivation(model), latex))
            assert check_derivation(text, derivation(model), model).correct
    assert correct_chains(derivation(MLP2))[-1] == chain(2, "b", 1)


def test_a_check_can_fail():
    """The same chain is wrong on a shallower model: the verdict depends on the model."""
    assert check_one(MLP4, chain(4, "W", 2)).correct
    assert not check_one(MLP3, chain(4, "W", 2)).correct


def test_comments_wrappers_and_several_equations():
    text = (
        "# a comment\n% a LaTeX comment\n\n$"
        + chain(2, "W", 2)
        + "$\n\\begin{align}\n"
        + chain(2, "b", 2)
        + " \\\\ % trailing\n\\end{align}\n"
        + chain(2, "W", 1).replace("=", "&=")
        + "\n"
    )
    report = check_derivation(text, derivation(MLP2), MLP2)
    assert [v.line for v in report.verdicts] == [4, 6, 8] and report.correct


@pytest.mark.parametrize(
    "text, where",
    [
        ("dC/dW[2] = dC/da[2] * * da[2]/dz[2]", "line 1, column 23: unexpected '*'"),
        ("# ok\n\ndC/dW[2] = dC/dx[2]", "line 3, column 16: unexpected 'x'"),
        ("dC/dW[2] dC/da[2]", "line 1, column 10: unexpected 'd': expected '='"),
        ("dC/dW = dC/da[2]", "line 1, column 7: unexpected '=': expected a layer number after 'W'"),
        ("dC/dW[l] = dC/da[l]", "line 1, column 7: unexpected 'l': expected a layer number"),
        ("dC/dW[2] = (dC/da[2] * da[2]/dz[2]", "line 1, column 35: unexpected end of line: expected ')'"),
        ("$$\\frac{\\partial C}{\\partial W^{[2]} = x$$", "line 1, column 38: unexpected '='"),
        ("dC/dW[2] = 2 * dC/da[2]", "line 1, column 12: unexpected '2'"),
        ("dC/dW[2] = dC/da[2] \\foo", "line 1, column 21: unexpected '\\foo'"),
        ("dC[2]/dW[2] = dC/dW[2]", "line 1, column 3: unexpected '[': expected no layer number after the cost"),
        ("# only comments\n", "no equation found"),
        ("dC/dW[²] = dC/da[2]", "line 1, column 7: unexpected '²': expected a layer number in plain digits"),
        ("dC/dW٢ = dC/da[2]", "line 1, column 6: unexpected '٢': expected a layer number after 'W'"),  # Arabic-Indic 2
        ("dC/dW[2] = dC/da[2] xx da[2]/dz[2]", "line 1, column 21: unexpected 'x'"),  # only a lone x is a times sign
    ],
)
def test_parse_errors_name_the_line_and_the_token(text, where):
    with pytest.raises(BplabError) as err:
        parse_derivation(text, "mine.txt")
    assert str(err.value).startswith("mine.txt: ") and where in str(err.value)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# the command, as a user runs it


def write(tmp_path: Path, text: str, name: str = "derivation.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_exit_0_for_a_correct_derivation_and_1_with_the_report(tmp_path):
    good = write(tmp_path, chain(4, "W", 3) + "\n" + tex(4, 1) + "\n")
    result = bplab("check-derivation", good, "--model", MLP4, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 equations correct" in result.stdout
    bad = write(
        tmp_path,
        chain(4, "W", 3) + "\ndC/dW[2] = dC/da[4] * da[4]/dz[4] * dz[4]/da[3] * dz[3]/da[3] * dz[2]/dW[2]\n",
        "bad.txt",
    )
    result = bplab("check-derivation", bad, "--model", MLP4, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "line 2: wrong" in result.stdout and "z[3] depends on a[2], W[3] and b[3], not on a[3]" in result.stdout
    assert f"correct chain: {chain(4, 'W', 2)}" in result.stdout
    assert "Traceback" not in result.stderr


def test_cli_json(tmp_path):
    bad = write(tmp_path, "dC/dw[4] = dC/da[3] * da[3]/dz[3] * dz[3]/dw[4]\n")
    result = bplab("check-derivation", bad, "--model", MLP4, "--json", timeout=120)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["correct"] is False and doc["layers"] == 4
    [eq] = doc["equations"]
    assert eq["line"] == 1 and "off-by-one" in [i["code"] for i in eq["issues"]]
    assert eq["expected"] == chain(4, "W", 4, w="w")


@pytest.mark.parametrize("case", ["missing file", "parse error", "unknown model", "folder"])
def test_cli_exit_2(tmp_path, case):
    path = write(tmp_path, chain(2, "W", 2) + "\n\ndC/dW[2] = dC/dq[2]\n")
    args = {
        "missing file": [tmp_path / "nope.txt", "--model", MLP2],
        "parse error": [path, "--model", MLP2],
        "unknown model": [write(tmp_path, chain(2, "W", 2), "good.txt"), "--model", "mlp:0x"],
        "folder": [tmp_path, "--model", MLP2],
    }[case]
    result = bplab("check-derivation", *args, timeout=120)
    assert result.returncode == 2, result.stdout
    if case == "parse error":  # the other lines are still judged
        assert "line 1: correct" in result.stdout and "line 3: unreadable" in result.stdout
        assert "column 16: unexpected 'q'" in result.stdout
        return
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    if case == "unknown model":
        assert "mlp:0x" in result.stderr


def test_the_readme_example_prints_what_the_readme_shows(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text.split("### Checking a hand derivation", 1)[1]
    blocks = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    derivation_file, shown = blocks[0], blocks[1]
    command, expected = shown.split("\n", 1)
    assert command.startswith("$ bplab check-derivation my-derivation.txt ")
    write(tmp_path, derivation_file, "my-derivation.txt")
    result = bplab(*command.split()[2:], cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout == expected


@pytest.mark.parametrize("hidden", ["16", "16,8", "16,8,4", "16,8,4,4"])
def test_the_reports_typical_mistakes_are_all_caught(hidden):
    from backprop_lab.classroom.derivation import check_derivation, typical_mistakes
    from backprop_lab.maths.equations import derive
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.spec.model import parse_model

    d = derive(parse_model(f"mlp:{hidden}", (6,), 3), TrainConfig())
    mistakes = typical_mistakes(d)
    assert len(mistakes) == 3
    report = check_derivation("\n".join(mistakes), d)
    assert not any(v.correct for v in report.verdicts)
    assert "off-by-one" in report.verdicts[0].codes and "chain-broken" in report.verdicts[1].codes
    assert "no-dependence" in report.verdicts[2].codes
