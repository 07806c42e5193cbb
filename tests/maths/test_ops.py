"""The reference tensor operations: TensorFlow's padding, a convolution and a max-pool on numbers worked by
hand, the two convolution gradients as the adjoints of the convolution, and the pool's gradient routed to the
first maximum of each window."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.maths import ops


def test_same_padding_puts_the_extra_row_after_as_tensorflow_does():
    assert ops.pads(5, 3, 1, "same") == (1, 1)
    assert ops.pads(6, 3, 2, "same") == (0, 1)  # 3 outputs need 7 rows: the one extra goes after
    assert ops.pads(5, 3, 2, "same") == (1, 1)
    assert ops.pads(7, 3, 2, "valid") == (0, 0)


def test_a_convolution_and_a_max_pool_worked_by_hand():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    w = np.ones((2, 2, 1, 1))
    assert ops.conv2d(x, w, 1, "valid")[0, :, :, 0].tolist() == [[8, 12], [20, 24]]  # sums of 2x2 windows
    same = ops.conv2d(x, w, 1, "same")[0, :, :, 0]
    assert same.shape == (3, 3) and same[2, 2] == 8 and same[0, 2] == 2 + 5  # padded after: the last row and column
    assert ops.conv2d(x, w, 2, "valid")[0, :, :, 0].tolist() == [[8]]
    assert ops.maxpool(x, 2, 1)[0, :, :, 0].tolist() == [[4, 5], [7, 8]]


@pytest.mark.parametrize("s, padding", [(1, "valid"), (2, "valid"), (1, "same"), (2, "same")])
def test_the_gradients_are_the_adjoints_of_the_convolution(s, padding):
    """<conv2d(x, w), g> = <x, conv2d_dx(g, w)> = <w, conv2d_dw(x, g)>: the gradients of the sum of g times
    the output, without a finite difference."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 3, 3, 4))
    z = ops.conv2d(x, w, s, padding)
    g = rng.standard_normal(z.shape)
    dx, dw = ops.conv2d_dx(g, w, x.shape[1:], s, padding), ops.conv2d_dw(x, g, 3, s, padding)
    assert dx.shape == x.shape and dw.shape == w.shape
    assert np.sum(z * g) == pytest.approx(np.sum(x * dx), rel=1e-12)
    assert np.sum(z * g) == pytest.approx(np.sum(w * dw), rel=1e-12)


def test_the_pools_gradient_goes_to_the_first_maximum_of_each_window():
    x = np.array([[5.0, 5.0], [1.0, 5.0]]).reshape(1, 2, 2, 1)  # a tie: the first in row-major order wins
    dx = ops.maxpool_back(np.array([3.0]).reshape(1, 1, 1, 1), x, 2, 2)
    assert dx[0, :, :, 0].tolist() == [[3, 0], [0, 0]]
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 9.0  # the maximum of all four overlapping windows: their gradients add up there
    dx = ops.maxpool_back(np.arange(1.0, 5.0).reshape(1, 2, 2, 1), x, 2, 1)
    assert dx[0, :, :, 0].tolist() == [[0, 0, 0], [0, 10, 0], [0, 0, 0]]
