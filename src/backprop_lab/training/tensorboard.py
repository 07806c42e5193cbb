"""TensorBoard scalars in a run folder (``RUN/tensorboard``), for every engine.

Per step: the batch loss and the learning rate. Per epoch: train/test (and
validation) loss and accuracy, and per weight tensor the norm of the weights and
of the gradient of the epoch's last step. Written by a maintained event writer:
``tf.summary`` for engines that run on TensorFlow (``Engine.uses_tensorflow``),
tensorboardX for the others (so a small scratch run does not pay TensorFlow's import time). Per-step values
are buffered and written at the end of each epoch, outside the timed training.

``tensorboard --logdir runs/`` then shows every run side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backprop_lab.training.history import Callback, EpochRecord, History

FOLDER = "tensorboard"


class ScalarWriter:
    """The two writers behind one interface: ``scalar(tag, value, step)``, ``flush()``, ``close()``."""

    def __init__(self, folder: Path, use_tensorflow: bool):
        self.use_tensorflow = use_tensorflow
        if use_tensorflow:
            import tensorflow as tf

            self._tf = tf
            self._writer = tf.summary.create_file_writer(str(folder))
        else:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(logdir=str(folder))

    def scalars(self, rows: list[tuple[str, float, int]]) -> None:
        if self.use_tensorflow:
            with self._writer.as_default():
                for tag, value, step in rows:
                    self._tf.summary.scalar(tag, value, step=step)
        else:
            for tag, value, step in rows:
                self._writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class TensorBoardLogger(Callback):
    wants_grad_norms = True

    def __init__(self, folder: Path, use_tensorflow: bool):
        """``use_tensorflow``: write with ``tf.summary`` (the engine's ``uses_tensorflow``), else tensorboardX."""
        self.folder = Path(folder) / FOLDER
        self.use_tensorflow = use_tensorflow
        self.writer: ScalarWriter | None = None
        self.pending: list[tuple[str, float, int]] = []
        self.loop = None

    def on_attach(self, loop) -> None:
        self.loop = loop
        self.folder.mkdir(parents=True, exist_ok=True)
        self.writer = ScalarWriter(self.folder, use_tensorflow=self.use_tensorflow)

    def on_step_end(self, step: int, loss: float) -> None:
        self.pending += [("loss/step", loss, step), ("learning_rate", self.loop.lr, step)]

    def on_epoch_end(self, record: EpochRecord) -> None:
        step = self.loop.position.step
        rows = self.pending + [
            ("loss/train", record.train_loss, step),
            ("accuracy/train", record.train_acc, step),
            ("epoch_time_s", record.time_s, step),
        ]
        for name in ("test", "val"):
            if getattr(record, f"{name}_loss") is not None:
                rows += [
                    (f"loss/{name}", getattr(record, f"{name}_loss"), step),
                    (f"accuracy/{name}", getattr(record, f"{name}_acc"), step),
                ]
        for key, w in self.loop.state.weights().items():
            rows.append((f"weight_norm/{key}", float(np.linalg.norm(w)), step))
        norms = self.loop.last.grad_norms if self.loop.last is not None else None
        for key, value in (norms or {}).items():
            rows.append((f"grad_norm/{key}", value, step))
        self.writer.scalars(rows)
        self.writer.flush()
        self.pending = []

    def on_train_end(self, history: History) -> None:
        if self.writer is not None:
            if self.pending:
                self.writer.scalars(self.pending)
                self.pending = []
            self.writer.close()
