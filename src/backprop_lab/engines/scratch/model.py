"""ScratchModel: the spec's layers run in NumPy. Weights are a flat dict
(``dense_0/kernel``) passed into every call; the model holds no weights."""

from __future__ import annotations

import numpy as np

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers import build_layer
from backprop_lab.engines.scratch.layers.base import AffineLayer
from backprop_lab.engines.scratch.layers.conv2d import Conv2DLayer
from backprop_lab.engines.scratch.layers.maxpool2d import MaxPool2DLayer
from backprop_lab.numerics.losses import CategoricalCrossentropy, Loss, l2_factor, l2_penalty, output_loss
from backprop_lab.spec.model import ModelSpec

Weights = dict[str, np.ndarray]


def _call(name: str, fn, *args):
    """How forward and backward call each layer: ``fn(*args)``; a profiler passes its own (``timer``), timing ``name``."""
    return fn(*args)


def _crossentropy_from_lse(loss: Loss, z: np.ndarray, lse: np.ndarray, y: np.ndarray) -> float | None:
    """Categorical cross-entropy from the logits and the log-sum-exp the compiled softmax kept
    (``AffineLayer.activate``), in one compiled pass: the numbers of ``value_from_lse``, whose mean is NumPy's
    (the sum in the array's dtype, divided as a double, rounded back). None where that path does not apply."""
    if (
        not isinstance(loss, CategoricalCrossentropy)
        or kernels.crossentropy_sum is None
        or y.shape != z.shape
        or y.dtype != z.dtype
        or z.ndim != 2
        or len(z) == 0
    ):
        return None
    kind = z.dtype.type
    total = kernels.crossentropy_sum(y, z, lse, np.empty(z.shape[1], z.dtype), np.empty(len(z), z.dtype), kind(0))
    return float(kind(float(total) / len(z)))


class ScratchModel:
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.layers = [build_layer(info) for info in spec.infos]
        self._keys = [{k: f"{info.name}/{k}" for k in info.params} for info in spec.infos]
        self.trainable_keys = [
            key for info, keys in zip(spec.infos, self._keys) if info.trainable for key in keys.values()
        ]
        self.kernel_keys = [k for k in self.trainable_keys if k.endswith("/kernel")]
        self.output_activation = spec.output_activation
        # what backward asks of the spec each step, read once: which layers train, and the first that does
        # (nothing below it needs dL/dX)
        self._trainable = [info.trainable for info in spec.infos]
        self._first_trainable = min(
            (i for i, info in enumerate(spec.infos) if info.trainable and info.params), default=0
        )
        # max-pools whose input is a ReLU layer's output: their backward passes fuse (MaxPool2DLayer.backward_through_relu),
        # and after a Conv2D so do the forward passes (Conv2DLayer.forward_into)
        self._pool_after_relu = {
            i
            for i, (below, layer) in enumerate(zip([None, *self.layers], self.layers))
            if isinstance(layer, MaxPool2DLayer) and isinstance(below, AffineLayer) and below.activation.name == "relu"
        }
        self._conv_into_pool = {i - 1 for i in self._pool_after_relu if isinstance(self.layers[i - 1], Conv2DLayer)}
        # convolutions a max-pool reads: they compute only the rows and columns the pool's windows read
        self._conv_before_pool = {
            i
            for i, (layer, above) in enumerate(zip(self.layers, self.layers[1:]))
            if isinstance(layer, Conv2DLayer) and isinstance(above, MaxPool2DLayer)
        }
        # what a timer (a profiler) is told each call is: built once here, not per step
        self._forward_names = [
            f"{layer.name} forward" + (f" (+ {self.layers[i + 1].name})" if i in self._conv_before_pool else "")
            for i, layer in enumerate(self.layers)
        ]
        self._backward_names = [f"{layer.name} backward" for layer in self.layers]
        self._through_relu_names = {i: f"{self.layers[i].name} backward (+ ReLU')" for i in self._pool_after_relu}

    def _params(self, i: int, weights: Weights) -> dict[str, np.ndarray]:
        return {k: weights[key] for k, key in self._keys[i].items()}

    def forward(
        self,
        weights: Weights,
        x: np.ndarray,
        training: bool = False,
        rng: np.random.Generator | None = None,
        timer=_call,
    ):
        caches, i = [], 0
        while i < len(self.layers):
            layer = self.layers[i]
            if i in self._conv_before_pool:  # cropped to what the pool reads; the pool may take its bias + ReLU
                pool = self.layers[i + 1]
                x, cache, pool_cache = timer(
                    self._forward_names[i],
                    layer.forward_into,
                    self._params(i, weights),
                    x,
                    pool,
                    i in self._conv_into_pool,
                )
                caches.append(cache)
                if pool_cache is None:
                    x, pool_cache = timer(self._forward_names[i + 1], pool.forward, {}, x, training, rng)
                caches.append(pool_cache)
                i += 2
                continue
            x, cache = timer(self._forward_names[i], layer.forward, self._params(i, weights), x, training, rng)
            caches.append(cache)
            i += 1
        return x, caches

    def predict(self, weights: Weights, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        return np.concatenate([self.forward(weights, x[i : i + batch_size])[0] for i in range(0, len(x), batch_size)])

    def loss_value(
        self, weights: Weights, caches: list, output: np.ndarray, target: np.ndarray, loss: Loss, l2: float = 0.0
    ) -> float:
        """The batch loss as Keras 3 computes it (from the logits for softmax + CCE and sigmoid + BCE), plus L2."""
        last = self.layers[-1]
        logits = caches[-1][1] if isinstance(last, AffineLayer) else None
        lse = caches[-1][3] if logits is not None and len(caches[-1]) > 3 else None
        value = _crossentropy_from_lse(loss, logits, lse, target) if lse is not None else None
        if value is None:
            value = output_loss(loss, self.output_activation, output, logits, target)
        return value + l2_penalty(weights, self.kernel_keys, l2)

    def backward(
        self,
        weights: Weights,
        caches: list,
        output: np.ndarray,
        target: np.ndarray,
        loss: Loss,
        l2: float = 0.0,
        timer=_call,
    ) -> Weights:
        """Gradients of loss (+ l2 * sum of squared trainable kernels) w.r.t. every trainable weight."""
        grads: Weights = {}
        last = len(self.layers) - 1
        delta = timer("loss gradient", loss.fused_delta, self.output_activation, output, target)
        dout = timer("loss gradient", loss.grad, output, target) if delta is None else None
        first_trainable = self._first_trainable
        for i in range(last, -1, -1):
            layer = self.layers[i]
            params = self._params(i, weights)
            need_dx = i > first_trainable
            if delta is not None and isinstance(layer, AffineLayer):
                dout, layer_grads = timer(self._backward_names[i], layer.backward_z, params, caches[i], delta, need_dx)
                delta = None
            elif (
                need_dx
                and i in self._pool_after_relu
                and (fused := timer(self._through_relu_names[i], layer.backward_through_relu, caches[i], dout))
                is not None
            ):
                delta, dout, layer_grads = fused, None, {}  # the ReLU layer below takes dL/dZ (backward_z)
            else:
                dout, layer_grads = timer(self._backward_names[i], layer.backward, params, caches[i], dout, need_dx)
            if self._trainable[i]:
                for k, g in layer_grads.items():
                    grads[self._keys[i][k]] = g
            if not need_dx:
                break
        if l2:
            factor = 2 * l2_factor(l2)
            for key in self.kernel_keys:
                grads[key] = grads[key] + factor * weights[key]
        return {k: grads[k] for k in self.trainable_keys}
