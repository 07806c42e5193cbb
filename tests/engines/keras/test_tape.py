"""The tape engine: its gradients (L2 included) are the scratch engine's, and one SGD step moves each weight by
the learning rate times its gradient, eagerly or compiled."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from backprop_lab.engines.keras.tape import TapeEngine  # noqa: E402
from backprop_lab.engines.registry import get_engine  # noqa: E402
from backprop_lab.numerics.metrics import targets  # noqa: E402
from backprop_lab.options.config import TrainConfig  # noqa: E402
from backprop_lab.spec.model import parse_model  # noqa: E402

SPEC = parse_model("mlp:3", (4,), 3)
CONFIG = TrainConfig(optimizer="sgd", lr=0.5, l2=0.01, dtype="float64")
RNG = np.random.default_rng(0)
W = {k: RNG.normal(size=s) for k, s in SPEC.param_shapes().items()}
X, Y = RNG.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])


def test_the_gradients_with_l2_are_the_scratch_engines():
    loss, grads = TapeEngine().gradients(SPEC, W, X, Y, CONFIG)
    loss_s, grads_s = get_engine("scratch").gradients(SPEC, W, X, Y, CONFIG)
    assert loss == pytest.approx(loss_s, rel=1e-10)
    assert set(grads) == set(W) and all(np.allclose(grads[k], grads_s[k], rtol=1e-9, atol=1e-12) for k in W)


@pytest.mark.parametrize("eager", [True, False])
def test_one_sgd_step_moves_each_weight_by_the_rate_times_its_gradient(eager):
    loss, grads = TapeEngine().gradients(SPEC, W, X, Y, CONFIG, training=True)
    state = TapeEngine(eager=eager).start(SPEC, W, CONFIG)
    result = state.step(X.astype("float64"), targets(SPEC, Y, "float64"), 0.5)
    assert result.finite and result.loss == pytest.approx(loss, rel=1e-10) and result.out.shape == (6, 3)
    after = state.weights()
    assert all(np.allclose(after[k], W[k] - 0.5 * grads[k], atol=1e-12) for k in W)
    assert all(np.allclose(state.previous_weights()[k], W[k]) for k in W)
