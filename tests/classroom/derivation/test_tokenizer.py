"""The tokenizer of chain-rule lines: plain text, Unicode and LaTeX read into the same tokens, each with its
column; what is not of the notation becomes a ``bad`` token, and invisible characters are shown by code."""

from __future__ import annotations

import pytest

from backprop_lab.classroom.derivation.tokenizer import ParseError, shown, tokenize


def kinds(text: str, offset: int = 0) -> list[tuple[str, str, int]]:
    return [(t.kind, t.value, t.col) for t in tokenize(text, offset)]


def test_plain_unicode_and_latex_give_the_same_kinds_and_values():
    plain = [(t.kind, t.value) for t in tokenize("dC/dW[3]")]
    latex = [(t.kind, t.value) for t in tokenize(r"\partial \mathcal{L} / \delta \omega[3]")]
    assert (
        plain
        == latex
        == [
            ("diff", "d"),
            ("var", "C"),
            ("punct", "/"),
            ("diff", "d"),
            ("var", "W"),
            ("punct", "["),
            ("num", "3"),
            ("punct", "]"),
            ("end", ""),
        ]
    )
    assert kinds("∂a³/∂z₁₂")[2] == ("num", "3", 3) and kinds("∂a³/∂z₁₂")[6] == ("num", "12", 7)


def test_columns_count_from_the_offset_and_the_end_is_a_token():
    assert kinds("a b", offset=5) == [("var", "a", 6), ("var", "b", 8), ("end", "", 9)]
    assert tokenize("")[0].text == "end of line"


def test_products_and_a_lone_x_are_times_signs_other_letters_are_bad():
    assert [t.kind for t in tokenize(r"da \cdot dz · dz x dz \times dz")].count("op") == 4
    assert kinds("da[2] x dz")[5] == ("op", "*", 7)
    assert kinds("dq")[1] == ("bad", "q", 2)
    assert kinds("xx")[0][0] == "bad" and kinds(r"\nabla")[0] == ("bad", "\\nabla", 1)
    assert [t.kind for t in tokenize(r"\left( \, da \quad \right)")] == ["punct", "diff", "var", "punct", "end"]


@pytest.mark.parametrize(
    "text, message",
    [(r"\mathcal L", r"unexpected '\mathcal L': expected \mathcal{...}"), (r"\mathrm{ab}", "expected one symbol")],
)
def test_a_font_command_must_wrap_one_symbol(text, message):
    with pytest.raises(ParseError) as err:
        tokenize(text)
    assert err.value.col == 1 and message in err.value.message


def test_shown_quotes_and_makes_invisible_characters_visible():
    assert shown("dq") == "'dq'"
    assert shown("W\u200b2") == "'WU+200B2' (an invisible character)"
    assert shown("1" * 100) == "'" + "1" * 16 + "…" + "1" * 8 + "'"  # a very long token: its ends
    assert kinds("W\u200b2")[1] == ("bad", "\u200b", 2)
