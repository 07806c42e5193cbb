"""Checks a learner's hand-written chain-rule derivation against a model's computation graph.

A derivation is one equation per line, in the notation of courses, plain text or LaTeX::

    dC/dW[2] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2] * da[2]/dz[2] * dz[2]/dW[2]
    $$\\frac{\\partial c}{\\partial \\omega^{[3]}} = \\frac{\\partial c}{\\partial a^{[3]}} \\cdot ...$$

The graph is read from ``graphs.dependencies`` (the equations the code runs), seen in course
notation: a[0] is the input; layer l, the l-th layer with weights, has z[l], a[l], W[l] and b[l];
C is the cost. Symbols without weights between layers (dropout D, pooling P, flatten F, the masks,
X and Y) are collapsed into direct edges, so z[l+1] depends on a[l].

Each equation gets a ``Verdict``: correct, or ``Issue``s with a stable code (``CODES``) and a
message, and the correct chain in the learner's own notation. A product is a chain when each
factor's denominator is the next one's numerator, read from the cost down (or, the same product,
from the parameter up); ``= 0`` states that there is no path. The parser is hand-written (a
tokenizer and a recursive descent over ``sum := product ('+' product)*``); nothing is evaluated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import Derivation
from backprop_lab.maths.graphs import dependencies

CODES = {
    "unknown-layer": "a symbol with a layer number this model does not have",
    "no-path": "the left-hand side is zero: its numerator does not depend on its denominator",
    "not-an-edge": "a factor dN/dD where N is not computed directly from D in this model",
    "chain-broken": "a factor's denominator is not the next factor's numerator",
    "lhs-mismatch": "the chain does not start at the left-hand side's numerator or end at its denominator",
    "nonexistent-path": "a term whose chain runs over a path the model's graph does not have",
    "duplicate-path": "the same path counted in two terms",
    "missing-path": "a path of the graph from the numerator to the denominator with no term in the sum",
    "off-by-one": "layer numbers one too high or too low (in a term, or throughout the equation)",
}


# ---------------------------------------------------------------------------------------------
# The graph in course notation


@dataclass(frozen=True)
class Node:
    kind: str  # C (the cost), a, z, W, b
    layer: int | None = None  # None for the cost

    def shifted(self, by: int) -> Node:
        return self if self.layer is None else Node(self.kind, self.layer + by)


COST = Node("C")
NodePath = tuple[Node, ...]
Pair = tuple[Node, Node]  # (numerator, denominator) of one factor


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class ChainGraph:
    """What each course symbol is computed from directly: ``parents[a[3]] == (z[3],)``."""

    layers: int  # L: the layers with weights are 1..L; a[L] is the output
    parents: dict[Node, tuple[Node, ...]]

    @classmethod
    def from_derivation(cls, d: Derivation) -> ChainGraph:
        deps = dependencies(d)
        course: dict[str, Node] = {"loss": COST, ("A0" if "A0" in deps else "X"): Node("a", 0)}
        for layer in d.layers:
            for sym, kind in ((layer.z, "z"), (layer.a, "a"), (layer.w, "W"), (layer.b, "b")):
                course[sym.name] = Node(kind, layer.l)

        def reads(name: str) -> list[Node]:
            """The course symbols an equation reads, looking through those without weights (D, P, F);
            the leaves X, Y and the dropout masks are not symbols of the chain rule."""
            found: list[Node] = []
            for dep in deps.get(name, []):
                if dep in course:
                    found.append(course[dep])
                elif dep in deps:
                    found += reads(dep)
            return list(dict.fromkeys(found))

        return cls(len(d.layers), {node: tuple(reads(name)) for name, node in course.items()})

    def __contains__(self, node: Node) -> bool:
        return node in self.parents

    def is_edge(self, num: Node, den: Node) -> bool:
        return den in self.parents.get(num, ())

    def paths(self, src: Node, dst: Node) -> list[NodePath]:
        """Every path src -> ... -> dst along the edges (from what is computed to what it reads)."""
        if src == dst:
            return [(src,)]
        return [(src,) + rest for p in self.parents.get(src, ()) for rest in self.paths(p, dst)]

    def why_not(self, num: Node, den: Node, say: Callable[[Node], str]) -> str:
        reads = self.parents.get(num, ())
        if not reads:
            what = "the input" if num.kind == "a" else "a parameter"
            text = f"{say(num)} is {what}: it depends on nothing in the network"
        else:
            text = f"{say(num)} depends on {_join([say(p) for p in reads])}, not on {say(den)}"
        if self.is_edge(den, num):
            text += f" (it is the other way round: {say(den)} depends on {say(num)})"
        return text

    def why_unknown(self, node: Node) -> str:
        L = self.layers
        if node.layer is not None and node.layer < 0:
            return "layers are numbered from 0, the input"
        if node.layer == 0:
            return f"layer 0 is the input, which has only a[0]; the layers with weights are 1 to {L}"
        return f"this model has {L} layer{'s' if L > 1 else ''} with weights (1 to {L}); its output is layer {L}"


def chain_graph(derivation: Derivation) -> ChainGraph:
    return ChainGraph.from_derivation(derivation)


# ---------------------------------------------------------------------------------------------
# Notation: how the learner writes, so messages and the correct chain come back in their letters

_PLAIN_LETTERS = {"\\omega": "ω", "\\Omega": "Ω"}
_PLAIN_DIFFS = {"\\partial": "∂", "\\delta": "δ"}
_DEFAULT_LETTERS = {"C": "C", "a": "a", "z": "z", "W": "W", "b": "b"}


def _unwrap(text: str) -> str:
    """``\\mathcal{L}`` -> ``L``, ``\\omega`` -> ``ω``, ``\\mathrm{d}`` -> ``d``: for plain messages."""
    m = re.fullmatch(r"\\[A-Za-z]+\{(.*)\}", text)
    inner = m.group(1).strip() if m else text
    return _PLAIN_LETTERS.get(inner, _PLAIN_DIFFS.get(inner, inner))


@dataclass
class Notation:
    latex: bool = False
    diff: str | None = None  # d, ∂, δ, \partial, \delta, \mathrm{d}
    frac: bool = False  # \frac{...}{...} rather than N/D
    product: str | None = None  # " * ", " \cdot ", " " (juxtaposition), ...
    letters: dict[str, str] = field(default_factory=dict)  # kind -> letter as written (w, \omega, c, \mathcal{L})
    index: tuple[str, str] | None = None  # ("[", "]"), ("^{[", "]}"), ("_", ""), ("", "") ...

    def letter(self, kind: str, plain: bool = False) -> str:
        text = self.letters.get(kind, _DEFAULT_LETTERS[kind])
        return _unwrap(text) if plain else text

    def node(self, n: Node) -> str:
        """The symbol in plain text, in the learner's letters: a[3], ω[2], C."""
        return self.letter(n.kind, plain=True) + ("" if n.layer is None else f"[{n.layer}]")

    def factor(self, pair: Pair) -> str:
        """A factor in plain text: dC/da[3], ∂c/∂ω[2]."""
        d = _unwrap(self.diff or "d")
        return f"{d}{self.node(pair[0])}/{d}{self.node(pair[1])}"

    def path(self, p: NodePath) -> str:
        return " → ".join(self.node(n) for n in p)

    # the learner's full notation, LaTeX or plain
    def _symbol(self, n: Node) -> str:
        if n.layer is None:
            return self.letter(n.kind)
        pre, post = self.index or (("^{[", "]}") if self.latex else ("[", "]"))
        number = str(n.layer)
        if pre in _SCRIPT_STYLES:  # W², a₃
            return self.letter(n.kind) + number.translate(_SCRIPT_STYLES[pre])
        if pre in ("^", "_") and len(number) > 1:
            pre, post = pre + "{", "}"
        return self.letter(n.kind) + pre + number + post

    def _factor_tex(self, pair: Pair) -> str:
        d = self.diff or ("\\partial" if self.latex else "d")
        sep = " " if re.fullmatch(r"\\[A-Za-z]+", d) else ""
        num, den = (f"{d}{sep}{self._symbol(n)}" for n in pair)
        if self.latex and self.frac:
            return f"\\frac{{{num}}}{{{den}}}"
        return f"{num}/{den}"

    def equation(self, lhs: Pair, paths: list[NodePath]) -> str:
        """``lhs = sum over paths of the product of their factors``, as the learner would write it."""
        product = self.product or (" \\cdot " if self.latex else " * ")
        terms = [product.join(self._factor_tex((p[k], p[k + 1])) for k in range(len(p) - 1)) for p in paths]
        return f"{self._factor_tex(lhs)} = {' + '.join(terms) if terms else '0'}"


# ---------------------------------------------------------------------------------------------
# Tokenizer


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
_SUPERSCRIPTS, _SUBSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹", "₀₁₂₃₄₅₆₇₈₉"
_SCRIPT_DIGITS = _SUPERSCRIPTS + _SUBSCRIPTS
_TO_ASCII = str.maketrans(_SCRIPT_DIGITS, "0123456789" * 2)
_SCRIPT_STYLES = {"sup": str.maketrans("0123456789", _SUPERSCRIPTS), "sub": str.maketrans("0123456789", _SUBSCRIPTS)}
_UNICODE = {
    "∂": ("diff", "d"),
    "δ": ("diff", "d"),
    "·": ("op", "·"),
    "⋅": ("op", "⋅"),
    "∙": ("op", "∙"),
    "×": ("op", "×"),
    "−": ("punct", "-"),
}


class _Error(Exception):
    """A parse error at a column; turned into a BplabError naming the line."""

    def __init__(self, col: int, message: str):
        super().__init__(message)
        self.col, self.message = col, message


def _visible(ch: str) -> bool:
    return ch.isprintable() and unicodedata.category(ch) != "Cf"  # Cf: zero-width and direction marks


def _shown(text: str) -> str:
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
            while j < len(s) and s[j] in _SCRIPT_DIGITS and (s[j] in _SUPERSCRIPTS) == (ch in _SUPERSCRIPTS):
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
        raise _Error(col, f"unexpected {_shown(s[col - 1 - offset : k + 1].strip())}: expected \\{name}{{...}}")
    inner = [t for t in tokenize(s[k + 1 : close], offset + k + 1) if t.kind != "end"]
    if len(inner) != 1 or inner[0].kind not in ("diff", "var"):
        raise _Error(col, f"unexpected {_shown(s[col - 1 - offset : close + 1])}: expected one symbol in \\{name}{{}}")
    return close + 1, Token(inner[0].kind, inner[0].value, s[col - 1 - offset : close + 1], col)


# ---------------------------------------------------------------------------------------------
# Parser


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


class _Parser:
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

    def fail(self, tok: Token, expected: str) -> _Error:
        return _Error(
            tok.col, f"unexpected {_shown(tok.text) if tok.kind != 'end' else 'end of line'}: expected {expected}"
        )

    def expect(self, value: str, what: str | None = None) -> Token:
        tok = self.take()
        if tok.kind != "punct" or tok.value != value:
            raise self.fail(tok, what or _shown(value))
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
                    f"{_shown(')' if tok.value == '(' else '}')} to close the {_shown(tok.value)} of column {tok.col}",
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
                raise self.fail(nxt, f"no layer number after the cost {_shown(tok.text)}")
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
            self.expect(close, f"{_shown(close)} after the layer number")
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
                    self.expect(close, f"{_shown(close)} after the layer number")
                else:
                    value = self.layer_number((mark + "{", "}"))
                self.expect("}", "'}' after the layer number")
                return value
            if self.is_punct("[") or self.is_punct("("):
                opening = self.take().value
                close = "]" if opening == "[" else ")"
                value = self.layer_number((mark + opening, close))
                self.expect(close, f"{_shown(close)} after the layer number")
                return value
            return self.layer_number((mark, ""))
        raise self.fail(tok, f"a layer number after {_shown(var.text)}, e.g. {var.text}[2]")

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
            style = ("sup" if tok.text[0] in _SUPERSCRIPTS else "sub", "")
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


def _unwrap_line(raw: str) -> tuple[str, int]:
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


def parse_derivation(text: str, source: str = "derivation") -> list[Equation]:
    """Every equation of a file; a BplabError naming the line, column and token on the first that
    does not parse, and when there is none at all."""
    equations = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r(?!\n)", text), 1):  # line breaks as editors count them
        line, start = _unwrap_line(raw)
        if not line:
            continue
        try:
            parser = _Parser(tokenize(line, start))
            lhs, terms = parser.equation()
        except _Error as exc:
            raise BplabError(f"{source}: line {number}, column {exc.col}: {exc.message}") from None
        equations.append(Equation(number, raw.strip(), lhs, terms, parser.notation))
    if not equations:
        raise BplabError(
            f"{source}: no equation found (one per line, e.g. dC/dW[2] = dC/da[2] * da[2]/dz[2] * "
            "dz[2]/dW[2]; lines starting with # or % are comments)"
        )
    return equations


# ---------------------------------------------------------------------------------------------
# The check


@dataclass(frozen=True)
class Issue:
    code: str  # one of CODES
    message: str
    term: int | None = None  # the term of the sum (1-based); None: the whole equation

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "term": self.term}


@dataclass
class Verdict:
    line: int
    text: str
    issues: list[Issue]
    expected: str | None  # the correct chain in the learner's notation (None: the left-hand side does not exist)

    @property
    def correct(self) -> bool:
        return not self.issues

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "text": self.text,
            "correct": self.correct,
            "issues": [i.to_dict() for i in self.issues],
            "expected": self.expected,
        }


@dataclass
class CheckReport:
    model: str
    layers: int
    verdicts: list[Verdict]

    @property
    def correct(self) -> bool:
        return all(v.correct for v in self.verdicts)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "layers": self.layers,
            "correct": self.correct,
            "equations": [v.to_dict() for v in self.verdicts],
        }

    def __repr__(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        return f"CheckReport({self.model}: {good} of {len(self.verdicts)} equations correct)"

    def _repr_html_(self) -> str:
        from backprop_lab.viz.display import check_html

        return check_html(self)

    def text(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        L = self.layers
        lines = [
            f"{self.model}: {L} layer{'s' if L > 1 else ''} with weights (a[0] is the input, a[{L}] the output); "
            f"{good} of {len(self.verdicts)} equation{'s' if len(self.verdicts) > 1 else ''} correct"
        ]
        for v in self.verdicts:
            lines.append(f"line {v.line}: {'correct' if v.correct else 'wrong'}: {v.text}")
            lines += [f"  {i.code}: {i.message}" for i in v.issues]
            if not v.correct:
                lines.append(
                    f"  correct chain: {v.expected}"
                    if v.expected
                    else "  correct chain: none (the left-hand side is not a symbol of this model)"
                )
        return "\n".join(lines)


def _is_chain(term: list[Pair]) -> bool:
    return all(a[1] == b[0] for a, b in zip(term, term[1:]))


def _term_issues(term: list[Pair], lhs: Pair, graph: ChainGraph, say: Notation, tag: int | None) -> list[Issue]:
    pre = f"term {tag}: " if tag else ""
    out = [
        Issue("not-an-edge", f"{pre}{say.factor((n, d))}: {graph.why_not(n, d, say.node)}", tag)
        for n, d in term
        if n in graph and d in graph and not graph.is_edge(n, d)
    ]

    def missing(top: Node, bottom: Node) -> str:
        """' (missing: the factors)' where exactly one path of the graph joins top to bottom."""
        gap = graph.paths(top, bottom) if top in graph and bottom in graph and top != bottom else []
        return (
            f" (missing: {' * '.join(say.factor(pair) for pair in zip(gap[0], gap[0][1:]))})" if len(gap) == 1 else ""
        )

    for a, b in zip(term, term[1:]):
        if a[1] != b[0]:
            out.append(
                Issue(
                    "chain-broken",
                    f"{pre}the chain breaks between {say.factor(a)} and {say.factor(b)}: "
                    f"{say.node(a[1])} is not {say.node(b[0])}{missing(a[1], b[0])}",
                    tag,
                )
            )
    if term[0][0] != lhs[0]:  # a chain begun too low: the factors from the numerator down to its start are missing
        out.append(
            Issue(
                "lhs-mismatch",
                f"{pre}the chain starts at {say.node(term[0][0])}, but the left-hand side "
                f"differentiates {say.node(lhs[0])}{missing(lhs[0], term[0][0])}",
                tag,
            )
        )
    if term[-1][1] != lhs[1]:  # stopped short: the factors from its end down to the denominator are missing
        out.append(
            Issue(
                "lhs-mismatch",
                f"{pre}the chain ends at {say.node(term[-1][1])}, but the left-hand side "
                f"is with respect to {say.node(lhs[1])}{missing(term[-1][1], lhs[1])}",
                tag,
            )
        )
    return out


def _off_by_one(term: list[Pair], paths: list[NodePath], say: Notation, tag: int | None) -> Issue | None:
    """The layer numbers of a term one away from those of a true path (all in the same direction)."""
    for p in paths:
        if len(p) - 1 != len(term):
            continue
        pairs = [(n, p[k]) for k, (n, _) in enumerate(term)] + [(d, p[k + 1]) for k, (_, d) in enumerate(term)]
        if any(mine.kind != true.kind for mine, true in pairs):
            continue
        shifts = {true.layer - mine.layer for mine, true in pairs if mine.layer is not None}
        if len(shifts - {0}) != 1 or not shifts - {0} <= {1, -1}:
            continue
        changed = list(dict.fromkeys((mine, true) for mine, true in pairs if mine != true))
        pre = f"term {tag}: " if tag else ""
        way = "low" if shifts - {0} == {1} else "high"
        if 0 not in shifts:
            body = " * ".join(say.factor((p[k], p[k + 1])) for k in range(len(p) - 1))
            return Issue(
                "off-by-one", f"{pre}every layer number in this term is one too {way}: it should read {body}", tag
            )
        mine, true = _join([say.node(m) for m, _ in changed]), _join([say.node(t) for _, t in changed])
        return Issue(
            "off-by-one",
            f"{pre}{mine} {'is' if len(changed) == 1 else 'are'} one layer too {way}: "
            f"{'it' if len(changed) == 1 else 'they'} should be {true}",
            tag,
        )
    return None


def _issues(lhs: Pair, terms: list[list[Pair]], graph: ChainGraph, say: Notation, hints: bool = True) -> list[Issue]:
    issues: list[Issue] = []
    nodes = list(dict.fromkeys([*lhs, *(n for t in terms for pair in t for n in pair)]))
    unknown: dict[str, list[Node]] = {}  # one issue per reason
    for n in nodes:
        if n not in graph:
            unknown.setdefault(graph.why_unknown(n), []).append(n)
    issues += [
        Issue(
            "unknown-layer",
            f"{_join([say.node(n) for n in group])} {'does' if len(group) == 1 else 'do'} not exist: {why}",
        )
        for why, group in unknown.items()
    ]
    known = lhs[0] in graph and lhs[1] in graph
    paths = graph.paths(*lhs) if known else []
    if known and not paths and terms:
        issues.append(
            Issue(
                "no-path",
                f"{say.node(lhs[0])} does not depend on {say.node(lhs[1])}: {say.factor(lhs)} is 0 and has no chain",
            )
        )
    valid: dict[NodePath, int] = {}
    wrong = 0
    for tag, written in enumerate(terms, 1):
        # a chain written from the parameter up to the cost is the same product, read the other way
        term = written[::-1] if not _is_chain(written) and _is_chain(written[::-1]) else written
        label = tag if len(terms) > 1 else None
        pre = f"term {tag}: " if label else ""
        found = _term_issues(term, lhs, graph, say, label)
        path = (lhs[0],) + tuple(d for _, d in term)
        if found and all(i.code == "not-an-edge" for i in found):  # a chain with the right ends, over false edges
            found.append(
                Issue(
                    "nonexistent-path",
                    f"{pre}this term runs over {say.path(path)}, which is not a path of this network",
                    label,
                )
            )
        if not found and path in valid:
            found.append(
                Issue(
                    "duplicate-path",
                    f"term {tag}: the path {say.path(path)} is counted twice (terms {valid[path]} and {tag})",
                    label,
                )
            )
        elif not found:
            valid[path] = tag
        if found:
            wrong += 1
            off = _off_by_one(term, paths, say, label) if hints else None
            issues += ([off] if off else []) + found
    missing = [p for p in paths if p not in valid]
    if len(missing) > wrong:
        issues += [
            Issue("missing-path", f"the right-hand side has no term for the path {say.path(p)}") for p in missing
        ]
    return issues


def check_equation(eq: Equation, graph: ChainGraph) -> Verdict:
    L, say = graph.layers, eq.notation
    lhs = (eq.lhs.num.resolve(L), eq.lhs.den.resolve(L))
    terms = [[(f.num.resolve(L), f.den.resolve(L)) for f in term] for term in eq.terms]
    issues = _issues(lhs, terms, graph, say)
    if issues:  # the whole equation one layer off?
        for by in (1, -1):
            moved = (lhs[0].shifted(by), lhs[1].shifted(by))
            moved_terms = [[(n.shifted(by), d.shifted(by)) for n, d in t] for t in terms]
            if not _issues(moved, moved_terms, graph, say, hints=False):
                issues = [
                    Issue(
                        "off-by-one",
                        f"every layer number is one too {'low' if by > 0 else 'high'}: with "
                        f"{by:+d} throughout, this is the correct chain for {say.factor(moved)} "
                        f"({say.node(Node('a', 0))} is the input, layer 1 the first with "
                        f"weights, {say.node(Node('a', L))} the output)",
                    )
                ] + [i for i in issues if i.code != "off-by-one"]
                break
    known = lhs[0] in graph and lhs[1] in graph
    expected = say.equation(lhs, graph.paths(*lhs)) if known else None
    return Verdict(eq.line, eq.text, issues, expected)


def check_derivation(
    text: str, derivation: Derivation, model: str = "model", source: str = "derivation"
) -> CheckReport:
    """Parse ``text`` (BplabError on a line that does not parse) and check every equation against the
    graph of ``derivation``."""
    graph = chain_graph(derivation)
    verdicts = [check_equation(eq, graph) for eq in parse_derivation(text, source)]
    return CheckReport(model, graph.layers, verdicts)


def correct_chains(derivation: Derivation, latex: bool = False) -> list[str]:
    """The correct chain of every weight and bias, from the output layer down, one equation each."""
    graph = chain_graph(derivation)
    notation = Notation(latex=latex, diff="\\partial" if latex else "d", frac=latex)
    out = []
    for l in range(graph.layers, 0, -1):
        for kind in ("W", "b"):
            lhs = (COST, Node(kind, l))
            out.append(notation.equation(lhs, graph.paths(*lhs)))
    return out


def typical_mistakes(derivation: Derivation) -> list[str]:
    """Wrong chains of the kinds learners write, made from this model's correct ones (plain notation): the
    output layer's chain with every index but the parameter's one too low, a factor that skips a layer, and a
    factor left out. For a report's "common mistakes" box; the checker then says what is wrong with each."""
    chains = correct_chains(derivation)
    L = chain_graph(derivation).layers
    out_w = chains[0]  # dC/dW[L] = dC/da[L] * da[L]/dz[L] * dz[L]/dW[L]
    lhs, rhs = out_w.split(" = ")
    factors = rhs.split(" * ")
    lowered = " * ".join(re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) - 1}]", f) for f in factors[:-1])
    last = re.sub(r"dz\[(\d+)\]", lambda m: f"dz[{int(m.group(1)) - 1}]", factors[-1])
    mistakes = [f"{lhs} = {lowered} * {last}" if L > 1 else None, f"{lhs} = {' * '.join(factors[:1] + factors[2:])}"]
    if L > 1:
        w_below = next(c for c in chains if c.startswith(f"dC/dW[{L - 1}]"))
        mistakes.append(w_below.replace(f"dz[{L}]/da[{L - 1}] * da[{L - 1}]/dz[{L - 1}]", f"dz[{L}]/dz[{L - 1}]"))
    return [m for m in mistakes if m]
