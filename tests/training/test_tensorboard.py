"""Every engine writes TensorBoard scalars into its run folder; read back, they equal history.json
(to float32, the precision of an event file's scalars)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import bplab


def read_scalars(folder: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util.tensor_util import make_ndarray

    scalars: dict[str, dict[int, float]] = defaultdict(dict)
    files = sorted((folder / "tensorboard").glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    for path in files:
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                number = value.simple_value if value.HasField("simple_value") else float(make_ndarray(value.tensor))
                scalars[value.tag][event.step] = number
    return scalars


@pytest.mark.parametrize("engine", ["scratch", "tape", "fit"])
def test_event_files_hold_what_history_json_holds(engine, tmp_path):
    if engine != "scratch":
        pytest.importorskip("tensorflow")
    folder = tmp_path / engine
    result = bplab(
        "train",
        "--engine",
        engine,
        "--data",
        "digits",
        "--model",
        "mlp:16,8",
        "--epochs",
        "3",
        "--batch-size",
        "200",
        "--decay",
        "exponential",
        "--decay-rate",
        "0.5",
        "--val-split",
        "0.1",
        "--quiet",
        "--out",
        folder,
    )
    assert result.returncode == 0, result.stderr
    history = json.loads((folder / "history.json").read_text())
    scalars = read_scalars(folder)
    f32 = np.float32
    steps = scalars["loss/step"]
    assert len(steps) == len(history["step_loss"])
    assert all(f32(steps[i + 1]) == f32(loss) for i, loss in enumerate(history["step_loss"]))
    lrs = [scalars["learning_rate"][s] for s in sorted(scalars["learning_rate"])]
    assert lrs[0] > lrs[-1]  # the decaying schedule is what was logged
    per_epoch = len(history["step_loss"]) // len(history["epochs"])
    for epoch in history["epochs"]:
        step = epoch["epoch"] * per_epoch
        for tag, key in (
            ("loss/train", "train_loss"),
            ("accuracy/train", "train_acc"),
            ("loss/test", "test_loss"),
            ("accuracy/test", "test_acc"),
            ("loss/val", "val_loss"),
            ("accuracy/val", "val_acc"),
        ):
            assert f32(scalars[tag][step]) == f32(epoch[key]), (tag, step)
    with np.load(folder / "weights.npz") as w:
        last = len(history["step_loss"])
        for key in w.files:
            assert scalars[f"weight_norm/{key}"][last] == pytest.approx(np.linalg.norm(w[key]), rel=1e-6)
            assert scalars[f"grad_norm/{key}"][last] > 0
