"""The scratch engine computes with denormals flushed to zero, as TensorFlow does, and only inside its own calls."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.engines.scratch import denormals
from backprop_lab.engines.scratch.engine import ScratchEngine, ScratchState
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

TINY = np.float32(1e-39)  # below float32's smallest normal number (1.18e-38): a denormal

pytestmark = pytest.mark.skipif(not denormals.available(), reason="needs numba on x86-64")


def test_flushed_flushes_inside_and_restores_the_mode_after():
    assert TINY * np.float32(0.5) > 0  # NumPy's default: the denormal is kept
    with denormals.flushed():
        assert TINY * np.float32(0.5) == 0  # flush-to-zero: a denormal result is 0
        assert np.float32(1e-30) * np.float32(1e-10) == 0  # from normal inputs too
        assert TINY + np.float32(0) == 0  # denormals-are-zero: a denormal input reads as 0
    assert TINY * np.float32(0.5) > 0
    with pytest.raises(ZeroDivisionError):
        with denormals.flushed():
            _ = 1 / 0
    assert TINY * np.float32(0.5) > 0  # restored when the block raises


def test_a_training_step_stores_adams_velocity_as_keras_does():
    """A gradient of ~1e-20 squares to ~1e-40: Keras (TensorFlow flushes it) stores a velocity of 0, and so must we."""
    keras = pytest.importorskip("keras")
    spec = parse_model("mlp:3", (4,), 2)
    config = TrainConfig(optimizer="adam", lr=1e-3, seed=0)
    before = init_weights(spec.param_shapes(), "glorot_uniform", 0, "float32")
    x = np.array([[1e-20, 1.0, 0.5, -0.5], [2e-20, -1.0, 0.25, 1.0]], np.float32)  # feature 0 is tiny
    y = np.array([0, 1])
    _, grads = ScratchEngine().gradients(spec, before, x, y, config)
    g = grads["dense_0/kernel"]
    assert 0 < np.abs(g[0]).max() < 1e-18  # the tiny feature's row of the gradient: its square is a denormal
    state = ScratchState(spec, before, config)
    state.step(x, np.eye(2, dtype=np.float32)[y], 1e-3)
    ours = state.slots["v"]["dense_0/kernel"]
    assert np.all(ours[0] == 0) and np.all(ours[1:] > 0)
    opt = keras.optimizers.Adam(1e-3)
    var = keras.Variable(before["dense_0/kernel"])
    opt.apply([g], [var])
    theirs = next(np.asarray(v) for v in opt.variables if "velocity" in v.path)
    np.testing.assert_array_equal(ours, theirs)
    assert TINY * np.float32(0.5) > 0  # the step left the caller's mode as it was
