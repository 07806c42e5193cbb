"""Runs that survive being killed: SIGKILL at different moments, then --resume, ends bit-identical
to a run that was never interrupted. Ctrl-C writes a checkpoint and exits 130."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import bplab, bplab_background
from helpers.runs import weights

from backprop_lab.runs.workflow import resume_run

TRAIN = [
    "--data",
    "mnist-5k",
    "--model",
    "mlp:256/dropout=0.1",
    "--epochs",
    "4",
    "--batch-size",
    "32",
    "--checkpoint-every",
    "4",
    "--seed",
    "3",
    "--quiet",
]


def history(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text())


def wait_for(condition, proc, timeout=300.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"training ended before the moment to kill it: {proc.stderr.read()}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("timed out waiting for the moment to kill")
        time.sleep(0.002)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder, byte for byte."""
    return (
        {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else {}
    )


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


MOMENTS = {
    # before any checkpoint exists: resume starts over from the recorded settings
    "before-first-checkpoint": lambda d: (d / "train.json").exists(),
    # in the middle of the first epoch, after a step checkpoint
    "mid-epoch": lambda d: (d / "checkpoint.npz").exists() and lines(d / "metrics.jsonl") == 0,
    # at the end of an epoch (the epoch's checkpoint and metrics line are written)
    "between-epochs": lambda d: lines(d / "metrics.jsonl") >= 1,
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run per engine (the same library call the command makes, in this process)."""
    root = tmp_path_factory.mktemp("reference")
    done = {}

    def get(engine):
        if engine not in done:
            from backprop_lab.options.config import TrainConfig
            from backprop_lab.runs.workflow import new_run_folder, prepare, start_run

            config = TrainConfig(epochs=4, batch_size=32, seed=3)
            setup = prepare("mnist-5k", "mlp:256/dropout=0.1", config)
            start_run(setup, engine, new_run_folder(root / engine), checkpoint_every=4)
            done[engine] = root / engine
        return done[engine]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["scratch", "tape", "fit"])
def test_sigkill_at_any_moment_then_resume_is_bit_identical(engine, reference, tmp_path):
    ref = reference(engine)
    for moment, condition in MOMENTS.items():
        folder = tmp_path / moment
        proc = bplab_background("train", "--engine", engine, *TRAIN, "--out", folder)
        wait_for(lambda condition=condition, folder=folder: condition(folder), proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (folder / "model.json").exists(), f"{moment}: the run finished before it was killed"
        had_checkpoint = (folder / "checkpoint.npz").exists()
        if moment == "mid-epoch":  # through the command, as a user resumes
            result = bplab("train", "--resume", folder, "--quiet")
            assert result.returncode == 0, f"{moment}: {result.stderr}"
        else:  # the same library call, in this process (saves starting TensorFlow again)
            assert resume_run(folder) is not None
        ours, theirs = weights(folder), weights(ref)
        assert ours.keys() == theirs.keys()
        for key in theirs:
            assert np.array_equal(ours[key], theirs[key]), f"{engine}, killed {moment}: {key} differs"
        h, href = history(folder), history(ref)
        assert h["step_loss"] == href["step_loss"], f"{engine}, killed {moment}: per-step losses differ"
        assert [e["test_acc"] for e in h["epochs"]] == [e["test_acc"] for e in href["epochs"]]
        lines_written = (folder / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(line)["epoch"] for line in lines_written] == [1, 2, 3, 4]
        doc = json.loads((folder / "model.json").read_text())
        if moment != "before-first-checkpoint":
            assert had_checkpoint and doc["resumed_at_step"] > 0, f"{moment}: the run was not resumed mid-way"
        assert not (folder / "checkpoint.npz").exists()


def test_resuming_a_complete_run_changes_nothing(tmp_path):
    folder = tmp_path / "run"
    assert (
        bplab("train", "--data", "digits", "--model", "mlp:16", "--epochs", "1", "--quiet", "--out", folder).returncode
        == 0
    )
    before = snapshot(folder)
    result = bplab("train", "--resume", folder)
    assert result.returncode == 0 and "complete" in result.stdout
    assert snapshot(folder) == before


def test_a_run_killed_between_saving_and_removing_its_checkpoint_is_complete(tmp_path):
    """model.json is written last, so a checkpoint beside it is a leftover: nothing is trained or written again."""
    folder = tmp_path / "run"
    assert (
        bplab("train", "--data", "digits", "--model", "mlp:16", "--epochs", "1", "--quiet", "--out", folder).returncode
        == 0
    )
    (folder / "checkpoint.npz").write_bytes(b"left behind by a kill")  # never read: the run is complete
    saved = {name: (folder / name).stat().st_mtime_ns for name in ("weights.npz", "model.json", "history.json")}
    result = bplab("train", "--resume", folder)
    assert result.returncode == 0 and "complete" in result.stdout, result.stderr
    assert not (folder / "checkpoint.npz").exists()
    assert {name: (folder / name).stat().st_mtime_ns for name in saved} == saved


def test_resume_refuses_other_training_options(tmp_path):
    folder = tmp_path / "run"
    assert (
        bplab("train", "--data", "digits", "--model", "mlp:16", "--epochs", "1", "--quiet", "--out", folder).returncode
        == 0
    )
    result = bplab("train", "--resume", folder, "--epochs", "5")
    assert result.returncode == 2 and "--epochs" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["missing-folder", "not-a-run", "bad-train-json", "truncated-checkpoint"])
def test_resume_of_a_damaged_folder_is_one_line(tmp_path, damage):
    folder = tmp_path / "run"
    if damage != "missing-folder":
        folder.mkdir()
    if damage == "bad-train-json":
        (folder / "train.json").write_text("{not json")
    if damage == "truncated-checkpoint":
        proc = bplab_background("train", *TRAIN, "--out", folder)
        wait_for(lambda: (folder / "checkpoint.npz").exists(), proc)
        proc.kill()
        proc.wait()
        data = (folder / "checkpoint.npz").read_bytes()
        (folder / "checkpoint.npz").write_bytes(data[: len(data) // 2])
    before = snapshot(folder)
    result = bplab("train", "--resume", folder)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "Traceback" not in result.stderr
    assert snapshot(folder) == before


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["scratch", "fit"])
def test_ctrl_c_writes_a_checkpoint_and_exits_130(engine, reference, tmp_path):
    folder = tmp_path / "run"
    proc = bplab_background("train", "--engine", engine, *TRAIN, "--out", folder)
    wait_for(lambda: (folder / "checkpoint.npz").exists(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"bplab train --resume {folder}" in err and "Traceback" not in err
    assert (folder / "checkpoint.npz").exists() and not (folder / "model.json").exists()
    assert bplab("train", "--resume", folder, "--quiet").returncode == 0
    ref = weights(reference(engine))
    assert all(np.array_equal(weights(folder)[k], ref[k]) for k in ref)
