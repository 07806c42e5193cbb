"""Activations: forward and derivative side by side.

``backward(z, a, da)`` returns dL/dz given dL/da. Elementwise activations
multiply by g'(z); softmax applies its Jacobian (only needed when it is not
fused with cross-entropy).
"""

from __future__ import annotations

import numpy as np

from ..errors import BplabError


class Activation:
    name = ""
    derivative_tex = ""  # g'(Z) in LaTeX, for the equations

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, da: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Linear(Activation):
    name = "linear"
    derivative_tex = "1"

    def forward(self, z):
        return z

    def backward(self, z, a, da):
        return da


class ReLU(Activation):
    name = "relu"
    derivative_tex = r"\mathbb{1}[Z > 0]"

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, z, a, da):
        return da * (z > 0)


class Sigmoid(Activation):
    name = "sigmoid"
    derivative_tex = r"A \odot (1 - A)"

    def forward(self, z):
        # exp of a non-positive number only: no overflow for large |z|
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)

    def backward(self, z, a, da):
        return da * a * (1 - a)


class Tanh(Activation):
    name = "tanh"
    derivative_tex = r"1 - A^{\odot 2}"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, da):
        return da * (1 - a * a)


class Softmax(Activation):
    name = "softmax"
    derivative_tex = r"\operatorname{diag}(a) - a a^T"

    def forward(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, z, a, da):
        return a * (da - (da * a).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {cls.name: cls() for cls in (Linear, ReLU, Sigmoid, Tanh, Softmax)}


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise BplabError(f"unknown activation {name!r} (choose from {', '.join(ACTIVATIONS)})") from None
