"""The reader of matrix-form lines (``dW[2] = (1/m) dZ[2] A[1]^T``): plain text, Unicode, NumPy and LaTeX.

A line becomes a ``MatrixLine``: its left-hand side (a ``Ref``: which tensor, which layer) and its right-hand
side as a small tree of ``Node`` tuples, read with the precedence of course notes, tightest first:
transpose; matrix product (juxtaposition, ``@``, ``np.dot``, ``·``, ``\\cdot``); element-wise product (``*``,
``⊙``, ``\\odot``, ``\\circ``, ``np.multiply``); ``+`` and ``-``. Layer numbers may be written from ``l`` (a
general line, checked for every layer it covers) or from ``L`` (the last layer). Nothing is evaluated here:
``matrix.py`` turns the tree into an expression tree of ``maths.expr`` for each layer and layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backprop_lab.classroom.derivation.tokenizer import ParseError, shown
from backprop_lab.classroom.matrix_tree import Node, Ref

# kinds of tensors: Z, A, W, b, X, Y, dZ, dA, dW, db; scalars m (the batch size), K (the outputs) and lambda
TENSOR_EXAMPLE = "a tensor such as dZ[2], W[2]^T, A[1], X, Y, m or (1/m)"


@dataclass(frozen=True)
class MatrixLine:
    line: int
    text: str
    lhs: Ref
    rhs: Node

    @property
    def general(self) -> bool:
        return self.lhs.general or any(r.general for r in refs(self.rhs))


def refs(node: Node) -> list[Ref]:
    out: list[Ref] = []
    if node[0] == "ref":
        out.append(node[1])
    if node[0] == "dfn" and node[2] is not None:
        out.append(node[2])
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            out += refs(child)
    return out


@dataclass(frozen=True)
class Tok:
    kind: str  # word, num, op, punct, cmd, end
    value: str
    col: int


_UNICODE = {
    "δ": ("word", "delta"),
    "σ": ("word", "sigma"),
    "λ": ("word", "lambda"),
    "⊙": ("op", "had"),
    "∘": ("op", "had"),
    "◦": ("op", "had"),
    "·": ("op", "mm"),
    "⋅": ("op", "mm"),
    "ᵀ": ("op", "T"),
    "′": ("punct", "'"),
    "−": ("punct", "-"),
    "Σ": ("cmd", "sum"),
    "∑": ("cmd", "sum"),
    "²": ("op", "sq"),
}
_COMMANDS = {
    "delta": ("word", "delta"),
    "lambda": ("word", "lambda"),
    "sigma": ("word", "sigma"),
    "tanh": ("word", "tanh"),
    "top": ("word", "T"),
    "intercal": ("word", "T"),
    "odot": ("op", "had"),
    "circ": ("op", "had"),
    "cdot": ("op", "mm"),
    "frac": ("cmd", "frac"),
    "dfrac": ("cmd", "frac"),
    "tfrac": ("cmd", "frac"),
    "sum": ("cmd", "sum"),
    "hat": ("cmd", "hat"),
    "prime": ("punct", "'"),
    "{": ("punct", "{"),
    "}": ("punct", "}"),
}
_IGNORED = {",", ";", ":", "!", " ", "quad", "qquad", "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr"}
_FONTS = {"mathrm", "mathbf", "mathit", "boldsymbol", "bm", "operatorname", "text", "textrm", "mathsf"}
_PUNCT = set("=+-*/()[]{}^_,@'><")


def tokenize_matrix(s: str, offset: int = 0) -> list[Tok]:
    toks: list[Tok] = []
    i = 0
    while i < len(s):
        ch, col = s[i], offset + i + 1
        if ch.isspace() or ch == "&":
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            m = re.match(r"\d*\.?\d+|\d+", s[i:])
            toks.append(Tok("num", m.group(0), col))
            i += m.end()
        elif ch == "." and s[i + 1 : i + 2] == "T" and not s[i + 2 : i + 3].isalnum():
            toks.append(Tok("op", "T", col))
            i += 2
        elif ch.isascii() and ch.isalpha():
            m = re.match(r"[A-Za-z][A-Za-z0-9]*", s[i:])
            word = m.group(0)
            i += m.end()
            if word == "np" and s[i : i + 1] == ".":  # np.dot, np.sum, np.multiply: NumPy's names
                i += 1
                continue
            toks.append(Tok("word", word, col))
        elif ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            name = m.group(1) if m else ""
            i += m.end() if m else 1
            if name in _IGNORED:
                continue
            if name in _FONTS:  # \mathrm{d}W, \operatorname{relu}: the letters inside
                close = s.find("}", i)
                if s[i : i + 1] == "{" and close > 0:
                    toks += [t for t in tokenize_matrix(s[i + 1 : close], offset + i + 1) if t.kind != "end"]
                    i = close + 1
                continue
            if name not in _COMMANDS:
                raise ParseError(col, f"{shown(chr(92) + name)} is not supported in matrix-form lines")
            kind, value = _COMMANDS[name]
            toks.append(Tok(kind, value, col))
        elif ch in _UNICODE:
            kind, value = _UNICODE[ch]
            toks.append(Tok(kind, value, col))
            i += 1
        elif ch in _PUNCT:
            toks.append(Tok("punct", ch, col))
            i += 1
        else:
            raise ParseError(col, f"unexpected {shown(ch)}: it is not read in matrix-form lines")
    toks.append(Tok("end", "", offset + len(s) + 1))
    return toks


_NAME = re.compile(r"(d|delta)?(Z|A|W|b|X|Y|AL|Yhat)(\d*)")
_FUNCS = {
    "relu": "relu",
    "sigmoid": "sigmoid",
    "sigma": "sigmoid",
    "sig": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
}
_FUNCS |= {"g": "g", "f": "g"}


class MatrixParser:
    def __init__(self, toks: list[Tok]):
        self.toks, self.i = toks, 0
        self.transposed = False  # set by index() on A^{[1]T}

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, value: str, kind: str = "punct", k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == kind and tok.value == value

    def fail(self, tok: Tok, expected: str) -> ParseError:
        what = "end of line" if tok.kind == "end" else shown(_show(tok))
        return ParseError(tok.col, f"unexpected {what}: expected {expected}")

    def expect(self, value: str, expected: str | None = None) -> Tok:
        if not self.at(value):
            raise self.fail(self.peek(), expected or shown(value))
        return self.take()

    # line := lhs '=' expr
    def line(self) -> tuple[Ref, Node]:
        tok = self.peek()
        lhs = self.primary()
        if lhs[0] != "ref" or lhs[1].kind in ("W", "b", "X", "Y", "m", "lambda"):
            raise ParseError(tok.col, "the left-hand side must be a tensor of the derivation: dZ, dA, dW, db, Z or A")
        self.expect("=", "'=' after the left-hand side")
        rhs = self.expr()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "an operator (+, -, *, ⊙, @, a product by juxtaposition) or the end")
        return lhs[1], rhs

    def expr(self) -> Node:
        node = ("neg", self.elementwise()) if self.at("-") and self.take() else self.elementwise()
        while self.at("+") or self.at("-"):
            op = "add" if self.take().value == "+" else "sub"
            node = (op, node, self.elementwise())
        if self.at(">"):  # Z > 0, (Z > 0), 1[Z > 0]: the step function
            self.take()
            zero = self.take()
            if zero.kind != "num" or float(zero.value) != 0:
                raise self.fail(zero, "0 in Z > 0")
            node = ("fn", "step", node)
        return node

    def elementwise(self) -> Node:
        node = self.matprod()
        while self.at("*") or self.at("had", "op"):
            self.take()
            node = ("had", node, self.matprod())
        return node

    def starts_primary(self) -> bool:
        tok = self.peek()
        return tok.kind in ("word", "num") or (tok.kind == "cmd" and tok.value != "hat") or self.at("(")

    def matprod(self) -> Node:
        node = self.unary()
        while True:
            if self.at("@") or self.at("mm", "op"):
                self.take()
                node = ("mm", node, self.unary())
            elif self.at("/"):
                self.take()
                node = ("div", node, self.unary())
            elif self.starts_primary():
                node = ("mm", node, self.unary())
            else:
                return node

    def unary(self) -> Node:
        if self.at("-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("T", "op"):
                self.take()
                node = ("T", node)
            elif self.at("sq", "op"):
                self.take()
                node = ("pow", node, 2.0)
            elif self.at("^"):
                self.take()
                braced = self.at("{")
                if braced:
                    self.take()
                tok = self.take()
                if tok.kind == "word" and tok.value == "T":
                    node = ("T", node)
                elif tok.kind == "num":
                    node = ("pow", node, float(tok.value))
                else:
                    raise self.fail(tok, "T (a transpose) or a power after '^'")
                if braced:
                    self.expect("}", "'}' closing the superscript")
            else:
                return node

    def primary(self) -> Node:
        tok = self.peek()
        if self.at("("):
            self.take()
            inner = self.expr()
            self.expect(")", f"')' to close the '(' of column {tok.col}")
            return inner
        if tok.kind == "num":
            self.take()
            if tok.value == "1" and self.at("["):  # 1[Z > 0]
                self.take()
                inner = self.expr()
                if inner[:2] != ("fn", "step"):
                    raise self.fail(self.peek(), "'> 0' in 1[Z > 0]")
                self.expect("]", "']' closing 1[Z > 0]")
                return inner
            return ("num", float(tok.value))
        if tok.kind == "cmd" and tok.value == "frac":
            self.take()
            self.expect("{", "'{' after \\frac")
            num = self.expr()
            self.expect("}", "'}' closing the numerator")
            self.expect("{", "'{' opening the denominator")
            den = self.expr()
            self.expect("}", "'}' closing the denominator")
            return ("div", num, den)
        if tok.kind == "cmd" and tok.value == "sum":
            self.take()
            for mark in ("_", "^"):  # \sum_{i=1}^{m}: the limits say over the examples
                if self.at(mark):
                    self.take()
                    self.group()
            return ("sum", self.postfix(self.primary()), None)
        if tok.kind == "cmd" and tok.value == "hat":
            self.take()
            self.expect("{", "'{' after \\hat")
            y = self.take()
            if y.value not in ("Y", "y"):
                raise self.fail(y, "\\hat{Y}, the output")
            self.expect("}", "'}' after \\hat{Y")
            return ("ref", Ref("A", ("L", 0)))
        if tok.kind != "word":
            raise self.fail(tok, TENSOR_EXAMPLE)
        word = tok.value
        self.take()
        if word in ("sum",):
            return self.sum_call(tok)
        if word in ("dot", "matmul", "multiply"):
            self.expect("(", f"'(' after {word}")
            a = self.expr()
            self.expect(",", f"',' between the two arguments of {word}")
            b = self.expr()
            self.expect(")", f"')' closing {word}(")
            return ("had" if word == "multiply" else "mm", a, b)
        if word in _FUNCS:
            return self.function(tok, _FUNCS[word])
        if word in ("m", "K"):  # the batch size; the number of outputs (mse's 2/K)
            return ("ref", Ref(word))
        if word == "lambda":
            return ("ref", Ref("lambda"))
        if word == "delta":
            self.transposed = False
            node = ("ref", Ref("dZ", self.index(tok, "")))
            return ("T", node) if self.transposed else node
        match = _NAME.fullmatch(word)
        if not match:
            raise ParseError(
                tok.col,
                f"{shown(word)} is not a tensor or function read in matrix-form lines (expected {TENSOR_EXAMPLE})",
            )
        diff, base, digits = match.groups()
        if diff == "delta":
            if base != "Z":
                raise self.fail(tok, "delta alone or delta with a layer number (delta2, δ[2])")
            diff = "d"
        if base in ("AL", "Yhat"):
            return ("ref", Ref(("d" if diff else "") + "A", ("L", 0)))
        if base in ("X", "Y"):
            if diff:
                raise self.fail(tok, "X and Y have no gradients here")
            return ("ref", Ref(base))
        self.transposed = False
        index = ("abs", int(digits)) if digits else self.index(tok, base)
        node = ("ref", Ref(("d" if diff else "") + base, index))
        return ("T", node) if self.transposed else node

    def group(self) -> None:
        """Skip a TeX group {...} or one token (the limits of a \\sum)."""
        if not self.at("{"):
            self.take()
            return
        depth = 0
        while True:
            tok = self.take()
            if tok.kind == "end":
                raise self.fail(tok, "'}'")
            depth += tok.kind == "punct" and tok.value == "{"
            depth -= tok.kind == "punct" and tok.value == "}"
            if depth == 0:
                return

    def index(self, tok: Tok, base: str) -> tuple[str, int]:
        """[2], [l], [l-1], [L], ^{[2]}, ^{[2]T} (a transpose inside), ^[2], _2, _{2}."""
        if self.at("["):
            self.take()
            value = self.layer_number()
            self.expect("]", "']' after the layer number")
            return value
        if self.at("^") or self.at("_"):
            mark = self.take().value
            if self.at("{"):
                self.take()
                bracket = self.at("[") or self.at("(")
                if bracket:
                    close = "]" if self.take().value == "[" else ")"
                value = self.layer_number()
                if bracket:
                    self.expect(close, f"{shown(close)} after the layer number")
                if self.at("T", "word") or self.at("T", "op"):  # A^{[1]T}: the transpose inside the superscript
                    self.take()
                    self.transposed = True
                self.expect("}", "'}' after the layer number")
                return value
            if self.at("["):
                self.take()
                value = self.layer_number()
                self.expect("]", "']' after the layer number")
                return value
            if mark == "_":
                return self.layer_number()
        raise self.fail(self.peek(), f"a layer number after {shown(tok.value)}, e.g. {base or tok.value}[2]")

    def layer_number(self) -> tuple[str, int]:
        tok = self.take()
        if tok.kind == "num" and tok.value.isdigit():
            return ("abs", int(tok.value))
        if tok.kind == "word" and tok.value in ("l", "L"):
            base = tok.value
            if self.at("-") or self.at("+"):
                sign = -1 if self.take().value == "-" else 1
                n = self.take()
                if n.kind != "num" or not n.value.isdigit():
                    raise self.fail(n, f"a number after {base}{'-' if sign < 0 else '+'}")
                return (base, sign * int(n.value))
            return (base, 0)
        raise self.fail(tok, "a layer number (1, 2, ..., l, l-1, l+1 or L)")

    def function(self, tok: Tok, name: str) -> Node:
        """relu(Z), σ(Z), g(Z[1]); derivatives g'(Z[1]), g^{[1]'}(Z^{[1]}), relu'(Z), σ'(Z), tanh'(Z)."""
        layer = None
        if self.at("^") and name == "g":  # g^{[1]'}
            self.take()
            self.expect("{", "'{' after g^")
            self.expect("[", "'[' in g^{[l]}")
            layer = Ref("g", self.layer_number())
            self.expect("]", "']' after the layer number")
            prime = self.at("'")
            if prime:
                self.take()
            self.expect("}", "'}' closing g's superscript")
        else:
            prime = self.at("'")
            if prime:
                self.take()
        if not self.at("("):
            raise self.fail(self.peek(), f"'(' after {tok.value}{chr(39) if prime else ''}")
        self.take()
        arg = self.expr()
        self.expect(")", f"')' closing {tok.value}(")
        if prime:
            if name == "softmax":
                raise ParseError(tok.col, "softmax' is not supported (its derivative is a Jacobian: write dZ = A - Y)")
            return ("dfn", name, layer, arg)
        return ("fn", name, arg) if layer is None else ("fn", name, arg)

    def sum_call(self, tok: Tok) -> Node:
        self.expect("(", "'(' after sum")
        arg = self.expr()
        axis = None
        while self.at(","):
            self.take()
            key = self.take()
            if key.kind == "num" and axis is None:  # np.sum(dZ, 1)
                axis = int(key.value)
                continue
            if key.kind != "word" or key.value not in ("axis", "keepdims"):
                raise self.fail(key, "axis=0, axis=1 or keepdims=True")
            self.expect("=", f"'=' after {key.value}")
            value = self.take()
            if key.value == "axis":
                if value.kind != "num" or value.value not in ("0", "1"):
                    raise self.fail(value, "axis 0 or 1")
                axis = int(value.value)
        self.expect(")", "')' closing sum(")
        return ("sum", arg, axis)


def _show(tok: Tok) -> str:
    return {"had": "⊙", "mm": "·", "T": "ᵀ", "sq": "²"}.get(tok.value, tok.value) if tok.kind == "op" else tok.value


def is_chain_line(line: str) -> bool:
    """A line's left-hand side decides its kind: a derivative (d?/d?, ∂?/∂?, \\frac{\\partial ?}{...}) is a
    chain-rule line; a tensor name (dW[2], δ[2], Z[1]) a matrix-form line."""
    lhs = line.split("=", 1)[0]
    return "/" in lhs or "\\frac" in lhs or "\\dfrac" in lhs or "∂" in lhs or "\\partial" in lhs


def parse_matrix_line(number: int, raw: str, line: str, start: int) -> MatrixLine:
    """One matrix-form line; a ParseError (column, message) where it cannot be read."""
    lhs, rhs = MatrixParser(tokenize_matrix(line, start)).line()
    return MatrixLine(number, raw.strip(), lhs, rhs)
