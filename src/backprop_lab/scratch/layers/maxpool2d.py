"""MaxPool2D ('valid', as Keras's default). Forward takes the max of each window; backward
sends each output gradient to the first maximum of its window in row-major order.

Non-overlapping windows (pool == stride, the usual 2x2/2) take a fast path: the max of the
pool*pool strided slices, and a backward pass that routes the gradient slice by slice in
row-major order to where the input equals the maximum and no earlier slice has taken it
(the same first-maximum rule as argmax). Overlapping windows use strided views and argmax.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import Layer


class MaxPool2DLayer(Layer):
    def forward(self, params, x, training, rng):
        p, s = self.info.spec.pool, self.info.spec.step
        oh = (x.shape[1] - p) // s + 1
        ow = (x.shape[2] - p) // s + 1
        if p == s:
            slices = [x[:, i: i + s * oh: s, j: j + s * ow: s] for i in range(p) for j in range(p)]
            out = slices[0].copy()
            for part in slices[1:]:
                np.maximum(out, part, out=out)
            return out, ("fast", x, out)
        win = sliding_window_view(x, (p, p), axis=(1, 2))[:, : (oh - 1) * s + 1: s, : (ow - 1) * s + 1: s]
        win = win.reshape(*win.shape[:4], p * p)  # (n, oh, ow, C, p*p)
        arg = win.argmax(axis=-1)
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        return out, ("window", x.shape, arg)

    def backward(self, params, cache, dout, need_dx=True):
        p, s = self.info.spec.pool, self.info.spec.step
        oh, ow = dout.shape[1], dout.shape[2]
        if cache[0] == "fast":
            _, x, out = cache
            dx = np.zeros_like(x, dtype=dout.dtype)
            free = np.ones(out.shape, dtype=bool)  # windows whose maximum has not been routed yet
            for i in range(p):
                for j in range(p):
                    hit = x[:, i: i + s * oh: s, j: j + s * ow: s] == out
                    hit &= free
                    free &= ~hit
                    dx[:, i: i + s * oh: s, j: j + s * ow: s] = dout * hit
            return dx, {}
        _, shape, arg = cache
        dx = np.zeros(shape, dtype=dout.dtype)
        for i in range(p):
            for j in range(p):
                dx[:, i: i + s * (oh - 1) + 1: s, j: j + s * (ow - 1) + 1: s] += dout * (arg == i * p + j)
        return dx, {}
