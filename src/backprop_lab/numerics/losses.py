"""Losses with Keras 3's formulas and reduction (mean over the batch).

- ``categorical_crossentropy``: -mean_i sum_k Y log P, with P normalised and
  clipped to [1e-7, 1 - 1e-7] as Keras does for probabilities.
- ``binary_crossentropy``: -mean_i mean_k [Y log P + (1 - Y) log(1 - P)], P clipped the same way.
- ``mse``: mean_i mean_k (P - Y)^2.
- ``squared_error`` / ``half_squared_error`` (not Keras's): mean_i sum_k (P - Y)^2, and half of it.

When the output layer is the loss's own activation (softmax before categorical
cross-entropy, sigmoid before binary cross-entropy), Keras 3 does not use the
probabilities at all: it takes the logits Z the activation was applied to
(``_keras_logits`` / the Softmax op's input, keras/src/backend/tensorflow/nn.py)
and computes the loss from them, which never saturates:

- softmax + CCE: mean_i [logsumexp(Z_i) sum_k Y_ik - sum_k Y_ik Z_ik]
- sigmoid + BCE: mean_i mean_k [max(Z, 0) - Z Y + log(1 + exp(-|Z|))]

``value_from_logits`` is that formula; ``output_loss`` picks the one Keras picks.

``grad`` is dL/dA (A the network output); ``fused_delta`` gives dL/dZ
directly for the pairs whose Jacobians cancel (softmax + categorical
cross-entropy, sigmoid + binary cross-entropy): (P - Y) / (m K').
"""

from __future__ import annotations

import numpy as np

from backprop_lab.core import names

EPSILON = 1e-7


def logsumexp(z: np.ndarray) -> np.ndarray:
    """Row-wise log(sum_k exp(Z_k)) as a column, shifted by the row's maximum (as softmax is computed)."""
    top = z.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True))


class Loss:
    name = ""
    logits_activation = ""  # the output activation whose logits Keras uses for this loss

    def value(self, p: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def value_from_logits(self, z: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fused_delta(self, activation: str, p: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        return None


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    logits_activation = "softmax"

    def value_from_logits(self, z, y):
        return self.value_from_lse(z, logsumexp(z), y)

    def value_from_lse(self, z, lse, y):
        """The value from the logits and their row-wise log-sum-exp (a column): mean_i sum_k Y_ik (lse_i - Z_ik)."""
        return float((y * (lse - z)).sum(axis=-1).mean())

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
    logits_activation = "sigmoid"

    def value_from_logits(self, z, y):
        return float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=-1).mean())

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


class SquaredError(Loss):
    """Not Keras's: sum_k (P - Y)^2 per row, times ``factor``, averaged over the batch (hand-written NumPy
    networks' loss; half of it is the textbook examples' E = sum 1/2 (t - o)^2)."""

    name = "squared_error"
    factor = 1.0

    def value(self, p, y):
        return float(self.factor * ((p - y) ** 2).sum(axis=-1).mean())

    def grad(self, p, y):
        return (2 * self.factor) * (p - y) / len(p)


class HalfSquaredError(SquaredError):
    name = "half_squared_error"
    factor = 0.5


LOSSES: dict[str, Loss] = names.LOSSES.table(
    {
        cls.name: cls()
        for cls in (CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError, SquaredError, HalfSquaredError)
    },
    "numerics.losses",
)


def get_loss(name: str) -> Loss:
    return names.LOSSES.get(LOSSES, name)


def output_loss(loss: Loss, activation: str, p: np.ndarray, z: np.ndarray | None, y: np.ndarray) -> float:
    """The loss value as Keras 3 computes it for an output layer with ``activation``:
    from the logits ``z`` when the activation is the loss's own, else from the outputs ``p``."""
    if z is not None and loss.logits_activation and activation == loss.logits_activation:
        return loss.value_from_logits(z, y)
    return loss.value(p, y)


def l2_factor(l2: float) -> float:
    """The L2 factor as Keras holds it: ``keras.regularizers.L2`` stores it rounded to float32."""
    return float(np.float32(l2))


def l2_penalty(weights: dict[str, np.ndarray], keys: list[str], l2: float) -> float:
    """Keras's L2 regulariser on kernels: l2 * sum(W^2) per kernel."""
    factor = l2_factor(l2)
    return float(sum(factor * np.sum(np.square(weights[k])) for k in keys)) if l2 else 0.0
