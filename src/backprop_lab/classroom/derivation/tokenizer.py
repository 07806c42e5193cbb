"""The tokenizer of chain-rule lines: plain text, Unicode and LaTeX."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from backprop_lab.classroom.derivation.notation import SUBSCRIPTS, SUPERSCRIPTS


@dataclass(frozen=True)
class Token:
    kind: str  # diff, var, num, op, frac, punct, end; bad: not of the notation (an error where the parser meets it)
    value: str  # var: its kind (C, a, z, W, b); punct: the character; num: the digits
    text: str  # as written
    col: int  # 1-based column in the (unwrapped) line


_VAR_LETTERS = {
    "w": "W",
    "W": "W",
    "ω": "W",
    "b": "b",
    "a": "a",
    "A": "a",
    "z": "z",
    "Z": "z",
    "c": "C",
    "C": "C",
    "L": "C",
    "E": "C",
    "J": "C",
}
_VAR_COMMANDS = {"omega": "W"}
_DIFF_COMMANDS = {"partial", "delta"}
_PRODUCT_COMMANDS = {"cdot", "times", "cdotp"}
_FRAC_COMMANDS = {"frac", "dfrac", "tfrac"}
_IGNORED_COMMANDS = {
    ",",
    ";",
    ":",
    "!",
    " ",
    "quad",
    "qquad",
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "biggl",
    "biggr",
    "displaystyle",
    "textstyle",
    "nonumber",
    "notag",
    "middle",
}
_WRAPPER_COMMANDS = {
    "mathrm",
    "mathit",
    "mathbf",
    "mathcal",
    "mathscr",
    "mathsf",
    "boldsymbol",
    "bm",
    "text",
    "textrm",
    "textit",
    "operatorname",
}
_PUNCT = set("=+/()[]{}^_-")
_SCRIPT_DIGITS = SUPERSCRIPTS + SUBSCRIPTS
_TO_ASCII = str.maketrans(_SCRIPT_DIGITS, "0123456789" * 2)
_UNICODE = {
    "∂": ("diff", "d"),
    "δ": ("diff", "d"),
    "·": ("op", "·"),
    "⋅": ("op", "⋅"),
    "∙": ("op", "∙"),
    "×": ("op", "×"),
    "−": ("punct", "-"),
}


class ParseError(Exception):
    """A parse error at a column; turned into a BplabError naming the line."""

    def __init__(self, col: int, message: str):
        super().__init__(message)
        self.col, self.message = col, message


def _visible(ch: str) -> bool:
    return ch.isprintable() and unicodedata.category(ch) != "Cf"  # Cf: zero-width and direction marks


def shown(text: str) -> str:
    """Quoted; an invisible character (NUL, a zero-width space, a direction mark) as its code, so that the
    one-line message neither hides it nor garbles the terminal."""
    if len(text) > 40:  # a 5000-digit number: its ends are enough to find it
        text = text[:16] + "…" + text[-8:]
    if all(_visible(ch) for ch in text):
        return "'" + text + "'"
    return "'" + "".join(ch if _visible(ch) else f"U+{ord(ch):04X}" for ch in text) + "' (an invisible character)"


def tokenize(s: str, offset: int = 0) -> list[Token]:
    toks: list[Token] = []
    i = 0
    while i < len(s):
        ch, col = s[i], offset + i + 1
        if ch.isspace() or ch == "&":  # & aligns in LaTeX
            i += 1
        elif ch in _SCRIPT_DIGITS:  # a[²], W₂: superscript or subscript digits, a run of one kind
            j = i
            while j < len(s) and s[j] in _SCRIPT_DIGITS and (s[j] in SUPERSCRIPTS) == (ch in SUPERSCRIPTS):
                j += 1
            toks.append(Token("num", s[i:j].translate(_TO_ASCII), s[i:j], col))
            i = j
        elif ch in "0123456789":
            j = i
            while j < len(s) and s[j] in "0123456789":
                j += 1
            toks.append(Token("num", s[i:j], s[i:j], col))
            i = j
        elif ch == "\\":
            j = i + 1
            while j < len(s) and s[j].isascii() and s[j].isalpha():
                j += 1
            if j == i + 1:
                j = min(i + 2, len(s))
            name = s[i + 1 : j]
            text = s[i:j]
            if name in _IGNORED_COMMANDS or name == "\\":
                pass
            elif name in ("{", "}"):
                toks.append(Token("punct", name, text, col))
            elif name in _DIFF_COMMANDS:
                toks.append(Token("diff", "d", text, col))
            elif name in _VAR_COMMANDS:
                toks.append(Token("var", _VAR_COMMANDS[name], text, col))
            elif name in _PRODUCT_COMMANDS:
                toks.append(Token("op", "*", text, col))
            elif name in _FRAC_COMMANDS:
                toks.append(Token("frac", name, text, col))
            elif name in _WRAPPER_COMMANDS:
                j, tok = _wrapped(s, j, name, col, offset)
                toks.append(tok)
            else:
                toks.append(Token("bad", text, text, col))
            i = j
        elif ch in "xX" and 0 < i < len(s) - 1 and s[i - 1].isspace() and s[i + 1].isspace():
            toks.append(Token("op", "*", ch, col))  # dC/da[2] x da[2]/dz[2]: a times sign typed as a letter
            i += 1
        elif ch.isalpha():
            if ch == "d":
                toks.append(Token("diff", "d", ch, col))
            elif ch in _VAR_LETTERS:
                toks.append(Token("var", _VAR_LETTERS[ch], ch, col))
            else:
                toks.append(Token("bad", ch, ch, col))
            i += 1
        elif ch in _UNICODE:
            kind, value = _UNICODE[ch]
            toks.append(Token(kind, value, ch, col))
            i += 1
        elif ch == "*" or ch in _PUNCT:
            toks.append(Token("op" if ch == "*" else "punct", ch, ch, col))
            i += 1
        else:
            toks.append(Token("bad", ch, ch, col))
            i += 1
    toks.append(Token("end", "", "end of line", offset + len(s) + 1))
    return toks


def _wrapped(s: str, j: int, name: str, col: int, offset: int) -> tuple[int, Token]:
    """``\\mathcal{L}``, ``\\mathrm{d}``, ``\\boldsymbol{\\omega}``: one letter in a font: that letter."""
    k = j
    while k < len(s) and s[k].isspace():
        k += 1
    close = s.find("}", k)
    if k >= len(s) or s[k] != "{" or close < 0:
        raise ParseError(col, f"unexpected {shown(s[col - 1 - offset : k + 1].strip())}: expected \\{name}{{...}}")
    inner = [t for t in tokenize(s[k + 1 : close], offset + k + 1) if t.kind != "end"]
    if len(inner) != 1 or inner[0].kind not in ("diff", "var"):
        raise ParseError(
            col, f"unexpected {shown(s[col - 1 - offset : close + 1])}: expected one symbol in \\{name}{{}}"
        )
    return close + 1, Token(inner[0].kind, inner[0].value, s[col - 1 - offset : close + 1], col)
