"""An independent reference: the same network written with TensorFlow's own ops and differentiated by
tf.GradientTape (float64). It shares no code with the derivation or the scratch engine."""

from __future__ import annotations

import numpy as np


def tf_loss_and_grads(spec, loss: str, l2: float, weights: dict, x: np.ndarray, y: np.ndarray, masks: list[np.ndarray]):
    """``masks``: the 0/1 dropout masks in layer order. Returns (loss, {key: gradient})."""
    import tensorflow as tf

    w = {k: tf.Variable(np.asarray(v, np.float64)) for k, v in weights.items()}
    yt = tf.constant(y, tf.float64)
    with tf.GradientTape() as tape:
        h = tf.constant(x, tf.float64)
        masks_left = list(masks)
        z = None
        for info in spec.infos:
            s = info.spec
            if s.kind == "dense":
                z = h @ w[f"{info.name}/kernel"] + w[f"{info.name}/bias"]
            elif s.kind == "conv2d":
                z = tf.nn.conv2d(h, w[f"{info.name}/kernel"], s.stride, s.padding.upper()) + w[f"{info.name}/bias"]
            elif s.kind == "maxpool2d":
                h = tf.nn.max_pool2d(h, s.pool, s.step, "VALID")
                z = None
                continue
            elif s.kind == "flatten":
                h = tf.reshape(h, (h.shape[0], -1))
                z = None
                continue
            elif s.kind == "dropout":
                h = h * masks_left.pop(0) / (1 - s.rate)
                z = None
                continue
            h = {
                "relu": tf.nn.relu,
                "sigmoid": tf.sigmoid,
                "tanh": tf.tanh,
                "softmax": tf.nn.softmax,
                "linear": tf.identity,
            }[s.activation](z)
        last = spec.output_activation
        if loss == "categorical_crossentropy":
            value = (
                tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(yt, z))
                if last == "softmax" and z is not None
                else -tf.reduce_mean(tf.reduce_sum(yt * tf.math.log(h), axis=-1))
            )
        elif loss == "binary_crossentropy":
            value = (
                tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(yt, z))
                if last == "sigmoid" and z is not None
                else -tf.reduce_mean(yt * tf.math.log(h) + (1 - yt) * tf.math.log(1 - h))
            )
        elif loss == "mse":
            value = tf.reduce_mean(tf.square(h - yt))
        elif loss == "squared_error":
            value = tf.reduce_mean(tf.reduce_sum(tf.square(h - yt), axis=-1))
        elif loss == "half_squared_error":
            value = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(h - yt), axis=-1))
        else:
            raise ValueError(loss)
        lam = float(np.float32(l2))
        if l2:
            value += lam * tf.add_n([tf.reduce_sum(tf.square(v)) for k, v in w.items() if k.endswith("/kernel")])
    grads = tape.gradient(value, w)
    return float(value), {k: g.numpy() for k, g in grads.items()}
