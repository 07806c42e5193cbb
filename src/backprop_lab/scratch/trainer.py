"""The scratch engine: train / predict / gradients with the hand-written model."""

from __future__ import annotations

import time

import numpy as np

from ..config import TrainConfig
from ..data import BatchPlan, Dataset
from ..spec import ModelSpec
from ..training import (Callback, EpochAccumulator, History, epoch_record, is_finite, nan_message, targets)
from .losses import get_loss, l2_penalty
from .model import ScratchModel, Weights
from .optimizers import learning_rate, make_optimizer


class ScratchEngine:
    name = "scratch"

    def gradients(self, spec: ModelSpec, weights: Weights, x: np.ndarray, y: np.ndarray, config: TrainConfig,
                  training: bool = False, rng: np.random.Generator | None = None) -> tuple[float, Weights]:
        """Loss and gradients for one batch at the given weights (dropout off unless ``training``)."""
        model = ScratchModel(spec)
        loss = get_loss(config.loss)
        w = {k: v.astype(config.dtype) for k, v in weights.items()}
        x = x.astype(config.dtype)
        t = targets(spec, y, config.dtype)
        out, caches = model.forward(w, x, training, rng)
        value = loss.value(out, t) + l2_penalty(w, model.kernel_keys, config.l2)
        return value, model.backward(w, caches, out, t, loss, config.l2)

    def predict(self, spec: ModelSpec, weights: Weights, x: np.ndarray, dtype: str = "float32") -> np.ndarray:
        w = {k: v.astype(dtype) for k, v in weights.items()}
        return ScratchModel(spec).predict(w, x.astype(dtype))

    def train(self, spec: ModelSpec, weights: Weights, dataset: Dataset, plan: BatchPlan, config: TrainConfig,
              callbacks: list[Callback] = ()) -> tuple[Weights, History]:
        model = ScratchModel(spec)
        loss = get_loss(config.loss)
        dtype = np.dtype(config.dtype)
        w = {k: v.astype(dtype, copy=True) for k, v in weights.items()}
        optimizer = make_optimizer(config)
        state = optimizer.build({k: w[k] for k in model.trainable_keys})
        rng = np.random.default_rng([config.seed, 1])  # dropout masks
        x_all = dataset.x_train.astype(dtype, copy=False)
        y_all = dataset.y_train
        t_all = targets(spec, y_all, dtype)
        history = History()
        for cb in callbacks:
            cb.on_train_begin(config.epochs, plan.steps_per_epoch)
        step = 0
        for epoch in range(config.epochs):
            acc = EpochAccumulator()
            begin = time.perf_counter()
            lr = learning_rate(config, step, plan.steps_per_epoch)
            for idx in plan.epoch(epoch):
                x, t = x_all[idx], t_all[idx]
                with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
                    out, caches = model.forward(w, x, True, rng)
                    value = loss.value(out, t) + l2_penalty(w, model.kernel_keys, config.l2)
                if not is_finite(value):
                    history.stopped = nan_message(step, value, lr)
                    break
                with np.errstate(over="ignore", invalid="ignore"):
                    grads = model.backward(w, caches, out, t, loss, config.l2)
                    lr = learning_rate(config, step, plan.steps_per_epoch)
                    last_good = {k: w[k].copy() for k in grads}
                    optimizer.apply(w, grads, state, lr)
                if not all(np.isfinite(w[k]).all() for k in grads):
                    w.update(last_good)
                    history.stopped = nan_message(step, float("nan"), lr)
                    break
                history.step_loss.append(value)
                acc.add(value, out, y_all[idx])
                step += 1
                for cb in callbacks:
                    cb.on_step_end(step, value)
            elapsed = time.perf_counter() - begin
            if history.stopped:
                break
            record = epoch_record(spec, config, dataset, lambda x: model.predict(w, x.astype(dtype, copy=False)),
                                  epoch + 1, acc, elapsed, lr)
            history.epochs.append(record)
            for cb in callbacks:
                cb.on_epoch_end(record)
        for cb in callbacks:
            cb.on_train_end(history)
        return w, history
