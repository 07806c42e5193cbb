"""The one training loop: one NaN policy for every engine, and our fit equals stock Keras fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.cli import bplab

from backprop_lab.analysis.comparison import relative_difference
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import initial_weights, prepare, train_run

pytest.importorskip("tensorflow")


def test_a_forced_divergence_stops_every_engine_at_the_same_step_with_the_same_weights():
    config = TrainConfig(optimizer="sgd", lr=3.0, loss="mse", epochs=3, batch_size=64, dtype="float64")
    setup = prepare("digits", "mlp:32/act=linear/out=linear", config)
    w0 = initial_weights(setup.spec, config)
    runs = {e: train_run(setup, e, weights=w0) for e in ("scratch", "tape", "fit")}
    stops = {e: r.history.stop for e, r in runs.items()}
    assert all(s is not None for s in stops.values()), stops
    steps = {e: s.step for e, s in stops.items()}
    assert len(set(steps.values())) == 1 and steps["scratch"] > 1, steps
    for e, run in runs.items():
        assert len(run.history.step_loss) == steps[e]  # the step that diverged is not recorded
        assert not np.isfinite(stops[e].value) or "weights became" in stops[e].message  # the value is reported
        assert "try a lower learning rate" in run.history.stopped and f"step {steps[e]}" in run.history.stopped
        assert all(np.isfinite(w).all() for w in run.weights.values())
    assert relative_difference(runs["tape"].weights, runs["scratch"].weights) < 1e-9
    assert relative_difference(runs["fit"].weights, runs["scratch"].weights) < 1e-9


def test_the_kept_weights_are_the_weights_after_the_last_good_step():
    config = TrainConfig(optimizer="sgd", lr=3.0, loss="mse", epochs=3, batch_size=64, dtype="float64")
    setup = prepare("digits", "mlp:32/act=linear/out=linear", config)
    w0 = initial_weights(setup.spec, config)
    stopped = train_run(setup, "scratch", weights=w0)
    good = stopped.history.stop.step
    # the same plan, cut to exactly the good steps
    from backprop_lab.engines.registry import get_engine
    from backprop_lab.training import learning_rate, targets

    state = get_engine("scratch").start(setup.spec, w0, config)
    for step in range(good):
        idx = setup.plan.epoch(step // setup.plan.steps_per_epoch)[step % setup.plan.steps_per_epoch]
        state.step(
            setup.dataset.x_train[idx],
            targets(setup.spec, setup.dataset.y_train[idx], "float64"),
            learning_rate(config, step, setup.plan.steps_per_epoch),
        )
    assert all(np.array_equal(state.weights()[k], stopped.weights[k]) for k in w0)


def test_a_diverged_run_folder_records_that_it_stopped_and_why(tmp_path):
    result = bplab(
        "train",
        "--data",
        "digits",
        "--model",
        "mlp:32/act=linear/out=linear",
        "--loss",
        "mse",
        "--optimizer",
        "sgd",
        "--lr",
        "3",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--quiet",
        "--out",
        tmp_path / "run",
    )
    assert result.returncode == 0, result.stderr
    assert "training stopped at step" in result.stdout
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["stop"]["step"] == len(history["step_loss"]) and "lower learning rate" in history["stop"]["message"]
    with np.load(tmp_path / "run" / "weights.npz") as w:
        assert all(np.isfinite(w[k]).all() for k in w.files)


@pytest.mark.parametrize("optimizer, l2, batch_size", [("adam", 0.0, 64), ("sgd", 1e-3, 100)])
def test_our_fit_is_bit_identical_to_stock_keras_fit(optimizer, l2, batch_size):
    """Stock Keras: a Sequential built, compiled and fitted with Keras's own code only, fed the same
    initial weights and the same batches in the same order."""
    import keras
    import tensorflow as tf

    config = TrainConfig(optimizer=optimizer, lr=0.01, epochs=2, batch_size=batch_size, l2=l2, seed=4)
    setup = prepare("digits", "mlp:32,16", config)
    w0 = initial_weights(setup.spec, config)
    ours = train_run(setup, "fit", weights=w0).weights

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    reg = keras.regularizers.L2(l2) if l2 else None
    stock = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, "relu", kernel_regularizer=reg),
            keras.layers.Dense(16, "relu", kernel_regularizer=reg),
            keras.layers.Dense(10, "softmax", kernel_regularizer=reg),
        ]
    )
    dense = stock.layers[1:]
    for i, layer in enumerate(dense):
        layer.set_weights([w0[f"dense_{i}/kernel"], w0[f"dense_{i}/bias"]])
    opt = keras.optimizers.Adam(0.01) if optimizer == "adam" else keras.optimizers.SGD(0.01)
    stock.compile(optimizer=opt, loss=keras.losses.CategoricalCrossentropy())
    x, y = setup.dataset.x_train.astype("float32"), keras.utils.to_categorical(setup.dataset.y_train, 10)
    plan = setup.plan
    # batches never straddle an epoch: each epoch is batched on its own
    data = None
    for e in range(config.epochs):
        part = tf.data.Dataset.from_tensor_slices((x[plan.order(e)], y[plan.order(e)])).batch(plan.size)
        data = part if data is None else data.concatenate(part)
    stock.fit(data, epochs=config.epochs, steps_per_epoch=plan.steps_per_epoch, shuffle=False, verbose=0)
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        assert np.array_equal(kernel, ours[f"dense_{i}/kernel"]), f"dense_{i}/kernel"
        assert np.array_equal(bias, ours[f"dense_{i}/bias"]), f"dense_{i}/bias"
    assert relative_difference(ours, w0) > 1e-3  # it trained


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
