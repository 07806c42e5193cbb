"""Conv2D (HWIO kernel, stride, 'valid' / 'same' padding as TensorFlow pads).

Forward is im2col and one matrix product: every k x k x C patch becomes a row
(a strided view, no copy until the reshape), Z = cols W + b.
Backward: dW = cols^T dZ, db = sum dZ, dcols = dZ W^T, and col2im adds the
patch gradients back: one vectorised add per kernel offset (k*k of them),
never a loop over pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import AffineLayer


def same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def im2col(xp: np.ndarray, k: int, s: int, oh: int, ow: int) -> np.ndarray:
    """(n, Hp, Wp, C) -> (n*oh*ow, k*k*C) with columns in HWC (kernel HWIO) order."""
    win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, : (oh - 1) * s + 1: s, : (ow - 1) * s + 1: s]
    # win: (n, oh, ow, C, k, k) -> (n, oh, ow, k, k, C)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(len(xp) * oh * ow, -1)


def col2im(dcols: np.ndarray, padded_shape: tuple[int, ...], k: int, s: int, oh: int, ow: int) -> np.ndarray:
    n, _, _, c = padded_shape
    d = dcols.reshape(n, oh, ow, k, k, c)
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, i: i + s * (oh - 1) + 1: s, j: j + s * (ow - 1) + 1: s, :] += d[:, :, :, i, j, :]
    return dxp


class Conv2DLayer(AffineLayer):
    def _pads(self, h: int, w: int):
        spec = self.info.spec
        if spec.padding == "same":
            return same_padding(h, spec.kernel, spec.stride), same_padding(w, spec.kernel, spec.stride)
        return (0, 0), (0, 0)

    def forward(self, params, x, training, rng):
        spec = self.info.spec
        k, s = spec.kernel, spec.stride
        ph, pw = self._pads(x.shape[1], x.shape[2])
        xp = np.pad(x, ((0, 0), ph, pw, (0, 0))) if any(ph + pw) else x
        oh = (xp.shape[1] - k) // s + 1
        ow = (xp.shape[2] - k) // s + 1
        cols = im2col(xp, k, s, oh, ow)
        z = (cols @ params["kernel"].reshape(-1, spec.filters) + params["bias"]).reshape(len(x), oh, ow, spec.filters)
        a = self.activation.forward(z)
        return a, (x, z, a, cols, xp.shape, ph, pw)

    def backward_z(self, params, cache, dz, need_dx=True):
        x, _, _, cols, padded_shape, ph, pw = cache
        spec = self.info.spec
        kernel = params["kernel"]
        dz2 = dz.reshape(-1, spec.filters)
        grads = {"kernel": (cols.T @ dz2).reshape(kernel.shape), "bias": dz2.sum(axis=0)}
        if not need_dx:
            return None, grads
        dcols = dz2 @ kernel.reshape(-1, spec.filters).T
        dxp = col2im(dcols, padded_shape, spec.kernel, spec.stride, dz.shape[1], dz.shape[2])
        dx = dxp[:, ph[0]: padded_shape[1] - ph[1], pw[0]: padded_shape[2] - pw[1], :]
        return dx, grads
