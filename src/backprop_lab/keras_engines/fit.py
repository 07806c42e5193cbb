"""The ``fit`` engine: Keras ``model.compile`` + ``model.fit`` fed the shared batch plan.

The model's ``train_step`` is Keras 3's own (keras/src/backend/tensorflow/trainer.py)
with two additions: the blended update after the optimizer step when alpha > 0,
and the batch's own loss and correct count in the logs (Keras reports only a
running mean per batch), so every engine records the same per-step history.
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from ..config import TrainConfig
from ..data import BatchPlan, Dataset
from ..spec import ModelSpec
from ..training import Callback, EpochAccumulator, History, epoch_record, is_finite, nan_message
from .build import (KerasEngine, autograd, build_model, get_weights, keras_loss, keras_optimizer, plan_dataset, predict,
                    seed_everything, set_weights)


class PlanSequential(keras.Sequential):
    """keras.Sequential whose train_step also reports the batch loss and applies the blended update."""

    blend_alpha = 0.0

    def train_step(self, data):
        x, t, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self._compute_loss(x=x, y=t, y_pred=y_pred, training=True)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
        variables = self.trainable_weights
        grads = tape.gradient(loss, variables)
        old = [tf.identity(v) for v in variables] if self.blend_alpha else None
        self.optimizer.apply_gradients(zip(grads, variables))
        if self.blend_alpha:
            a = self.blend_alpha
            for v, o in zip(variables, old):
                v.assign((1 - a) * v + a * o)
        logs = self.compute_metrics(x, t, y_pred)
        if y_pred.shape[-1] == 1:
            pred = tf.cast(y_pred[:, 0] > 0.5, y.dtype)
        else:
            pred = tf.argmax(y_pred, axis=-1, output_type=y.dtype)
        logs["batch_loss"] = loss
        logs["batch_correct"] = tf.reduce_sum(tf.cast(tf.equal(pred, y), tf.float64))
        logs["batch_size"] = tf.shape(x)[0]
        return logs


class _Recorder(keras.callbacks.Callback):
    def __init__(self, engine_spec, config, dataset, callbacks, plan):
        super().__init__()
        self.spec, self.config, self.dataset, self.callbacks, self.plan = engine_spec, config, dataset, callbacks, plan
        self.history = History()
        self.step = 0

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(self.config.epochs, self.plan.steps_per_epoch)
        self.good = get_weights(self.model, self.spec)

    def on_epoch_begin(self, epoch, logs=None):
        self.acc = EpochAccumulator()
        self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        value = float(logs["batch_loss"])
        if not is_finite(value):
            self.history.stopped = nan_message(self.step, value, float(self.model.optimizer.learning_rate))
            self.model.stop_training = True
            return
        self.history.step_loss.append(value)
        self.acc.add_counts(value, float(logs["batch_correct"]), int(logs["batch_size"]))
        self.step += 1
        for cb in self.callbacks:
            cb.on_step_end(self.step, value)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.begin
        if self.history.stopped:
            set_weights(self.model, self.spec, self.good)
            return
        self.good = get_weights(self.model, self.spec)
        record = epoch_record(self.spec, self.config, self.dataset,
                              lambda x: predict(self.model, x.astype(self.config.dtype, copy=False)), epoch + 1, self.acc,
                              elapsed, float(self.model.optimizer.learning_rate))
        self.history.epochs.append(record)
        for cb in self.callbacks:
            cb.on_epoch_end(record)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(self.history)


class FitEngine(KerasEngine):
    name = "fit"

    def _compiled(self, spec, weights, config, steps_per_epoch):
        model = build_model(spec, weights, config, cls=PlanSequential)
        model.blend_alpha = config.alpha
        model.compile(optimizer=keras_optimizer(config, steps_per_epoch), loss=keras_loss(config.loss, config.dtype))
        return model

    def gradients(self, spec: ModelSpec, weights, x, y, config: TrainConfig, training: bool = False, rng=None):
        """Gradients through the compiled model's own loss path (``model.compute_loss``)."""
        model = self._compiled(spec, weights, config, 1)
        return autograd(model, spec, x, y, config,
                        lambda xt, tt: model.compute_loss(x=xt, y=tt, y_pred=model(xt, training=training), training=True))

    def train(self, spec: ModelSpec, weights, dataset: Dataset, plan: BatchPlan, config: TrainConfig,
              callbacks: list[Callback] = ()) -> tuple[dict, History]:
        seed_everything(config.seed)
        model = self._compiled(spec, weights, config, plan.steps_per_epoch)
        recorder = _Recorder(spec, config, dataset, list(callbacks), plan)
        data = plan_dataset(dataset, spec, plan, config.epochs, config.dtype)
        model.fit(data, epochs=config.epochs, steps_per_epoch=plan.steps_per_epoch, shuffle=False, verbose=0,
                  callbacks=[recorder])
        return get_weights(model, spec), recorder.history
