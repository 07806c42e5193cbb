"""The parser of chain-rule lines: a recursive descent over ``sum := product ('+' product)*`` that
records the learner's notation as it reads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backprop_lab.classroom.derivation.graph import Node
from backprop_lab.classroom.derivation.notation import SUPERSCRIPTS, Notation
from backprop_lab.classroom.derivation.tokenizer import ParseError, Token, shown, tokenize
from backprop_lab.core.errors import BplabError


@dataclass(frozen=True)
class Var:
    """A symbol as written: its kind and layer number (``relative``: counted from L, as in a^{[L-1]})."""

    kind: str
    layer: int | None
    relative: bool = False

    def resolve(self, layers: int) -> Node:
        return Node(self.kind, None if self.layer is None else self.layer + (layers if self.relative else 0))


@dataclass(frozen=True)
class Factor:
    num: Var
    den: Var


@dataclass
class Equation:
    line: int
    text: str
    lhs: Factor
    terms: list[list[Factor]]  # the sum of products, parentheses multiplied out; [] for "= 0"
    notation: Notation


_EXAMPLE = "a derivative such as dC/dW[2]"


class Parser:
    def __init__(self, tokens: list[Token]):
        self.toks, self.i = tokens, 0
        self.notation = Notation()
        self.first = True  # the first derivative (the left-hand side) sets \frac vs N/D

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok: Token, expected: str) -> ParseError:
        return ParseError(
            tok.col, f"unexpected {shown(tok.text) if tok.kind != 'end' else 'end of line'}: expected {expected}"
        )

    def expect(self, value: str, what: str | None = None) -> Token:
        tok = self.take()
        if tok.kind != "punct" or tok.value != value:
            raise self.fail(tok, what or shown(value))
        return tok

    def is_punct(self, value: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "punct" and tok.value == value

    def equation(self) -> tuple[Factor, list[list[Factor]]]:
        lhs = self.derivative()
        self.expect("=", "'=' after the left-hand side")
        if self.peek().kind == "num" and self.peek().value == "0" and self.peek(1).kind == "end":
            self.take()
            return lhs, []  # no path: the derivative is 0
        terms = self.sum()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "'+', another factor or the end of the line")
        return lhs, terms

    def sum(self) -> list[list[Factor]]:
        terms = self.product()
        while self.is_punct("+"):
            self.take()
            terms += self.product()
        return terms

    def product(self) -> list[list[Factor]]:
        terms: list[list[Factor]] = [[]]
        seen = False
        while True:
            op = None
            if self.peek().kind == "op":
                op = self.take()
                if not seen:
                    raise self.fail(op, _EXAMPLE)
            tok = self.peek()
            starts = tok.kind in ("diff", "frac") or (tok.kind == "punct" and tok.value in "({")
            if not starts:
                if op is not None or not seen:
                    raise self.fail(tok, _EXAMPLE)
                return terms
            if seen and self.notation.product is None:
                self.notation.product = f" {op.text} " if op is not None else " "
            if tok.kind == "punct":
                self.take()
                inner = self.sum()
                self.expect(
                    ")" if tok.value == "(" else "}",
                    f"{shown(')' if tok.value == '(' else '}')} to close the {shown(tok.value)} of column {tok.col}",
                )
                terms = [a + b for a in terms for b in inner]
            else:
                factor = self.derivative()
                terms = [a + [factor] for a in terms]
            seen = True

    def derivative(self) -> Factor:
        tok = self.peek()
        if tok.kind == "frac":
            self.take()
            self.notation.latex = True
            self.notation.frac = self.notation.frac or self.first
            self.first = False
            self.expect("{", "'{' after " + tok.text)
            num = self.differential()
            self.expect("}", "'}' closing the numerator")
            self.expect("{", "'{' opening the denominator")
            den = self.differential()
            self.expect("}", "'}' closing the denominator")
            return Factor(num, den)
        if tok.kind == "diff":
            self.first = False
            num = self.differential()
            self.expect("/", "'/' between the numerator and the denominator")
            return Factor(num, self.differential())
        raise self.fail(tok, _EXAMPLE)

    def differential(self) -> Var:
        tok = self.take()
        if tok.kind != "diff":
            raise self.fail(tok, "a differential: d, ∂, \\partial or \\delta")
        if self.notation.diff is None:
            self.notation.diff = tok.text
        if tok.text.startswith("\\"):
            self.notation.latex = True
        return self.variable()

    def variable(self) -> Var:
        tok = self.take()
        if tok.kind != "var":
            raise self.fail(tok, "a symbol: a, z, W (w, \\omega), b or the cost C (c, L, E, J)")
        self.notation.letters.setdefault(tok.value, tok.text)
        if tok.text.startswith("\\"):
            self.notation.latex = True
        if tok.value == "C":
            nxt = self.peek()
            if nxt.kind == "num" or (nxt.kind == "punct" and nxt.value in "[^_"):
                raise self.fail(nxt, f"no layer number after the cost {shown(tok.text)}")
            return Var("C", None)
        layer, relative = self.index(tok)
        return Var(tok.value, layer, relative)

    def index(self, var: Token) -> tuple[int, bool]:
        tok = self.peek()
        if tok.kind == "num":
            return self.layer_number(("", ""))
        if self.is_punct("[") or (self.is_punct("(") and self._number_in_parentheses(1)):
            close = "]" if tok.value == "[" else ")"
            self.take()
            value = self.layer_number((tok.value, close))
            self.expect(close, f"{shown(close)} after the layer number")
            return value
        if tok.kind == "punct" and tok.value in "^_":
            self.take()
            mark = tok.value
            if self.is_punct("{"):
                self.take()
                inner = self.peek()
                if inner.kind == "punct" and inner.value in "[(":
                    close = "]" if inner.value == "[" else ")"
                    self.take()
                    value = self.layer_number((mark + "{" + inner.value, close + "}"))
                    self.expect(close, f"{shown(close)} after the layer number")
                else:
                    value = self.layer_number((mark + "{", "}"))
                self.expect("}", "'}' after the layer number")
                return value
            if self.is_punct("[") or self.is_punct("("):
                opening = self.take().value
                close = "]" if opening == "[" else ")"
                value = self.layer_number((mark + opening, close))
                self.expect(close, f"{shown(close)} after the layer number")
                return value
            return self.layer_number((mark, ""))
        raise self.fail(tok, f"a layer number after {shown(var.text)}, e.g. {var.text}[2]")

    def _number_in_parentheses(self, k: int) -> bool:
        tok = self.peek(k)
        if tok.kind == "num":
            return self.is_punct(")", k + 1)
        if tok.kind == "var" and tok.text == "L":
            return self.is_punct(")", k + 1) or (self.peek(k + 1).value in ("-", "+") and self.is_punct(")", k + 3))
        return False

    def _small(self, tok: Token) -> int:
        """A layer number's value; no network has a million layers (and Python refuses 4300-digit ones)."""
        if len(tok.value) > 6:
            raise self.fail(tok, "a layer number of at most 6 digits")
        return int(tok.value)

    def layer_number(self, style: tuple[str, str]) -> tuple[int, bool]:
        tok = self.take()
        if tok.kind == "num" and tok.text != tok.value:  # superscript or subscript digits: the correct chain is too
            if style != ("", ""):
                raise self.fail(tok, "a layer number in plain digits inside brackets or after ^ or _")
            style = ("sup" if tok.text[0] in SUPERSCRIPTS else "sub", "")
        if self.notation.index is None:
            self.notation.index = style
        if tok.kind == "num":
            return self._small(tok), False
        if tok.kind == "var" and tok.text == "L":  # the last layer: L, L-1, L+1
            if self.peek().kind == "punct" and self.peek().value in ("-", "+"):
                sign = -1 if self.take().value == "-" else 1
                number = self.take()
                if number.kind != "num":
                    raise self.fail(number, "a number after L" + ("-" if sign < 0 else "+"))
                return sign * self._small(number), True
            return 0, True
        raise self.fail(tok, "a layer number (0, 1, 2, ... or L)")


_WRAPPERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_ENVIRONMENT = re.compile(r"\\(begin|end)\{[A-Za-z*]+\}")


def unwrap_line(raw: str) -> tuple[str, int]:
    """The equation of one line without comments, $...$ / $$...$$ / \\[ \\] wrappers and a trailing
    \\\\; and the column where it starts (so errors point into the line as written)."""
    start = len(raw) - len(raw.lstrip())
    s = raw.strip()
    if s.startswith(("#", "%")):
        return "", start
    cut = re.search(r"(?<!\\)%", s)  # a LaTeX comment
    if cut:
        s = s[: cut.start()].rstrip()
    changed = True
    while changed and s:
        changed = False
        if s.endswith("\\\\"):
            s, changed = s[:-2].rstrip(), True
        if s[-1:] in (",", ".", ";") and s[-2:-1] != "\\":  # a full stop, not LaTeX's \, or \;
            s, changed = s[:-1].rstrip(), True
        for left, right in _WRAPPERS:
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                inner = s[len(left) : len(s) - len(right)]
                start += len(left) + len(inner) - len(inner.lstrip())
                s, changed = inner.strip(), True
                break
    if _ENVIRONMENT.fullmatch(s):
        return "", start
    return s, start


def split_lines(text: str) -> list[tuple[int, str, str, int]]:
    """The equations of a file: (line number, the line as written, the equation, the column it starts at)."""
    out = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r(?!\n)", text), 1):  # line breaks as editors count them
        line, start = unwrap_line(raw)
        if line:
            out.append((number, raw, line, start))
    return out


def parse_chain_line(number: int, raw: str, line: str, start: int) -> Equation:
    """One chain-rule line; a ParseError (column, message) where it cannot be read."""
    parser = Parser(tokenize(line, start))
    lhs, terms = parser.equation()
    return Equation(number, raw.strip(), lhs, terms, parser.notation)


NO_EQUATION = (
    "no equation found (one per line, e.g. dC/dW[2] = dC/da[2] * da[2]/dz[2] * dz[2]/dW[2] or "
    "dW[2] = (1/m) dZ[2] A[1]^T; lines starting with # or % are comments)"
)


def parse_derivation(text: str, source: str = "derivation") -> list[Equation]:
    """Every chain-rule equation of a file; a BplabError naming the line, column and token on the first that
    does not parse, and when there is none at all."""
    equations = []
    for number, raw, line, start in split_lines(text):
        try:
            equations.append(parse_chain_line(number, raw, line, start))
        except ParseError as exc:
            raise BplabError(f"{source}: line {number}, column {exc.col}: {exc.message}") from None
    if not equations:
        raise BplabError(f"{source}: {NO_EQUATION}")
    return equations
