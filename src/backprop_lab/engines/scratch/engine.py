"""The scratch engine: the hand-written model and optimizer as a training-loop state."""

from __future__ import annotations

import numpy as np

from backprop_lab.engines.base import Driver, StepResult
from backprop_lab.engines.scratch.allocator import keep_freed_memory
from backprop_lab.engines.scratch.denormals import flushed
from backprop_lab.engines.scratch.model import ScratchModel, Weights
from backprop_lab.engines.scratch.optimizers import make_optimizer
from backprop_lab.numerics.losses import get_loss
from backprop_lab.numerics.metrics import targets
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec


class ScratchState:
    """Weights, optimizer slots and the dropout generator of one scratch run."""

    def __init__(self, spec: ModelSpec, weights: Weights, config: TrainConfig):
        keep_freed_memory()  # a step's large arrays are reused by the next step, not mapped again (allocator.py)
        self.model = ScratchModel(spec)
        self.loss = get_loss(config.loss)
        self.l2 = config.l2
        dtype = np.dtype(config.dtype)
        self.w = {k: np.array(v, dtype=dtype) for k, v in weights.items()}
        self.keys = self.model.trainable_keys
        self.optimizer = make_optimizer(config)
        self.slots = self.optimizer.build({k: self.w[k] for k in self.keys})
        self.rng = np.random.default_rng([config.seed, 1])  # dropout masks
        self.old = {k: np.empty_like(self.w[k]) for k in self.keys}
        self.grad_norms = False

    def step(self, x, t, lr) -> StepResult:
        # denormals flushed to zero, as TensorFlow computes (denormals.py); divergence is the loop's to report
        with flushed(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out, caches = self.model.forward(self.w, x, True, self.rng)
            value = self.model.loss_value(self.w, caches, out, t, self.loss, self.l2)
            grads = self.model.backward(self.w, caches, out, t, self.loss, self.l2)
            norms = {k: float(np.linalg.norm(g)) for k, g in grads.items()} if self.grad_norms else None
            finite = self.optimizer.apply_keeping(self.w, grads, self.slots, lr, self.old)  # old: the weights before
        return StepResult(value, out, finite, norms)

    def rollback(self) -> None:
        for k in self.keys:
            np.copyto(self.w[k], self.old[k])

    def weights(self) -> Weights:
        return self.w

    def previous_weights(self) -> Weights:
        return self.old

    def set_weights(self, weights: Weights) -> None:
        for k, v in weights.items():
            np.copyto(self.w[k], v)

    def export_state(self):
        arrays = {f"{slot}/{key}": arr for slot in self.optimizer.slots for key, arr in self.slots[slot].items()}
        return arrays, {"iterations": int(self.slots["iterations"]), "rng": self.rng.bit_generator.state}

    def import_state(self, arrays, meta) -> None:
        for slot in self.optimizer.slots:
            for key, arr in self.slots[slot].items():
                np.copyto(arr, arrays[f"{slot}/{key}"])
        self.slots["iterations"] = int(meta["iterations"])
        self.rng.bit_generator.state = meta["rng"]

    def predict(self, x) -> np.ndarray:
        with flushed():
            return self.model.predict(self.w, x)

    def drive(self, loop: Driver) -> None:
        loop.step_through(self)


class ScratchEngine:
    """The :class:`backprop_lab.engines.registry.Engine` of hand-written NumPy."""

    name = "scratch"
    uses_tensorflow = False

    def start(self, spec: ModelSpec, weights: Weights, config: TrainConfig) -> ScratchState:
        return ScratchState(spec, weights, config)

    def gradients(
        self,
        spec: ModelSpec,
        weights: Weights,
        x: np.ndarray,
        y: np.ndarray,
        config: TrainConfig,
        training: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, Weights]:
        """Loss and gradients for one batch at the given weights (dropout off unless ``training``)."""
        model = ScratchModel(spec)
        loss = get_loss(config.loss)
        w = {k: v.astype(config.dtype) for k, v in weights.items()}
        t = targets(spec, y, config.dtype)
        with flushed():
            out, caches = model.forward(w, x.astype(config.dtype), training, rng)
            value = model.loss_value(w, caches, out, t, loss, config.l2)
            return value, model.backward(w, caches, out, t, loss, config.l2)

    def predict(self, spec: ModelSpec, weights: Weights, x: np.ndarray, dtype: str = "float32") -> np.ndarray:
        w = {k: v.astype(dtype) for k, v in weights.items()}
        with flushed():
            return ScratchModel(spec).predict(w, x.astype(dtype))
