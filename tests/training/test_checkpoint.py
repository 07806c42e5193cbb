"""Checkpoints (training/checkpoint.py): written in the background, read back checked against the model, metrics per epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.spec.model import parse_model
from backprop_lab.training.checkpoint import (
    CHECKPOINT,
    METRICS,
    Checkpointer,
    checkpoint_arrays,
    read_checkpoint,
    write_checkpoint,
)
from backprop_lab.training.history import EpochRecord, History

SPEC = parse_model("mlp:3", (4,), 2)


def weights():
    return {k: np.full(shape, 0.5, np.float32) for k, shape in SPEC.param_shapes().items()}


def test_a_checkpoint_round_trips_and_holds_copies(tmp_path):
    w, state = weights(), {"m/dense_0/kernel": np.ones((4, 3))}
    arrays = checkpoint_arrays(w, state, {"step": 7}, {"step_loss": np.arange(3.0)})
    w["dense_0/kernel"][:] = 9  # the caller goes on training
    keeper = Checkpointer(tmp_path, every=5)
    keeper._write(arrays)
    back = read_checkpoint(tmp_path / CHECKPOINT, SPEC)
    assert np.all(back.weights["dense_0/kernel"] == 0.5) and set(back.weights) == set(SPEC.param_shapes())
    assert np.array_equal(back.state["m/dense_0/kernel"], np.ones((4, 3)))
    assert back.meta["step"] == 7 and back.meta["format"] == "backprop-lab-checkpoint/1"
    assert np.array_equal(back.loop["step_loss"], [0.0, 1.0, 2.0])


def test_the_checkpointer_writes_in_the_background_and_on_its_cadence(tmp_path):
    keeper = Checkpointer(tmp_path, every=3)
    assert not keeper.due(2) and keeper.due(3)
    keeper.write(3, weights(), {}, {"step": 3})
    keeper.wait()
    assert read_checkpoint(keeper.path, SPEC).meta["step"] == 3 and keeper.count == 1
    assert not keeper.due(5) and keeper.due(6)
    keeper.remove()
    assert not keeper.path.exists()
    with pytest.raises(BplabError, match="--checkpoint-every: must be at least 1 step, got 0"):
        Checkpointer(tmp_path, every=0)


def test_a_write_that_fails_is_reported_by_wait(tmp_path):
    keeper = Checkpointer(tmp_path / "gone" / "deeper", every=1)
    keeper.write(1, weights(), {}, {})
    with pytest.raises(BplabError, match="could not write the checkpoint"):
        keeper.wait()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"not a zip"), "not a zip archive"),
        (lambda p: write_checkpoint(p, {"weights/dense_0/kernel": np.zeros((4, 3))}), "no meta record"),
        (lambda p: write_checkpoint(p, {"meta": np.frombuffer(b"{]", np.uint8)}), "damaged meta record"),
        (
            lambda p: write_checkpoint(p, {"meta": np.frombuffer(b'{"format": "x"}', np.uint8)}),
            "not a backprop-lab checkpoint",
        ),
        (
            lambda p: write_checkpoint(p, checkpoint_arrays({"dense_0/kernel": np.zeros((4, 3))}, {}, {})),
            "do not match the run's model (dense_0/bias)",
        ),
        (
            lambda p: write_checkpoint(p, checkpoint_arrays({**weights(), "dense_1/bias": np.zeros(3)}, {}, {})),
            "weight dense_1/bias has shape (3,), the model needs (2,)",
        ),
        (lambda p: write_checkpoint(p, {"x": np.array([object()], dtype=object)}), "holds pickled objects"),
    ],
)
def test_a_damaged_checkpoint_is_one_error_naming_the_file(tmp_path, damage, message):
    path = tmp_path / CHECKPOINT
    damage(path)
    with pytest.raises(BplabError) as info:
        read_checkpoint(path, SPEC)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_metrics_get_one_line_per_epoch_and_can_be_rewritten_from_the_history(tmp_path):
    keeper = Checkpointer(tmp_path)
    records = [EpochRecord(i, 1.0 / i, 0.5, 0.1, 0.01) for i in (1, 2, 3)]
    for record in records:
        keeper.append_metrics(record)
    assert [json.loads(line)["epoch"] for line in (tmp_path / METRICS).read_text().splitlines()] == [1, 2, 3]
    keeper.rewrite_metrics(History([], records[:2]))
    assert [json.loads(line)["train_loss"] for line in (tmp_path / METRICS).read_text().splitlines()] == [1.0, 0.5]
