"""MaxPool2D ('valid', as Keras's default). Forward takes the max of each window
(a strided view); backward sends each output gradient to the first maximum of
its window in row-major order, one vectorised add per window offset."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Layer


class MaxPool2DLayer(Layer):
    def forward(self, params, x, training, rng):
        p, s = self.info.spec.pool, self.info.spec.step
        oh = (x.shape[1] - p) // s + 1
        ow = (x.shape[2] - p) // s + 1
        win = sliding_window_view(x, (p, p), axis=(1, 2))[:, : (oh - 1) * s + 1: s, : (ow - 1) * s + 1: s]
        win = win.reshape(*win.shape[:4], p * p)  # (n, oh, ow, C, p*p)
        arg = win.argmax(axis=-1)
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        return out, (x.shape, arg)

    def backward(self, params, cache, dout, need_dx=True):
        shape, arg = cache
        p, s = self.info.spec.pool, self.info.spec.step
        oh, ow = dout.shape[1], dout.shape[2]
        dx = np.zeros(shape, dtype=dout.dtype)
        for i in range(p):
            for j in range(p):
                dx[:, i: i + s * (oh - 1) + 1: s, j: j + s * (ow - 1) + 1: s, :] += dout * (arg == i * p + j)
        return dx, {}
