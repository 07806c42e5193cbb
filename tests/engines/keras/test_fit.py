"""The fit engine: a float64 model is compiled in float64 and the default floatx restored; its gradients through
Keras's compiled loss, and a step through Keras's train function, are the tape engine's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from backprop_lab.engines.keras.build import build_model  # noqa: E402
from backprop_lab.engines.keras.fit import FitEngine, compile_model  # noqa: E402
from backprop_lab.engines.keras.tape import TapeEngine  # noqa: E402
from backprop_lab.numerics.metrics import targets  # noqa: E402
from backprop_lab.options.config import TrainConfig  # noqa: E402
from backprop_lab.spec.model import parse_model  # noqa: E402

SPEC = parse_model("mlp:3", (4,), 3)
CONFIG = TrainConfig(optimizer="sgd", lr=0.5, l2=0.01, dtype="float64", loss="categorical_crossentropy")
RNG = np.random.default_rng(0)
W = {k: RNG.normal(size=s) for k, s in SPEC.param_shapes().items()}
X, Y = RNG.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])


def test_a_float64_model_is_compiled_in_float64_and_floatx_restored():
    before = keras.config.floatx()
    model = build_model(SPEC, W, CONFIG)
    compile_model(model, CONFIG)
    assert keras.config.floatx() == before
    loss = model.compute_loss(x=X, y=targets(SPEC, Y, "float64"), y_pred=model(X), training=True)
    assert loss.dtype == "float64"


def test_the_gradients_through_the_compiled_loss_are_the_tape_engines():
    loss, grads = FitEngine().gradients(SPEC, W, X, Y, CONFIG)
    loss_t, grads_t = TapeEngine().gradients(SPEC, W, X, Y, CONFIG)
    assert loss == pytest.approx(loss_t, rel=1e-10)
    assert all(np.allclose(grads[k], grads_t[k], rtol=1e-9, atol=1e-12) for k in W)


def test_a_step_through_keras_train_function_is_the_tape_engines_step():
    t = targets(SPEC, Y, "float64")
    fit, tape = FitEngine().start(SPEC, W, CONFIG), TapeEngine().start(SPEC, W, CONFIG)
    a, b = fit.step(X, t, 0.5), tape.step(X, t, 0.5)
    assert a.finite and a.loss == pytest.approx(b.loss, rel=1e-10) and np.allclose(a.out, b.out)
    assert all(np.allclose(fit.weights()[k], tape.weights()[k], atol=1e-12) for k in W)
    assert all(np.allclose(fit.previous_weights()[k], W[k]) for k in W)
