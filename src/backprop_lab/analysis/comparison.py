"""Three-way comparison with measured parity.

Every engine starts from the same initial weights and follows the same batch
plan. Parity figures, per pair of engines, norm-wise per tensor
(||A - B|| / ||B||, the largest over tensors):

- ``grad_rel``: gradients on the first batch of the plan, at the initial weights;
- ``step1_weight_rel``: weights after one optimizer step on that batch, taken
  through each engine's own step function (the one its training loop calls);
- ``final_weight_rel``: weights at the end of training;
- ``max_step_loss_diff``: largest absolute difference of the per-step losses.

With several seeds, each engine's test accuracy is summarised as mean and
standard deviation, and each pair is tested with Welch's t-test: is the
difference between engines larger than the seed-to-seed spread?
"""

from __future__ import annotations

import io
import itertools
import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.console import Console

from backprop_lab.analysis import stats
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder, write_json
from backprop_lab.engines.registry import Engine, check_engine, get_engine
from backprop_lab.options.config import MAX_SEEDS
from backprop_lab.results.tables import Table, comparison_tables
from backprop_lab.runs.record import Run, save_run
from backprop_lab.runs.workflow import Setup, initial_weights, train_run
from backprop_lab.spec.model import Dropout
from backprop_lab.training import learning_rate, targets


def relative_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Largest norm-wise relative difference over the tensors both hold."""
    worst = 0.0
    for key in b:
        ref = np.asarray(b[key], dtype=np.float64)
        diff = np.linalg.norm(np.asarray(a[key], dtype=np.float64) - ref)
        norm = np.linalg.norm(ref)
        worst = max(worst, float(diff / norm) if norm else float(diff))
    return worst


def parse_engines(text: str, eager: bool = False) -> list[str]:
    engines = [check_engine(e.strip(), "--engines") for e in text.split(",") if e.strip()]
    if len(set(engines)) != len(engines):
        raise BplabError(f"--engines: {text!r} names an engine twice")
    if len(engines) < 2:
        raise BplabError("--engines: a comparison needs at least two engines, e.g. scratch,tape,fit")
    if eager and "tape" not in engines:
        raise BplabError(f"--eager: only the tape engine runs eagerly, and it is not among {', '.join(engines)}")
    return engines


@dataclass
class PairParity:
    a: str
    b: str
    grad_rel: float
    step1_weight_rel: float
    final_weight_rel: float
    max_step_loss_diff: float
    welch_t: float | None = None
    welch_p: float | None = None
    acc_diff: float | None = None

    @property
    def significant(self) -> bool | None:
        """Is the accuracy difference beyond the seed spread (Welch p < 0.05)? None with one seed."""
        return None if self.welch_p is None or math.isnan(self.welch_p) else self.welch_p < stats.LEVEL


@dataclass
class EngineSummary:
    engine: str
    test_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)

    def row(self) -> dict:
        """Mean and sample standard deviation over seeds of each figure (the std is 0.0 with one seed)."""
        out = {
            "engine": self.engine,
            "seeds": len(self.test_acc),
            "median_epoch_s": statistics.median(self.epoch_times) if self.epoch_times else None,
        }
        for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
            values = getattr(self, name)
            out[name] = stats.mean(values)
            out[name + "_std"] = stats.std(values) if len(values) > 1 else 0.0
        return out


@dataclass
class Comparison(Displayable):
    engines: list[str]
    seeds: list[int]
    summaries: dict[str, EngineSummary]
    pairs: list[PairParity]
    runs: dict[int, dict[str, Run]]
    notes: list[str]
    title: str = ""  # what was compared, for tables and plots
    folder: Path | None = None  # where it was saved, if it was

    def pair(self, a: str, b: str) -> PairParity:
        """The parity of two engines, in either order: ``comparison.pair("scratch", "tape").grad_rel``."""
        for p in self.pairs:
            if {p.a, p.b} == {a, b}:
                return p
        raise BplabError(f"no pair {a} vs {b} in this comparison of {', '.join(self.engines)}")

    def __repr__(self) -> str:
        accs = ", ".join(f"{e} {statistics.fmean(self.summaries[e].test_acc):.4f}" for e in self.engines)
        return (
            f"Comparison({', '.join(self.engines)}; {len(self.seeds)} seed(s); test accuracy {accs}; "
            "print() it for its tables)"
        )

    def __str__(self) -> str:
        """The comparison's two tables (each engine's figures, each pair's parity) and its notes, as plain text:
        ``print(comparison)`` outside Jupyter."""
        console = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False)
        for table in self.tables():
            console.print(table.to_rich())
        for note in self.notes:
            console.print(f"note: {note}", markup=False)
        return console.file.getvalue().rstrip("\n")

    def tables(self) -> tuple[Table, Table]:
        """Its tables, built once: each engine's figures (mean ± std over seeds) and each pair's parity."""
        return comparison_tables(self.title or "comparison", self.to_dict(), self.pairs)

    def curves(self, path: Path, title: str = "") -> Path:
        """Loss and accuracy per epoch of every run: with one seed, one colour per engine; with several, one
        colour family per seed (the engines that started from that seed's weights in its shades)."""
        from backprop_lab.viz.plots import save_curves, save_seed_curves

        title = title or self.title or "comparison"
        if len(self.seeds) == 1:
            first = self.runs[self.seeds[0]]
            return save_curves({e: first[e].history for e in self.engines}, path, f"{title}, seed {self.seeds[0]}")
        histories = {seed: {e: self.runs[seed][e].history for e in self.engines} for seed in self.seeds}
        return save_seed_curves(histories, path, f"{title}, seeds {', '.join(str(s) for s in self.seeds)}")

    def save(self, folder: Path, title: str = "") -> Path:
        """compare.json, the curves of every seed (PNG and SVG), and one run folder per seed and engine."""
        folder = Path(folder)
        make_folder(folder)
        write_json(folder / "compare.json", self.to_dict())
        for ext in ("png", "svg"):
            self.curves(folder / f"curves.{ext}", title)
        for seed, by_engine in self.runs.items():
            for engine, run in by_engine.items():
                save_run(run, folder / f"seed{seed}" / engine, force=True)
        return folder

    def to_dict(self) -> dict:
        return {
            "engines": self.engines,
            "seeds": self.seeds,
            "summary": [self.summaries[e].row() for e in self.engines],
            "parity": [{**vars(p), "significant": p.significant} for p in self.pairs],
            "notes": self.notes,
        }


def first_step(engine: Engine, setup: Setup, weights) -> dict[str, np.ndarray]:
    """Weights after the engine's own step function ran once on the plan's first batch."""
    first = setup.plan.epoch(0)[0]
    state = engine.start(setup.spec, weights, setup.config)
    lr = learning_rate(setup.config, 0, setup.plan.steps_per_epoch)
    x = setup.dataset.x_train[first].astype(setup.config.dtype)
    state.step(x, targets(setup.spec, setup.dataset.y_train[first], setup.config.dtype), lr)
    return {k: np.array(v) for k, v in state.weights().items()}


def compare(
    setup: Setup,
    engines: list[str],
    seeds: int = 1,
    engine_options: dict | None = None,
    callbacks_for=lambda engine, seed: [],
) -> Comparison:
    """Train every engine for every seed from identical initial weights and batch order."""
    if seeds < 1:
        raise BplabError(f"--seeds: must be at least 1, got {seeds}")
    if seeds > MAX_SEEDS:
        raise BplabError(f"--seeds: at most {MAX_SEEDS}, got {seeds}")
    notes = []
    if any(isinstance(l, Dropout) and l.rate > 0 for l in setup.spec.layers):
        notes.append(
            "dropout masks come from different generators in NumPy and TensorFlow: per-step parity "
            "is not expected, only accuracy parity"
        )
    seed_list = [setup.config.seed + i for i in range(seeds)]
    options = {e: (engine_options or {}).get(e, {}) for e in engines}
    summaries = {e: EngineSummary(e) for e in engines}
    runs: dict[int, dict[str, Run]] = {}
    parity: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    for seed in seed_list:
        config = replace(setup.config, seed=seed)
        seeded = replace(setup, config=config, plan=replace(setup.plan, seed=seed))
        w0 = initial_weights(seeded.spec, config)
        first = seeded.plan.epoch(0)[0]
        xb, yb = seeded.dataset.x_train[first], seeded.dataset.y_train[first]
        grads, step1 = {}, {}
        for e in engines:
            engine = get_engine(e, **options[e])
            grads[e] = engine.gradients(seeded.spec, w0, xb, yb, config)[1]
            step1[e] = first_step(engine, seeded, w0)
        runs[seed] = {}
        for e in engines:
            run = train_run(seeded, e, callbacks_for(e, seed), weights=w0, engine_options=options[e])
            runs[seed][e] = run
            s, last = summaries[e], run.history.epochs[-1] if run.history.epochs else None
            if last is None:
                raise BplabError(f"engine {e} stopped before finishing an epoch: {run.history.stopped}")
            s.test_acc.append(last.test_acc)
            s.test_loss.append(last.test_loss)
            s.train_acc.append(last.train_acc)
            s.train_loss.append(last.train_loss)
            s.epoch_times += [ep.time_s for ep in run.history.epochs]
        for a, b in itertools.combinations(engines, 2):
            la, lb = np.array(runs[seed][a].history.step_loss), np.array(runs[seed][b].history.step_loss)
            n = min(len(la), len(lb))
            parity.setdefault((a, b), []).append(
                (
                    relative_difference(grads[a], grads[b]),
                    relative_difference(step1[a], step1[b]),
                    relative_difference(runs[seed][a].weights, runs[seed][b].weights),
                    float(np.max(np.abs(la[:n] - lb[:n]))) if n else float("nan"),
                )
            )
    pairs = []
    for (a, b), values in parity.items():
        worst = [max(v[i] for v in values) for i in range(4)]
        pair = PairParity(a, b, *worst)
        acc_a, acc_b = summaries[a].test_acc, summaries[b].test_acc
        pair.acc_diff = stats.mean(acc_a) - stats.mean(acc_b)
        if len(seed_list) > 1:
            pair.welch_t, pair.welch_p = welch(acc_a, acc_b)
        pairs.append(pair)
    return Comparison(engines, seed_list, summaries, pairs, runs, notes)


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """Welch's t-test (unequal variances): (t, two-sided p), from :func:`backprop_lab.analysis.stats.welch`, which
    states the degenerate cases (identical samples: t = 0, p = 1; one value: nan)."""
    test = stats.welch(a, b)
    return test.t, test.p
