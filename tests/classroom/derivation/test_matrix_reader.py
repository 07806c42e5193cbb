"""The reader of matrix-form lines: course, NumPy, Unicode and LaTeX spellings read into the same tree (with the
precedence of course notes), general lines written from l, and errors that name the column."""

from __future__ import annotations

import pytest

from backprop_lab.classroom.derivation.matrix_reader import is_chain_line, parse_matrix_line, refs
from backprop_lab.classroom.derivation.tokenizer import ParseError
from backprop_lab.classroom.matrix_tree import Ref

DZ2, A1, M = ("ref", Ref("dZ", ("abs", 2))), ("ref", Ref("A", ("abs", 1))), ("ref", Ref("m"))


def read(line: str):
    return parse_matrix_line(1, line, line, 0)


def test_one_formula_in_several_spellings_reads_to_one_tree():
    course = read("dW[2] = (1/m) dZ[2] A[1]^T")
    latex = read(r"dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}")
    assert course.lhs == latex.lhs == Ref("dW", ("abs", 2))
    assert course.rhs == latex.rhs == ("mm", ("mm", ("div", ("num", 1.0), M), DZ2), ("T", A1))
    numpy = read("dW2 = np.dot(dZ2, A1.T) / m")
    assert numpy.lhs == course.lhs and numpy.rhs == ("div", ("mm", DZ2, ("T", A1)), M)


def test_transpose_binds_tightest_then_matrix_then_elementwise_products_then_sums():
    line = read("δ[1] = W[2]ᵀ δ[2] ⊙ relu′(Z[1]) + 2 λ W[1]")
    w2, z1 = ("ref", Ref("W", ("abs", 2))), ("ref", Ref("Z", ("abs", 1)))
    penalty = ("mm", ("mm", ("num", 2.0), ("ref", Ref("lambda"))), ("ref", Ref("W", ("abs", 1))))
    assert line.lhs == Ref("dZ", ("abs", 1))
    assert line.rhs == ("add", ("had", ("mm", ("T", w2), DZ2), ("dfn", "relu", None, z1)), penalty)
    assert read("db[2] = np.sum(dZ[2], axis=1, keepdims=True)").rhs == ("sum", DZ2, 1)


def test_layers_written_from_l_make_a_general_line_and_from_L_the_last_layer():
    general = read("dZ[l] = W[l+1]^T dZ[l+1] * g'(Z[l])")
    assert general.general and general.lhs == Ref("dZ", ("l", 0))
    assert Ref("W", ("l", 1)) in refs(general.rhs) and Ref("Z", ("l", 0)) in refs(general.rhs)
    last = read("dZ[L] = A[L] - Y")
    assert not last.general and last.lhs == Ref("dZ", ("L", 0)) and refs(last.rhs) == [Ref("A", ("L", 0)), Ref("Y")]


@pytest.mark.parametrize(
    "line, col, message",
    [
        ("dW[2] = dZ[2] \\nabla A[1]", 15, "'\\nabla' is not supported in matrix-form lines"),
        ("dW[2] = dZ[2] # A", 15, "unexpected '#': it is not read in matrix-form lines"),
        ("dW[2] = ", 9, "unexpected end of line: expected a tensor such as dZ[2]"),
        ("dW[2] = mean(dZ[2])", 9, "'mean' is not a tensor or function read in matrix-form lines"),
    ],
)
def test_an_unreadable_line_names_the_column_and_the_token(line, col, message):
    with pytest.raises(ParseError) as err:
        read(line)
    assert err.value.col == col and message in err.value.message


def test_the_left_hand_side_decides_a_chain_rule_line_from_a_matrix_form_one():
    assert is_chain_line("dC/dW[2] = dC/dz[2] * dz[2]/dW[2]") and is_chain_line("∂C/∂W¹ = 0")
    assert is_chain_line(r"\frac{\partial C}{\partial W^{[2]}} = 0")
    assert not is_chain_line("dW[2] = dZ[2] A[1]^T / m")  # a / on the right-hand side only
