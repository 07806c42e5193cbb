"""The scratch engine's activations: forward values equal the declared rules' (maths/rules.py), each backward is
the gradient of its forward (central finite differences, float64), and sigmoid and softmax stay finite and keep
float32 at extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.maths import rules
from backprop_lab.maths.expr import Sym, evaluate
from backprop_lab.numerics.activations import ACTIVATIONS

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_forward_equals_the_declared_rule(name):
    z = 3 * RNG.standard_normal((4, 5))
    rule = rules.ACTIVATIONS[name].forward(Sym("Z", "Z", (4, 5)))
    np.testing.assert_allclose(ACTIVATIONS[name].forward(z), evaluate(rule, {"Z": z}), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backward_is_the_gradient_of_the_forward(name):
    act = ACTIVATIONS[name]
    z = RNG.standard_normal((3, 4))
    z[np.abs(z) < 0.05] += 0.1  # away from relu's kink
    da = RNG.standard_normal((3, 4))
    numeric = np.zeros_like(z)
    eps = 1e-6
    for ix in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[ix] += eps
        down[ix] -= eps
        numeric[ix] = (np.sum(da * act.forward(up)) - np.sum(da * act.forward(down))) / (2 * eps)
    np.testing.assert_allclose(act.backward(z, act.forward(z), da), numeric, rtol=1e-6, atol=1e-8)


def test_sigmoid_and_softmax_stay_finite_and_keep_float32_at_extreme_inputs():
    z = np.array([[-1000.0, -2.0, 0.0, 3.0, 1000.0]], np.float32)
    with np.errstate(over="raise", invalid="raise"):
        sig = ACTIVATIONS["sigmoid"].forward(z)
        soft = ACTIVATIONS["softmax"].forward(z)
    assert sig.dtype == soft.dtype == np.float32
    assert sig[0, 0] == 0.0 and sig[0, 2] == 0.5 and sig[0, 4] == 1.0
    assert soft.sum() == pytest.approx(1.0) and soft[0, 4] == 1.0
