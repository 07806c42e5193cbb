"""Conv2D (HWIO kernel, stride, 'valid' / 'same' padding as TensorFlow pads).

Forward is im2col and one matrix product: every k x k x C patch becomes a row
of ``cols`` (one copy out of a strided view), Z = cols W + b, with the bias and
ReLU in one pass over Z (``AffineLayer.activate``). Where a pixel holds few
channels (a first layer: grey or RGB) ``cols`` is the transposed view of a
(k*k*C, n*oh*ow) array, filled kernel offset by kernel offset with one block
copy each (a copy into rows of k*k*C values runs in tiny inner loops: 3x to 5x
slower); the product reads either layout at the same speed.
Backward: dW = cols^T dZ and db = 1^T dZ (one matrix product each), and for dX
one product gives the patch gradients dcols = dZ W^T, (n*oh*ow, k*k*C) in the
layout of ``cols``; col2im sums them back onto the input. With numba
(``kernels.col2im``) the k*k adds onto a zeroed array run image by image in one
compiled loop; without it, k*k vectorised strided adds over the whole batch, in
the same order, so both give the same numbers. The first layer of a network
does not need dX (``need_dx`` is False there) and skips it. A weight gradient
of at most ``PER_IMAGE_DW_MAX`` values (k*k*C*F: a first layer's) is summed image
by image, one small product per image: OpenBLAS runs one long product with an
output that small at a fraction of its rate (cnn:32,64,64's first layer at batch
32: 0.26 ms as one product, 0.17 ms image by image).

Where a max-pool reads the convolution's output, ``forward_into`` computes only
the rows and columns the pool's windows read (``MaxPool2D.extent``: a 2x2/2 pool
of 11 x 11 reads 10 x 10), so im2col, every product and col2im shrink; where the
convolution is a ReLU layer it also hands the product to the pool, which adds the
bias, applies the ReLU and pools in one pass (``MaxPool2DLayer.forward_bias_relu``).
``ScratchModel.forward`` chooses both.

Everything stays in the input's dtype (float32 stays float32).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers.base import AffineLayer

# im2col copies kernel offset by kernel offset into the transposed layout when a pixel holds few
# channels, and in one copy from the 6-d window view otherwise.
_TRANSPOSED_IM2COL_MAX_CHANNELS = 4
# weight gradients of at most this many values are summed image by image (measured on OpenBLAS:
# 9 x 32 and 27 x 32 faster that way, 27 x 64 and 288 x 64 slower)
PER_IMAGE_DW_MAX = 1024


def same_padding(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def windows(xp: np.ndarray, k: int, s: int, oh: int, ow: int) -> np.ndarray:
    """Read-only strided view (n, oh, ow, k, k, C) of the k x k patches of (n, Hp, Wp, C), no copy."""
    n, _, _, c = xp.shape
    sn, sh, sw, sc = xp.strides
    return as_strided(xp, (n, oh, ow, k, k, c), (sn, sh * s, sw * s, sh, sw, sc), writeable=False)


def im2col(xp: np.ndarray, k: int, s: int, oh: int, ow: int) -> np.ndarray:
    """(n, Hp, Wp, C) -> (n*oh*ow, k*k*C) with columns in HWC (kernel HWIO) order: C-contiguous, or
    for few channels the transposed view of a C-contiguous (k*k*C, n*oh*ow) (same values)."""
    n, _, _, c = xp.shape
    if c <= _TRANSPOSED_IM2COL_MAX_CHANNELS and k > 1:
        cols_t = np.empty((k, k, c, n, oh, ow), dtype=xp.dtype)
        for i in range(k):
            for j in range(k):
                cols_t[i, j] = xp[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s, :].transpose(
                    3, 0, 1, 2
                )
        return cols_t.reshape(k * k * c, n * oh * ow).T
    return windows(xp, k, s, oh, ow).reshape(n * oh * ow, k * k * c)


def weight_gradient_operands(cols: np.ndarray, dz2: np.ndarray, images: int) -> tuple[np.ndarray, np.ndarray]:
    """The operands of the weight gradient's product: (cols^T, dZ), or stacked image by image,
    (images, k*k*C, pixels) and (images, pixels, F), where the gradient is small
    (``PER_IMAGE_DW_MAX``) and cols^T is contiguous."""
    inner, f = cols.shape[1], dz2.shape[1]
    if inner * f > PER_IMAGE_DW_MAX or not cols.T.flags.c_contiguous or images < 2:
        return cols.T, dz2
    return cols.T.reshape(inner, images, -1).transpose(1, 0, 2), dz2.reshape(images, -1, f)


def weight_gradient(cols: np.ndarray, dz2: np.ndarray, images: int) -> np.ndarray:
    """cols^T dZ, (k*k*C, F): one product, or the sum of one product per image."""
    product = np.matmul(*weight_gradient_operands(cols, dz2, images))
    return product if product.ndim == 2 else product.sum(axis=0)


def col2im(
    dcols: np.ndarray,
    shape: tuple[int, ...],
    k: int,
    s: int,
    oh: int,
    ow: int,
    ph: tuple[int, int] = (0, 0),
    pw: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Sums patch gradients back onto the input: ``dcols`` (n*oh*ow, k*k*C) in the layout of
    ``im2col`` -> dX of the unpadded ``shape`` (n, H, W, C) (the padding's gradients are dropped)."""
    n, h, w, c = shape
    d6 = dcols.reshape(n, oh, ow, k, k, c)
    if kernels.col2im is not None and d6.flags.c_contiguous:
        dx = np.empty(shape, dtype=dcols.dtype)
        kernels.col2im(d6, dx, k, s, oh, ow, ph[0], pw[0])
        return dx
    dxp = np.zeros((n, h + sum(ph), w + sum(pw), c), dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s, :] += d6[:, :, :, i, j, :]
    return dxp[:, ph[0] : ph[0] + h, pw[0] : pw[0] + w, :]


class Conv2DLayer(AffineLayer):
    def _pads(self, h: int, w: int):
        spec = self.info.spec
        if spec.padding == "same":
            return same_padding(h, spec.kernel, spec.stride), same_padding(w, spec.kernel, spec.stride)
        return (0, 0), (0, 0)

    def forward(self, params, x, training, rng):
        return self.forward_into(params, x, None)[:2]

    def forward_into(self, params, x, pool, fuse=False):
        """forward, for a convolution whose output ``pool`` (a max-pool) reads: (output, cache, the pool's cache
        or None when the pool is still to run). Only the rows and columns of the output that the pool's windows
        read are computed (``MaxPool2D.extent``): Z, A and the cache are cropped to them. The pool's output is
        the same, and the gradient at the positions it never reads is zero, so dW, db and dX are the same sums
        without their zero terms. Where ``fuse`` (the pool follows this ReLU layer) and the pool can, it takes the
        bias and the ReLU into its own pass (``MaxPool2D.forward_bias_relu``) and runs its forward: the cache then
        keeps no Z or A, and the backward pass reads ReLU' from the pool's output (``backward_through_relu``)."""
        spec = self.info.spec
        k, s = spec.kernel, spec.stride
        ph, pw = self._pads(x.shape[1], x.shape[2])
        xp = np.pad(x, ((0, 0), ph, pw, (0, 0))) if any(ph + pw) else x
        oh = (xp.shape[1] - k) // s + 1
        ow = (xp.shape[2] - k) // s + 1
        if pool is not None:
            oh, ow = pool.info.spec.extent(oh), pool.info.spec.extent(ow)
        cols = im2col(xp, k, s, oh, ow)
        product = np.matmul(cols, params["kernel"].reshape(-1, spec.filters))
        shape = (len(x), oh, ow, spec.filters)
        if fuse and (pooled := pool.forward_bias_relu(product.reshape(shape), params["bias"])) is not None:
            return pooled[0], (x, None, None, cols, xp.shape, ph, pw), pooled[1]
        z2, a2, _ = self.activate(product, params["bias"])
        z = z2.reshape(shape)
        a = z if a2 is z2 else a2.reshape(shape)  # one array where bias and ReLU ran in place
        return a, (x, z, a, cols, xp.shape, ph, pw), None

    def backward_z(self, params, cache, dz, need_dx=True):
        x, _, _, cols, _, ph, pw = cache
        spec = self.info.spec
        k, f = spec.kernel, spec.filters
        kernel = params["kernel"]
        dz2 = dz.reshape(-1, f)
        grads = {
            "kernel": weight_gradient(cols, dz2, len(dz)).reshape(kernel.shape),
            "bias": np.matmul(np.ones(len(dz2), dtype=dz2.dtype), dz2),
        }
        if not need_dx:
            return None, grads
        dcols = np.matmul(dz2, kernel.reshape(-1, f).T)  # (M, k*k*C), the layout of cols
        return col2im(dcols, x.shape, k, spec.stride, dz.shape[1], dz.shape[2], ph, pw), grads
