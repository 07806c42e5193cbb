"""The ``fit`` engine: Keras ``model.compile`` + ``model.fit``, fed the shared batch plan.

``PlanSequential.train_step`` is Keras 3's stock step written with public API
only (``compute_loss``, ``optimizer.apply_gradients``; no loss tracker, no
compiled metrics). It also returns the batch's output and whether every
weight is still finite, and copies the weights into backup variables first,
so the shared loop can apply its NaN policy and the blended update from a
Keras callback between steps. ``model.fit`` runs all the remaining steps of a
run in one call; the loop keeps the epochs.
"""

from __future__ import annotations

import keras
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


def compile_model(model: keras.Model, config: TrainConfig) -> None:
    """``model.compile`` with the config's optimizer and loss. Keras computes the compiled loss in
    ``floatx`` whatever the model's dtype, so a float64 model is compiled with floatx float64
    (public ``keras.config``; restored afterwards) to keep its loss, and any L2 term, in float64."""
    optimizer = keras_optimizer(config)  # made under the default floatx: its learning rate is float32, as stock Keras's
    previous = keras.config.floatx()
    keras.config.set_floatx(config.dtype)
    try:
        model.compile(optimizer=optimizer, loss=keras_loss(config.loss, config.dtype))
    finally:
        keras.config.set_floatx(previous)


class PlanSequential(keras.Sequential):
    """keras.Sequential whose train_step also reports the batch output and weight finiteness."""

    backup_to = None  # a KerasState; set after building

    def train_step(self, data):
        x, t, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.backup_to is not None:
            self.backup_to.save_backup()
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=t, y_pred=y_pred, training=True)
        variables = self.trainable_weights
        grads = tape.gradient(loss, variables)
        logs = {}
        if self.backup_to is not None and self.backup_to.grad_norms:
            logs = {f"grad_norm_{i}": tf.norm(g) for i, g in enumerate(grads)}
        self.optimizer.apply_gradients(zip(grads, variables))
        return {"loss": loss, "y_pred": y_pred, "finite": all_finite(variables), **logs}


class _LoopCallback(keras.callbacks.Callback):
    """Hands every step of model.fit to the shared loop."""

    def __init__(self, loop: Driver, state: "FitState"):
        super().__init__()
        self.loop, self.state = loop, state

    def on_train_batch_begin(self, batch, logs=None):
        self.state.set_lr(self.loop.before_step())

    def on_train_batch_end(self, batch, logs=None):
        result = self.state.result_from_logs(logs)
        if not self.loop.after_step(self.state, result):
            self.model.stop_training = True


class FitState(KerasState):
    def __init__(self, spec: ModelSpec, weights, config: TrainConfig):
        model = build_model(spec, weights, config, cls=PlanSequential)
        compile_model(model, config)
        super().__init__(spec, model, model.optimizer, config)
        model.backup_to = self

    def step(self, x, t, lr) -> StepResult:
        """One step through Keras's own train function (``train_on_batch``)."""
        self.set_lr(lr)
        return self.result_from_logs(self.model.train_on_batch(x, t, return_dict=True))

    def result_from_logs(self, logs) -> StepResult:
        norms = [logs[f"grad_norm_{i}"] for i in range(len(self.keys))] if self.grad_norms else None
        return StepResult(float(logs["loss"]), np.asarray(logs["y_pred"]), bool(logs["finite"]), self.norms_of(norms))

    def drive(self, loop: Driver) -> None:
        """All remaining steps in one ``model.fit`` call over the plan's batches."""
        x = tf.constant(loop.x)
        t = tf.constant(loop.t)
        segments = [
            tf.data.Dataset.from_tensor_slices(order).batch(loop.plan.size) for order in loop.remaining_orders()
        ]
        indices = segments[0]
        for more in segments[1:]:
            indices = indices.concatenate(more)
        data = indices.map(lambda i: (tf.gather(x, i), tf.gather(t, i))).prefetch(2)
        self.model.fit(
            data,
            epochs=1,
            steps_per_epoch=loop.remaining_steps(),
            shuffle=False,
            verbose=0,
            callbacks=[_LoopCallback(loop, self)],
        )


class FitEngine(KerasEngine):
    name = "fit"

    def start(self, spec: ModelSpec, weights, config: TrainConfig) -> FitState:
        seed_everything(config.seed)
        return FitState(spec, weights, config)

    def gradients(self, spec: ModelSpec, weights, x, y, config: TrainConfig, training: bool = False, rng=None):
        """Gradients through the compiled model's own loss path (``model.compute_loss``)."""
        model = build_model(spec, weights, config)
        compile_model(model, config)
        return autograd(
            model,
            spec,
            x,
            y,
            config,
            lambda xt, tt: model.compute_loss(x=xt, y=tt, y_pred=model(xt, training=training), training=True),
        )
