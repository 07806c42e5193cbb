"""Optimizers with Keras 3's update rules and defaults (``keras/src/optimizers``).

Each optimizer splits state creation (``build``) from the per-variable update
(``update_step``). State is an explicit dict passed in and returned; the
parameter arrays are updated in place.

- sgd:       W -= lr g
- momentum:  v = mu v - lr g;  W += v                          (Keras SGD(momentum=mu))
- nesterov:  v = mu v - lr g;  W += mu v - lr g                (Keras SGD(momentum=mu, nesterov=True))
- rmsprop:   s = rho s + (1 - rho) g^2;  W -= lr g / sqrt(s + eps)
- adam:      m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v);
             W -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

The learning-rate schedule and the blended update W <- (1 - alpha) W_new + alpha W_old
belong to the training loop (``training/loop.py``), the same for every engine.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from backprop_lab.core import names
from backprop_lab.engines.scratch import kernels
from backprop_lab.options.config import TrainConfig

State = dict[str, dict[str, np.ndarray] | int]


class Optimizer:
    slots: tuple[str, ...] = ()

    def build(self, weights: dict[str, np.ndarray]) -> State:
        state: State = {slot: {k: np.zeros_like(w) for k, w in weights.items()} for slot in self.slots}
        state["iterations"] = 0
        return state

    def update_step(self, w: np.ndarray, g: np.ndarray, slots: dict[str, np.ndarray], lr: float, t: int) -> None:
        raise NotImplementedError

    def apply_keeping(
        self,
        weights: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        state: State,
        lr: float,
        old: dict[str, np.ndarray],
    ) -> bool:
        """:meth:`apply`, with the weights before it copied into ``old``; True when every updated weight is finite."""
        for key in grads:
            np.copyto(old[key], weights[key])
        self.apply(weights, grads, state, lr)
        return all(np.isfinite(weights[key]).all() for key in grads)

    def buffers(self, like: np.ndarray, count: int) -> list[np.ndarray]:
        """``count`` scratch arrays shaped like ``like``, kept across steps (variables of one shape share them:
        updates run one variable at a time)."""
        cache = self.__dict__.setdefault("_buffers", {})
        key = (like.shape, like.dtype.str)
        if len(cache.get(key, ())) < count:
            cache[key] = [np.empty_like(like) for _ in range(count)]
        return cache[key][:count]

    def apply(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: State, lr: float) -> State:
        lr = keras_scalar(lr)  # Keras keeps the learning rate in a float32 variable, whatever the model's dtype
        t = int(state["iterations"]) + 1
        for key, g in grads.items():
            self.update_step(weights[key], g, {s: state[s][key] for s in self.slots}, lr, t)
        state["iterations"] = t
        return state


def keras_scalar(value: float) -> float:
    """A hyper-parameter as Keras 3 hands it to an update: through float32 (``ops.cast`` of a Python
    float, or a float32 variable), then cast to the variable's dtype. Only float64 models notice."""
    return float(np.float32(value))


class SGD(Optimizer):
    def __init__(self, momentum: float = 0.0, nesterov: bool = False):
        self.momentum, self.nesterov = momentum, nesterov
        self.slots = ("velocity",) if momentum else ()

    def update_step(self, w, g, slots, lr, t):
        if not self.momentum:
            w -= lr * g
            return
        v = slots["velocity"]
        mu = keras_scalar(self.momentum)
        v *= mu
        v -= lr * g
        if self.nesterov:
            w += mu * v - lr * g
        else:
            w += v


class RMSprop(Optimizer):
    slots = ("velocity",)

    def __init__(self, rho: float = 0.9, epsilon: float = 1e-7):
        self.rho, self.epsilon = rho, epsilon

    def update_step(self, w, g, slots, lr, t):
        s = slots["velocity"]
        s *= self.rho
        s += (1 - self.rho) * g * g
        w -= lr * g / np.sqrt(s + self.epsilon)


class Adam(Optimizer):
    slots = ("m", "v")

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7, compiled: bool = True):
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.compiled = compiled and kernels.adam_update_keep is not None  # one fused pass (kernels.py)

    def _constants(self, dtype: np.dtype) -> tuple:
        """(1, b1, b2, 1 - b1, 1 - b2, eps) in ``dtype``, as the NumPy path casts them; made once per dtype."""
        cache = self.__dict__.setdefault("_by_dtype", {})
        if dtype not in cache:
            f = dtype.type
            cache[dtype] = (
                f(1),
                f(keras_scalar(self.beta_1)),
                f(keras_scalar(self.beta_2)),
                f(1 - self.beta_1),
                f(1 - self.beta_2),
                f(self.epsilon),
            )
        return cache[dtype]

    def _alpha(self, w, lr, t):
        # In the variable's dtype, as Keras computes it: in float32, 0.999 ** t is not 0.999 ** t in float64.
        f = w.dtype.type
        one, b1, b2 = self._constants(w.dtype)[:3]
        return f(lr) * np.sqrt(one - b2 ** f(t)) / (one - b1 ** f(t))

    def _fused(self, w, g, m, v, *more) -> bool:
        return self.compiled and g.dtype == w.dtype and all(a.flags.c_contiguous for a in (w, g, m, v, *more))

    def _kernel_scalars(self, w, lr, t):
        """The kernel's scalars, in the variable's dtype exactly as NumPy casts them in the NumPy path."""
        c1, c2, eps = self._constants(w.dtype)[3:]
        return c1, c2, self._alpha(w, lr, t), eps

    def apply_keeping(self, weights, grads, state, lr, old) -> bool:
        """One fused pass per variable (kernels.adam_update_keep): keep, update, check."""
        if not self.compiled:
            return super().apply_keeping(weights, grads, state, lr, old)
        lr = keras_scalar(lr)
        t = int(state["iterations"]) + 1
        finite = True
        scalars = {}  # per dtype: the same for every variable of the step
        ms, vs = state["m"], state["v"]
        flat = self.__dict__.setdefault("_flat", {})
        for key, g in grads.items():
            w, m, v, before = weights[key], ms[key], vs[key], old[key]
            views = flat.get(key)
            if views is None or views[0] is not w or views[1] is not m or views[2] is not v or views[3] is not before:
                views = flat[key] = self._flat_views(w, m, v, before)
            if views[4] is not None and g.dtype == w.dtype and g.flags.c_contiguous:
                if w.dtype not in scalars:
                    scalars[w.dtype] = self._kernel_scalars(w, lr, t)
                finite &= kernels.adam_update_keep(
                    views[4], g.reshape(-1), views[5], views[6], views[7], *scalars[w.dtype]
                )
            else:
                np.copyto(before, w)
                self.update_step(w, g, {"m": m, "v": v}, lr, t)
                finite &= bool(np.isfinite(w).all())
        state["iterations"] = t
        return bool(finite)

    def _flat_views(self, w, m, v, before) -> tuple:
        """(w, m, v, before, then their flat views for the kernel, or None where it cannot take them): built once
        per variable and kept while the same arrays come back, so a step does not re-check and re-view them."""
        if not self._fused(w, w, m, v, before):
            return w, m, v, before, None, None, None, None
        return w, m, v, before, w.reshape(-1), m.reshape(-1), v.reshape(-1), before.reshape(-1)

    def update_step(self, w, g, slots, lr, t):
        m, v = slots["m"], slots["v"]
        if self._fused(w, g, m, v):
            old = self.buffers(w, 1)[0]  # the kept weights are not needed here
            kernels.adam_update_keep(
                w.reshape(-1),
                g.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                old.reshape(-1),
                *self._kernel_scalars(w, lr, t),
            )
            return
        alpha = self._alpha(w, lr, t)
        # Keras's three lines, operation by operation in the same order (so bit for bit the same),
        # written into two reused buffers instead of seven fresh temporaries:
        #   m += (g - m) * (1 - b1);  v += (g * g - v) * (1 - b2);  w -= (m * alpha) / (sqrt(v) + eps)
        a, b = self.buffers(w, 2)
        np.subtract(g, m, out=a)
        a *= 1 - self.beta_1
        m += a
        np.multiply(g, g, out=a)
        a -= v
        a *= 1 - self.beta_2
        v += a
        np.sqrt(v, out=a)
        a += self.epsilon
        np.multiply(m, alpha, out=b)
        b /= a
        w -= b


# Each optimizer name (``backprop_lab.core.names.OPTIMIZERS``) and how to make it from a TrainConfig.
OPTIMIZERS: dict[str, Callable[[TrainConfig], Optimizer]] = names.OPTIMIZERS.table(
    {
        "sgd": lambda c: SGD(),
        "momentum": lambda c: SGD(c.momentum),
        "nesterov": lambda c: SGD(c.momentum, nesterov=True),
        "rmsprop": lambda c: RMSprop(c.rho, c.epsilon),
        "adam": lambda c: Adam(c.beta_1, c.beta_2, c.epsilon),
    },
    "scratch.optimizers",
)


def make_optimizer(config: TrainConfig) -> Optimizer:
    return names.OPTIMIZERS.get(OPTIMIZERS, config.optimizer, "--optimizer")(config)
