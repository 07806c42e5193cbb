from __future__ import annotations

from typing import Any

import numpy as np

from ...spec import LayerInfo
from ...numerics.activations import Activation, get_activation

Params = dict[str, np.ndarray]


class Layer:
    """Interface of a scratch layer."""

    has_activation = False

    def __init__(self, info: LayerInfo):
        self.info = info
        self.name = info.name

    def forward(self, params: Params, x: np.ndarray, training: bool, rng: np.random.Generator | None) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, params: Params, cache: Any, dout: np.ndarray, need_dx: bool = True) -> tuple[np.ndarray | None, Params]:
        raise NotImplementedError


class AffineLayer(Layer):
    """A layer computing Z = affine(X) then A = g(Z); backward splits the same way,
    so a loss can hand in dL/dZ directly (``backward_z``) when its Jacobian with g cancels."""

    has_activation = True

    def __init__(self, info: LayerInfo):
        super().__init__(info)
        self.activation: Activation = get_activation(info.spec.activation)

    def backward(self, params, cache, dout, need_dx=True):
        _, z, a = cache[:3]
        return self.backward_z(params, cache, self.activation.backward(z, a, dout), need_dx)

    def backward_z(self, params: Params, cache: Any, dz: np.ndarray, need_dx: bool = True):
        raise NotImplementedError
