"""The ``tape`` engine: one training step written with tf.GradientTape, compiled with
tf.function unless ``eager``. L2 enters through the layers' Keras regularisers
(``model.losses``). Everything around the step (plan, schedule, blended update,
NaN policy, checkpoints) is the shared training loop's."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from backprop_lab.engines.base import Driver, StepResult
from backprop_lab.engines.keras.build import (
    KerasEngine,
    KerasState,
    all_finite,
    autograd,
    build_model,
    keras_loss,
    keras_optimizer,
    seed_everything,
)
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec


def _total_loss(model, loss_fn, x, t, training):
    out = model(x, training=training)
    value = loss_fn(t, out)
    if model.losses:
        value = value + tf.add_n(model.losses)
    return value, out


class TapeState(KerasState):
    def __init__(self, spec: ModelSpec, weights, config: TrainConfig, eager: bool = False):
        model = build_model(spec, weights, config)
        super().__init__(spec, model, keras_optimizer(config), config)
        loss_fn = keras_loss(config.loss, config.dtype)
        variables, optimizer = self.variables, self.optimizer

        def train_step(x, t):
            self.save_backup()
            with tf.GradientTape() as tape:
                value, out = _total_loss(model, loss_fn, x, t, True)
            grads = tape.gradient(value, variables)
            norms = [tf.norm(g) for g in grads] if self.grad_norms else None
            optimizer.apply_gradients(zip(grads, variables))
            return value, out, all_finite(variables), norms

        self._step = train_step if eager else tf.function(train_step, reduce_retracing=True)

    def step(self, x, t, lr) -> StepResult:
        self.set_lr(lr)
        value, out, finite, norms = self._step(tf.constant(x), tf.constant(t))
        return StepResult(float(value), np.asarray(out), bool(finite), self.norms_of(norms))

    def drive(self, loop: Driver) -> None:
        loop.step_through(self)


class TapeEngine(KerasEngine):
    name = "tape"

    def __init__(self, eager: bool = False):
        self.eager = eager

    def start(self, spec: ModelSpec, weights, config: TrainConfig) -> TapeState:
        seed_everything(config.seed)
        return TapeState(spec, weights, config, self.eager)

    def gradients(self, spec: ModelSpec, weights, x, y, config: TrainConfig, training: bool = False, rng=None):
        model = build_model(spec, weights, config)
        loss_fn = keras_loss(config.loss, config.dtype)
        return autograd(model, spec, x, y, config, lambda xt, tt: _total_loss(model, loss_fn, xt, tt, training)[0])
