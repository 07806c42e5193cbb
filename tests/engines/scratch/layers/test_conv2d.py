"""The scratch Conv2D layer (engines/scratch/layers/conv2d.py): im2col, TensorFlow's padding, and the backward pass."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.numeric import layer_gradients_match

from backprop_lab.engines.scratch.layers.conv2d import (
    Conv2DLayer,
    im2col,
    same_padding,
    weight_gradient,
    weight_gradient_operands,
    windows,
)
from backprop_lab.maths import ops
from backprop_lab.spec.model import Conv2D, ModelSpec


def conv(shape, filters, k, s, padding, activation="tanh") -> Conv2DLayer:
    return Conv2DLayer(ModelSpec(shape, (Conv2D(filters, k, s, padding, activation),)).infos[0])


@pytest.mark.parametrize(
    "size, k, s, pads", [(5, 3, 1, (1, 1)), (5, 3, 2, (1, 1)), (6, 3, 2, (0, 1)), (4, 2, 1, (0, 1)), (7, 1, 3, (0, 0))]
)
def test_same_padding_puts_the_odd_pixel_at_the_end_as_tensorflow_does(size, k, s, pads):
    assert same_padding(size, k, s) == pads
    assert (size + sum(pads) - k) // s + 1 == -(-size // s)  # the output is ceil(size / stride)


@pytest.mark.parametrize("k, s, padding", [(3, 1, "valid"), (2, 2, "valid"), (3, 2, "same"), (2, 1, "same")])
def test_backward_is_the_derivative_of_forward(k, s, padding):
    rng = np.random.default_rng(k * 10 + s)
    layer = conv((5, 6, 2), 3, k, s, padding)
    params = {"kernel": rng.standard_normal((k, k, 2, 3)), "bias": rng.standard_normal(3)}
    x = rng.standard_normal((2, 5, 6, 2))
    dout = rng.standard_normal((2, *layer.info.output_shape))
    layer_gradients_match(layer, params, x, dout)


def test_forward_is_the_convolution_of_the_definition():
    rng = np.random.default_rng(4)
    layer = conv((6, 5, 3), 4, 3, 2, "same", "linear")
    params = {"kernel": rng.standard_normal((3, 3, 3, 4)), "bias": rng.standard_normal(4)}
    x = rng.standard_normal((2, 6, 5, 3))
    out = layer.forward(params, x, False, None)[0]
    assert out.shape == (2, *layer.info.output_shape) == (2, 3, 3, 4)
    np.testing.assert_allclose(out, ops.conv2d(x, params["kernel"], 2, "same") + params["bias"], rtol=1e-12)


@pytest.mark.parametrize("c", [1, 3, 4, 5, 8])
@pytest.mark.parametrize("k, s", [(3, 1), (2, 2), (5, 2), (1, 1)])
def test_im2col_layouts_hold_the_same_patches(c, k, s):
    rng = np.random.default_rng(c * 10 + k)
    x = rng.standard_normal((3, 9, 8, c)).astype(np.float32)
    oh, ow = (9 - k) // s + 1, (8 - k) // s + 1
    cols = im2col(x, k, s, oh, ow)
    expected = windows(x, k, s, oh, ow).reshape(3 * oh * ow, k * k * c)
    assert cols.shape == expected.shape and np.array_equal(cols, expected)
    # few channels: the transposed layout (each kernel offset one block copy); more: rows of patches
    assert cols.T.flags.c_contiguous if c <= 4 and k > 1 else cols.flags.c_contiguous


@pytest.mark.parametrize("c, f, per_image", [(1, 32, True), (3, 32, True), (3, 64, False), (8, 4, False)])
def test_small_weight_gradients_are_summed_image_by_image(c, f, per_image):
    rng = np.random.default_rng(c + f)
    n, k = 4, 3
    x = rng.standard_normal((n, 10, 10, c)).astype(np.float32)
    cols = im2col(x, k, 1, 8, 8)
    dz2 = rng.standard_normal((n * 64, f)).astype(np.float32)
    left, right = weight_gradient_operands(cols, dz2, n)
    assert (left.ndim == 3 and left.shape == (n, k * k * c, 64) and right.shape == (n, 64, f)) == per_image
    got = weight_gradient(cols, dz2, n)
    assert got.shape == (k * k * c, f) and got.dtype == np.float32
    np.testing.assert_allclose(got, cols.astype(float).T @ dz2.astype(float), rtol=1e-5, atol=1e-4)
