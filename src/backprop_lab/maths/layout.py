"""The two layouts equations are written in, and the tree transform from one to the other.

rows (as the code runs it; Keras's): the m examples of a batch are the rows, ``Z = A W + b``, W is (in, out),
``dW = A^T delta``, ``db = 1^T delta``.

columns (as many courses write it): the examples are the columns, ``Z = W A + b``, W is (out, in),
``dW = delta A^T``, ``db = delta 1``, b is a column (out, 1).

Every tensor of the columns layout is its rows counterpart transposed (a vector (n,) becomes the column
(n, 1); scalars and images, 4-D tensors, stay as they are). ``to_columns`` rewrites a rows expression
tree into the tree whose value is the rows value transposed, node by node: (A B)^T = B^T A^T, element-wise
operations and functions commute with ^T, a row-wise softmax becomes a column-wise one and a sum over the
rows a sum over the columns. The columns equations are therefore derived, not restated, and evaluate to
the rows values transposed (tests/maths/test_layout.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.maths.expr import (
    Add,
    Const,
    Div,
    Expr,
    Func,
    Hadamard,
    MatMul,
    Neg,
    Op,
    Pow,
    Scale,
    Sub,
    SumAll,
    SumCols,
    SumFirst,
    SumLast,
    SumRows,
    Sym,
    Transpose,
)

LAYOUTS = {
    "rows": "rows are the m examples of a batch: Z = A W + b, W is (in, out)",
    "columns": "columns are the m examples of a batch: Z = W A + b, W is (out, in)",
}

# row-wise functions and their column-wise counterparts (printed alike)
_BY_COLUMNS = {"softmax": "softmax_cols", "logsumexp": "logsumexp_cols"}


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise BplabError(
            f"--layout: expected rows (Z = A W + b, as the code runs it) or columns (Z = W A + b), got {layout!r}"
        )
    return layout


def _is_tensor(shape: tuple) -> bool:
    return 1 <= len(shape) <= 2


def columns_shape(shape: tuple) -> tuple:
    """The shape of a rows tensor's columns counterpart: (m, n) -> (n, m), (n,) -> (n, 1)."""
    if len(shape) == 1:
        return (shape[0], 1)
    if len(shape) == 2:
        return (shape[1], shape[0])
    return tuple(shape)


def columns_sym(s: Sym) -> Sym:
    if not _is_tensor(s.shape):
        return s
    return Sym(s.name, s.base, columns_shape(s.shape), s.layer, s.sub, s.kind, s.accent)


def columns_value(v: Any) -> Any:
    """A rows value in the columns layout: a matrix transposed, a vector as a column."""
    a = np.asarray(v)
    if a.ndim == 1:
        return a[:, None]
    if a.ndim == 2:
        return a.T
    return v


def rows_value(v: Any, rows_shape: tuple) -> Any:
    """A columns value back in the rows layout (the shape its rows symbol has)."""
    a = np.asarray(v)
    if len(rows_shape) == 1:
        return a.reshape(-1)
    if len(rows_shape) == 2:
        return a.T
    return v


def to_columns(e: Expr) -> Expr:
    """The tree whose value, given the columns values of its symbols, is the columns value of ``e``."""
    if isinstance(e, Sym):
        return columns_sym(e)
    if isinstance(e, Const):
        return e
    if isinstance(e, MatMul):
        return MatMul(to_columns(e.b), to_columns(e.a))
    if isinstance(e, Transpose):
        inner = to_columns(e.a)
        return inner.a if isinstance(inner, Transpose) else Transpose(inner)
    if isinstance(e, Scale):
        return Scale(e.a, to_columns(e.b))
    if isinstance(e, (Add, Sub, Hadamard, Div, Pow)):
        return type(e)(to_columns(e.a), to_columns(e.b))
    if isinstance(e, Neg):
        return Neg(to_columns(e.a))
    if isinstance(e, Func):
        return Func(_BY_COLUMNS.get(e.fn, e.fn), to_columns(e.a))
    if isinstance(e, SumRows):  # (n,) over the examples -> the column (n, 1)
        return SumCols(to_columns(e.a))
    if isinstance(e, SumLast):  # each example's sum (m, 1) -> the row (1, m)
        return SumFirst(to_columns(e.a))
    if isinstance(e, SumAll):
        return SumAll(to_columns(e.a))
    if isinstance(e, Op) and e.op == "flatten" and all(isinstance(a, Sym) and len(a.shape) > 2 for a in e.args):
        return Transpose(e)  # the flattened images, one per column
    if isinstance(e, Op):
        raise BplabError(
            f"--layout columns: written for dense networks (mlp:...); this model has a {e.op} step, "
            "which is written in the rows layout only"
        )
    raise TypeError(f"no columns form for {type(e).__name__}")
