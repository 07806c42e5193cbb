"""Engine-neutral pieces of training: targets, metrics, history and callbacks.

Every engine records the same History, computed the same way: per-step loss
(including any L2 penalty), per-epoch training loss and accuracy over the
batches seen (batch-size weighted, as Keras reports them), and loss/accuracy
on the validation and test sets after each epoch, from predicted probabilities.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .data import one_hot
from .errors import BplabError
from .scratch.losses import get_loss
from .spec import ModelSpec


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
    value = get_loss(loss).value(probs.astype(np.float64), targets(spec, y, "float64"))
    return value, float((predicted_labels(probs) == y).mean())


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_acc: float
    time_s: float
    lr: float
    test_loss: float | None = None
    test_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None


@dataclass
class History:
    step_loss: list[float] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    stopped: str | None = None  # why training stopped early

    def to_dict(self) -> dict:
        return {"step_loss": self.step_loss, "epochs": [asdict(e) for e in self.epochs], "stopped": self.stopped}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(list(data["step_loss"]), [EpochRecord(**e) for e in data["epochs"]], data.get("stopped"))


class EpochAccumulator:
    """Training loss and accuracy over the batches of one epoch, batch-size weighted."""

    def __init__(self):
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0

    def add(self, loss: float, probs: np.ndarray, y: np.ndarray) -> None:
        self.add_counts(loss, int((predicted_labels(probs) == y).sum()), len(y))

    def add_counts(self, loss: float, correct: float, n: int) -> None:
        self.loss_sum += loss * n
        self.correct += correct
        self.count += n

    def result(self) -> tuple[float, float]:
        return self.loss_sum / max(self.count, 1), self.correct / max(self.count, 1)


class Callback:
    def on_train_begin(self, epochs: int, steps_per_epoch: int) -> None: ...
    def on_step_end(self, step: int, loss: float) -> None: ...
    def on_epoch_end(self, record: EpochRecord) -> None: ...
    def on_train_end(self, history: History) -> None: ...


def epoch_record(spec, config, dataset, predict, epoch, acc: EpochAccumulator, time_s, lr) -> EpochRecord:
    train_loss, train_acc = acc.result()
    record = EpochRecord(epoch, train_loss, train_acc, time_s, lr)
    record.test_loss, record.test_acc = loss_and_accuracy(spec, config.loss, predict(dataset.x_test), dataset.y_test)
    if dataset.x_val is not None:
        record.val_loss, record.val_acc = loss_and_accuracy(spec, config.loss, predict(dataset.x_val), dataset.y_val)
    return record


def nan_message(step: int, loss: float, lr: float) -> str:
    return (f"training stopped at step {step}: the loss became {loss}; kept the last weights that gave a finite "
            f"loss; try a lower learning rate than {lr:g}")


def is_finite(value: float) -> bool:
    return math.isfinite(value)
