"""The parser of chain-rule lines: comments, LaTeX wrappers and several equations in a file, parentheses
multiplied out into terms, layers counted from L, and its errors, each naming the line, the column and the token."""

from __future__ import annotations

import pytest
from helpers.chains import MLP2, chain, derivation

from backprop_lab.classroom.derivation import Node, check_derivation, parse_derivation
from backprop_lab.core.errors import BplabError


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


def test_parentheses_are_multiplied_out_and_layers_counted_from_l_resolve():
    [eq] = parse_derivation("dC/dW[L-1] = dC/da[L] * (da[L]/dz[L] + dz[2]/da[1]) * dz[L-1]/dW[L-1]")
    assert eq.line == 1 and eq.lhs.den.relative and eq.lhs.den.resolve(4) == Node("W", 3)
    written = [[(f.num.kind, f.num.layer, f.den.kind, f.den.layer) for f in term] for term in eq.terms]
    assert written == [
        [("C", None, "a", 0), ("a", 0, "z", 0), ("z", -1, "W", -1)],
        [("C", None, "a", 0), ("z", 2, "a", 1), ("z", -1, "W", -1)],
    ]
    assert (eq.notation.diff, eq.notation.product, eq.notation.index) == ("d", " * ", ("[", "]"))
    [zero] = parse_derivation("\n$dz[2]/dW[3] = 0$")
    assert zero.terms == [] and zero.line == 2 and zero.text == "$dz[2]/dW[3] = 0$"
