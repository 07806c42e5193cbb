"""Dense: Z = X W + b, A = g(Z).  Backward: dW = X^T dZ, db = sum_rows dZ, dX = dZ W^T.
The cache: (X, Z, A, the log-sum-exp of softmax's compiled path or None)."""

from __future__ import annotations

from .base import AffineLayer


class DenseLayer(AffineLayer):
    def forward(self, params, x, training, rng):
        z, a, lse = self.activate(x @ params["kernel"], params["bias"])
        return a, (x, z, a, lse)

    def backward_z(self, params, cache, dz, need_dx=True):
        x = cache[0]
        grads = {"kernel": x.T @ dz, "bias": dz.sum(axis=0)}
        return (dz @ params["kernel"].T if need_dx else None), grads
