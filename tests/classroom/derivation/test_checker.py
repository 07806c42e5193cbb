"""The chain-rule checker on a corpus of hand derivations, each with its expected verdict (the issue
codes) and fragments of the messages a learner reads; the correct chains it writes check as correct, a
verdict depends on the model, and the typical mistakes it lists are each caught."""

from __future__ import annotations

import pytest
from helpers.chains import MLP2, MLP3, MLP4, MLP5, chain, check_one, derivation, tex

from backprop_lab.classroom.derivation import CODES, check_derivation, correct_chains
from backprop_lab.classroom.mistakes import MATRIX_MISTAKES

MATRIX_CODES = {m.code for m in MATRIX_MISTAKES} | {
    "carried",
    "scale-mismatch",
    "other-loss",
    "shapes",
    "unknown-tensor",
    "wrong",
}

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


def test_an_unknown_left_hand_side_has_no_correct_chain():
    verdict = check_one(MLP2, "dC/dW[7] = dC/dW[7]")
    assert verdict.codes == ["unknown-layer"] and verdict.expected is None


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
