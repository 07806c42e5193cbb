"""ModelSpec -> keras.Model with given weights, and the Keras pieces both TF engines share.

Kernels are ``(in, out)`` for Dense and ``HWIO`` for Conv2D in Keras too, so
weights move between engines without transposes. Layer names are the spec's
(``dense_0``), so a weight key is ``layer name / variable name``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..config import TrainConfig  # noqa: E402
from ..data import BatchPlan, Dataset  # noqa: E402
from ..spec import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec  # noqa: E402
from ..training import targets  # noqa: E402


def seed_everything(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _keras_layer(info, config: TrainConfig):
    spec, name, dtype = info.spec, info.name, config.dtype
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    if isinstance(spec, Dense):
        layer = keras.layers.Dense(spec.units, spec.activation, name=name, kernel_regularizer=reg, dtype=dtype)
    elif isinstance(spec, Conv2D):
        layer = keras.layers.Conv2D(spec.filters, spec.kernel, spec.stride, spec.padding, activation=spec.activation,
                                    name=name, kernel_regularizer=reg, dtype=dtype)
    elif isinstance(spec, MaxPool2D):
        layer = keras.layers.MaxPooling2D(spec.pool, spec.step, name=name, dtype=dtype)
    elif isinstance(spec, Flatten):
        layer = keras.layers.Flatten(name=name, dtype=dtype)
    elif isinstance(spec, Dropout):
        layer = keras.layers.Dropout(spec.rate, seed=config.seed, name=name, dtype=dtype)
    else:  # pragma: no cover - the spec refuses other kinds
        raise TypeError(spec)
    layer.trainable = info.trainable
    return layer


def build_model(spec: ModelSpec, weights: dict[str, np.ndarray], config: TrainConfig, cls=keras.Sequential) -> keras.Model:
    model = cls([keras.Input(shape=spec.input_shape, dtype=config.dtype)] + [_keras_layer(i, config) for i in spec.infos])
    set_weights(model, spec, weights)
    return model


def weight_variables(model: keras.Model, spec: ModelSpec, trainable_only: bool = False) -> list[tuple[str, object]]:
    """(flat key, keras variable) pairs in spec order."""
    pairs = []
    for info in spec.infos:
        if not info.params or (trainable_only and not info.trainable):
            continue
        layer = model.get_layer(info.name)
        pairs += [(f"{info.name}/kernel", layer.kernel), (f"{info.name}/bias", layer.bias)]
    return pairs


def set_weights(model: keras.Model, spec: ModelSpec, weights: dict[str, np.ndarray]) -> None:
    for key, var in weight_variables(model, spec):
        var.assign(np.asarray(weights[key], dtype=var.dtype))


def get_weights(model: keras.Model, spec: ModelSpec) -> dict[str, np.ndarray]:
    return {key: np.array(var.numpy()) for key, var in weight_variables(model, spec)}


def keras_loss(name: str, dtype: str):
    """Keras's loss, computed in the model's dtype (Keras 3 losses default to float32 otherwise)."""
    cls = {"categorical_crossentropy": keras.losses.CategoricalCrossentropy,
           "binary_crossentropy": keras.losses.BinaryCrossentropy,
           "mse": keras.losses.MeanSquaredError}[name]
    return cls(dtype=dtype)


def keras_optimizer(config: TrainConfig, steps_per_epoch: int):
    lr = config.learning_rate
    if config.decay != "none":
        lr = keras.optimizers.schedules.ExponentialDecay(lr, config.decay_steps or steps_per_epoch, config.decay_rate,
                                                         staircase=config.decay == "step")
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr)
    if config.optimizer in ("momentum", "nesterov"):
        return keras.optimizers.SGD(lr, momentum=config.momentum, nesterov=config.optimizer == "nesterov")
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, rho=config.rho, epsilon=config.epsilon)
    return keras.optimizers.Adam(lr, beta_1=config.beta_1, beta_2=config.beta_2, epsilon=config.epsilon)


def plan_dataset(dataset: Dataset, spec: ModelSpec, plan: BatchPlan, epochs: int, dtype: str) -> tf.data.Dataset:
    """The batch plan as a tf.data pipeline: epoch after epoch, the same batches in the same order as scratch."""
    x = tf.constant(dataset.x_train.astype(dtype, copy=False))
    t = tf.constant(targets(spec, dataset.y_train, dtype))
    y = tf.constant(dataset.y_train)
    orders = [tf.data.Dataset.from_tensor_slices(plan.order(e)).batch(plan.size) for e in range(epochs)]
    indices = orders[0]
    for more in orders[1:]:
        indices = indices.concatenate(more)
    return indices.map(lambda i: (tf.gather(x, i), tf.gather(t, i), tf.gather(y, i))).prefetch(2)


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i: i + batch_size], training=False)) for i in range(0, len(x), batch_size)])


def autograd(model: keras.Model, spec: ModelSpec, x: np.ndarray, y: np.ndarray, config: TrainConfig, loss_of):
    """Loss and gradients (by flat key) of ``loss_of(x, targets)`` w.r.t. the trainable weights, by GradientTape."""
    variables = weight_variables(model, spec, trainable_only=True)
    with tf.GradientTape() as tape:
        value = loss_of(tf.constant(x.astype(config.dtype)), tf.constant(targets(spec, y, config.dtype)))
    grads = tape.gradient(value, [v for _, v in variables])
    return float(value), {k: np.asarray(g) for (k, _), g in zip(variables, grads)}


class KerasEngine:
    """What the two TensorFlow engines share."""

    def predict(self, spec: ModelSpec, weights, x, dtype: str = "float32"):
        return predict(build_model(spec, weights, TrainConfig(dtype=dtype)), x.astype(dtype))
