"""MaxPool2D ('valid', as Keras's default). Forward takes the max of each window; backward
sends each output gradient to the first maximum of its window in row-major order.

Windows that do not overlap (stride >= pool, the usual 2x2/2) take a fast path: window offset
(i, j) of every window is one strided slice of the input, so the forward pass is the elementwise
maximum of the pool*pool slices (the rows and columns no window covers are left out, as 'valid'
pooling crops them), and the backward pass routes the gradient slice by slice in row-major
order to where the input equals the maximum and no earlier slice has taken it (the same
first-maximum rule as argmax), writing each slice of dX once. Overlapping windows use argmax
over a copy of the windows and add the routed gradient back offset by offset.

With numba (``kernels.maxpool_forward``) the non-overlapping path is one compiled pass that also
keeps, for every window, the offset of its first maximum (one byte per output, the argmax of the
window path); backward routes each gradient to that offset in one pass over dX, with no mask of
the input's size and no second look at the input.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers.base import Layer


def _offsets(p: int):
    return [(i, j) for i in range(p) for j in range(p)]


def _slice(a: np.ndarray, i: int, j: int, s: int, oh: int, ow: int) -> np.ndarray:
    """The input element at window offset (i, j) of every window: (n, oh, ow, C), a view."""
    return a[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s]


class MaxPool2DLayer(Layer):
    def forward(self, params, x, training, rng):
        p, s = self.info.spec.pool, self.info.spec.step
        oh = (x.shape[1] - p) // s + 1
        ow = (x.shape[2] - p) // s + 1
        if (compiled := self._compiled(kernels.maxpool_forward, x)) is not None:
            return compiled
        if s >= p:
            offsets = _offsets(p)
            out = (
                np.maximum(_slice(x, *offsets[0], s, oh, ow), _slice(x, *offsets[1], s, oh, ow))
                if p > 1
                else _slice(x, 0, 0, s, oh, ow).copy()
            )
            for i, j in offsets[2:]:
                np.maximum(out, _slice(x, i, j, s, oh, ow), out=out)
            return out, ("fast", x, out)
        win = sliding_window_view(x, (p, p), axis=(1, 2))[:, : (oh - 1) * s + 1 : s, : (ow - 1) * s + 1 : s]
        arg = win.reshape(*win.shape[:4], p * p).argmax(axis=-1)  # (n, oh, ow, C); the reshape copies
        out = _slice(x, 0, 0, s, oh, ow).copy()
        for i, j in _offsets(p)[1:]:
            np.maximum(out, _slice(x, i, j, s, oh, ow), out=out)
        return out, ("window", x.shape, arg)

    def _compiled(self, kernel, x, *before_pool) -> tuple[np.ndarray, tuple] | None:
        """(output, cache) of a compiled forward ``kernel(x, *before_pool, p, s, out, arg)`` for non-overlapping
        windows (one byte of argmax per output); None where it does not apply (no numba, overlapping windows)."""
        p, s = self.info.spec.pool, self.info.spec.step
        if kernel is None or s < p or p * p > 256 or not x.flags.c_contiguous:
            return None
        oh, ow = (x.shape[1] - p) // s + 1, (x.shape[2] - p) // s + 1
        out = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
        arg = np.empty(out.shape, dtype=np.uint8)
        kernel(x, *before_pool, p, s, out, arg)
        return out, ("fast", x.shape, arg, out)

    def forward_bias_relu(self, z, bias) -> tuple[np.ndarray, tuple] | None:
        """This pool's forward of A = max(Z + b, 0), the ReLU layer below's activation, from that layer's product Z,
        in one compiled pass (``kernels.bias_relu_maxpool``): (output, cache), with Z + b and A never written out;
        None where that pass does not apply (the layer below then adds its bias and applies its ReLU itself)."""
        if kernels.maxpool_relu_backward is None or bias.dtype != z.dtype:  # backward reads ReLU' from the output
            return None
        return self._compiled(kernels.bias_relu_maxpool, z, bias, z.dtype.type(0))

    def backward_through_relu(self, cache, dout) -> np.ndarray | None:
        """dL/dZ of the ReLU layer before this pool, from this pool's output gradient, in one compiled pass
        (``kernels.maxpool_relu_backward``); None where that pass does not apply (the caller then takes the
        two steps: this layer's backward, then the ReLU's derivative)."""
        if kernels.maxpool_relu_backward is None or cache[0] != "fast" or not isinstance(cache[1], tuple):
            return None
        p, s = self.info.spec.pool, self.info.spec.step
        _, shape, arg, out = cache
        oh, ow = dout.shape[1], dout.shape[2]
        covered = s == p and oh * p == shape[1] and ow * p == shape[2]
        dz = (np.empty if covered else np.zeros)(shape, dtype=dout.dtype)
        f = dz.dtype.type
        kernels.maxpool_relu_backward(np.ascontiguousarray(dout), arg, out, p, s, dz, f(1), f(0))
        return dz

    def backward(self, params, cache, dout, need_dx=True):
        p, s = self.info.spec.pool, self.info.spec.step
        oh, ow = dout.shape[1], dout.shape[2]
        if cache[0] == "fast" and isinstance(cache[1], tuple):  # the compiled path's (input shape, argmax)
            _, shape, arg, _ = cache
            covered = s == p and oh * p == shape[1] and ow * p == shape[2]
            dx = (np.empty if covered else np.zeros)(shape, dtype=dout.dtype)
            kernels.maxpool_backward(np.ascontiguousarray(dout), arg, p, s, dx, dx.dtype.type(0))
            return dx, {}
        if cache[0] == "fast":
            _, x, out = cache
            covered = s == p and oh * p == x.shape[1] and ow * p == x.shape[2]
            dx = (np.empty if covered else np.zeros)(x.shape, dtype=dout.dtype)
            offsets = _offsets(p)
            taken = None  # windows whose maximum has been routed already
            hit = np.empty(out.shape, dtype=bool)
            for n, (i, j) in enumerate(offsets):
                np.equal(_slice(x, i, j, s, oh, ow), out, out=hit)
                if taken is None:
                    taken = hit.copy() if len(offsets) > 1 else hit
                else:
                    np.greater(hit, taken, out=hit)  # hit and not taken
                    if n < len(offsets) - 1:
                        np.logical_or(taken, hit, out=taken)
                np.multiply(dout, hit, out=_slice(dx, i, j, s, oh, ow))
            return dx, {}
        _, shape, arg = cache
        dx = np.zeros(shape, dtype=dout.dtype)
        for i in range(p):
            for j in range(p):
                dx[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s] += dout * (arg == i * p + j)
        return dx, {}
