"""The scratch engine (engines/scratch/engine.py): a training state that steps, rolls back, and saves and restores itself."""

from __future__ import annotations

import numpy as np

from backprop_lab.engines.scratch.engine import ScratchEngine
from backprop_lab.engines.scratch.model import ScratchModel
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

SPEC = parse_model("mlp:6/dropout=0.3", (4,), 3)


def batch(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]


def test_start_copies_the_weights_and_a_step_moves_them_then_rollback_restores_them():
    config = TrainConfig(optimizer="adam", lr=0.01)
    w0 = init_weights(SPEC.param_shapes(), config.init, 0)
    keep = {k: v.copy() for k, v in w0.items()}
    state = ScratchEngine().start(SPEC, w0, config)
    result = state.step(*batch(0), 0.01)
    assert result.finite and np.isfinite(result.loss) and result.out.shape == (8, 3) and result.grad_norms is None
    assert all(np.array_equal(w0[k], keep[k]) for k in w0)  # the caller's weights are untouched
    assert all(np.array_equal(state.previous_weights()[k], keep[k]) for k in keep)
    assert all(not np.array_equal(state.weights()[k], keep[k]) for k in keep)
    state.rollback()
    assert all(np.array_equal(state.weights()[k], keep[k]) for k in keep)


def test_an_exported_state_continues_exactly_as_the_original():
    config = TrainConfig(optimizer="rmsprop", lr=0.01, seed=5)
    w0 = init_weights(SPEC.param_shapes(), config.init, 0)
    a = ScratchEngine().start(SPEC, w0, config)
    for seed in range(3):
        a.step(*batch(seed), 0.01)
    arrays, meta = a.export_state()
    assert meta["iterations"] == 3
    b = ScratchEngine().start(SPEC, w0, config)
    b.set_weights(a.weights())
    b.import_state(arrays, meta)
    a.step(*batch(9), 0.01)
    b.step(*batch(9), 0.01)  # the same dropout mask and optimizer slots
    assert all(np.array_equal(a.weights()[k], b.weights()[k]) for k in w0)


def test_gradients_and_predict_are_the_models_at_the_given_weights():
    config = TrainConfig(dtype="float64", l2=0.01)
    w = init_weights(SPEC.param_shapes(), config.init, 1, "float64")
    x, t = batch(2)
    labels = t.argmax(axis=1)
    value, grads = ScratchEngine().gradients(SPEC, w, x, labels, config)
    model = ScratchModel(SPEC)
    out, caches = model.forward(w, x.astype(float))
    loss = get_loss(config.loss)
    assert value == model.loss_value(w, caches, out, t.astype(float), loss, 0.01)
    want = model.backward(w, caches, out, t.astype(float), loss, 0.01)
    assert list(grads) == list(want) and all(np.array_equal(grads[k], want[k]) for k in want)
    predicted = ScratchEngine().predict(SPEC, w, x, "float64")
    assert predicted.dtype == np.float64 and np.array_equal(predicted, out)
    assert ScratchEngine().predict(SPEC, w, x).dtype == np.float32
