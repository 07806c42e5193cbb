from __future__ import annotations

from typing import Any

import numpy as np

from backprop_lab.engines.scratch import kernels
from backprop_lab.numerics.activations import Activation, get_activation
from backprop_lab.spec.model import LayerInfo

Params = dict[str, np.ndarray]


class Layer:
    """Interface of a scratch layer."""

    has_activation = False

    def __init__(self, info: LayerInfo):
        self.info = info
        self.name = info.name

    def forward(
        self, params: Params, x: np.ndarray, training: bool, rng: np.random.Generator | None
    ) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(
        self, params: Params, cache: Any, dout: np.ndarray, need_dx: bool = True
    ) -> tuple[np.ndarray | None, Params]:
        raise NotImplementedError


class AffineLayer(Layer):
    """A layer computing Z = affine(X) then A = g(Z); backward splits the same way,
    so a loss can hand in dL/dZ directly (``backward_z``) when its Jacobian with g cancels."""

    has_activation = True

    def __init__(self, info: LayerInfo):
        super().__init__(info)
        self.activation: Activation = get_activation(info.spec.activation)

    def activate(self, z: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(Z + b, g(Z + b), the rows' log-sum-exp or None) from the product Z (a fresh C-contiguous array,
        overwritten). ReLU with numba: one pass in place, and Z itself becomes A (ReLU' reads [A > 0], which
        is [Z > 0]). Softmax with numba: the shift and the scaling in compiled passes around NumPy's exp,
        and the log-sum-exp the cross-entropy needs comes from the same sums (``ScratchModel.loss_value``)."""
        compiled = z.ndim == 2 and z.flags.c_contiguous and bias.dtype == z.dtype
        if compiled and self.activation.name == "relu" and kernels.bias_relu is not None:
            kernels.bias_relu(z, bias, z.dtype.type(0))
            return z, z, None
        z += bias
        if compiled and self.activation.name == "softmax" and kernels.softmax_shift is not None and z.shape[1] > 0:
            top, e = np.empty((len(z), 1), z.dtype), np.empty_like(z)
            kernels.softmax_shift(z, top, e)
            np.exp(e, out=e)
            s = np.empty_like(top)
            kernels.softmax_scale(e, s, z.dtype.type(0))
            return z, e, top + np.log(s)
        return z, self.activation.forward(z), None

    def backward(self, params, cache, dout, need_dx=True):
        _, z, a = cache[:3]
        return self.backward_z(params, cache, self.activation_backward(z, a, dout), need_dx)

    def _compiled_relu(self, kernel, a: np.ndarray, dout: np.ndarray) -> bool:
        """Whether a compiled ReLU' ``kernel`` (None without numba) can take these arrays."""
        return (
            self.activation.name == "relu"
            and kernel is not None
            and dout.dtype == a.dtype
            and dout.shape == a.shape
            and dout.flags.c_contiguous
            and a.flags.c_contiguous
        )

    def relu_backward_sum(self, a: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(dL/dZ, its column sums) of a ReLU layer on (rows, F) arrays in one compiled pass, the sums as NumPy's
        dz.sum(axis=0) adds them; None where that pass does not apply."""
        if dout.ndim != 2 or not self._compiled_relu(kernels.relu_backward_sum, a, dout):
            return None
        dz, db = np.empty_like(dout), np.empty(dout.shape[1], dtype=dout.dtype)
        kernels.relu_backward_sum(dout, a, dz, db, a.dtype.type(1), a.dtype.type(0))
        return dz, db

    def activation_backward(self, z: np.ndarray, a: np.ndarray, dout: np.ndarray) -> np.ndarray:
        """dL/dZ from dL/dA: g'(Z) dL/dA, ReLU's in one compiled pass where numba is there."""
        if self._compiled_relu(kernels.relu_backward, a, dout):
            out = np.empty_like(dout)
            kernels.relu_backward(dout.reshape(-1), a.reshape(-1), out.reshape(-1), a.dtype.type(1), a.dtype.type(0))
            return out
        return self.activation.backward(z, a, dout)

    def backward_z(self, params: Params, cache: Any, dz: np.ndarray, need_dx: bool = True):
        raise NotImplementedError
