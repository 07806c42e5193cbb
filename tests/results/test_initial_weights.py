"""`bl.model(...).initial_weights(seed=...)` and `bplab summary --weights-out` give the weights the engines
start from: checked against what training with alpha = 1 (the blended update that never moves a weight) ends with,
in the NumPy engine and in TensorFlow's."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.cli import bplab

import backprop_lab as bl


def test_initial_weights_are_where_training_starts(tmp_path):
    start = bl.model("mlp:8", data="digits").initial_weights(seed=3, init="glorot_uniform")
    run = bl.train(
        engine="scratch", data="digits", model="mlp:8", epochs=1, seed=3, init="glorot_uniform", alpha=1.0, quiet=True,
        out=tmp_path / "run",
    )  # fmt: skip
    assert set(start) == set(run.weights)
    for key in start:
        np.testing.assert_array_equal(start[key], run.weights[key], err_msg=key)
    assert start["dense_0/kernel"].shape == (64, 8) and not start["dense_0/bias"].any()


def test_initial_weights_depend_on_the_seed_and_refuse_a_bad_init():
    net = bl.model("mlp:8", data="digits")
    assert not np.array_equal(
        net.initial_weights(seed=0)["dense_0/kernel"], net.initial_weights(seed=1)["dense_0/kernel"]
    )
    with pytest.raises(bl.BplabError, match="init"):
        net.initial_weights(init="he_norma")


def test_summary_weights_out_writes_the_starting_weights(tmp_path):
    path = tmp_path / "start.npz"
    result = bplab("summary", "mlp:8", "--data", "digits", "--seed", "3", "--weights-out", path)
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    with np.load(path, allow_pickle=False) as saved:
        expected = bl.model("mlp:8", data="digits").initial_weights(seed=3)
        assert set(saved.files) == set(expected)
        for key in expected:
            np.testing.assert_array_equal(saved[key], expected[key])
    again = bplab("summary", "mlp:8", "--data", "digits", "--weights-out", path)
    assert again.returncode == 2 and "file exists" in again.stderr and "Traceback" not in again.stderr
    wrong = bplab("summary", "mlp:8", "--data", "digits", "--weights-out", tmp_path / "start.txt")
    assert wrong.returncode == 2 and "must end in .npz" in wrong.stderr and "Traceback" not in wrong.stderr
