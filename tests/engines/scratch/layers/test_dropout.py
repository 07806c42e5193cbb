"""The scratch Dropout layer (engines/scratch/layers/dropout.py): inverted dropout from the generator passed in."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.engines.scratch.layers.dropout import DropoutLayer
from backprop_lab.spec.model import Dropout, ModelSpec


def dropout(rate: float) -> DropoutLayer:
    return DropoutLayer(ModelSpec((50,), (Dropout(rate),)).infos[0])


def test_training_keeps_about_one_minus_rate_of_the_units_scaled_up():
    x = np.ones((400, 50), dtype=np.float32)
    out, mask = dropout(0.25).forward({}, x, True, np.random.default_rng(0))
    kept = out != 0
    assert out.dtype == np.float32 and set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs(kept.mean() - 0.75) < 0.01  # 20 000 draws: 0.75 +- 0.003 (1 sigma)
    assert abs(out.mean() - 1) < 0.02  # the scaling keeps the expected activation
    dout = np.random.default_rng(1).standard_normal(x.shape)
    dx, grads = dropout(0.25).backward({}, mask, dout)
    assert (
        grads == {} and np.array_equal(dx[~kept], np.zeros((~kept).sum())) and np.allclose(dx[kept], dout[kept] / 0.75)
    )


def test_the_mask_comes_from_the_generator():
    x = np.ones((3, 50))
    a = dropout(0.5).forward({}, x, True, np.random.default_rng(7))[0]
    b = dropout(0.5).forward({}, x, True, np.random.default_rng(7))[0]
    c = dropout(0.5).forward({}, x, True, np.random.default_rng(8))[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("rate, training", [(0.5, False), (0.0, True)])
def test_inference_or_rate_zero_is_the_identity(rate, training):
    x = np.random.default_rng(2).standard_normal((4, 50))
    out, cache = dropout(rate).forward({}, x, training, None)
    assert out is x and cache is None
    dout = np.ones_like(x)
    assert dropout(rate).backward({}, cache, dout)[0] is dout


def test_training_without_a_generator_names_the_layer():
    with pytest.raises(ValueError, match="dropout_0: training with dropout needs a random generator"):
        dropout(0.5).forward({}, np.ones((2, 50)), True, None)
