"""ModelSpec -> keras.Model with given weights, and the Keras pieces both TF engines share.

Kernels are ``(in, out)`` for Dense and ``HWIO`` for Conv2D in Keras too, so
weights move between engines without transposes. Layer names are the spec's
(``dense_0``), so a weight key is ``layer name / variable name``.
"""

from __future__ import annotations

import os
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from backprop_lab.core import names  # noqa: E402
from backprop_lab.core.errors import BplabError  # noqa: E402
from backprop_lab.numerics.metrics import targets  # noqa: E402
from backprop_lab.options.config import TrainConfig  # noqa: E402
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec  # noqa: E402


def seed_everything(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _keras_layer(info, config: TrainConfig):
    spec, name, dtype = info.spec, info.name, config.dtype
    activation = KERAS_ACTIVATIONS[spec.activation] if isinstance(spec, (Dense, Conv2D)) else None
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    if isinstance(spec, Dense):
        layer = keras.layers.Dense(spec.units, activation, name=name, kernel_regularizer=reg, dtype=dtype)
    elif isinstance(spec, Conv2D):
        layer = keras.layers.Conv2D(
            spec.filters,
            spec.kernel,
            spec.stride,
            spec.padding,
            activation=activation,
            name=name,
            kernel_regularizer=reg,
            dtype=dtype,
        )
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


def build_model(
    spec: ModelSpec, weights: dict[str, np.ndarray], config: TrainConfig, cls=keras.Sequential
) -> keras.Model:
    model = cls(
        [keras.Input(shape=spec.input_shape, dtype=config.dtype)] + [_keras_layer(i, config) for i in spec.infos]
    )
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


class SummedSquaredError(keras.losses.Loss):
    """Not a Keras loss: the squared error summed over the outputs (times ``factor``), averaged over the batch
    (public ``keras.losses.Loss``: ``call`` gives one value per row, the default reduction averages them)."""

    def __init__(self, factor: float = 1.0, name: str = "squared_error", dtype: str | None = None):
        super().__init__(name=name, dtype=dtype)
        self.factor = factor

    def call(self, y_true, y_pred):
        return self.factor * keras.ops.sum(keras.ops.square(y_pred - keras.ops.cast(y_true, y_pred.dtype)), axis=-1)


# Each loss name (``backprop_lab.core.names.LOSSES``) as Keras's loss object, computed in the model's dtype
# (Keras 3 losses default to float32 otherwise).
KERAS_LOSSES: dict[str, Callable[[str], keras.losses.Loss]] = names.LOSSES.table(
    {
        "categorical_crossentropy": lambda dtype: keras.losses.CategoricalCrossentropy(dtype=dtype),
        "binary_crossentropy": lambda dtype: keras.losses.BinaryCrossentropy(dtype=dtype),
        "mse": lambda dtype: keras.losses.MeanSquaredError(dtype=dtype),
        "squared_error": lambda dtype: SummedSquaredError(1.0, "squared_error", dtype=dtype),
        "half_squared_error": lambda dtype: SummedSquaredError(0.5, "half_squared_error", dtype=dtype),
    },
    "keras_engines.build.KERAS_LOSSES",
)

# Each optimizer name (``backprop_lab.core.names.OPTIMIZERS``) as Keras's optimizer, given the config and learning rate.
KERAS_OPTIMIZERS: dict[str, Callable[[TrainConfig, float], keras.optimizers.Optimizer]] = names.OPTIMIZERS.table(
    {
        "sgd": lambda c, lr: keras.optimizers.SGD(lr),
        "momentum": lambda c, lr: keras.optimizers.SGD(lr, momentum=c.momentum),
        "nesterov": lambda c, lr: keras.optimizers.SGD(lr, momentum=c.momentum, nesterov=True),
        "rmsprop": lambda c, lr: keras.optimizers.RMSprop(lr, rho=c.rho, epsilon=c.epsilon),
        "adam": lambda c, lr: keras.optimizers.Adam(lr, beta_1=c.beta_1, beta_2=c.beta_2, epsilon=c.epsilon),
    },
    "keras_engines.build.KERAS_OPTIMIZERS",
)

# Each activation name (``backprop_lab.core.names.ACTIVATIONS``) as Keras's activation function.
KERAS_ACTIVATIONS: dict[str, Callable] = names.ACTIVATIONS.table(
    {
        "relu": keras.activations.relu,
        "sigmoid": keras.activations.sigmoid,
        "tanh": keras.activations.tanh,
        "softmax": keras.activations.softmax,
        "linear": keras.activations.linear,
    },
    "keras_engines.build.KERAS_ACTIVATIONS",
)


def keras_loss(name: str, dtype: str):
    """Keras's loss, computed in the model's dtype (Keras 3 losses default to float32 otherwise)."""
    return names.LOSSES.get(KERAS_LOSSES, name, "--loss")(dtype)


def keras_optimizer(config: TrainConfig):
    """Keras's optimizer for the config, with a plain (settable) learning rate: the schedule is the loop's."""
    return names.OPTIMIZERS.get(KERAS_OPTIMIZERS, config.optimizer, "--optimizer")(config, config.learning_rate)


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    return np.concatenate(
        [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    )


def autograd(model: keras.Model, spec: ModelSpec, x: np.ndarray, y: np.ndarray, config: TrainConfig, loss_of):
    """Loss and gradients (by flat key) of ``loss_of(x, targets)`` w.r.t. the trainable weights, by GradientTape."""
    variables = weight_variables(model, spec, trainable_only=True)
    with tf.GradientTape() as tape:
        value = loss_of(tf.constant(x.astype(config.dtype)), tf.constant(targets(spec, y, config.dtype)))
    grads = tape.gradient(value, [v for _, v in variables])
    return float(value), {k: np.asarray(g) for (k, _), g in zip(variables, grads)}


def all_finite(variables) -> tf.Tensor:
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in variables])


class KerasState:
    """A Keras model and optimizer as a training-loop state (what tape and fit share).

    Before every step the trainable weights are copied into ``backup`` variables inside the compiled
    step, so a step that diverges can be undone and the blended update can read the old weights.
    """

    def __init__(self, spec: ModelSpec, model: keras.Model, optimizer, config: TrainConfig):
        self.spec, self.model, self.optimizer, self.config = spec, model, optimizer, config
        pairs = weight_variables(model, spec, trainable_only=True)
        self.keys = [k for k, _ in pairs]
        self.variables = [v for _, v in pairs]
        if not optimizer.built:
            optimizer.build(self.variables)
        self.backup = [tf.Variable(v, trainable=False) for v in self.variables]
        self._lr = float(config.learning_rate)
        self.grad_norms = False  # set before the first step (it decides what the compiled step returns)

    def norms_of(self, values) -> dict[str, float] | None:
        return {k: float(v) for k, v in zip(self.keys, values)} if values is not None else None

    def set_lr(self, lr: float) -> None:
        if lr != self._lr:
            self.optimizer.learning_rate = lr
            self._lr = lr

    def save_backup(self) -> None:
        for b, v in zip(self.backup, self.variables):
            b.assign(v)

    def rollback(self) -> None:
        for b, v in zip(self.backup, self.variables):
            v.assign(b)

    def weights(self) -> dict[str, np.ndarray]:
        return get_weights(self.model, self.spec)

    def previous_weights(self) -> dict[str, np.ndarray]:
        return {k: np.array(b.numpy()) for k, b in zip(self.keys, self.backup)}

    def set_weights(self, weights) -> None:
        set_weights(self.model, self.spec, weights)

    def export_state(self):
        arrays = {f"model/{i}": np.array(v.numpy()) for i, v in enumerate(self.model.variables)}
        arrays.update({f"optimizer/{i}": np.array(v.numpy()) for i, v in enumerate(self.optimizer.variables)})
        return arrays, {"lr": self._lr}

    def import_state(self, arrays, meta) -> None:
        for prefix, variables in (("model", self.model.variables), ("optimizer", self.optimizer.variables)):
            for i, v in enumerate(variables):
                key = f"{prefix}/{i}"
                if key not in arrays or tuple(arrays[key].shape) != tuple(v.shape):
                    raise BplabError(f"checkpoint: {key} does not match this model's {v.path}")
                v.assign(arrays[key])
        self.optimizer.learning_rate = float(meta["lr"])
        self._lr = float(meta["lr"])

    def predict(self, x) -> np.ndarray:
        return predict(self.model, x)


class KerasEngine:
    """What the two TensorFlow engines (:class:`backprop_lab.engines.registry.Engine`) share."""

    uses_tensorflow = True

    def predict(self, spec: ModelSpec, weights, x, dtype: str = "float32"):
        return predict(build_model(spec, weights, TrainConfig(dtype=dtype)), x.astype(dtype))
