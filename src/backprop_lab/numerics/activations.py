"""Activations, the scratch engine's fast implementation: forward and derivative side by side.
The rules as maths (printed and checked) are ``derive/rules.py``; tests check these against them.

``backward(z, a, da)`` returns dL/dz given dL/da. Elementwise activations
multiply by g'(z); softmax applies its Jacobian (only needed when it is not
fused with cross-entropy).
"""

from __future__ import annotations

import numpy as np

from backprop_lab.core import names


class Activation:
    name = ""

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, da: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Linear(Activation):
    name = "linear"

    def forward(self, z):
        return z

    def backward(self, z, a, da):
        return da


class ReLU(Activation):
    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, da):
        return da * (z > 0)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z):
        # exp of a non-positive number only: no overflow for large |z|
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)

    def backward(self, z, a, da):
        return da * a * (1 - a)


class Tanh(Activation):
    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, da):
        return da * (1 - a * a)


class Softmax(Activation):
    name = "softmax"

    def forward(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, z, a, da):
        return a * (da - (da * a).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Activation] = names.ACTIVATIONS.table(
    {cls.name: cls() for cls in (Linear, ReLU, Sigmoid, Tanh, Softmax)}, "numerics.activations"
)


def get_activation(name: str) -> Activation:
    return names.ACTIVATIONS.get(ACTIVATIONS, name)
