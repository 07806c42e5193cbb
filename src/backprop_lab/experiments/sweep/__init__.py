"""Sweeps: a grid over any training option, the model and the engine, over several seeds. ``plan.py`` reads and
validates the grid, ``tasks.py`` is one run of it, ``run.py`` runs them all (local processes) and holds the
result, ``ray_backend.py`` runs them on a Ray cluster."""

from backprop_lab.experiments.sweep.plan import (
    DEFAULTS,
    SETTINGS,
    Cell,
    SweepPlan,
    coerce,
    normalise_key,
    parse_grid_arg,
    plan_from_document,
    read_sweep_file,
)
from backprop_lab.experiments.sweep.run import CellResult, SweepResult, run_sweep, tasks_of
from backprop_lab.experiments.sweep.tasks import RunSummary, Task, run_task

__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "Cell",
    "CellResult",
    "RunSummary",
    "SweepPlan",
    "SweepResult",
    "Task",
    "coerce",
    "normalise_key",
    "parse_grid_arg",
    "plan_from_document",
    "read_sweep_file",
    "run_sweep",
    "run_task",
    "tasks_of",
]
