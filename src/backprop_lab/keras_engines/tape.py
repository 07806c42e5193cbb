"""The ``tape`` engine: a custom training loop with tf.GradientTape, compiled with
tf.function unless ``eager``. L2 enters through the layers' Keras regularisers
(``model.losses``); the blended update is applied after the optimizer step,
exactly as in the scratch engine."""

from __future__ import annotations

import time

import tensorflow as tf

from ..config import TrainConfig
from ..data import BatchPlan, Dataset
from ..spec import ModelSpec
from ..training import Callback, EpochAccumulator, History, epoch_record, is_finite, nan_message
from .build import (KerasEngine, autograd, build_model, get_weights, keras_loss, keras_optimizer, plan_dataset, predict,
                    seed_everything, set_weights, weight_variables)


def _total_loss(model, loss_fn, x, t, training):
    out = model(x, training=training)
    value = loss_fn(t, out)
    if model.losses:
        value = value + tf.add_n(model.losses)
    return value, out


class TapeEngine(KerasEngine):
    name = "tape"

    def __init__(self, eager: bool = False):
        self.eager = eager

    def gradients(self, spec: ModelSpec, weights, x, y, config: TrainConfig, training: bool = False, rng=None):
        model = build_model(spec, weights, config)
        loss_fn = keras_loss(config.loss, config.dtype)
        return autograd(model, spec, x, y, config, lambda xt, tt: _total_loss(model, loss_fn, xt, tt, training)[0])

    def train(self, spec: ModelSpec, weights, dataset: Dataset, plan: BatchPlan, config: TrainConfig,
              callbacks: list[Callback] = ()) -> tuple[dict, History]:
        seed_everything(config.seed)
        model = build_model(spec, weights, config)
        loss_fn = keras_loss(config.loss, config.dtype)
        optimizer = keras_optimizer(config, plan.steps_per_epoch)
        variables = [v for _, v in weight_variables(model, spec, trainable_only=True)]
        alpha = config.alpha

        def train_step(x, t):
            with tf.GradientTape() as tape:
                value, out = _total_loss(model, loss_fn, x, t, True)
            grads = tape.gradient(value, variables)
            old = [tf.identity(v) for v in variables] if alpha else None
            optimizer.apply_gradients(zip(grads, variables))
            if alpha:
                for v, o in zip(variables, old):
                    v.assign((1 - alpha) * v + alpha * o)
            return value, out

        step_fn = train_step if self.eager else tf.function(train_step, reduce_retracing=True)
        batches = iter(plan_dataset(dataset, spec, plan, config.epochs, config.dtype))
        history = History()
        for cb in callbacks:
            cb.on_train_begin(config.epochs, plan.steps_per_epoch)
        good = get_weights(model, spec)
        step = 0
        for epoch in range(config.epochs):
            acc = EpochAccumulator()
            begin = time.perf_counter()
            for _ in range(plan.steps_per_epoch):
                x, t, y = next(batches)
                value, out = step_fn(x, t)
                value = float(value)
                if not is_finite(value):
                    history.stopped = nan_message(step, value, float(optimizer.learning_rate))
                    break
                history.step_loss.append(value)
                acc.add(value, out.numpy(), y.numpy())
                step += 1
                for cb in callbacks:
                    cb.on_step_end(step, value)
            elapsed = time.perf_counter() - begin
            if history.stopped:
                set_weights(model, spec, good)
                break
            good = get_weights(model, spec)
            record = epoch_record(spec, config, dataset, lambda x: predict(model, x.astype(config.dtype, copy=False)),
                                  epoch + 1, acc, elapsed, float(optimizer.learning_rate))
            history.epochs.append(record)
            for cb in callbacks:
                cb.on_epoch_end(record)
        for cb in callbacks:
            cb.on_train_end(history)
        return get_weights(model, spec), history
