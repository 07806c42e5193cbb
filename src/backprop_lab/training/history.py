"""What every engine records, computed the same way: per-step loss (including any
L2 penalty), per-epoch training loss and accuracy over the batches seen
(batch-size weighted, as Keras reports them), and loss/accuracy on the
validation and test sets after each epoch, from predicted probabilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from backprop_lab.core.table import Table
from backprop_lab.numerics.metrics import predicted_labels


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
class Stop:
    """Why training stopped before the end: the 0-based step, the offending value and the message."""

    step: int
    value: float
    message: str


@dataclass
class History:
    step_loss: list[float] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    stop: Stop | None = None

    @property
    def stopped(self) -> str | None:
        """The message saying why training stopped early, or None."""
        return self.stop.message if self.stop else None

    def table(self, caption: str = "") -> Table:
        """One row per epoch: the table the terminal, the notebook and the report render."""
        cell = lambda x: "-" if x is None else f"{x:.4f}"  # noqa: E731
        rows = [
            [
                str(e.epoch),
                cell(e.train_loss),
                cell(e.train_acc),
                cell(e.test_loss),
                cell(e.test_acc),
                f"{e.time_s:.2f}",
            ]
            for e in self.epochs
        ]
        return Table(caption, ["epoch", "train loss", "train acc", "test loss", "test acc", "time (s)"], rows, [])

    def to_dict(self) -> dict:
        return {
            "step_loss": self.step_loss,
            "epochs": [asdict(e) for e in self.epochs],
            "stopped": self.stopped,
            "stop": asdict(self.stop) if self.stop else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        stop = Stop(**data["stop"]) if data.get("stop") else None
        if stop is None and data.get("stopped"):  # run folders written before the stop details existed
            stop = Stop(-1, float("nan"), str(data["stopped"]))
        return cls([float(v) for v in data["step_loss"]], [EpochRecord(**e) for e in data["epochs"]], stop)


class EpochAccumulator:
    """Training loss and accuracy over the batches of one epoch, batch-size weighted."""

    def __init__(self, loss_sum: float = 0.0, correct: int = 0, count: int = 0):
        self.loss_sum, self.correct, self.count = loss_sum, correct, count

    def add(self, loss: float, probs: np.ndarray, y: np.ndarray) -> None:
        self.loss_sum += loss * len(y)
        self.correct += int((predicted_labels(probs) == y).sum())
        self.count += len(y)

    def result(self) -> tuple[float, float]:
        return self.loss_sum / max(self.count, 1), self.correct / max(self.count, 1)

    def to_dict(self) -> dict:
        return {"loss_sum": self.loss_sum, "correct": self.correct, "count": self.count}


class Callback:
    """Hooks the training loop calls; progress bars and loggers implement them.

    ``on_attach`` hands over the loop itself (its ``lr``, ``state`` and ``last`` step result);
    a callback with ``wants_grad_norms = True`` makes every engine report per-weight gradient norms.
    """

    wants_grad_norms = False

    def on_attach(self, loop) -> None: ...
    def on_train_begin(self, epochs: int, steps_per_epoch: int, done_steps: int = 0) -> None: ...
    def on_step_end(self, step: int, loss: float) -> None: ...
    def on_epoch_end(self, record: EpochRecord) -> None: ...
    def on_train_end(self, history: History) -> None: ...
