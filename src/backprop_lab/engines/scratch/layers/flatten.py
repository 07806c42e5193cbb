"""Flatten: (n, H, W, C) -> (n, H*W*C) in row-major (Keras) order; backward reshapes back."""

from __future__ import annotations

from backprop_lab.engines.scratch.layers.base import Layer


class FlattenLayer(Layer):
    def forward(self, params, x, training, rng):
        return x.reshape(len(x), -1), x.shape

    def backward(self, params, cache, dout, need_dx=True):
        return dout.reshape(cache), {}
