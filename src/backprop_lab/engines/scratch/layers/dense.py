"""Dense: Z = X W + b, A = g(Z).  Backward: dW = X^T dZ, db = sum_rows dZ, dX = dZ W^T.
The cache: (X, Z, A, the log-sum-exp of softmax's compiled path or None)."""

from __future__ import annotations

from backprop_lab.engines.scratch.layers.base import AffineLayer


class DenseLayer(AffineLayer):
    def forward(self, params, x, training, rng):
        z, a, lse = self.activate(x @ params["kernel"], params["bias"])
        return a, (x, z, a, lse)

    def backward(self, params, cache, dout, need_dx=True):
        """A ReLU layer's bias gradient (dZ's column sums) comes from the pass that computes ReLU'."""
        if (fused := self.relu_backward_sum(cache[2], dout)) is None:
            return super().backward(params, cache, dout, need_dx)
        return self.backward_z(params, cache, fused[0], need_dx, bias_grad=fused[1])

    def backward_z(self, params, cache, dz, need_dx=True, bias_grad=None):
        """``bias_grad``: dz.sum(axis=0) where the caller already has it (``backward``)."""
        x = cache[0]
        grads = {"kernel": x.T @ dz, "bias": dz.sum(axis=0) if bias_grad is None else bias_grad}
        return (dz @ params["kernel"].T if need_dx else None), grads
