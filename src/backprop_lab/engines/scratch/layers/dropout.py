"""Inverted dropout: keep each unit with probability 1 - rate and scale by 1 / (1 - rate)
while training; identity at inference. The mask comes from the generator passed in."""

from __future__ import annotations

from backprop_lab.engines.scratch.layers.base import Layer


class DropoutLayer(Layer):
    def forward(self, params, x, training, rng):
        rate = self.info.spec.rate
        if not training or rate == 0:
            return x, None
        if rng is None:
            raise ValueError(f"{self.name}: training with dropout needs a random generator")
        mask = (rng.random(x.shape) >= rate).astype(x.dtype) / x.dtype.type(1 - rate)
        return x * mask, mask

    def backward(self, params, cache, dout, need_dx=True):
        return (dout if cache is None else dout * cache), {}
