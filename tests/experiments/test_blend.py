"""The blended update W <- (1 - alpha) W_new + alpha W_old: alpha = 0 is plain training, alpha = 1
leaves the loss flat, and every engine agrees step by step for alpha = 0.5 (float64, 1e-12 relative;
measured about 2e-16 for every optimizer)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from helpers.cli import bplab
from threadpoolctl import threadpool_limits

from backprop_lab.analysis.comparison import relative_difference
from backprop_lab.core.errors import BplabError
from backprop_lab.experiments.blend import parse_alphas
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import initial_weights, prepare, train_run


def test_alpha_zero_is_bit_identical_to_plain_training_and_alpha_one_never_moves(tmp_path):
    out = tmp_path / "blend"
    result = bplab(
        "blend",
        "--alphas",
        "0,1",
        "--data",
        "digits",
        "--model",
        "mlp:16",
        "--batch-size",
        "full",
        "--optimizer",
        "sgd",
        "--lr",
        "0.5",
        "--epochs",
        "4",
        "--quiet",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "step_loss.png").is_file() and (out / "curves.png").is_file()
    config = TrainConfig(optimizer="sgd", lr=0.5, epochs=4, batch_size=None)
    setup = prepare("digits", "mlp:16", config)
    with threadpool_limits(limits=1, user_api="blas"):  # as every run of a sweep
        plain = train_run(setup, "scratch")
    with np.load(out / "alpha=0.0" / "seed0" / "weights.npz") as w:
        assert all(np.array_equal(w[k], plain.weights[k]) for k in plain.weights)
    import json

    flat = json.loads((out / "alpha=1.0" / "seed0" / "history.json").read_text())["step_loss"]
    assert len(flat) == 4 and len(set(flat)) == 1  # full batch, weights never change: the same loss every step
    moving = json.loads((out / "alpha=0.0" / "seed0" / "history.json").read_text())["step_loss"]
    assert moving[-1] < moving[0]  # and without the blend it does train
    with np.load(out / "alpha=1.0" / "seed0" / "weights.npz") as w:
        start = initial_weights(setup.spec, config)
        assert all(np.array_equal(w[k], start[k]) for k in start)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_every_engine_agrees_per_step_with_alpha_one_half(optimizer):
    pytest.importorskip("tensorflow")
    config = TrainConfig(optimizer=optimizer, lr=0.01, alpha=0.5, epochs=2, batch_size=256, dtype="float64", l2=1e-4)
    setup = prepare("digits", "mlp:32,16", config)
    w0 = initial_weights(setup.spec, config)
    runs = {e: train_run(setup, e, weights=w0) for e in ("scratch", "tape", "fit")}
    ref = np.array(runs["scratch"].history.step_loss)
    for e in ("tape", "fit"):
        steps = np.array(runs[e].history.step_loss)
        assert len(steps) == len(ref) == 2 * setup.plan.steps_per_epoch
        assert np.max(np.abs(steps - ref) / np.abs(ref)) < 1e-12, e
        assert relative_difference(runs[e].weights, runs["scratch"].weights) < 1e-12, e
    plain = train_run(replace(setup, config=replace(config, alpha=0.0)), "scratch", weights=w0)
    assert relative_difference(plain.weights, runs["scratch"].weights) > 1e-3  # the blend changes the trajectory


@pytest.mark.parametrize(
    "text, fragment", [("0,2", "in [0, 1]"), ("a,b", "expected numbers"), ("0.5,0.5", "twice"), ("", "at least one")]
)
def test_bad_alphas_are_refused(text, fragment):
    with pytest.raises(BplabError) as info:
        parse_alphas(text)
    assert fragment in str(info.value)
