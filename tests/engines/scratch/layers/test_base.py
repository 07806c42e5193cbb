"""The scratch layers' interface and AffineLayer (engines/scratch/layers/base.py): Z + b, g(Z), and dL/dZ from dL/dA."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers.base import AffineLayer, Layer
from backprop_lab.spec.model import Dense, ModelSpec


def affine(activation: str, units: int = 4) -> AffineLayer:
    return AffineLayer(ModelSpec((3,), (Dense(units, activation),)).infos[0])


def test_a_layer_that_does_not_implement_its_passes_says_so():
    layer = Layer(ModelSpec((3,), (Dense(2),)).infos[0])
    assert layer.name == "dense_0" and not layer.has_activation and affine("relu").has_activation
    with pytest.raises(NotImplementedError):
        layer.forward({}, np.ones((1, 3)), False, None)
    with pytest.raises(NotImplementedError):
        layer.backward({}, None, np.ones((1, 2)))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_rows_sum_to_one_and_the_kept_log_sum_exp_is_that_of_z(compiled, dtype, monkeypatch):
    if not compiled:
        monkeypatch.setattr(kernels, "softmax_shift", None)
    rng = np.random.default_rng(5)
    product = (rng.standard_normal((7, 4)) * 30).astype(dtype)  # logits large enough to overflow a naive exp
    bias = rng.standard_normal(4).astype(dtype)
    z, a, lse = affine("softmax").activate(product.copy(), bias)
    want_z = product.astype(float) + bias.astype(float)
    np.testing.assert_allclose(z, want_z, rtol=1e-6)
    assert a.dtype == np.dtype(dtype) and np.all(np.isfinite(a)) and np.allclose(a.sum(axis=1), 1)
    exact = np.exp(want_z - want_z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(a, exact / exact.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    if compiled and kernels.softmax_shift is not None:
        top = want_z.max(axis=1, keepdims=True)
        np.testing.assert_allclose(lse, top + np.log(np.exp(want_z - top).sum(axis=1, keepdims=True)), rtol=1e-6)
    else:
        assert lse is None


@pytest.mark.parametrize("compiled", [True, False])
def test_relu_forward_and_its_derivative(compiled, monkeypatch):
    if not compiled:
        for name in ("bias_relu", "relu_backward", "relu_backward_sum"):
            monkeypatch.setattr(kernels, name, None)
    rng = np.random.default_rng(6)
    layer = affine("relu")
    product = rng.standard_normal((5, 4))
    bias = rng.standard_normal(4)
    z, a, lse = layer.activate(product.copy(), bias)
    assert lse is None and np.array_equal(a, np.maximum(product + bias, 0))
    dout = rng.standard_normal(a.shape)
    dz = layer.activation_backward(z, a, dout)
    assert np.array_equal(dz, dout * (product + bias > 0))
    fused = layer.relu_backward_sum(a, dout)
    if compiled and kernels.relu_backward_sum is not None:
        assert np.array_equal(fused[0], dz) and np.array_equal(fused[1], dz.sum(axis=0))
    else:
        assert fused is None
    assert affine("tanh").relu_backward_sum(a, dout) is None  # only a ReLU layer has the fused pass
