"""One run of a sweep as a task: a pure function of its Task (a worker that died runs it again, same numbers),
whatever runs it: a local process or a Ray worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from backprop_lab.options.config import TrainConfig, parse_batch_size
from backprop_lab.options.registry import TRAINING
from backprop_lab.runs.record import load_run
from backprop_lab.runs.workflow import inspect_run, new_run_folder, prepare, resume_run, start_run, train_run

# How a value becomes each key's: every training option (backprop_lab.options.registry.TRAINING) but ``seed`` (a sweep's
# seeds are its own setting), then the sweep's own keys. ``coerce`` also takes "default" for ``lr``.
OPTION_TYPES: dict[str, Callable] = {
    **{o.name: parse_batch_size if o.name == "batch_size" else o.value_type for o in TRAINING if o.name != "seed"},
    "model": str,
    "engine": str,
    "variant": str,
}


@dataclass
class Task:
    cell: str
    seed: int
    folder: str
    data: str
    data_dir: str | None
    model: str
    engine: str
    config: dict


@dataclass
class RunSummary:
    cell: str
    seed: int
    folder: str
    test_acc: float
    test_loss: float
    train_loss: float
    epochs: int
    seconds: float  # training time (sum of epoch times)
    test_acc_curve: list[float]
    train_loss_curve: list[float]
    stopped: str | None = None

    @classmethod
    def of(cls, task: Task, run) -> "RunSummary":
        h = run.history
        last = h.epochs[-1] if h.epochs else None
        return cls(
            task.cell,
            task.seed,
            task.folder,
            run.test.accuracy,
            last.test_loss if last else float("nan"),
            last.train_loss if last else float("nan"),
            len(h.epochs),
            sum(e.time_s for e in h.epochs),
            [e.test_acc for e in h.epochs],
            [e.train_loss for e in h.epochs],
            h.stopped,
        )


def task_setup(task: Task):

    return prepare(task.data, task.model, TrainConfig.from_dict(task.config), task.data_dir)


BLAS_THREADS = 1  # per run of a sweep: the numbers must not depend on --jobs or the backend


def run_task(task: Task) -> RunSummary:
    """One run into its folder: skipped when finished, resumed when interrupted, else started."""
    from threadpoolctl import threadpool_limits

    folder = Path(task.folder)
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        if folder.is_dir() and any(folder.iterdir()):
            info = inspect_run(folder)
            run = load_run(folder) if info.complete else resume_run(folder)
        else:
            run = start_run(task_setup(task), task.engine, new_run_folder(folder))
    return RunSummary.of(task, run)


def train_task(task: Task):
    """A run trained in memory (for a remote worker): the Run is returned, nothing is written."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return train_run(task_setup(task), task.engine)


def limit_threads(threads: int) -> None:
    """TensorFlow's thread pools in one sweep worker process, set before TensorFlow starts."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
