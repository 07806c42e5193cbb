"""Running a sweep: one task per cell and seed, in local processes or on a Ray cluster, and the result: each
cell's accuracy over seeds, its interval and its test against the baseline."""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from backprop_lab.analysis import stats
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write, make_folder, write_json
from backprop_lab.core.table import Table
from backprop_lab.options.config import parse_batch_size
from backprop_lab.options.registry import TRAINING
from backprop_lab.results.tables import sweep_table

# How a value becomes each key's: every training option (backprop_lab.options.registry.TRAINING) but ``seed`` (a sweep's
# seeds are its own setting), then the sweep's own keys. ``coerce`` also takes "default" for ``lr``.
OPTION_TYPES: dict[str, Callable] = {
    **{o.name: parse_batch_size if o.name == "batch_size" else o.value_type for o in TRAINING if o.name != "seed"},
    "model": str,
    "engine": str,
    "variant": str,
}
from backprop_lab.experiments.sweep.plan import Cell, SweepPlan
from backprop_lab.experiments.sweep.ray_backend import run_on_ray
from backprop_lab.experiments.sweep.tasks import RunSummary, Task, limit_threads, run_task


@dataclass
class CellResult:
    cell: Cell
    runs: list[RunSummary]
    welch_p: float | None = None

    @property
    def accs(self) -> list[float]:
        return [r.test_acc for r in self.runs]

    @property
    def mean(self) -> float:
        return stats.mean(self.accs)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (n - 1); 0 with one seed."""
        return stats.std(self.accs) if len(self.accs) > 1 else 0.0

    @property
    def ci95(self) -> float:
        """Half-width of the 95% interval of the mean (Student's t, :func:`backprop_lab.analysis.stats.ci95`); 0 with one
        seed (no interval: ``interval`` is then the mean twice)."""
        interval = stats.ci95(self.accs)
        return interval.half_width if interval.known else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of the mean accuracy, clipped to [0, 1] (an accuracy cannot leave it)."""
        return stats.ci95(self.accs).clipped(0.0, 1.0)

    @property
    def beyond_spread(self) -> bool | None:
        """Welch p < 0.05 against the baseline; None for the baseline itself and with one seed."""
        return None if self.welch_p is None or math.isnan(self.welch_p) else self.welch_p < stats.LEVEL


@dataclass
class SweepResult(Displayable):
    plan: SweepPlan
    cells: list[CellResult]
    baseline: str
    seconds: float = 0.0
    folder: Path | None = None  # where it ran and was saved
    files: list[Path] = field(default_factory=list)  # what ``save`` wrote
    step_curves: Path | None = None  # the blended-update study's per-step loss plot

    def cell(self, name: str) -> CellResult:
        return next(c for c in self.cells if c.cell.name == name)

    def __repr__(self) -> str:
        best = max(self.cells, key=lambda c: c.mean) if self.cells else None
        top = f"; best {best.cell.name} {best.mean:.4f}" if best else ""
        return f"SweepResult({len(self.cells)} cells x {self.plan.seeds} seed(s) on {self.plan.data}{top})"

    def rows(self) -> list[dict]:
        return [
            {
                "cell": c.cell.name,
                **{k: v for k, v in c.cell.values.items()},
                "seeds": len(c.runs),
                "test_acc_mean": c.mean,
                "test_acc_std": c.std,
                "ci95": c.ci95,
                "ci95_low": c.interval[0],
                "ci95_high": c.interval[1],
                "welch_p_vs_baseline": c.welch_p,
                "beyond_seed_spread": c.beyond_spread,
                "train_s_mean": statistics.fmean(r.seconds for r in c.runs),
                "baseline": c.cell.name == self.baseline,
            }
            for c in self.cells
        ]

    def table(self) -> Table:
        """Each cell's accuracy over seeds, its interval and its test against the baseline: every rendering's table."""
        k = self.plan.seeds
        caption = f"Sweep on {self.plan.data}, {k} seed{'s' if k > 1 else ''} per cell; baseline: {self.baseline}."
        return sweep_table(caption, self)

    def markdown(self) -> str:
        return self.table().to_markdown() + "\n"

    def csv_text(self) -> str:
        buffer = io.StringIO()
        keys = list(self.plan.grid)
        writer = csv.writer(buffer)
        writer.writerow(
            ["cell", *keys, "seed", "test_acc", "test_loss", "train_loss", "epochs", "train_s", "folder", "stopped"]
        )
        for c in self.cells:
            for r in c.runs:
                writer.writerow(
                    [
                        c.cell.name,
                        *[c.cell.values[k] for k in keys],
                        r.seed,
                        r.test_acc,
                        r.test_loss,
                        r.train_loss,
                        r.epochs,
                        f"{r.seconds:.4f}",
                        r.folder,
                        r.stopped or "",
                    ]
                )
        return buffer.getvalue()

    def subject(self) -> str:
        """What the sweep varies, for titles: ``optimizer on mnist-5k``, ``set-up and engine on digits``."""
        from backprop_lab.viz.plots import option_label

        varied = " and ".join(option_label(k) for k in self.plan.grid) or "the base options"
        return f"{varied} on {self.plan.data}"

    def save(self, folder: Path, title: str | None = None) -> list[Path]:
        """results.csv, results.md, sweep.json and two figures: curves.png (per epoch) and accuracy.png (each
        cell's final test accuracy with its 95% interval). ``title`` says what the sweep tests (its figures'
        titles begin with it); without one, :meth:`subject`."""
        from backprop_lab.viz.plots import save_sweep_bars, save_sweep_curves

        folder = Path(folder)
        atomic_write(folder / "results.csv", self.csv_text().encode())
        atomic_write(folder / "results.md", self.markdown().encode())
        write_json(folder / "sweep.json", {"plan": self.plan.to_dict(), "cells": self.rows(), "seconds": self.seconds})
        curves = {c.cell.name: [r.test_acc_curve for r in c.runs] for c in self.cells}
        losses = {c.cell.name: [r.train_loss_curve for r in c.runs] for c in self.cells}
        title = title or self.subject()
        k = self.plan.seeds
        seeds = f"{k} seeds" if k > 1 else "one seed"
        written = [folder / "results.csv", folder / "results.md", folder / "sweep.json"]
        written.append(
            save_sweep_curves(
                losses, curves, folder / "curves.png", f"{title}: training loss and test accuracy per epoch, {seeds}"
            )
        )
        points = {c.cell.name: (c.mean, *(c.interval if len(c.runs) > 1 else (math.nan, math.nan))) for c in self.cells}
        what = "mean and 95% interval over " + seeds if k > 1 else "one seed, no interval"
        written.append(
            save_sweep_bars(
                points,
                folder / "accuracy.png",
                f"{title}: final test accuracy, {what}",
                baseline=self.baseline if k > 1 else None,
                differs={c.cell.name: c.beyond_spread for c in self.cells} if k > 1 else None,
            )
        )
        return written


def tasks_of(plan: SweepPlan, out: Path) -> list[Task]:
    tasks = []
    for cell in plan.cells():
        for seed in range(plan.seed, plan.seed + plan.seeds):
            tasks.append(
                Task(
                    cell.name,
                    seed,
                    str(Path(out) / cell.folder_name / f"seed{seed}"),
                    plan.data,
                    plan.data_dir,
                    cell.options["model"],
                    cell.options["engine"],
                    cell.config(seed).to_dict(),
                )
            )
    return tasks


def run_sweep(
    plan: SweepPlan,
    out: Path,
    jobs: int = 1,
    backend: str = "local",
    address: str | None = None,
    on_done: Callable[[RunSummary], None] = lambda summary: None,
) -> SweepResult:

    if jobs < 1:
        raise BplabError(f"--jobs: must be at least 1, got {jobs}")
    if backend not in ("local", "ray"):
        raise BplabError(f"--backend: must be local or ray, got {backend!r}")
    plan.validate()
    out = Path(out)
    make_folder(out)
    tasks = tasks_of(plan, out)
    begin = time.perf_counter()
    if backend == "ray":
        summaries = run_on_ray(tasks, address, on_done)
    elif jobs == 1:
        summaries = []
        for task in tasks:
            summaries.append(run_task(task))
            on_done(summaries[-1])
    else:
        summaries = _run_in_processes(tasks, jobs, on_done)
    cells = plan.cells()
    by_cell = {
        c.name: CellResult(c, sorted([s for s in summaries if s.cell == c.name], key=lambda s: s.seed)) for c in cells
    }
    baseline = plan.baseline_cell(cells).name
    for name, result in by_cell.items():
        if name != baseline and plan.seeds > 1:
            result.welch_p = stats.welch(result.accs, by_cell[baseline].accs).p
    return SweepResult(plan, list(by_cell.values()), baseline, time.perf_counter() - begin)


def _run_in_processes(tasks: list[Task], jobs: int, on_done) -> list[RunSummary]:

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    summaries = []
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=limit_threads, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(run_task, task) for task in tasks]
        for future in as_completed(futures):
            summaries.append(future.result())
            on_done(summaries[-1])
    return summaries
