"""The expression tree: operators build the nodes they name, NumPy evaluation with broadcasting, symbolic shapes
and their errors, the text, TeX and MathML printers' brackets and glyphs, symbols and substitution."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backprop_lab.maths.expr import (
    Hadamard,
    MatMul,
    Scale,
    SumAll,
    SumFirst,
    SumLast,
    SumRows,
    Sym,
    UnboundSymbol,
    evaluate,
    func,
    label,
    shape,
    substitute,
    symbols,
    to_mathml,
    to_tex,
    to_text,
)

A = Sym("A1", "A", ("m", 3), layer=1)
W = Sym("W2", "W", (3, 4), layer=2)
B = Sym("b2", "b", (4,), layer=2)
D = Sym("dZ2", "dZ", ("m", 4), layer=2)
M = Sym("m", "m", kind="dim")
ENV = {
    "A1": np.arange(6.0).reshape(2, 3),
    "W2": np.ones((3, 4)),
    "b2": np.arange(4.0),
    "m": 2.0,
    "dZ2": np.ones((2, 4)),
}


def test_operators_build_the_nodes_they_name():
    assert isinstance(A @ W, MatMul)
    assert isinstance(D * D, Hadamard)  # two tensors: element-wise
    assert isinstance(M * D, Scale) and isinstance(D * M, Scale) and isinstance(2 * D, Scale)  # a scalar factor
    assert label(A @ W + B) == "add" and label(func("step", A)) == "1[· > 0]" and label(SumRows(D)) == "sum over rows"


def test_evaluation_interprets_the_tree_with_numpy_broadcasting():
    z = evaluate(A @ W + B, ENV)
    assert np.array_equal(z, [[3, 4, 5, 6], [12, 13, 14, 15]])  # a bias row added to every row
    dw = evaluate((1 / M) * (A.T @ D), ENV)
    assert np.array_equal(dw, [[1.5] * 4, [2.5] * 4, [3.5] * 4])
    assert np.array_equal(evaluate(SumRows(D), ENV), [2, 2, 2, 2]) and evaluate(SumAll(D), ENV) == 8
    with pytest.raises(UnboundSymbol, match="no value for W2"):
        evaluate(A @ W, {"A1": ENV["A1"]})


def test_shapes_are_symbolic_in_the_batch_size_and_mismatches_are_named():
    assert shape(A @ W + B) == ("m", 4) and shape(A.T @ D) == (3, 4)
    assert shape(SumRows(D)) == (4,) and shape(SumLast(D)) == ("m", 1) and shape(SumFirst(D)) == (1, 4)
    assert shape(SumAll(D)) == () and shape(M * D) == ("m", 4)
    with pytest.raises(ValueError, match=r"matrix product of shapes \(3, 4\) and \('m', 3\): 4 != m"):
        shape(W @ A)
    with pytest.raises(ValueError, match="do not broadcast"):
        shape(A + Sym("x", "x", (5,)))


def test_the_text_printer_brackets_only_where_the_reading_would_change():
    assert to_text(A @ W + B) == "A[1] W[2] + b[2]"
    assert to_text((A - A) - (A - A)) == "A[1] - A[1] - (A[1] - A[1])"  # subtraction is not associative
    assert to_text((A @ W) * func("relu", A @ W)) == "(A[1] W[2]) ⊙ relu(A[1] W[2])"  # two kinds of product
    assert to_text(-(A + A)) == "-(A[1] + A[1])" and to_text((A @ W).T) == "(A[1] W[2])ᵀ"
    assert to_text(A / (M * M)) == "A[1] / (m m)"


def test_tex_and_mathml_write_the_same_tree_in_their_notations():
    assert to_tex(A @ W + B) == "A^{[1]} W^{[2]} + b^{[2]}"
    assert to_tex(Sym("lambda", "lambda")) == "\\lambda" and to_text(Sym("lambda", "lambda")) == "λ"
    assert to_text(Sym("beta_1", "beta", sub="1")) == "β_1"
    root = ET.fromstring(f"<math>{to_mathml(A @ W + B)}</math>")
    assert [e.text for e in root.iter("mi")] == ["A", "W", "b"] and "+" in [e.text for e in root.iter("mo")]


def test_values_are_written_in_place_of_their_symbols():
    assert to_text(A @ W + B, ENV) == "[[0, 1, 2], [3, 4, 5]] [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]] + [0, 1, 2, 3]"
    big = {"A1": np.zeros((10, 10))}  # more entries than a printed matrix holds: the symbol stays
    assert to_text(A, big) == "A[1]"


def test_symbols_and_substitution_walk_the_tree():
    assert [s.name for s in symbols((1 / M) * (A.T @ D) + A.T @ D)] == ["m", "A1", "dZ2"]  # distinct, first seen
    z1 = Sym("Z1", "Z", ("m", 3), layer=1)
    swapped = substitute(A @ W + B, {"A1": func("relu", z1)})
    assert to_text(swapped) == "relu(Z[1]) W[2] + b[2]"
    assert to_text(A @ W + B) == "A[1] W[2] + b[2]"  # the original is unchanged
    assert np.array_equal(evaluate(swapped, {**ENV, "Z1": -ENV["A1"]}), np.broadcast_to(ENV["b2"], (2, 4)))
