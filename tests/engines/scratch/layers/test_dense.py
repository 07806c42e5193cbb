"""The scratch Dense layer (engines/scratch/layers/dense.py): Z = XW + b, A = g(Z), and its backward pass."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.numeric import layer_gradients_match

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers.dense import DenseLayer
from backprop_lab.spec.model import Dense, LayerInfo, ModelSpec


def dense(units: int, activation: str, inputs: int) -> DenseLayer:
    return DenseLayer(ModelSpec((inputs,), (Dense(units, activation),)).infos[0])


def weights(rng, inputs, units, dtype="float64"):
    return {
        "kernel": rng.standard_normal((inputs, units)).astype(dtype),
        "bias": rng.standard_normal(units).astype(dtype),
    }


@pytest.mark.parametrize("activation", ["linear", "tanh", "sigmoid", "relu", "softmax"])
def test_backward_is_the_derivative_of_forward(activation):
    rng = np.random.default_rng(1)
    layer, params = dense(3, activation, 4), weights(rng, 4, 3)
    layer_gradients_match(layer, params, rng.standard_normal((5, 4)), rng.standard_normal((5, 3)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_is_the_affine_map_then_the_activation_in_the_inputs_dtype(dtype):
    rng = np.random.default_rng(2)
    layer, params = dense(3, "tanh", 4), weights(rng, 4, 3, dtype)
    x = rng.standard_normal((6, 4)).astype(dtype)
    a, cache = layer.forward(params, x, False, None)
    z = x.astype(float) @ params["kernel"].astype(float) + params["bias"].astype(float)
    assert a.dtype == np.dtype(dtype) and a.shape == (6, 3)
    np.testing.assert_allclose(a, np.tanh(z), rtol=1e-5 if dtype == "float32" else 1e-12)
    assert cache[0] is x and np.allclose(cache[1], z, rtol=1e-5)


def test_without_dx_only_the_weight_gradients_are_computed():
    rng = np.random.default_rng(3)
    layer, params = dense(2, "sigmoid", 3), weights(rng, 3, 2)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    cache = layer.forward(params, x, True, None)[1]
    dx, grads = layer.backward(params, cache, dout, need_dx=False)
    full = layer.backward(params, cache, dout)
    assert dx is None and full[0].shape == x.shape
    assert all(np.array_equal(grads[k], full[1][k]) for k in params)


def test_a_dense_relu_layer_takes_its_bias_gradient_from_the_relu_pass(monkeypatch):
    """Where the fused pass applies, DenseLayer.backward does not sum dZ again; where it does not (no numba, or
    another activation), the bias gradient is NumPy's sum, and the two give the same numbers."""
    rng = np.random.default_rng(8)
    layer = DenseLayer(LayerInfo("dense", Dense(6, "relu"), (4,), (6,), {"kernel": (4, 6), "bias": (6,)}))
    params = {"kernel": rng.standard_normal((4, 6)).astype("float32"), "bias": rng.standard_normal(6).astype("float32")}
    x = rng.standard_normal((9, 4)).astype("float32")
    a, cache = layer.forward(params, x, True, None)
    dout = rng.standard_normal(a.shape).astype("float32")
    seen = []
    real = DenseLayer.backward_z
    monkeypatch.setattr(
        DenseLayer, "backward_z", lambda self, *args, **kw: seen.append(kw.get("bias_grad")) or real(self, *args, **kw)
    )
    fused = layer.backward(params, cache, dout)
    monkeypatch.setattr(kernels, "relu_backward_sum", None)
    plain = layer.backward(params, cache, dout)
    assert (seen[0] is not None) == (kernels.col2im is not None) and seen[1] is None
    assert np.array_equal(fused[0], plain[0]) and all(np.array_equal(fused[1][k], plain[1][k]) for k in params)
