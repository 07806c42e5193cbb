"""The learner's notation (letters, differential, index style, product sign, LaTeX or plain) recorded as a
line is read, and the correct chain and the messages written back in it."""

from __future__ import annotations

from helpers.chains import MLP2, MLP3, MLP4, chain, check_one, tex

from backprop_lab.classroom.derivation import COST, Node, Notation


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


PATH = (COST, Node("a", 2), Node("z", 2), Node("W", 2))


def test_the_default_notation_is_plain_with_brackets_and_stars():
    say = Notation()
    assert say.equation((COST, Node("W", 2)), [PATH]) == "dC/dW[2] = dC/da[2] * da[2]/dz[2] * dz[2]/dW[2]"
    assert say.equation((Node("z", 1), Node("W", 2)), []) == "dz[1]/dW[2] = 0"  # no path: the derivative is 0
    assert say.path(PATH) == "C → a[2] → z[2] → W[2]"


def test_latex_letters_are_kept_in_the_equation_and_unwrapped_in_messages():
    say = Notation(
        latex=True, diff="\\partial", frac=True, letters={"C": "\\mathcal{L}", "W": "\\omega"}, index=("_{", "}")
    )
    assert say.equation((COST, Node("W", 12)), [PATH[2:]]) == (
        "\\frac{\\partial \\mathcal{L}}{\\partial \\omega_{12}} = \\frac{\\partial z_{2}}{\\partial \\omega_{2}}"
    )
    assert say.node(Node("W", 2)) == "ω[2]" and say.factor((COST, Node("W", 2))) == "∂L/∂ω[2]"


def test_script_digits_and_bare_carets_follow_the_learner():
    sup = Notation(diff="∂", index=("sup", ""), product=" ")
    assert sup.equation((COST, Node("W", 12)), [PATH]) == "∂C/∂W¹² = ∂C/∂a² ∂a²/∂z² ∂z²/∂W²"
    caret = Notation(index=("^", ""))
    assert caret.equation((Node("z", 10), Node("a", 9)), [(Node("z", 10), Node("a", 9))]) == (
        "dz^{10}/da^9 = dz^{10}/da^9"  # a number of two digits needs braces after ^
    )
