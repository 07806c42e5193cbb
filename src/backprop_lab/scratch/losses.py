"""Losses with Keras 3's formulas and reduction (mean over the batch).

- ``categorical_crossentropy``: -mean_i sum_k Y log P, with P normalised and
  clipped to [1e-7, 1 - 1e-7] as Keras does for probabilities.
- ``binary_crossentropy``: -mean_i mean_k [Y log P + (1 - Y) log(1 - P)].
- ``mse``: mean_i mean_k (P - Y)^2.

``grad`` is dL/dA (A the network output); ``fused_delta`` gives dL/dZ
directly for the pairs whose Jacobians cancel (softmax + categorical
cross-entropy, sigmoid + binary cross-entropy): (P - Y) / (m K').
"""

from __future__ import annotations

import numpy as np

from ..errors import BplabError

EPSILON = 1e-7


class Loss:
    name = ""

    def value(self, p: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fused_delta(self, activation: str, p: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        return None


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def value(self, p, y):
        p = p / p.sum(axis=-1, keepdims=True)
        p = np.clip(p, EPSILON, 1 - EPSILON)
        return float(-(y * np.log(p)).sum(axis=-1).mean())

    def grad(self, p, y):
        return -y / (np.clip(p, EPSILON, None) * len(p))

    def fused_delta(self, activation, p, y):
        return (p - y) / len(p) if activation == "softmax" else None


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def value(self, p, y):
        p = np.clip(p, EPSILON, 1 - EPSILON)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1).mean())

    def grad(self, p, y):
        p = np.clip(p, EPSILON, 1 - EPSILON)
        return (p - y) / (p * (1 - p) * p.size)

    def fused_delta(self, activation, p, y):
        return (p - y) / p.size if activation == "sigmoid" else None


class MeanSquaredError(Loss):
    name = "mse"

    def value(self, p, y):
        return float(((p - y) ** 2).mean(axis=-1).mean())

    def grad(self, p, y):
        return 2 * (p - y) / p.size


LOSSES: dict[str, Loss] = {cls.name: cls() for cls in (CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError)}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise BplabError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})") from None


def l2_factor(l2: float) -> float:
    """The L2 factor as Keras holds it: ``keras.regularizers.L2`` stores it rounded to float32."""
    return float(np.float32(l2))


def l2_penalty(weights: dict[str, np.ndarray], keys: list[str], l2: float) -> float:
    """Keras's L2 regulariser on kernels: l2 * sum(W^2) per kernel."""
    factor = l2_factor(l2)
    return float(sum(factor * np.sum(np.square(weights[k])) for k in keys)) if l2 else 0.0
