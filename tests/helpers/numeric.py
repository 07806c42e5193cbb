"""Central finite differences, for checking a layer's backward pass against its forward pass."""

from __future__ import annotations

import numpy as np


def numeric_gradient(f, a: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d a by central differences, ``a`` changed in place entry by entry and restored (float64)."""
    grad = np.empty_like(a)
    for i in np.ndindex(a.shape):
        keep = a[i]
        a[i] = keep + eps
        up = f()
        a[i] = keep - eps
        down = f()
        a[i] = keep
        grad[i] = (up - down) / (2 * eps)
    return grad


def layer_gradients_match(layer, params: dict, x: np.ndarray, dout: np.ndarray, rtol: float = 1e-6) -> None:
    """The layer's backward (dX and every parameter's gradient) against finite differences of
    L = sum(dout * forward(x)), all float64."""
    dx, grads = layer.backward(params, layer.forward(params, x, True, None)[1], dout)

    def loss():
        return float(np.sum(dout * layer.forward(params, x, True, None)[0]))

    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=rtol, atol=1e-8)
    assert set(grads) == set(params)
    for key, value in params.items():
        np.testing.assert_allclose(grads[key], numeric_gradient(loss, value), rtol=rtol, atol=1e-8, err_msg=key)
