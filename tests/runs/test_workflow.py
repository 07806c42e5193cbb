"""The training workflow (runs/workflow.py): a setup from names, the run folders, and what a folder says about its run."""

from __future__ import annotations

import json

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import (
    TRAIN_FILE,
    TRAIN_FORMAT,
    default_run_folder,
    inspect_run,
    new_run_folder,
    prepare,
)
from backprop_lab.training.checkpoint import CHECKPOINT, METRICS


def test_loss_must_fit_the_output():
    with pytest.raises(BplabError, match="needs a sigmoid output"):
        prepare("digits", "mlp:8", TrainConfig(loss="binary_crossentropy"))


def test_a_setup_holds_the_data_the_model_and_a_batch_plan_of_the_config():
    setup = prepare("digits", "mlp:8", TrainConfig(batch_size=50, seed=3), val_split=0.1)
    assert setup.spec.input_shape == setup.dataset.input_shape and setup.spec.infos[-1].output_shape == (10,)
    assert setup.plan.size == 50 and setup.plan.steps_per_epoch == -(-len(setup.dataset.x_train) // 50)
    assert setup.source == {"data": "digits", "data_dir": None, "val_split": 0.1, "scale": "unit"}


def test_the_default_run_folder_is_under_runs_and_safe_for_any_data_name():
    folder = default_run_folder("tape", "csv:my data/x.csv")
    assert folder.parent.name == "runs" and folder.name.endswith("-tape-csv_my_data_x.csv")


def test_a_new_run_folder_refuses_an_earlier_run_unless_forced_and_then_forgets_it(tmp_path):
    folder = tmp_path / "run"
    assert new_run_folder(folder).is_dir()
    for name in (CHECKPOINT, METRICS, "model.json", "notes.txt"):
        (folder / name).write_text("old")
    with pytest.raises(BplabError, match="already holds files; choose another --out or pass --force"):
        new_run_folder(folder)
    new_run_folder(folder, force=True)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # only what no run of ours wrote


def test_a_folder_says_whether_its_run_is_complete_and_a_leftover_checkpoint_goes(tmp_path):
    with pytest.raises(BplabError, match="run folder not found"):
        inspect_run(tmp_path / "nowhere")
    with pytest.raises(BplabError, match="is not a run folder written by 'bplab train --out'"):
        inspect_run(tmp_path)
    (tmp_path / TRAIN_FILE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(BplabError, match="not a backprop-lab training record"):
        inspect_run(tmp_path)
    (tmp_path / TRAIN_FILE).write_text(json.dumps({"format": TRAIN_FORMAT, "engine": "fit"}))
    (tmp_path / CHECKPOINT).write_text("state")
    interrupted = inspect_run(tmp_path)
    assert not interrupted.complete and interrupted.engine == "fit" and (tmp_path / CHECKPOINT).exists()
    (tmp_path / "model.json").write_text("{}")
    done = inspect_run(tmp_path)
    assert done.complete and not (tmp_path / CHECKPOINT).exists()
