"""The whole derived forward and backward pass of random networks (maths/equations.py, interpreted) against
TensorFlow autograd: the loss and every parameter's gradient, float64, relative error < 1e-7."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.networks import NETWORKS

from backprop_lab.analysis.derivation_check import dropout_masks, rel
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from maths.tf_reference import tf_loss_and_grads

TOL = 1e-7


@pytest.mark.parametrize("model, shape, loss, l2", NETWORKS)
def test_the_whole_derived_backward_pass_matches_tensorflow(model, shape, loss, l2):
    spec = parse_model(model, shape, 3)
    d = derive(spec, TrainConfig(loss=loss, l2=l2, dtype="float64"))
    rng = np.random.default_rng(7)
    weights = {k: 0.5 * rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    x = rng.standard_normal((5, *shape))
    y = np.eye(3)[rng.integers(0, 3, 5)]
    masks = dropout_masks(d, 5, 3)
    env = d.evaluate(weights, x, y, masks)
    value, grads = tf_loss_and_grads(spec, loss, l2, weights, x, y, list(masks.values()))
    assert float(env["loss"]) == pytest.approx(value, rel=1e-12)
    derived = d.gradients(env)
    for key, g in grads.items():
        assert rel(derived[key], g) < TOL, key
