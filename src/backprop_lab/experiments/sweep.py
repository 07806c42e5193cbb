"""Sweeps: a grid over any training option, the model and the engine, over several seeds.

A sweep is a base set of options, a grid (key -> values) and a number of seeds.
Each cell of the grid (one value per key) is trained once per seed, each run in
its own run folder ``OUT/CELL/seedN``; a sweep that is killed and started again
with the same command skips finished runs and resumes interrupted ones (the
run folders are the training loop's resumable folders).

Keys are the training options as the CLI spells them (``batch-size`` or
``batch_size``), plus ``model``, ``engine`` and ``variant``: a variant is a
named bundle of options (``[variants.NAME]`` in a sweep file), so one grid
axis can change several options at once.

Runs execute in this process (``jobs=1``), in ``jobs`` worker processes, or as
tasks on a Ray cluster (``backend="ray"``): Ray schedules and retries; each
task returns the finished run and the driver writes its folder, so workers need
no shared disk. Every run of a sweep does its matrix products on one BLAS
thread (OpenBLAS's results depend on its thread count), so a sweep's numbers do
not depend on ``--jobs`` or the backend: the scratch engine's are bit-identical
across all of them; ``--jobs N`` puts N cores to work instead.

Results per cell: mean, standard deviation and 95% interval (Student's t) of
the final test accuracy over seeds, and Welch's t-test against the baseline
cell (the first one unless named): is the difference beyond the seed spread?
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import multiprocessing
import os
import socket
import statistics
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from backprop_lab.analysis import stats
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError, first_line
from backprop_lab.core.files import atomic_write, make_folder, write_json
from backprop_lab.core.table import Table
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import check_engine
from backprop_lab.options.config import MAX_SEEDS, TrainConfig, parse_batch_size
from backprop_lab.options.registry import DEFAULT_MODEL, TRAINING
from backprop_lab.results.tables import sweep_table
from backprop_lab.runs.record import load_run, save_run
from backprop_lab.runs.workflow import inspect_run, new_run_folder, prepare, resume_run, start_run, train_run
from backprop_lab.spec.model import parse_model
from backprop_lab.training import check_loss_fits

# How a value becomes each key's: every training option (backprop_lab.options.registry.TRAINING) but ``seed`` (a sweep's
# seeds are its own setting), then the sweep's own keys. ``coerce`` also takes "default" for ``lr``.
OPTION_TYPES: dict[str, Callable] = {
    **{o.name: parse_batch_size if o.name == "batch_size" else o.value_type for o in TRAINING if o.name != "seed"},
    "model": str,
    "engine": str,
    "variant": str,
}
SETTINGS = ("data", "data_dir", "seeds", "seed", "baseline", "grid", "variants", "about")
DEFAULTS = {"model": DEFAULT_MODEL, "engine": "scratch"}


def normalise_key(key: str, where: str) -> str:
    name = key.replace("-", "_")
    if name not in OPTION_TYPES:
        raise BplabError(
            f"{where}: unknown key {key!r} (known: {', '.join(sorted(k.replace('_', '-') for k in OPTION_TYPES))})"
        )
    return name


def coerce(key: str, value: Any, where: str) -> Any:
    if key == "lr" and value in (None, "default"):
        return None
    try:
        if key == "batch_size":
            return parse_batch_size(value)
        if OPTION_TYPES[key] is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        result = OPTION_TYPES[key](value)
    except (TypeError, ValueError, BplabError):
        raise BplabError(f"{where}: {key.replace('_', '-')} = {value!r} is not a valid value") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise BplabError(f"{where}: {key.replace('_', '-')} = {value!r} is not a finite number")
    return result


def parse_grid_arg(text: str) -> tuple[str, list[str]]:
    """``key=v1,v2`` (use ``|`` between values that contain commas: ``model=mlp:128,64|mlp:256``)."""
    if "=" not in text:
        raise BplabError(f"--grid: expected KEY=VALUE1,VALUE2, got {text!r}")
    key, _, values = text.partition("=")
    parts = [v.strip() for v in values.split("|" if "|" in values else ",")]
    if not key.strip() or not all(parts):
        raise BplabError(f"--grid: {text!r} has an empty key or value")
    return key.strip(), parts


@dataclass
class Cell:
    name: str  # e.g. "optimizer=adam,init=he_normal"
    values: dict[str, Any]  # the grid's values for this cell
    options: dict[str, Any]  # every option of its runs

    @property
    def folder_name(self) -> str:
        return "".join(c if c.isalnum() or c in "-_.=," else "_" for c in self.name) or "base"

    def config(self, seed: int) -> TrainConfig:
        fields = {k: v for k, v in self.options.items() if k not in ("model", "engine", "variant")}
        return TrainConfig(**fields, seed=seed)


@dataclass
class SweepPlan:
    data: str
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: int = 3
    seed: int = 0
    data_dir: str | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise BplabError(f"seeds: must be at least 1, got {self.seeds}")
        if self.seeds > MAX_SEEDS:  # a sweep of that many runs per cell is a typo, not a plan
            raise BplabError(f"seeds: at most {MAX_SEEDS}, got {self.seeds}")
        for key, values in self.grid.items():
            if not values:
                raise BplabError(f"grid: {key} has no values")
            if len(set(map(str, values))) != len(values):
                raise BplabError(f"grid: {key} names a value twice")
            if key == "variant":
                for v in values:
                    if v not in self.variants:
                        raise BplabError(
                            f"grid: variant {v!r} is not defined (defined: {', '.join(self.variants) or 'none'})"
                        )

    def cells(self) -> list[Cell]:
        keys = list(self.grid)
        cells = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            values = dict(zip(keys, combo))
            options = {**DEFAULTS, **self.base}
            for key, value in values.items():
                options.update(self.variants[value] if key == "variant" else {key: value})
            name = (
                ",".join(
                    f"{k.replace('_', '-')}={'full' if v is None and k == 'batch_size' else v}"
                    for k, v in values.items()
                )
                or "base"
            )
            cells.append(Cell(name, values, options))
        return cells

    def baseline_cell(self, cells: list[Cell]) -> Cell:
        if self.baseline is None:
            return cells[0]
        for cell in cells:
            if cell.name == self.baseline:
                return cell
        raise BplabError(f"baseline: no cell named {self.baseline!r} (cells: {', '.join(c.name for c in cells)})")

    def validate(self) -> None:
        """Every cell's options are checked (and every model parsed) before anything trains."""

        cells = self.cells()
        self.baseline_cell(cells)
        dataset = load_dataset(self.data, self.data_dir)
        for cell in cells:
            try:
                config = cell.config(self.seed)
                check_engine(cell.options["engine"], "engine")
                spec = parse_model(cell.options["model"], dataset.input_shape, dataset.num_classes)
                check_loss_fits(spec, config.loss, dataset.num_classes)
            except BplabError as exc:
                raise BplabError(f"cell {cell.name}: {exc}") from None

    def to_dict(self) -> dict:
        return {
            "data": self.data,
            "data_dir": self.data_dir,
            "base": self.base,
            "grid": self.grid,
            "variants": self.variants,
            "seeds": self.seeds,
            "seed": self.seed,
            "baseline": self.baseline,
        }


def plan_from_document(doc: dict, where: str, data: str | None = None) -> SweepPlan:
    """A sweep from a TOML document (or a preset): settings, base options, ``[grid]``, ``[variants.NAME]``."""
    base, grid, variants = {}, {}, {}
    for key, value in doc.items():
        if key in SETTINGS:
            continue
        name = normalise_key(key, where)
        base[name] = coerce(name, value, where)
    raw_grid = doc.get("grid", {})
    if not isinstance(raw_grid, dict):
        raise BplabError(f"{where}: [grid] must be a table of KEY = [values]")
    for key, values in raw_grid.items():
        name = normalise_key(key, f"{where} [grid]")
        if not isinstance(values, list):
            raise BplabError(f"{where} [grid]: {key} must be a list of values")
        grid[name] = [values_ if name == "variant" else coerce(name, values_, f"{where} [grid]") for values_ in values]
    raw_variants = doc.get("variants", {})
    if not isinstance(raw_variants, dict):
        raise BplabError(f"{where}: [variants] must hold tables [variants.NAME]")
    for vname, options in raw_variants.items():
        if not isinstance(options, dict):
            raise BplabError(f"{where}: [variants.{vname}] must be a table of options")
        inner = f"{where} [variants.{vname}]"
        variants[vname] = {}
        for key, value in options.items():
            name = normalise_key(key, inner)
            if name == "variant":
                raise BplabError(f"{inner}: a variant cannot name another variant")
            variants[vname][name] = coerce(name, value, inner)
    seeds, seed = doc.get("seeds", 3), doc.get("seed", 0)
    for key, value in (("seeds", seeds), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BplabError(f"{where}: {key} must be a whole number, got {value!r}")
    if seed < 0:
        raise BplabError(f"{where}: seed must be at least 0, got {seed}")
    for key in ("data_dir", "baseline"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise BplabError(f"{where}: {key} must be a string, got {doc[key]!r}")
    name = data or doc.get("data")
    if not name:
        raise BplabError(f'{where}: no data set (give data = "..." or --data)')
    return SweepPlan(str(name), base, grid, variants, seeds, seed, doc.get("data_dir"), doc.get("baseline"))


def read_sweep_file(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BplabError(f"{path}: sweep file not found")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BplabError(f"{path}: not a valid TOML file ({exc})") from None
    for key, what in (
        ("grid", "[grid] must be a table of option = [values]"),
        ("variants", "[variants] must hold tables [variants.NAME]"),
    ):
        if key in doc and not isinstance(doc[key], dict):
            raise BplabError(f"{path}: {what}, got {key} = {doc[key]!r}")
    return doc


# --- running --------------------------------------------------------------


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


def _setup(task: Task):

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
            run = start_run(_setup(task), task.engine, new_run_folder(folder))
    return RunSummary.of(task, run)


def train_task(task: Task):
    """A run trained in memory (for a remote worker): the Run is returned, nothing is written."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return train_run(_setup(task), task.engine)


def limit_threads(threads: int) -> None:
    """TensorFlow's thread pools in one sweep worker process, set before TensorFlow starts."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


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
        summaries = _run_on_ray(tasks, address, on_done)
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


RAY_TASK_RETRIES = 3  # a run whose Ray worker died (killed, out of memory, node lost) is trained again, from scratch
RAY_ADDRESS_HINT = (
    "check the address (the one `ray start --head` printed: the head's IP, port 6379 unless --port) "
    "and that the cluster is up (`ray status` on the head node)"
)
RAY_TOKEN_HINT = (
    "give the cluster's token (`ray get-auth-token` on the head prints it) in RAY_AUTH_TOKEN, in a file "
    "named by RAY_AUTH_TOKEN_PATH or in ~/.ray/auth_token, or start the cluster with RAY_AUTH_MODE=disabled"
)


def _ray_endpoint(address: str | None) -> tuple[str, int] | None:
    """HOST and PORT of an explicit ``--address HOST:PORT``; None for auto, local or ray://... (Ray finds those)."""
    if address in (None, "auto", "local") or "://" in address:
        return None
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise BplabError(
            f"--address: expected HOST:PORT (the address `ray start --head` printed) or auto, got {address!r}"
        )
    return host.strip("[]"), int(port)


def _ray_token_source() -> str | None:
    """Where Ray reads a cluster's authentication token, in its order (Ray's token-auth docs): the variable
    RAY_AUTH_TOKEN, else the file RAY_AUTH_TOKEN_PATH names, else ~/.ray/auth_token; None when none holds one."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    path = Path(named).expanduser() if named else Path.home() / ".ray" / "auth_token"
    try:
        return str(path) if path.read_text().strip() else None
    except (OSError, UnicodeDecodeError):
        return None


def _check_reachable(endpoint: tuple[str, int], address: str) -> None:
    """One TCP connection first: Ray itself waits minutes on an address where nothing listens, logging as it goes."""

    try:
        socket.create_connection(endpoint, timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BplabError(f"--address {address}: no Ray cluster answers there ({reason}); " + RAY_ADDRESS_HINT) from None


def _connect_to_ray(address: str | None) -> None:
    """Join the cluster at ``address`` (HOST:PORT, auto, ray://...) or, without one, start a local Ray.

    A cluster started with ``ray start --head`` uses token authentication whenever its head found a token
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token). Ray's driver sends the token for ``auto`` but not
    for an explicit HOST:PORT unless RAY_AUTH_MODE=token, so that is set here when a token is at hand and
    RAY_AUTH_MODE is not (as ``ray start`` does for itself); a cluster without authentication ignores it. Ray
    reads the mode when it is imported, so this runs before ``import ray``.
    """
    loaded = sys.modules.get("ray")
    if loaded is not None and loaded.is_initialized():  # this process joined a cluster already: that one is used
        return
    endpoint = _ray_endpoint(address)
    if endpoint is not None:
        _check_reachable(endpoint, address)
    token = _ray_token_source()
    too_late = False  # Ray imported before this call has read RAY_AUTH_MODE already
    if endpoint is not None and token is not None and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        too_late = loaded is not None
    try:
        import ray
    except ImportError:
        raise BplabError('--backend ray: Ray is not installed (pip install "backprop-lab[ray]")') from None
    where = f"--address {address}" if address else "--backend ray"
    no_token = getattr(ray.exceptions, "AuthenticationError", ())  # Ray before token authentication has none
    try:
        ray.init(address=address, log_to_driver=False)
    except no_token:  # token mode and no token anywhere
        raise BplabError(
            f"{where}: the Ray cluster wants an authentication token and none was found; " + RAY_TOKEN_HINT
        ) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        chain, cause = [], exc
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__ or cause.__context__
        if any("InvalidAuthToken" in text or "Unauthenticated" in text for text in chain):
            if too_late:
                raise BplabError(
                    f"{where}: the Ray cluster wants an authentication token and Ray was imported before "
                    "bplab could turn it on: set RAY_AUTH_MODE=token before Ray is imported"
                ) from None
            if token and os.environ.get("RAY_AUTH_MODE") == "token":
                raise BplabError(
                    f"{where}: the Ray cluster refused the authentication token from {token} (not the "
                    "cluster's); " + RAY_TOKEN_HINT
                ) from None
            raise BplabError(
                f"{where}: the Ray cluster wants an authentication token and none was sent; " + RAY_TOKEN_HINT
            ) from None
        raise BplabError(f"{where}: cannot connect to a Ray cluster ({first_line(exc)}); " + RAY_ADDRESS_HINT) from None


def _run_on_ray(tasks: list[Task], address: str | None, on_done) -> list[RunSummary]:
    _connect_to_ray(address)
    import ray

    # A task is a pure function of its Task: one whose worker died is run again from the start, same numbers.
    remote = ray.remote(max_retries=RAY_TASK_RETRIES, retry_exceptions=False)(train_task)
    pending, summaries = {}, []
    for task in tasks:
        folder = Path(task.folder)
        if folder.is_dir() and inspect_run(folder).complete:  # finished earlier: skipped
            summaries.append(RunSummary.of(task, load_run(folder)))
            on_done(summaries[-1])
        else:
            pending[remote.remote(task)] = task
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(done[0])
        try:
            run = ray.get(done[0])
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, BplabError):
                raise BplabError(f"{task.cell}, seed {task.seed}: {exc.cause}") from None
            raise  # a bug in a run: its traceback
        except ray.exceptions.RayError as exc:  # its worker or node died more often than Ray retries
            raise BplabError(
                f"{task.cell}, seed {task.seed}: lost on the Ray cluster after {RAY_TASK_RETRIES} retries "
                f"({first_line(exc)}); the finished runs are saved, the same command resumes"
            ) from None
        save_run(run, Path(task.folder), force=True)
        summaries.append(RunSummary.of(task, run))
        on_done(summaries[-1])
    return summaries
