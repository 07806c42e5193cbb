"""The spec as a Keras model: weights go in and come out by flat key, its output is the spec's forward pass, the
summed squared error is Keras's loss of that name, and a state rolls back and refuses a checkpoint of another model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from backprop_lab.core.errors import BplabError  # noqa: E402
from backprop_lab.engines.keras.build import (  # noqa: E402
    KerasEngine,
    KerasState,
    SummedSquaredError,
    build_model,
    get_weights,
    keras_optimizer,
)
from backprop_lab.options.config import TrainConfig  # noqa: E402
from backprop_lab.spec.model import parse_model  # noqa: E402

SPEC = parse_model("mlp:3/act=tanh", (4,), 2)


def weights(seed=0, spec=SPEC):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in spec.param_shapes().items()}


def test_the_model_holds_the_weights_by_flat_key_in_the_configured_dtype():
    w = weights()
    model = build_model(SPEC, w, TrainConfig(dtype="float64"))
    assert [layer.name for layer in model.layers] == ["dense_0", "dense_1"]
    back = get_weights(model, SPEC)
    assert list(back) == ["dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"]
    assert all(back[k].dtype == np.float64 and np.array_equal(back[k], w[k]) for k in w)


def test_predict_is_the_specs_forward_pass():
    w = weights()
    x = np.random.default_rng(1).normal(size=(5, 4))
    hidden = np.tanh(x @ w["dense_0/kernel"] + w["dense_0/bias"])
    logits = hidden @ w["dense_1/kernel"] + w["dense_1/bias"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = KerasEngine().predict(SPEC, w, x, "float64")
    assert probs.dtype == np.float64 and np.allclose(probs, expected, atol=1e-12)


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_the_summed_squared_error_sums_over_outputs_and_averages_over_rows(factor):
    t = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([[0.5, 0.5], [0.2, 0.9], [1.0, 0.0]])
    loss = SummedSquaredError(factor, dtype="float64")
    assert float(loss(t, y)) == pytest.approx(factor * ((y - t) ** 2).sum(axis=1).mean())


def test_a_state_rolls_back_to_the_weights_saved_before_a_step():
    config = TrainConfig(optimizer="sgd", lr=0.1)
    w = weights()
    state = KerasState(SPEC, build_model(SPEC, w, config), keras_optimizer(config), config)
    state.save_backup()
    state.set_weights(weights(seed=5))
    assert not np.allclose(state.weights()["dense_0/kernel"], w["dense_0/kernel"])
    assert np.allclose(state.previous_weights()["dense_0/kernel"], w["dense_0/kernel"])
    state.rollback()
    assert all(np.allclose(state.weights()[k], w[k]) for k in w)


def test_a_checkpoint_of_another_model_is_refused_naming_the_variable():
    config = TrainConfig(optimizer="sgd", lr=0.1)
    state = KerasState(SPEC, build_model(SPEC, weights(), config), keras_optimizer(config), config)
    arrays, meta = state.export_state()
    assert meta == {"lr": 0.1} and arrays["model/0"].shape == (4, 3)
    other = parse_model("mlp:5", (4,), 2)
    bigger = KerasState(other, build_model(other, weights(spec=other), config), keras_optimizer(config), config)
    with pytest.raises(BplabError, match=r"^checkpoint: model/0 does not match this model's \S*dense_0/kernel$"):
        bigger.import_state(arrays, meta)
    state.import_state(arrays, {"lr": 0.02})
    assert float(state.optimizer.learning_rate) == pytest.approx(0.02)
