import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import initial_weights, prepare, train_run


def test_mlp64_reaches_95_percent_on_digits():
    setup = prepare("digits", "mlp:64", TrainConfig(epochs=20, batch_size=32))
    run = train_run(setup, "scratch")
    assert run.test.accuracy >= 0.95
    assert len(run.history.epochs) == 20 and len(run.history.step_loss) == 20 * 45
    assert run.history.epochs[-1].train_loss < run.history.epochs[0].train_loss


def test_full_batch_float64_and_sgd():
    setup = prepare(
        "digits", "mlp:32", TrainConfig(optimizer="sgd", lr=0.5, epochs=30, batch_size=None, dtype="float64")
    )
    run = train_run(setup, "scratch")
    assert len(run.history.step_loss) == 30
    assert run.weights["dense_0/kernel"].dtype == np.float64
    assert run.test.accuracy > 0.8


def test_training_is_reproducible_and_does_not_touch_the_initial_weights():
    setup = prepare("digits", "mlp:16/dropout=0.2", TrainConfig(epochs=2))
    start = initial_weights(setup.spec, setup.config)
    copy = {k: v.copy() for k, v in start.items()}
    a = train_run(setup, "scratch", weights=start)
    b = train_run(setup, "scratch", weights=start)
    assert all(np.array_equal(start[k], copy[k]) for k in start)
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in start)


def test_divergence_stops_with_a_message_and_finite_weights():
    setup = prepare(
        "digits", "mlp:32/act=linear/out=linear", TrainConfig(optimizer="sgd", lr=5.0, loss="mse", epochs=3)
    )
    run = train_run(setup, "scratch")
    assert run.history.stopped and "try a lower learning rate" in run.history.stopped
    assert "step" in run.history.stopped
    assert all(np.isfinite(w).all() for w in run.weights.values())


def test_loss_must_fit_the_output():
    with pytest.raises(BplabError, match="needs a sigmoid output"):
        prepare("digits", "mlp:8", TrainConfig(loss="binary_crossentropy"))
