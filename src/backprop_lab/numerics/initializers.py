"""Weight initialisers with Keras 3's formulas under Keras's names.

Kernels are ``(in, out)`` for Dense and ``HWIO`` for Conv2D; fans follow
``keras.src.initializers.random_initializers.compute_fans``. Keras's normal
variance-scaling initialisers draw from a normal truncated at two standard
deviations, with the standard deviation divided by 0.8796... so that the
truncated distribution keeps the intended variance; so do these.
``small_normal`` (0.01 * N(0, 1), the common textbook choice) has no Keras
namesake. Biases start at zero, as in Keras.
"""

from __future__ import annotations

import math

import numpy as np

from backprop_lab.core import names

TRUNC_STD_CORRECTION = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_normal(rng: np.random.Generator, shape, stddev: float) -> np.ndarray:
    """N(0, stddev^2) redrawn until every value lies within two standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


def _variance_scaling(rng, shape, scale: float, mode: str, distribution: str) -> np.ndarray:
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    scale /= max(1.0, n)
    if distribution == "truncated_normal":
        return truncated_normal(rng, shape, math.sqrt(scale) / TRUNC_STD_CORRECTION)
    limit = math.sqrt(3.0 * scale)
    return rng.uniform(-limit, limit, size=shape)


INITIALIZERS = names.INITIALIZERS.table(
    {
        "zeros": lambda rng, shape: np.zeros(shape),
        "small_normal": lambda rng, shape: 0.01 * rng.standard_normal(shape),
        "glorot_uniform": lambda rng, shape: _variance_scaling(rng, shape, 1.0, "fan_avg", "uniform"),
        "glorot_normal": lambda rng, shape: _variance_scaling(rng, shape, 1.0, "fan_avg", "truncated_normal"),
        "he_normal": lambda rng, shape: _variance_scaling(rng, shape, 2.0, "fan_in", "truncated_normal"),
        "he_uniform": lambda rng, shape: _variance_scaling(rng, shape, 2.0, "fan_in", "uniform"),
    },
    "numerics.initializers",
)


def initialize(name: str, rng: np.random.Generator, shape: tuple[int, ...], dtype="float32") -> np.ndarray:
    return names.INITIALIZERS.get(INITIALIZERS, name)(rng, tuple(shape)).astype(dtype)


def init_weights(
    param_shapes: dict[str, tuple[int, ...]], init: str, seed: int, dtype="float32"
) -> dict[str, np.ndarray]:
    """Initial weights for every engine: kernels by ``init``, biases zero, one seeded generator."""
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in param_shapes.items():
        if key.endswith("/bias"):
            weights[key] = np.zeros(shape, dtype=dtype)
        else:
            weights[key] = initialize(init, rng, shape, dtype)
    return weights
