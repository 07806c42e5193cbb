"""The one training loop. Every engine trains through it.

The loop owns what must not differ between engines: the batch plan and step
counting, the learning-rate schedule, the blended update, the per-epoch
accumulator and timing, the NaN/Inf policy, callbacks, checkpoints and Ctrl-C.
An engine supplies an :class:`EngineState`: one optimizer step on a batch, the
weights in and out, its own state for checkpoints, and predictions.

:meth:`Loop.run` hands the state the loop (``state.drive(loop)``). Most states are
driven step by step: their ``drive`` is :meth:`Loop.step_through`, which calls
``state.step`` for every batch. A state that must run its framework's own loop
(``fit`` runs ``model.fit``) calls :meth:`Loop.before_step` and
:meth:`Loop.after_step` around every step from that framework's callbacks.

NaN/Inf policy (one, for every engine): when a step's loss or the weights it
produced are not finite, the weights go back to what they were before that
step, training stops, and the history records the step, the value and a
suggestion.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from backprop_lab.core import names
from backprop_lab.datasets.registry import BatchPlan, Dataset
from backprop_lab.engines.base import EngineState, StepResult, Weights  # noqa: F401 (re-exported)
from backprop_lab.numerics.metrics import loss_and_accuracy, targets
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec
from backprop_lab.training.checkpoint import Checkpoint, Checkpointer
from backprop_lab.training.history import Callback, EpochAccumulator, EpochRecord, History, Stop


class Interrupted(Exception):
    """Ctrl-C during a run that has a folder: a checkpoint was written at ``step``."""

    def __init__(self, step: int, folder):
        super().__init__(f"interrupted at step {step}")
        self.step, self.folder = step, folder


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate at a 0-based step: Keras's ExponentialDecay (``step`` = staircase)."""
    power = names.DECAYS.get(DECAY_POWERS, config.decay, "--decay")
    return config.learning_rate * config.decay_rate ** power(step, config.decay_steps or steps_per_epoch)


# Each schedule (backprop_lab.core.names.DECAYS): the power of decay_rate at a 0-based step, given the steps per period
# (``none``: 0, and lr * rate**0 is lr exactly).
DECAY_POWERS: dict[str, Callable[[int, int], float]] = names.DECAYS.table(
    {
        "none": lambda step, every: 0,
        "exponential": lambda step, every: step / every,
        "step": lambda step, every: step // every,
    },
    "training.loop.DECAY_POWERS",
)


def blend(new: Weights, old: Weights, alpha: float) -> Weights:
    """The blended update W <- (1 - alpha) W_new + alpha W_old, for the weights in ``old``."""
    return {k: (1 - alpha) * new[k] + alpha * old[k] for k in old}


def divergence_message(step: int, value: float, lr: float) -> str:
    what = f"the loss became {value}" if not math.isfinite(value) else "the weights became NaN or infinite"
    return (
        f"training stopped at step {step}: {what}; kept the weights from before that step; "
        f"try a lower learning rate than {lr:g}"
    )


@dataclass
class Position:
    epoch: int = 0  # 0-based epoch in progress
    batch: int = 0  # batches of that epoch done
    step: int = 0  # steps done in all


class Loop:
    def __init__(
        self,
        spec: ModelSpec,
        dataset: Dataset,
        plan: BatchPlan,
        config: TrainConfig,
        callbacks: list[Callback] = (),
        checkpointer: Checkpointer | None = None,
    ):
        self.spec, self.dataset, self.plan, self.config = spec, dataset, plan, config
        self.callbacks = list(callbacks)
        self.checkpointer = checkpointer
        dtype = np.dtype(config.dtype)
        self.x = dataset.x_train.astype(dtype, copy=False)
        self.t = targets(spec, dataset.y_train, dtype)
        self.y = dataset.y_train
        self.position = Position()
        self.history = History()
        self.acc = EpochAccumulator()
        self.epoch_time = 0.0  # training seconds of the epoch in progress (before a resume)
        self.lr = learning_rate(config, 0, plan.steps_per_epoch)
        self._batches: list[np.ndarray] | None = None
        self._batches_epoch = -1
        self._clock = 0.0  # when the current stretch of training began
        self.state: EngineState | None = None
        self.last: StepResult | None = None  # the last step that counted
        self._interrupt = False

    # --- position and plan -------------------------------------------
    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.plan.steps_per_epoch

    @property
    def finished(self) -> bool:
        return self.history.stop is not None or self.position.epoch >= self.config.epochs

    def current_batch(self) -> np.ndarray:
        if self._batches_epoch != self.position.epoch:
            self._batches = self.plan.epoch(self.position.epoch)
            self._batches_epoch = self.position.epoch
        return self._batches[self.position.batch]

    def remaining_orders(self) -> list[np.ndarray]:
        """Row order of the rest of each remaining epoch; batching each by ``plan.size`` gives the plan's batches."""
        orders = []
        for epoch in range(self.position.epoch, self.config.epochs):
            order = self.plan.order(epoch)
            orders.append(order[self.position.batch * self.plan.size :] if epoch == self.position.epoch else order)
        return orders

    def remaining_steps(self) -> int:
        return self.total_steps - self.position.step

    # --- the loop ------------------------------------------------------
    def run(self, state: EngineState) -> History:
        """Train from the current position to the end (or a stop); returns the history."""
        if self.finished:
            return self.history
        self.state = state
        state.grad_norms = any(getattr(cb, "wants_grad_norms", False) for cb in self.callbacks)
        for cb in self.callbacks:
            cb.on_attach(self)
            cb.on_train_begin(self.config.epochs, self.plan.steps_per_epoch, self.position.step)
        previous_handler = self._catch_ctrl_c()
        try:
            self._clock = time.perf_counter()
            state.drive(self)
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            if self.checkpointer:
                self.checkpointer.wait()
        for cb in self.callbacks:
            cb.on_train_end(self.history)
        return self.history

    def step_through(self, state: EngineState) -> None:
        """The remaining steps, one ``state.step`` per batch of the plan (the ``drive`` of most engines)."""
        while not self.finished:
            idx = self.current_batch()
            lr = self.before_step()
            if not self.after_step(state, state.step(self.x[idx], self.t[idx], lr)):
                break

    def before_step(self) -> float:
        """The learning rate for the step about to run."""
        self.lr = learning_rate(self.config, self.position.step, self.plan.steps_per_epoch)
        return self.lr

    def after_step(self, state: EngineState, result: StepResult) -> bool:
        """Record a finished step; False when training must stop."""
        pos = self.position
        if not (math.isfinite(result.loss) and result.finite):
            state.rollback()
            self.history.stop = Stop(pos.step, float(result.loss), divergence_message(pos.step, result.loss, self.lr))
            if self.checkpointer:
                self.checkpoint(state)
            return False
        if self.config.alpha:
            state.set_weights(blend(state.weights(), state.previous_weights(), self.config.alpha))
        self.last = result
        self.history.step_loss.append(float(result.loss))
        self.acc.add(float(result.loss), result.out, self.y[self.current_batch()])
        pos.batch += 1
        pos.step += 1
        for cb in self.callbacks:
            cb.on_step_end(pos.step, float(result.loss))
        if pos.batch == self.plan.steps_per_epoch:
            self._end_epoch(state)
        elif self.checkpointer and self.checkpointer.due(pos.step):
            self.checkpoint(state)
        if self._interrupt and self.checkpointer:
            if pos.batch != 0:  # an epoch end has just written one
                self.checkpoint(state)
            raise Interrupted(pos.step, self.checkpointer.folder)
        return True

    def _end_epoch(self, state: EngineState) -> None:
        now = time.perf_counter()
        train_loss, train_acc = self.acc.result()
        record = EpochRecord(
            self.position.epoch + 1, train_loss, train_acc, self.epoch_time + now - self._clock, self.lr
        )
        record.test_loss, record.test_acc = self._evaluate(state, self.dataset.x_test, self.dataset.y_test)
        if self.dataset.x_val is not None:
            record.val_loss, record.val_acc = self._evaluate(state, self.dataset.x_val, self.dataset.y_val)
        self.history.epochs.append(record)
        self.position.epoch += 1
        self.position.batch = 0
        self.acc = EpochAccumulator()
        self.epoch_time = 0.0
        for cb in self.callbacks:
            cb.on_epoch_end(record)
        self._clock = time.perf_counter()  # evaluation, logging and checkpoints are not training time
        if self.checkpointer:
            self.checkpointer.append_metrics(record)
            self.checkpoint(state)

    def _evaluate(self, state: EngineState, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        return loss_and_accuracy(self.spec, self.config.loss, state.predict(x.astype(self.config.dtype, copy=False)), y)

    # --- checkpoints -----------------------------------------------------
    def checkpoint(self, state: EngineState) -> None:
        now = time.perf_counter()
        self.epoch_time += now - self._clock
        arrays, engine_meta = state.export_state()
        history = {**self.history.to_dict(), "step_loss": []}  # the losses travel as an array
        meta = {
            "position": vars(self.position),
            "history": history,
            "acc": self.acc.to_dict(),
            "epoch_time": self.epoch_time,
            "engine": engine_meta,
            "finished": self.finished,
        }
        self.checkpointer.write(
            self.position.step,
            state.weights(),
            arrays,
            meta,
            {"step_loss": np.asarray(self.history.step_loss, dtype=np.float64)},
        )
        self._clock = time.perf_counter()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from a checkpoint (its weights and engine state go to the engine separately)."""
        meta = checkpoint.meta
        self.position = Position(**meta["position"])
        self.history = History.from_dict(meta["history"])
        self.history.step_loss = [float(v) for v in checkpoint.loop["step_loss"]]
        if len(self.history.step_loss) != self.position.step:
            raise ValueError(f"{len(self.history.step_loss)} step losses for {self.position.step} steps")
        self.acc = EpochAccumulator(**meta["acc"])
        self.epoch_time = float(meta["epoch_time"])
        if self.checkpointer:
            self.checkpointer.rewrite_metrics(self.history)
            self.checkpointer.last_step = self.position.step

    def _catch_ctrl_c(self):
        """With a run folder, Ctrl-C finishes the step, writes a checkpoint and raises Interrupted."""
        if self.checkpointer is None or threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._interrupt:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._interrupt = True

        return signal.signal(signal.SIGINT, handler)
