"""A small expression tree for the maths of backpropagation, and the printers that walk it.

Every rule of the project (``rules.py``) is written once as one of these trees. The
same tree is printed as TeX, MathML and plain text, evaluated with NumPy (by
interpreting the tree: no source strings, no ``eval``), given a shape, and drawn as
a computation graph: what a learner reads is what is evaluated.

Nodes:

- ``Sym``: a named value with a shape (``W[2]`` of shape (256, 128), the batch size ``m``);
- ``Const``: a number;
- ``MatMul`` (juxtaposition, ``A W``), ``Transpose`` (``A^T``), ``Add`` / ``Sub`` (NumPy broadcasting:
  a bias row is added to every row), ``Hadamard`` (element-wise product, ``⊙``), ``Div``,
  ``Scale`` (a scalar factor times a tensor), ``Neg``, ``Pow``;
- ``Func``: an element-wise or row-wise function (relu, sigmoid, softmax, log, the step 1[x > 0], ...);
- ``SumRows`` (over the batch rows, and pixels for images: a bias gradient), ``SumLast``
  (over the last axis, kept: softmax's backward), ``SumAll`` (to a scalar: a loss); ``SumCols`` and
  ``SumFirst``, their counterparts in the columns layout (``layout.py``);
- ``Op``: a tensor operation with parameters (convolution and its two gradients, max-pooling
  and its gradient, flatten and its inverse), evaluated by the reference definitions in ``ops.py``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from backprop_lab.maths import ops

Shape = tuple  # of ints and symbolic sizes such as "m"

# --- symbols -----------------------------------------------------------------------------------------

# bases written with a Greek letter or a special glyph: (TeX, unicode)
GLYPHS = {
    "delta": (r"\delta", "δ"),
    "eta": (r"\eta", "η"),
    "mu": (r"\mu", "μ"),
    "rho": (r"\rho", "ρ"),
    "beta": (r"\beta", "β"),
    "epsilon": (r"\epsilon", "ε"),
    "lambda": (r"\lambda", "λ"),
    "alpha": (r"\alpha", "α"),
    "L": (r"\mathcal{L}", "L"),
}


@dataclass(frozen=True, eq=False)
class Expr:
    """Base of every node. Operators build trees: ``a @ b``, ``a + b``, ``a - b``, ``a * b`` (Hadamard),
    ``a / b``, ``-a``, ``a.T``."""

    def children(self) -> tuple["Expr", ...]:
        return ()

    def __matmul__(self, other: "Expr") -> "Expr":
        return MatMul(self, other)

    def __add__(self, other: "Expr | float") -> "Expr":
        return Add(self, lift(other))

    def __radd__(self, other: float) -> "Expr":
        return Add(lift(other), self)

    def __sub__(self, other: "Expr | float") -> "Expr":
        return Sub(self, lift(other))

    def __rsub__(self, other: float) -> "Expr":
        return Sub(lift(other), self)

    def __mul__(self, other: "Expr | float") -> "Expr":
        other = lift(other)
        if is_scalar(other) and not is_scalar(self):
            return Scale(other, self)
        if is_scalar(self):
            return Scale(self, other)
        return Hadamard(self, other)

    def __rmul__(self, other: float) -> "Expr":
        return Scale(lift(other), self)

    def __truediv__(self, other: "Expr | float") -> "Expr":
        return Div(self, lift(other))

    def __rtruediv__(self, other: float) -> "Expr":
        return Div(lift(other), self)

    def __neg__(self) -> "Expr":
        return Neg(self)

    def __pow__(self, other: "Expr | float") -> "Expr":
        return Pow(self, lift(other))

    @property
    def T(self) -> "Expr":  # noqa: N802 - the mathematical name
        return Transpose(self)


@dataclass(frozen=True, eq=False)
class Sym(Expr):
    """A named value. ``name`` is its key in an evaluation environment (``W2``); ``base``, ``layer``,
    ``sub`` and ``accent`` say how it is written (W^{[2]}, beta_1, tilde A)."""

    name: str
    base: str
    shape: Shape = ()
    layer: int | None = None
    sub: str | None = None
    kind: str = "value"  # input, param, value, grad, mask, dim, hyper, state
    accent: str | None = None  # "tilde"

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sym) and other.name == self.name


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: float


def lift(x: "Expr | float | int") -> Expr:
    return x if isinstance(x, Expr) else Const(float(x))


@dataclass(frozen=True, eq=False)
class Unary(Expr):
    a: Expr

    def children(self):
        return (self.a,)


@dataclass(frozen=True, eq=False)
class Binary(Expr):
    a: Expr
    b: Expr

    def children(self):
        return (self.a, self.b)


class MatMul(Binary):
    pass


class Add(Binary):
    pass


class Sub(Binary):
    pass


class Hadamard(Binary):
    pass


class Div(Binary):
    pass


class Pow(Binary):
    pass


class Scale(Binary):
    """``a`` is a scalar factor, ``b`` a tensor."""


class Transpose(Unary):
    pass


class Neg(Unary):
    pass


class SumRows(Unary):
    """Sum over every axis but the last: over the batch rows (and pixels, for images)."""


class SumLast(Unary):
    """Row sums, kept as a column: sum over the last axis with keepdims."""


class SumAll(Unary):
    """Sum of every element: a scalar."""


class SumCols(Unary):
    """Sum over the columns (the examples of the columns layout), kept as a column: a bias gradient ``delta 1``."""


class SumFirst(Unary):
    """Column sums, kept as a row: sum over the first axis with keepdims (softmax's backward, columns layout)."""


@dataclass(frozen=True, eq=False)
class Func(Expr):
    fn: str
    a: Expr

    def children(self):
        return (self.a,)


@dataclass(frozen=True, eq=False)
class Op(Expr):
    """A tensor operation with parameters, e.g. ``Op("conv2d", (A, W), {"kernel": 3, "stride": 1, ...})``."""

    op: str
    args: tuple[Expr, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    out_shape: Shape | None = None

    def children(self):
        return self.args


def is_scalar(e: Expr) -> bool:
    if isinstance(e, (Const, SumAll)):
        return True
    if isinstance(e, Sym):
        return e.shape == ()
    if isinstance(e, (Op, SumRows, SumLast, SumCols, SumFirst, Transpose)):
        return False
    return all(is_scalar(c) for c in e.children())


# --- functions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """How a function is written and computed. ``tex``/``text``/``mathml`` take the printed argument."""

    name: str
    tex: Callable[[str], str]
    text: Callable[[str], str]
    numpy: Callable[[np.ndarray], np.ndarray]
    mathml: Callable[[str], str]


def _call(tex_name: str, text_name: str, ml_name: str, fn: Callable) -> tuple:
    return (
        lambda a: rf"{tex_name}\left({a}\right)",
        lambda a: f"{text_name}({a})",
        fn,
        lambda a: f"<mi>{ml_name}</mi><mo>(</mo>{a}<mo>)</mo>",
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True))


FUNCTIONS: dict[str, Function] = {
    "relu": Function("relu", *_call(r"\mathrm{relu}", "relu", "relu", lambda z: np.maximum(z, 0))),
    "sigmoid": Function("sigmoid", *_call(r"\sigma", "σ", "σ", _sigmoid)),
    "tanh": Function("tanh", *_call(r"\tanh", "tanh", "tanh", np.tanh)),
    "softmax": Function("softmax", *_call(r"\mathrm{softmax}", "softmax", "softmax", _softmax)),
    # the columns layout's softmax and logsumexp: over each column (an example), printed alike
    "softmax_cols": Function(
        "softmax_cols", *_call(r"\mathrm{softmax}", "softmax", "softmax", lambda z: _softmax(z.T).T)
    ),
    "logsumexp_cols": Function(
        "logsumexp_cols", *_call(r"\mathrm{logsumexp}", "logsumexp", "logsumexp", lambda z: _logsumexp(z.T).T)
    ),
    "exp": Function("exp", *_call(r"\exp", "exp", "exp", np.exp)),
    "log": Function("log", *_call(r"\log", "log", "log", np.log)),
    "abs": Function(
        "abs", lambda a: rf"\left|{a}\right|", lambda a: f"|{a}|", np.abs, lambda a: f"<mo>|</mo>{a}<mo>|</mo>"
    ),
    "max0": Function("max0", *_call(r"\max_0", "max0", "max₀", lambda z: np.maximum(z, 0))),
    "logsumexp": Function("logsumexp", *_call(r"\mathrm{logsumexp}", "logsumexp", "logsumexp", _logsumexp)),
    "floor": Function(
        "floor",
        lambda a: rf"\left\lfloor {a} \right\rfloor",
        lambda a: f"floor({a})",
        np.floor,
        lambda a: f"<mo>⌊</mo>{a}<mo>⌋</mo>",
    ),
    "sqrt": Function(
        "sqrt", lambda a: rf"\sqrt{{{a}}}", lambda a: f"sqrt({a})", np.sqrt, lambda a: f"<msqrt>{a}</msqrt>"
    ),
    "step": Function(
        "step",
        lambda a: rf"\mathbf{{1}}\left[{a} > 0\right]",
        lambda a: f"1[{a} > 0]",
        lambda z: (z > 0).astype(z.dtype),
        lambda a: f"<mn>𝟏</mn><mo>[</mo>{a}<mo>&gt;</mo><mn>0</mn><mo>]</mo>",
    ),
}


def func(name: str, a: Expr) -> Func:
    if name not in FUNCTIONS:
        raise KeyError(f"no function {name!r} in the expression language")
    return Func(name, a)


# --- operations with parameters -------------------------------------------------------------------------


def _conv_sub(p: Mapping) -> str:
    return f"{p['kernel']}\\times{p['kernel']},\\ s={p['stride']},\\ \\mathrm{{{p['padding']}}}"


# name -> (TeX of printed args, text, MathML, NumPy)
OPS: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    "conv2d": (
        lambda a, p: rf"\mathrm{{conv}}_{{{_conv_sub(p)}}}\left({a[0]}, {a[1]}\right)",
        lambda a, p: f"conv{p['kernel']}x{p['kernel']}/s{p['stride']},{p['padding']}({a[0]}, {a[1]})",
        lambda a, p: (
            f"<msub><mi>conv</mi><mtext>{p['kernel']}×{p['kernel']}, s={p['stride']}, {p['padding']}</mtext>"
            f"</msub><mo>(</mo>{a[0]}<mo>,</mo>{a[1]}<mo>)</mo>"
        ),
        lambda v, p: ops.conv2d(v[0], v[1], p["stride"], p["padding"]),
    ),
    "conv2d_dw": (
        lambda a, p: rf"\mathrm{{im2col}}\left({a[0]}\right)^\top {a[1]}",
        lambda a, p: f"im2col({a[0]})ᵀ {a[1]}",
        lambda a, p: f"<msup><mrow><mi>im2col</mi><mo>(</mo>{a[0]}<mo>)</mo></mrow><mo>⊤</mo></msup>{a[1]}",
        lambda v, p: ops.conv2d_dw(v[0], v[1], p["kernel"], p["stride"], p["padding"]),
    ),
    "conv2d_dx": (
        lambda a, p: rf"\mathrm{{col2im}}\left({a[0]} {a[1]}^\top\right)",
        lambda a, p: f"col2im({a[0]} {a[1]}ᵀ)",
        lambda a, p: f"<mi>col2im</mi><mo>(</mo>{a[0]}<msup><mrow>{a[1]}</mrow><mo>⊤</mo></msup><mo>)</mo>",
        lambda v, p: ops.conv2d_dx(v[0], v[1], p["in_shape"], p["stride"], p["padding"]),
    ),
    "maxpool": (
        lambda a, p: rf"\mathrm{{maxpool}}_{{{p['pool']}\times{p['pool']}}}\left({a[0]}\right)",
        lambda a, p: f"maxpool{p['pool']}x{p['pool']}({a[0]})",
        lambda a, p: f"<msub><mi>maxpool</mi><mtext>{p['pool']}×{p['pool']}</mtext></msub><mo>(</mo>{a[0]}<mo>)</mo>",
        lambda v, p: ops.maxpool(v[0], p["pool"], p["stride"]),
    ),
    "maxpool_back": (
        lambda a, p: rf"\mathrm{{route}}_{{\arg\max {a[1]}}}\left({a[0]}\right)",
        lambda a, p: f"route_argmax({a[1]})({a[0]})",
        lambda a, p: f"<msub><mi>route</mi><mrow><mi>argmax</mi>{a[1]}</mrow></msub><mo>(</mo>{a[0]}<mo>)</mo>",
        lambda v, p: ops.maxpool_back(v[0], v[1], p["pool"], p["stride"]),
    ),
    "flatten": (
        lambda a, p: rf"\mathrm{{flatten}}\left({a[0]}\right)",
        lambda a, p: f"flatten({a[0]})",
        lambda a, p: f"<mi>flatten</mi><mo>(</mo>{a[0]}<mo>)</mo>",
        lambda v, p: v[0].reshape(len(v[0]), -1),
    ),
    "unflatten": (
        lambda a, p: rf"\mathrm{{unflatten}}\left({a[0]}\right)",
        lambda a, p: f"unflatten({a[0]})",
        lambda a, p: f"<mi>unflatten</mi><mo>(</mo>{a[0]}<mo>)</mo>",
        lambda v, p: v[0].reshape((len(v[0]), *p["in_shape"])),
    ),
}

OP_LABELS = {
    "conv2d": "conv2d",
    "conv2d_dw": "im2colᵀ ·",
    "conv2d_dx": "col2im(· Wᵀ)",
    "maxpool": "maxpool",
    "maxpool_back": "route to argmax",
    "flatten": "flatten",
    "unflatten": "reshape back",
}


# --- printing ----------------------------------------------------------------------------------------

PREC = {Add: 1, Sub: 1, Neg: 2, MatMul: 3, Hadamard: 3, Scale: 3, Div: 4, Pow: 5, Transpose: 6}


def _prec(e: Expr) -> int:
    if isinstance(e, Const) and e.value < 0:
        return 2
    return PREC.get(type(e), 9)


def _number(v: float) -> str:
    return f"{v:g}"


Values = Mapping[str, Any]


class Printer:
    """Walks a tree and writes it in one notation. ``values`` (optional) fills in numbers: a symbol whose
    name is in ``values`` is written as its value (a matrix when it is an array) instead of its name."""

    def __init__(self, values: Values | None = None, digits: int = 4, max_entries: int = 64):
        self.values = values or {}
        self.digits = digits
        self.max_entries = max_entries

    # notation-specific pieces
    def sym(self, s: Sym) -> str: ...
    def number(self, v: float) -> str: ...
    def matrix(self, a: np.ndarray) -> str: ...
    def paren(self, x: str) -> str: ...
    def binary(self, e: Binary, a: str, b: str) -> str: ...
    def unary(self, e: Unary, a: str) -> str: ...
    def function(self, e: Func, a: str) -> str: ...
    def op(self, e: Op, args: list[str]) -> str: ...

    def value(self, s: Sym) -> str | None:
        if s.name not in self.values:
            return None
        v = np.asarray(self.values[s.name])
        if v.ndim == 0:
            return self.number(float(v))
        if v.size > self.max_entries:
            return None  # too large to write out: keep the symbol
        if v.ndim == 1:
            return self.vector(v)
        return self.matrix(v if v.ndim == 2 else v.reshape(len(v), -1))

    def vector(self, v: np.ndarray) -> str:
        return self.matrix(v.reshape(1, -1))

    def __call__(self, e: Expr) -> str:
        if isinstance(e, Sym):
            filled = self.value(e)
            return filled if filled is not None else self.sym(e)
        if isinstance(e, Const):
            return self.number(e.value)
        if isinstance(e, Func):
            return self.function(e, self(e.a))
        if isinstance(e, Op):
            return self.op(e, [self(a) for a in e.args])
        if isinstance(e, Binary):
            a, b = self(e.a), self(e.b)
            p = _prec(e)
            pa, pb = _prec(e.a), _prec(e.b)
            mixed = p == 3  # A (B ⊙ C) and (A B) ⊙ C: products of different kinds are bracketed
            if (
                pa < p
                or (isinstance(e, Pow) and pa <= p)
                or (mixed and pa == p and type(e.a) is not type(e) and not isinstance(e, Scale))
            ):
                a = self.paren(a)
            if pb < p or (pb == p and (isinstance(e, (Sub, Div, Pow)) or (mixed and type(e.b) is not type(e)))):
                b = self.paren(b)
            return self.binary(e, a, b)
        if isinstance(e, Unary):
            a = self(e.a)
            if isinstance(e, (Transpose, Neg)) and _prec(e.a) < 9 and not (isinstance(e.a, Sym)):
                a = self.paren(a)
            return self.unary(e, a)
        raise TypeError(f"cannot print {type(e).__name__}")


class TexPrinter(Printer):
    def sym(self, s):
        base = GLYPHS.get(s.base, (s.base, s.base))[0]
        if s.accent == "tilde":
            base = rf"\tilde{{{base}}}"
        if s.sub is not None:
            base = f"{base}_{{{s.sub}}}"
        if s.layer is not None:
            base = f"{base}^{{[{s.layer}]}}"
        return base

    def number(self, v):
        text = f"{v:.{self.digits}g}" if self.values else _number(v)
        return text.replace("e-0", "e-").replace("inf", r"\infty")

    def matrix(self, a):
        rows = [" & ".join(self.number(float(x)) for x in row) for row in a]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"

    def paren(self, x):
        return rf"\left({x}\right)"

    def binary(self, e, a, b):
        if isinstance(e, MatMul):
            return f"{a} {b}"
        if isinstance(e, Add):
            return f"{a} + {b}"
        if isinstance(e, Sub):
            return f"{a} - {b}"
        if isinstance(e, Hadamard):
            return rf"{a} \odot {b}"
        if isinstance(e, Scale):
            return f"{a}\\, {b}" if not isinstance(e.a, Const) else f"{a} {b}"
        if isinstance(e, Div):
            return rf"\frac{{{_strip(a)}}}{{{_strip(b)}}}"
        if isinstance(e, Pow):
            return f"{{{a}}}^{{{_strip(b)}}}"
        raise TypeError(type(e).__name__)

    def unary(self, e, a):
        if isinstance(e, Transpose):
            return f"{{{a}}}^\\top"
        if isinstance(e, Neg):
            return f"-{a}"
        if isinstance(e, SumRows):
            return rf"\mathbf{{1}}^\top {_wrap_tex(a)}"
        if isinstance(e, SumLast):
            return rf"\mathrm{{rowsum}}\left({a}\right)"
        if isinstance(e, SumCols):
            return rf"{_wrap_tex(a)} \mathbf{{1}}"
        if isinstance(e, SumFirst):
            return rf"\mathrm{{colsum}}\left({a}\right)"
        if isinstance(e, SumAll):
            return rf"\sum_{{i,k}} {_wrap_tex(a)}"
        raise TypeError(type(e).__name__)

    def function(self, e, a):
        return FUNCTIONS[e.fn].tex(a)

    def op(self, e, args):
        return OPS[e.op][0](args, e.params)


def _strip(x: str) -> str:
    """Parentheses are not needed inside a fraction's numerator or denominator."""
    if x.startswith(r"\left(") and x.endswith(r"\right)") and x.count(r"\left(") == 1:
        return x[6:-7]
    return x


def _wrap_tex(a: str) -> str:
    return a if a.startswith(r"\left(") or " " not in a else rf"\left({a}\right)"


class TextPrinter(Printer):
    def sym(self, s):
        base = GLYPHS.get(s.base, (s.base, s.base))[1]
        if s.accent == "tilde":
            base = f"{base}\u0303"
        if s.sub is not None:
            base = f"{base}_{s.sub}"
        if s.layer is not None:
            base = f"{base}[{s.layer}]"
        return base

    def number(self, v):
        return f"{v:.{self.digits}g}" if self.values else _number(v)

    def matrix(self, a):
        return "[" + ", ".join("[" + ", ".join(self.number(float(x)) for x in row) + "]" for row in a) + "]"

    def vector(self, v):
        return "[" + ", ".join(self.number(float(x)) for x in v) + "]"

    def paren(self, x):
        return f"({x})"

    def binary(self, e, a, b):
        symbol = {MatMul: " ", Add: " + ", Sub: " - ", Hadamard: " ⊙ ", Scale: " ", Div: " / ", Pow: "^"}[type(e)]
        if isinstance(e, (MatMul, Hadamard, Scale)):  # a / b c reads two ways: bracket a fraction in a product
            a = f"({a})" if isinstance(e.a, Div) else a
            b = f"({b})" if isinstance(e.b, Div) else b
        if isinstance(e, Div) and " " in b and not b.startswith("("):
            b = f"({b})"
        return f"{a}{symbol}{b}"

    def unary(self, e, a):
        return {
            Transpose: f"{a}ᵀ",
            Neg: f"-{a}",
            SumRows: f"sum_rows({a})",
            SumLast: f"rowsum({a})",
            SumCols: f"sum_cols({a})",
            SumFirst: f"colsum({a})",
            SumAll: f"sum({a})",
        }[type(e)]

    def function(self, e, a):
        return FUNCTIONS[e.fn].text(a)

    def op(self, e, args):
        return OPS[e.op][1](args, e.params)


# A font with an OpenType MATH table lets the browser stretch brackets over a matrix's rows (without one,
# Chromium draws a one-line bracket beside a three-row matrix): every page showing MathML sets it.
MATH_FONT_CSS = 'math{font-family:"STIX Two Math","Cambria Math","Latin Modern Math","DejaVu Math TeX Gyre",math}'
FENCE = '<mo fence="true" stretchy="true" symmetric="true">{}</mo>'


class MathMLPrinter(Printer):
    """MathML Core (rendered by Chromium and Firefox without any script)."""

    def sym(self, s):
        glyph = html.escape(GLYPHS.get(s.base, (s.base, s.base))[1])
        variant = ' mathvariant="normal"' if len(glyph) > 1 or s.base == "L" else ""
        base = f"<mi{variant}>{glyph}</mi>" if s.base != "L" else '<mi mathvariant="script">L</mi>'
        if s.accent == "tilde":
            base = f'<mover accent="true">{base}<mo>~</mo></mover>'
        if s.sub is not None:
            base = (
                f"<msub>{base}<mn>{html.escape(s.sub)}</mn></msub>"
                if s.sub.isdigit()
                else f"<msub>{base}<mi>{html.escape(s.sub)}</mi></msub>"
            )
        if s.layer is not None:
            base = f"<msup>{base}<mrow><mo>[</mo><mn>{s.layer}</mn><mo>]</mo></mrow></msup>"
        return f"<mrow>{base}</mrow>"

    def number(self, v):
        return f"<mn>{html.escape(f'{v:.{self.digits}g}' if self.values else _number(v))}</mn>"

    def matrix(self, a):
        rows = "".join("<mtr>" + "".join(f"<mtd>{self.number(float(x))}</mtd>" for x in row) + "</mtr>" for row in a)
        return f"<mrow>{FENCE.format('[')}<mtable>{rows}</mtable>{FENCE.format(']')}</mrow>"

    def paren(self, x):
        return f"<mrow><mo>(</mo>{x}<mo>)</mo></mrow>"

    def binary(self, e, a, b):
        if isinstance(e, Div):
            return f"<mfrac><mrow>{_strip_ml(a)}</mrow><mrow>{_strip_ml(b)}</mrow></mfrac>"
        if isinstance(e, Pow):
            return f"<msup><mrow>{a}</mrow><mrow>{b}</mrow></msup>"
        op = {
            MatMul: "<mo>&#x2062;</mo>",
            Add: "<mo>+</mo>",
            Sub: "<mo>−</mo>",
            Hadamard: "<mo>⊙</mo>",
            Scale: "<mo>&#x2062;</mo>",
        }[type(e)]
        return f"<mrow>{a}{op}{b}</mrow>"

    def unary(self, e, a):
        if isinstance(e, Transpose):
            return f"<msup><mrow>{a}</mrow><mo>⊤</mo></msup>"
        if isinstance(e, Neg):
            return f"<mrow><mo>−</mo>{a}</mrow>"
        if isinstance(e, SumRows):
            return f"<mrow><msup><mn>𝟏</mn><mo>⊤</mo></msup>{a}</mrow>"
        if isinstance(e, SumLast):
            return f"<mrow><mi>rowsum</mi><mo>(</mo>{a}<mo>)</mo></mrow>"
        if isinstance(e, SumCols):
            return f"<mrow>{a}<mo>&#x2062;</mo><mn>𝟏</mn></mrow>"
        if isinstance(e, SumFirst):
            return f"<mrow><mi>colsum</mi><mo>(</mo>{a}<mo>)</mo></mrow>"
        return f"<mrow><munder><mo>∑</mo><mrow><mi>i</mi><mo>,</mo><mi>k</mi></mrow></munder>{a}</mrow>"

    def function(self, e, a):
        return f"<mrow>{FUNCTIONS[e.fn].mathml(a)}</mrow>"

    def op(self, e, args):
        return f"<mrow>{OPS[e.op][2](args, e.params)}</mrow>"


def _strip_ml(x: str) -> str:
    if x.startswith("<mrow><mo>(</mo>") and x.endswith("<mo>)</mo></mrow>") and x.count("<mo>(</mo>") == 1:
        return x[len("<mrow><mo>(</mo>") : -len("<mo>)</mo></mrow>")]
    return x


def to_tex(e: Expr, values: Values | None = None, digits: int = 4) -> str:
    return TexPrinter(values, digits)(e)


def to_text(e: Expr, values: Values | None = None, digits: int = 4) -> str:
    return TextPrinter(values, digits)(e)


def to_mathml(e: Expr, values: Values | None = None, digits: int = 4) -> str:
    return MathMLPrinter(values, digits)(e)


# --- evaluation --------------------------------------------------------------------------------------


class UnboundSymbol(KeyError):
    pass


def evaluate(e: Expr, env: Mapping[str, Any]) -> Any:
    """The value of ``e`` with every symbol looked up in ``env`` (by name): the tree interpreted node by node."""
    if isinstance(e, Sym):
        try:
            return env[e.name]
        except KeyError:
            raise UnboundSymbol(f"no value for {e.name}") from None
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Func):
        return FUNCTIONS[e.fn].numpy(np.asarray(evaluate(e.a, env)))
    if isinstance(e, Op):
        return OPS[e.op][3]([evaluate(a, env) for a in e.args], e.params)
    if isinstance(e, Binary):
        a, b = evaluate(e.a, env), evaluate(e.b, env)
        if isinstance(e, MatMul):
            return a @ b
        if isinstance(e, Add):
            return a + b
        if isinstance(e, Sub):
            return a - b
        if isinstance(e, (Hadamard, Scale)):
            return a * b
        if isinstance(e, Div):
            return a / b
        if isinstance(e, Pow):
            return a**b
    if isinstance(e, Unary):
        a = evaluate(e.a, env)
        if isinstance(e, Transpose):
            return a.T
        if isinstance(e, Neg):
            return -a
        if isinstance(e, SumRows):
            return a.reshape(-1, a.shape[-1]).sum(axis=0)
        if isinstance(e, (SumLast, SumCols)):
            return a.sum(axis=-1, keepdims=True)
        if isinstance(e, SumFirst):
            return a.sum(axis=0, keepdims=True)
        if isinstance(e, SumAll):
            return a.sum()
    raise TypeError(f"cannot evaluate {type(e).__name__}")


# --- shapes ------------------------------------------------------------------------------------------


def _broadcast(a: Shape, b: Shape) -> Shape:
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        else:
            raise ValueError(f"shapes {a} and {b} do not broadcast")
    return tuple(out)


def shape(e: Expr) -> Shape:
    """The shape of ``e``'s value, symbolic in the batch size ``m``."""
    if isinstance(e, Sym):
        return e.shape
    if isinstance(e, Const):
        return ()
    if isinstance(e, Op):
        if e.out_shape is None:
            raise ValueError(f"{e.op} has no declared output shape")
        return e.out_shape
    if isinstance(e, Func):
        return shape(e.a)
    if isinstance(e, MatMul):
        a, b = shape(e.a), shape(e.b)
        if a[-1] != b[0]:
            raise ValueError(f"matrix product of shapes {a} and {b}: {a[-1]} != {b[0]}")
        return (*a[:-1], b[-1])
    if isinstance(e, Transpose):
        return tuple(reversed(shape(e.a)))
    if isinstance(e, Scale):
        return shape(e.b)
    if isinstance(e, Binary):
        return _broadcast(shape(e.a), shape(e.b))
    if isinstance(e, Neg):
        return shape(e.a)
    if isinstance(e, SumRows):
        return shape(e.a)[-1:]
    if isinstance(e, (SumLast, SumCols)):
        return (*shape(e.a)[:-1], 1)
    if isinstance(e, SumFirst):
        return (1, *shape(e.a)[1:])
    if isinstance(e, SumAll):
        return ()
    raise TypeError(type(e).__name__)


# --- walking -----------------------------------------------------------------------------------------


def symbols(e: Expr) -> list[Sym]:
    """The distinct symbols of ``e``, in first-seen order."""
    seen: dict[str, Sym] = {}

    def walk(x: Expr) -> None:
        if isinstance(x, Sym):
            seen.setdefault(x.name, x)
        for c in x.children():
            walk(c)

    walk(e)
    return list(seen.values())


def substitute(e: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """``e`` with each symbol named in ``mapping`` replaced by its expression."""
    if isinstance(e, Sym):
        return mapping.get(e.name, e)
    if isinstance(e, Const):
        return e
    if isinstance(e, Func):
        return Func(e.fn, substitute(e.a, mapping))
    if isinstance(e, Op):
        return Op(e.op, tuple(substitute(a, mapping) for a in e.args), e.params, e.out_shape)
    if isinstance(e, Binary):
        return type(e)(substitute(e.a, mapping), substitute(e.b, mapping))
    if isinstance(e, Unary):
        return type(e)(substitute(e.a, mapping))
    raise TypeError(type(e).__name__)


def label(e: Expr) -> str:
    """A short name of the node's operation, for computation-graph nodes."""
    if isinstance(e, Func):
        return {"step": "1[· > 0]"}.get(e.fn, e.fn)
    if isinstance(e, Op):
        return OP_LABELS[e.op]
    return {
        MatMul: "matmul",
        Add: "add",
        Sub: "subtract",
        Hadamard: "⊙",
        Div: "divide",
        Pow: "power",
        Scale: "scale",
        Transpose: "transpose",
        Neg: "negate",
        SumRows: "sum over rows",
        SumLast: "row sums",
        SumCols: "sum over columns",
        SumFirst: "column sums",
        SumAll: "sum",
    }[type(e)]
