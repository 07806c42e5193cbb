"""Targets and metrics from predictions, the same for every engine."""

from __future__ import annotations

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import one_hot
from backprop_lab.numerics.losses import get_loss
from backprop_lab.spec.model import ModelSpec


def targets(spec: ModelSpec, y: np.ndarray, dtype="float32") -> np.ndarray:
    """Labels as the network's output expects them: one-hot, or a column of 0/1 for a single unit."""
    units = spec.output_shape[-1]
    if units == 1:
        return y.reshape(-1, 1).astype(dtype)
    return one_hot(y, units, dtype)


def check_loss_fits(spec: ModelSpec, loss: str, num_classes: int) -> None:
    units, act = spec.output_shape[-1], spec.output_activation
    if len(spec.output_shape) != 1:
        raise BplabError(f"model output has shape {spec.output_shape}; the last layer must be Dense")
    if units == 1 and num_classes != 2:
        raise BplabError(f"a single output unit needs exactly 2 classes, the data has {num_classes}")
    if units != 1 and units != num_classes:
        raise BplabError(f"the output layer has {units} units but the data has {num_classes} classes")
    if loss == "categorical_crossentropy" and act != "softmax":
        raise BplabError(f"--loss categorical_crossentropy needs a softmax output, the model ends in {act}")
    if loss == "binary_crossentropy" and act != "sigmoid":
        raise BplabError(f"--loss binary_crossentropy needs a sigmoid output, the model ends in {act}")


def predicted_labels(probs: np.ndarray) -> np.ndarray:
    if probs.shape[-1] == 1:
        return (probs[:, 0] > 0.5).astype(np.int64)
    return probs.argmax(axis=-1)


def loss_and_accuracy(spec: ModelSpec, loss: str, probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Loss (from probabilities, Keras's clipped formula) and accuracy of predictions on a data set."""
    value = get_loss(loss).value(probs.astype(np.float64), targets(spec, y, "float64"))
    return value, float((predicted_labels(probs) == y).mean())
