"""One run of a sweep: a finished task's folder is read back, not trained again, and the in-memory run a Ray
worker trains (train_task) ends on the same weights as the run written to its folder (run_task)."""

from __future__ import annotations

import numpy as np

from backprop_lab.experiments.sweep.tasks import Task, run_task, train_task
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.record import load_run


def test_a_task_is_a_pure_function_of_its_fields(tmp_path):
    task = Task(
        "base", 3, str(tmp_path / "run"), "digits", None, "mlp:8", "scratch", TrainConfig(epochs=1, seed=3).to_dict()
    )
    first = run_task(task)
    again = run_task(task)  # finished: read back from its folder
    assert again == first
    written = load_run(tmp_path / "run").weights
    in_memory = train_task(task).weights
    assert written.keys() == in_memory.keys()
    assert all(np.array_equal(written[k], in_memory[k]) for k in written)
    assert first.test_acc == load_run(tmp_path / "run").test.accuracy
