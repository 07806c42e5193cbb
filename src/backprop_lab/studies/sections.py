"""The study's sections. Each takes its settings and a folder, runs the library, and
returns a :class:`Section`: figures, tables, numbers, a two-line reading and the
``bplab`` command that reproduces it. No section computes anything the library
does not: this is the assignment done with the tool."""

from __future__ import annotations

import html
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from backprop_lab.analysis.comparison import compare, relative_difference
from backprop_lab.analysis.derivation_check import TOLERANCE, check
from backprop_lab.analysis.stats import beyond_seed_spread
from backprop_lab.classroom.code import check_source
from backprop_lab.classroom.derivation import check_derivation, typical_matrix_mistakes, typical_mistakes
from backprop_lab.classroom.explorer.page import build_page_data, render_html
from backprop_lab.core.errors import BplabError, SpecError
from backprop_lab.core.files import atomic_write, make_folder  # noqa: E402
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import get_engine
from backprop_lab.experiments.blend import save_step_curves
from backprop_lab.experiments.presets import PRESETS, preset
from backprop_lab.experiments.sweep import plan_from_document, run_sweep
from backprop_lab.experiments.transfer import resolve_classes
from backprop_lab.experiments.transfer import transfer as run_transfer
from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph, forward_graph
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig, parse_batch_size
from backprop_lab.options.registry import TRAINING_NAMES  # noqa: E402
from backprop_lab.results.tables import Table, history_table, report_table, summary_table, sweep_table
from backprop_lab.runs.portable import export_keras, import_keras
from backprop_lab.runs.record import load_run, read_weights
from backprop_lab.runs.workflow import (
    initial_weights,
    inspect_run,
    new_run_folder,
    prepare,
    resume_run,
    start_run,
    sweep_folder,
    train_run,
)
from backprop_lab.spec.model import parse_model, summary_rows
from backprop_lab.studies import claims
from backprop_lab.training import predicted_labels, targets
from backprop_lab.viz.equations import mathml_blocks, write_equations
from backprop_lab.viz.network import network_graph

# The course's own NumPy network (examples/learner/course_two_layer.py), shipped with the package so that an
# installed study can check it without the repository (tests/studies/test_sections.py keeps the two the same).
COURSE_CODE = Path(__file__).with_name("course_two_layer.py.txt")
# Section 4's worked example: the classic 2-2-2 sigmoid network, small enough to show every number, with the
# published weights (examples/published-2-2-2.json, shipped with the package too) and its one training row.
SMALL_WEIGHTS = Path(__file__).with_name("published-2-2-2.json")
SMALL_MODEL = "mlp:2/act=sigmoid/out=sigmoid"
SMALL_INPUT, SMALL_TARGET = (0.05, 0.10), (0.01, 0.99)
SMALL_CONFIG = TrainConfig(optimizer="sgd", lr=0.5, loss="half_squared_error", dtype="float64")


def small_command(weights: str) -> str:
    """The command that writes section 4's explorer page; ``weights`` the weights file as the report names it."""
    return (
        f"bplab explore --model {SMALL_MODEL} --weights {weights} "
        f"--input {','.join(map(str, SMALL_INPUT))} --target {','.join(map(str, SMALL_TARGET))} "
        f"--loss {SMALL_CONFIG.loss} --lr {SMALL_CONFIG.lr:g} --fixed-biases --out explorer.html"
    )


TRAINING_KEYS = tuple(n for n in TRAINING_NAMES if n not in ("batch_size", "seed"))  # those two: see Context.config


@dataclass
class Section:
    key: str
    title: str
    reading: str = ""
    command: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file relative to the study folder, caption)
    tables: list[Table] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    math: str = ""  # MathML blocks (generated from the derivation's expression trees), shown as they are
    verdicts: list[dict] = field(default_factory=list)  # claims.Verdict.to_dict() for each claim the section tests
    paired: bool = False  # figure i belongs with table i: shown together, one experiment after another
    links: list[tuple[str, str]] = field(default_factory=list)  # (file relative to the study folder, what it is)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> "Section":
        doc = dict(doc)
        doc["tables"] = [Table(**t) for t in doc.get("tables", [])]
        doc["figures"] = [tuple(f) for f in doc.get("figures", [])]
        doc["links"] = [tuple(f) for f in doc.get("links", [])]
        return cls(**doc)


class Context:
    """What every section needs: the study folder, the settings, and the shared pieces (data, the MLP)."""

    def __init__(self, root: Path, settings: dict[str, Any], key: str, study=None):
        self.root, self.settings, self.key, self.study = Path(root), settings, key, study
        self.folder = self.root / "sections" / key
        make_folder(self.folder)

    def rel(self, path: Path) -> str:
        return str(Path(path).relative_to(self.root))

    def config(self, **overrides) -> TrainConfig:
        s = {**self.settings, **overrides}
        fields = {k: s[k] for k in TRAINING_KEYS if k in s}
        return TrainConfig(**fields, batch_size=parse_batch_size(s.get("batch_size", 128)), seed=int(s.get("seed", 0)))

    def flags(self, config: TrainConfig, skip=()) -> str:
        """The command-line options that give ``config``."""
        parts = []
        defaults = TrainConfig()
        for key in TRAINING_KEYS + ("batch_size",):
            if key in skip or (key not in ("epochs", "optimizer") and getattr(config, key) == getattr(defaults, key)):
                continue
            value = getattr(config, key)
            if key == "batch_size":
                value = "full" if value is None else value
            if value is None:
                continue
            parts.append(f"--{key.replace('_', '-')} {value}")
        return " ".join(parts)

    @property
    def data(self) -> str:
        return self.settings["data"]

    @property
    def model(self) -> str:
        return self.settings["model"]

    @property
    def seeds(self) -> int:
        return int(self.settings.get("seeds", 1))

    @property
    def data_dir(self) -> str | None:
        return self.settings.get("data_dir")


# --- 1-4: pictures and equations ---------------------------------------------


def _mlp_setup(ctx: Context):

    return prepare(ctx.data, ctx.model, ctx.config(), ctx.data_dir)


def _draw(ctx: Context, which: str) -> Section:
    from backprop_lab.viz.render import render

    setup = _mlp_setup(ctx)
    config = setup.config
    graph = {
        "network": lambda: network_graph(setup.spec, setup.dataset.class_names),
        "forward": lambda: forward_graph(derive(setup.spec, config)),
        "backward": lambda: backward_graph(derive(setup.spec, config)),
    }[which]()
    picture, dot, used = render(graph, ctx.folder, "png", "auto")
    layers = [i for i in setup.spec.infos if i.params]
    titles = {
        "network": "The network",
        "forward": "Forward computation graph",
        "backward": "Backward computation graph",
    }
    readings = {
        "network": f"{ctx.model} on {ctx.data}: {setup.dataset.input_shape} inputs, {len(layers) - 1} hidden layers, "
        f"{setup.dataset.num_classes} outputs, {sum(setup.spec.count_params()):,} parameters.\n"
        "Drawn from the same spec object every engine builds from; large layers show their first and last units.",
        "forward": "Every operation from the input batch to the loss, with the shape of each tensor (batch rows first): "
        "Z = A W + b, then the activation, layer by layer.\nThe loss node adds the L2 term when --l2 is set.",
        "backward": "The same graph run backwards: each node's gradient comes from the one after it, dW = A^T delta and "
        "db = sum of delta over rows.\nFor softmax with cross-entropy the output delta is (P - Y) / m.",
    }
    return Section(
        which,
        titles[which],
        readings[which],
        f"bplab draw --model {ctx.model} --data {ctx.data} --format png --out drawings",
        [(ctx.rel(picture), f"{titles[which]} (rendered by {used}; DOT source: {dot.name})")],
        numbers={"renderer": used, "parameters": sum(setup.spec.count_params())},
    )


def network(ctx):
    return _draw(ctx, "network")


def forward(ctx):
    return _draw(ctx, "forward")


def backward(ctx):
    return _draw(ctx, "backward")


def equations(ctx: Context) -> Section:

    setup = _mlp_setup(ctx)
    config = setup.config
    write_equations(setup.spec, config, ctx.folder, f"{ctx.model} on {ctx.data} ({config.loss}, {config.optimizer})")
    n = ctx.settings.get("batch_size", 16)
    if not isinstance(n, int) or n < 1:  # 'full' trains on every row; the check takes this many rows
        raise BplabError(f"[{ctx.key}] batch_size = {n!r}: the rows the gradients are checked on, a positive integer")
    x, y = setup.dataset.x_train[:n], setup.dataset.y_train[:n]
    derivation = derive(setup.spec, replace(config, dtype="float64"))
    checks = check(derivation, x, targets(setup.spec, y, "float64"), config.seed)
    worst = max(c.worst for c in checks)

    example, page = small_worked_example(ctx.folder)
    small_weights = ctx.folder / SMALL_WEIGHTS.name

    report = check_derivation("\n".join(typical_mistakes(derivation)), derivation, ctx.model)
    said = list(report.verdicts)
    matrix = typical_matrix_mistakes(derivation, "rows", "sum")
    for _, line in matrix.lines:  # each in a file of its own, after the correct output delta (its scale)
        said.append(check_derivation(matrix.file(line), derivation, ctx.model, layout="rows").verdicts[1])
    mistakes = [
        [v.text, "; ".join(f"{i.code}: {i.message}" for i in v.issues) or "(judged right)", v.expected or "-"]
        for v in said
    ]
    rows = [
        [
            c.symbol,
            f"{c.fd_rel:.1e}",
            f"{c.engine_rel:.1e}",
            "-" if c.chain_rel is None else f"{c.chain_rel:.1e}",
            "pass" if c.worst < TOLERANCE else "FAIL",
        ]
        for c in checks
    ]
    return Section(
        "equations",
        "Weight-update equations, derived and checked",
        f"The equations of every layer, generated from the rules the project declares once, in the batch-matrix "
        f"notation the code uses.\nEach gradient was evaluated on {n} examples (float64) and checked against "
        f"central finite differences of the derived loss, and the scratch engine against it: largest relative "
        f"difference {worst:.1e} (tolerance {TOLERANCE:.0e}).",
        f"bplab draw --model {ctx.model} --data {ctx.data} --out drawings  &&  "
        f"bplab gradcheck --model {ctx.model} --data {ctx.data}  &&  {small_command(ctx.rel(small_weights))}"
        "   # draw writes equations.html/.md/.tex/.svg",
        [],
        [
            Table(
                "Derived gradients checked (norm-wise relative difference)",
                [
                    "gradient",
                    "vs finite differences",
                    "scratch engine vs derived",
                    "chain-rule form vs recursion",
                    "result",
                ],
                rows,
            ),
            Table(
                "Common mistakes in hand derivations of this network, and what bplab check-derivation says: "
                "chain-rule lines, then one matrix-form line for each known matrix-form mistake (rows layout, "
                f"after the correct {matrix.first or 'output delta'}, deltas as sums over the batch)",
                ["hand-written line", "what is wrong", "the correct line"],
                mistakes,
                [0, 1, 2],
            ),
        ],
        {"worst_rel": worst, "all_passed": all(c.worst < TOLERANCE for c in checks)},
        math=mathml_blocks(derivation)
        + "<h3>A worked example small enough to show every number: the classic 2-2-2 network</h3>"
        f"<p>{html.escape(example.title)}. Loss {example.loss_before:.9g} before the step, "
        f"{example.losses[-1]:.9g} after it. The same rules as above, for two inputs, two sigmoid units, two "
        f"sigmoid outputs, the half squared error and plain gradient descent, with the numbers of the published "
        f"example; the explorer page (linked below) steps through them and recomputes every value when a number "
        f"is edited.</p>" + example.mathml_body("h4"),
        links=[
            (
                ctx.rel(page),
                "Step through this example in the explorer: every value of the forward pass, the loss, the deltas, "
                "the gradients and the update, one node at a time (an offline page beside this report)",
            )
        ],
    )


def small_worked_example(folder: Path):
    """Section 4's worked example (one step of the classic 2-2-2 network, biases fixed as published) and its
    explorer page, written to ``folder/explorer.html``."""

    spec = parse_model(SMALL_MODEL, (len(SMALL_INPUT),), len(SMALL_TARGET))
    weights = read_weights(SMALL_WEIGHTS, spec)
    x, y = np.array([SMALL_INPUT]), np.array([SMALL_TARGET])
    title = (
        f"{SMALL_MODEL} with the published weights, input {list(SMALL_INPUT)}, target {list(SMALL_TARGET)}; "
        f"{SMALL_CONFIG.loss}, sgd lr {SMALL_CONFIG.lr:g}"
    )
    example = worked_example(spec, SMALL_CONFIG, weights, x, y, fixed_biases=True, digits=9, title=title)
    page = build_page_data(spec, SMALL_CONFIG, weights, x, y, None, title, fixed_biases=True, steps=20)
    path = Path(folder) / "explorer.html"
    atomic_write(path, render_html(page).encode("utf-8"))
    atomic_write(Path(folder) / SMALL_WEIGHTS.name, SMALL_WEIGHTS.read_bytes())  # the command beside it reads it
    return example, path


# --- 5-6: GradientTape, and the three engines ----------------------------------


def tape(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_curves

    setup = _mlp_setup(ctx)
    folder = ctx.folder / "run"
    if folder.is_dir() and any(folder.iterdir()):
        run = load_run(folder) if inspect_run(folder).complete else resume_run(folder)
    else:
        run = start_run(setup, "tape", new_run_folder(folder))
    curves = save_curves(
        {"tape": run.history},
        ctx.folder / "curves.png",
        f"Training with tf.GradientTape: loss and accuracy per epoch, {ctx.model} on {ctx.data}",
    )
    last = run.history.epochs[-1]
    return Section(
        "tape",
        "Training with tf.GradientTape",
        f"A custom training loop with tf.GradientTape ({setup.config.optimizer}, batch "
        f"{setup.config.batch_size or 'full'}): test accuracy {last.test_acc:.4f} after {last.epoch} epochs.\n"
        f"Median epoch time {statistics.median(e.time_s for e in run.history.epochs):.2f} s on this machine.",
        f"bplab train --engine tape --data {ctx.data} --model {ctx.model} {ctx.flags(setup.config)} --out runs/tape",
        [(ctx.rel(curves), "Loss and accuracy per epoch (train solid, test dashed)")],
        [history_table("Per-epoch figures", run.history)],
        {"test_acc": last.test_acc, "epochs": last.epoch},
    )


def engines(ctx: Context) -> Section:
    from backprop_lab.viz.drift import abs_diff, save_drift_explained

    setup = _mlp_setup(ctx)
    result = compare(setup, ["scratch", "tape", "fit"], ctx.seeds)
    result.save(
        ctx.folder / "runs", f"scratch, tape and fit from the same weights and batches: {ctx.model} on {ctx.data}"
    )
    # the control: the same pair in float64, one seed; round-off then shrinks by about 1e-9
    control = compare(replace(setup, config=replace(setup.config, dtype="float64")), ["scratch", "tape"], 1)
    s0 = result.seeds[0]
    first = result.runs[s0]
    series = [
        (
            f"scratch vs tape, float32 (seed {s0})",
            abs_diff(first["scratch"].history.step_loss, first["tape"].history.step_loss),
        ),
        (
            "scratch vs tape, float64 (the control)",
            abs_diff(control.runs[s0]["scratch"].history.step_loss, control.runs[s0]["tape"].history.step_loss),
        ),
        (
            f"tape vs fit, float32 (seed {s0})",
            abs_diff(first["tape"].history.step_loss, first["fit"].history.step_loss),
        ),
    ]
    if len(result.seeds) > 1:
        s1 = result.seeds[1]
        series.append(
            (
                f"seed {s0} vs seed {s1} (scratch): what a different seed does",
                abs_diff(first["scratch"].history.step_loss, result.runs[s1]["scratch"].history.step_loss),
            )
        )
    drift = save_drift_explained(
        series,
        ctx.folder / "drift.png",
        f"Per-step loss difference: engines from the same start (float32 and float64) "
        f"against two seeds, {ctx.model} on {ctx.data}",
    )
    doc = result.to_dict()
    # the epoch times the "faster" verdict compares (first epochs left out), so the table and the verdict agree
    rows = [
        [
            r["engine"],
            f"{r['test_acc']:.4f} ± {r['test_acc_std']:.4f}",
            f"{r['test_loss']:.4f} ± {r['test_loss_std']:.4f}",
            f"{statistics.median(_steady_epoch_times(result, r['engine'])):.3f}",
        ]
        for r in doc["summary"]
    ]
    parity = [
        [
            f"{p.a} vs {p.b}",
            f"{p.grad_rel:.1e}",
            f"{p.step1_weight_rel:.1e}",
            f"{p.final_weight_rel:.1e}",
            f"{p.max_step_loss_diff:.1e}",
            f"{100 * p.acc_diff:+.2f} pp",
            "-" if p.welch_p is None else f"{p.welch_p:.3f}",
            {None: "-", True: "yes", False: "no"}[p.significant],
        ]
        for p in result.pairs
    ]
    c_pair = control.pair("scratch", "tape")
    parity.append(
        [
            "scratch vs tape, float64",
            f"{c_pair.grad_rel:.1e}",
            f"{c_pair.step1_weight_rel:.1e}",
            f"{c_pair.final_weight_rel:.1e}",
            f"{c_pair.max_step_loss_diff:.1e}",
            f"{100 * c_pair.acc_diff:+.2f} pp",
            "-",
            "-",
        ]
    )
    tf_pair, st_pair = result.pair("tape", "fit"), result.pair("scratch", "tape")
    identical = tf_pair.final_weight_rel == 0.0 and tf_pair.max_step_loss_diff == 0.0
    runs = result.runs
    verdicts = [
        claims.tape_fit(
            [
                runs[s]["tape"].history.epochs[-1].test_acc - runs[s]["fit"].history.epochs[-1].test_acc
                for s in result.seeds
            ],
            tf_pair.final_weight_rel,
            result.summaries["tape"].test_acc,
        ),
        claims.same_curves(
            max(
                abs(a.test_loss - b.test_loss)
                for s in result.seeds
                for a, b in zip(runs[s]["scratch"].history.epochs, runs[s]["tape"].history.epochs)
            ),
            max(
                abs(a.test_acc - b.test_acc)
                for s in result.seeds
                for a, b in zip(runs[s]["scratch"].history.epochs, runs[s]["tape"].history.epochs)
            ),
            _seed_range(result, "test_loss"),
            _seed_range(result, "test_acc"),
            len(result.seeds),
        ),
        claims.faster(_steady_epoch_times(result, "scratch"), _steady_epoch_times(result, "tape"), len(result.seeds)),
    ]
    growth = st_pair.max_step_loss_diff
    return Section(
        "engines",
        "GradientTape vs model.fit vs the hand-written NumPy engine",
        f"Same initial weights, same batches, {len(result.seeds)} seeds: first-batch gradients agree to "
        f"{st_pair.grad_rel:.1e} (scratch vs tape) and weights after step 1 to {st_pair.step1_weight_rel:.1e}; "
        f"tape and fit are {'bit-identical' if identical else f'{tf_pair.final_weight_rel:.1e} apart'} to the end.\n"
        f"The scratch-tape loss difference grows to {growth:.1e} per step in float32; the same pair in float64 "
        f"stays at {c_pair.max_step_loss_diff:.1e}: it is float32 round-off amplified by training, not a "
        f"different gradient, and far smaller than what changing the seed does.",
        f"bplab compare --engines scratch,tape,fit --data {ctx.data} --model {ctx.model} {ctx.flags(setup.config)} "
        f"--seeds {ctx.seeds} --out runs/compare",
        [
            (ctx.rel(ctx.folder / "runs" / "curves.png"), "Loss and accuracy per epoch, every engine (first seed)"),
            (ctx.rel(drift), "How far the trajectories drift apart, step by step, against float64 and another seed"),
        ],
        [
            Table(
                f"Test figures over {len(result.seeds)} seeds",
                ["engine", "test accuracy", "test loss", "median steady epoch (s)"],
                rows,
            ),
            Table(
                "Measured parity (norm-wise relative, worst tensor and seed)",
                [
                    "pair",
                    "grad, 1st batch",
                    "weights, step 1",
                    "weights, end",
                    "max |step loss diff|",
                    "test acc diff",
                    "Welch p",
                    "beyond seed spread?",
                ],
                parity,
            ),
        ],
        {
            "tape_fit_bit_identical": identical,
            "grad_rel_scratch_tape": st_pair.grad_rel,
            "step1_rel_scratch_tape": st_pair.step1_weight_rel,
            "float64_max_step_diff": c_pair.max_step_loss_diff,
        },
        verdicts=[v.to_dict() for v in verdicts],
    )


def _steady_epoch_times(result, engine: str) -> list[float]:
    """Epoch times without each run's first epoch (one-off start-up: compilation, first allocations)."""
    times = [e.time_s for s in result.seeds for e in result.runs[s][engine].history.epochs[1:]]
    return times or [e.time_s for s in result.seeds for e in result.runs[s][engine].history.epochs]


def _seed_range(result, field_name: str) -> float:
    """The largest spread (max - min over seeds) of one per-epoch figure of the scratch engine."""
    histories = [result.runs[s]["scratch"].history.epochs for s in result.seeds]
    if len(histories) < 2:
        return 0.0
    return max(
        max(getattr(h[i], field_name) for h in histories) - min(getattr(h[i], field_name) for h in histories)
        for i in range(min(len(h) for h in histories))
    )


# --- 7, 8, 10: sweeps -------------------------------------------------------------


def _sweep(ctx: Context, doc: dict, name: str, title: str | None = None):

    plan = plan_from_document(doc, name, data=ctx.data)
    folder = sweep_folder(ctx.folder / name, plan.to_dict(), force=True)
    result = run_sweep(plan, folder)
    result.save(folder, title)
    return result, folder


def _sweep_base(ctx: Context) -> dict:
    s = ctx.settings
    keys = ("model", "optimizer", "lr", "init", "epochs", "batch_size", "loss", "l2")
    return (
        {k: s[k] for k in keys if k in s}
        | {"seeds": ctx.seeds, "seed": int(s.get("seed", 0))}
        | ({"data_dir": ctx.data_dir} if ctx.data_dir else {})
    )


# The reference report's training loss of its from-scratch network (128 relu, 0.01 N(0,1), full batch, lr 0.01)
# on MNIST's 60,000 images: the two values it printed, at the first and the last of its 50 epochs.
NUMPY33_REFERENCE_LOSS = {0: 2.3031, 49: 2.2976}
NUMPY33_REFERENCE_TRAIN_ACC = 0.328


def _run_history(folder: str | Path, root: Path):

    path = Path(folder)  # a sweep records its run folders as it was given them (relative to where it ran)
    return load_run(path if path.is_absolute() or path.is_dir() else root / path).history


def numpy33(ctx: Context) -> Section:

    doc = {
        **preset("numpy-33"),
        "epochs": int(ctx.settings.get("epochs", 50)),
        "seeds": ctx.seeds,
        "seed": int(ctx.settings.get("seed", 0)),
    }
    if ctx.data_dir:
        doc["data_dir"] = ctx.data_dir
    epochs = int(doc["epochs"])
    result, folder = _sweep(
        ctx,
        doc,
        "numpy-33",
        f"The reference from-scratch set-up ({epochs} full-batch epochs) "
        f"vs He + Adam + mini-batches, every engine from the same weights, on {ctx.data}",
    )
    cells = {c.cell.name: c for c in result.cells}
    engines_ = ("scratch", "tape", "fit")
    low_cells = {e: cells[f"variant=numpy-33,engine={e}"] for e in engines_}
    good_cells = {e: cells[f"variant=he+adam+minibatch,engine={e}"] for e in engines_}
    low = {e: low_cells[e].accs for e in engines_}
    good = {e: good_cells[e].accs for e in engines_}
    verdict = claims.numpy33(low, good)
    first = {e: low_cells[e].runs[0] for e in engines_}
    marks = [0, 10, 20, 30, 40, epochs - 1]
    loss_rows = [
        [str(m), f"{NUMPY33_REFERENCE_LOSS[m]:.4f}" if m in NUMPY33_REFERENCE_LOSS else "(not printed)"]
        + [f"{first[e].train_loss_curve[m]:.4f}" for e in engines_]
        for m in marks
        if m < epochs
    ]
    code = course_code_check(doc["model"])
    course_file = ctx.folder / COURSE_CODE.name.removesuffix(".txt")  # beside the report: its command reads it
    atomic_write(course_file, COURSE_CODE.read_bytes())
    train_accs = [_run_history(r.folder, folder).epochs[-1].train_acc for r in low_cells["scratch"].runs]
    spread = f"{min(train_accs):.3f} to {max(train_accs):.3f}" if len(train_accs) > 1 else f"{train_accs[0]:.3f}"
    start, end = first["scratch"].train_loss_curve[0], first["scratch"].train_loss_curve[epochs - 1]
    return Section(
        "numpy33",
        "Why a NumPy network can reach 33%",
        f"The reference from-scratch set-up as stated (128 relu, 0.01 N(0,1) weights, full-batch gradient descent, "
        f"lr 0.01, {epochs} epochs) gets {statistics.fmean(low['scratch']):.3f} / {statistics.fmean(low['tape']):.3f} / "
        f"{statistics.fmean(low['fit']):.3f} test accuracy with scratch / tape / fit from the same weights; the same "
        f"network with He initialisation, Adam and mini-batches gets {min(map(statistics.fmean, good.values())):.3f} "
        f"to {max(map(statistics.fmean, good.values())):.3f} in every engine.\n"
        f"Our training loss goes {start:.4f} → {end:.4f}, the reference's {NUMPY33_REFERENCE_LOSS[0]:.4f} → "
        f"{NUMPY33_REFERENCE_LOSS[49]:.4f}: the same trajectory. After {epochs} full-batch steps the network has "
        f"barely left its start (the loss fell {100 * (start - end) / start:.2f}%), so its accuracy only says "
        f"which class's logit is a hair ahead: {spread} train accuracy over {len(train_accs)} seed"
        f"{'s' if len(train_accs) > 1 else ''} here on {ctx.data}, {NUMPY33_REFERENCE_TRAIN_ACC:.3f} in the "
        f"reference on MNIST's 60,000. Neither number measures the framework.\n" + course_code_reading(code),
        f"bplab sweep --preset numpy-33 --data {ctx.data} --seeds {ctx.seeds} --out runs/numpy33  &&  "
        f"bplab check-code {ctx.rel(course_file)} --model {doc['model']}",
        [
            (ctx.rel(folder / "accuracy.png"), "Final test accuracy, mean and 95% interval over seeds"),
            (ctx.rel(folder / "curves.png"), "Training loss and test accuracy per epoch"),
        ],
        [
            Table(
                "Training loss per epoch: the reference report beside ours (seed "
                f"{first['scratch'].seed}, the same weights in every engine)",
                ["epoch", "reference (MNIST 60,000)"] + [f"ours: {e}" for e in engines_],
                loss_rows,
            ),
            sweep_table("Every engine, both set-ups", result),
            replace(
                code.table(),
                caption=f"The course's own code ({code.file}), checked tensor by tensor by bplab check-code: "
                f"{code.verdict}",
            ),
        ],
        {
            "code_verdict": code.verdict,
            "code_message": code.message,
            "low": {e: statistics.fmean(v) for e, v in low.items()},
            "good": {e: statistics.fmean(v) for e, v in good.items()},
            "epochs": epochs,
            "loss_start": start,
            "loss_end": end,
            "train_acc": train_accs,
        },
        verdicts=[verdict.to_dict()],
    )


def course_code_check(model: str, path: Path = COURSE_CODE):
    """bplab check-code on the course's own code (a child process, as for any learner's file)."""
    return check_source(path.read_text(encoding="utf-8"), path.name.removesuffix(".txt"), model)


def course_code_reading(code) -> str:
    """What check-code says of the course's own functions, beside the set-up's findings."""
    said = f"bplab check-code on the course's own code: {code.message.rstrip('.')}."
    if code.layout:
        said += f" It read the code in {code.layout}" + (f", deltas as {code.delta_scale}" if code.delta_scale else "")
        said += "."
    if code.correct:
        return said + " The functions are not the cause: the 33% is the set-up's, as measured above."
    return said + " So the course's code has a fault of its own, besides the set-up."


CLAIMED_BEST = {"width": ("model", "mlp:256"), "init": ("init", "he_normal"), "optimizer": ("optimizer", "rmsprop")}


def experiments(ctx: Context) -> Section:

    names = ctx.settings.get("presets", ["width", "init", "optimizer", "dropout", "batch", "loss"])
    figures, tables, numbers, results = [], [], {}, {}
    for name in names:
        doc = {**preset(name), **_sweep_base(ctx)}
        if name in ("width", "depth", "dropout", "activation"):
            doc.pop("model", None)  # the preset varies the model
        if name == "batch":
            doc["epochs"] = preset(name)["epochs"]  # the claim is about the same epochs for every batch size
        about = PRESETS[name]["about"]
        about = about[0].upper() + about[1:]
        result, folder = _sweep(ctx, doc, name, f"{about}, {ctx.seeds} seeds, on {ctx.data}")
        results[name] = (result, folder)
        caption = f"{about}; preset {name}"  # (the presets' texts already begin with a name)
        figures.append((ctx.rel(folder / "accuracy.png"), caption))
        tables.append(sweep_table(caption, result))
        best = max(result.cells, key=lambda c: c.mean)
        numbers[name] = {
            "best": best.cell.name,
            "best_mean": best.mean,
            "best_beyond_spread": _beyond_all(best, result),
        }
    verdicts = []
    picked = {name: key_value for name, key_value in CLAIMED_BEST.items() if name in results}
    if picked:
        cells = {
            name: {str(c.cell.values[key]): c.accs for c in results[name][0].cells} for name, (key, _) in picked.items()
        }
        verdicts.append(claims.best_config(cells, {name: str(value) for name, (_, value) in picked.items()}, ctx.seeds))
    if "batch" in results:
        result, folder = results["batch"]
        by = {str(c.cell.values["batch_size"]): c for c in result.cells}
        full = next(c for k, c in by.items() if k in ("None", "full"))
        mini = by.get("128") or next(c for c in result.cells if c is not full)

        def figures_of(cell):
            hist = [_run_history(r.folder, folder) for r in cell.runs]
            return [h.epochs[-1].train_acc for h in hist], [h.epochs[-1].test_acc for h in hist], len(hist[0].step_loss)

        (ft, fte, fs), (mt, mte, ms) = figures_of(full), figures_of(mini)
        verdicts.append(claims.minibatch(ft, fte, mt, mte, fs, ms))
    findings = "; ".join(
        f"{n}: highest {numbers[n]['best']} ({numbers[n]['best_mean']:.3f}"
        + _spread_words(numbers[n]["best_beyond_spread"], len(results[n][0].cells))
        + ")"
        for n in names
    )
    return Section(
        "experiments",
        "Experiments, one thing varied at a time",
        f"Each experiment trains every cell over {ctx.seeds} seeds and tests it against the first cell (Welch): "
        f"a difference is a finding only when it is beyond the seed spread.\n{findings}.",
        f"bplab sweep --preset NAME --data {ctx.data} --seeds {ctx.seeds} --epochs {ctx.settings.get('epochs')} "
        f"--out runs/NAME   # NAME: {', '.join(names)}",
        figures,
        tables,
        numbers,
        verdicts=[v.to_dict() for v in verdicts],
        paired=True,
    )


def _beyond_all(best, result) -> bool | None:
    """Whether the highest cell of a sweep is beyond the seed spread (Welch p < 0.05) of every other cell; None where
    that cannot be told (one seed, or no other cell)."""

    tests = [beyond_seed_spread(best.accs, c.accs) for c in result.cells if c is not best]
    if not tests or None in tests:
        return None
    return all(tests)


def _spread_words(beyond: bool | None, cells: int) -> str:
    """What the findings line adds after a sweep's highest cell (``_beyond_all``)."""
    if beyond is None:
        return ", one seed: no spread to judge it by" if cells > 1 else ""
    return "" if beyond else ", within the seed spread of another cell"


def blend(ctx: Context) -> Section:

    alphas = [float(a) for a in ctx.settings.get("alphas", [0.0, 0.25, 0.5, 0.75, 1.0])]
    doc = {**_sweep_base(ctx), "seeds": 1, "grid": {"alpha": alphas}}
    result, folder = _sweep(
        ctx, doc, "blend", f"The blended update W ← (1 − α) W_new + α W_old, by α, {ctx.model} on {ctx.data}"
    )
    steps = save_step_curves(
        result, folder / "step_loss.png", f"Per-step training loss for each α, {ctx.model} on {ctx.data}"
    )
    acc = {c.cell.values["alpha"]: c.mean for c in result.cells}

    final = {float(c.cell.values["alpha"]): c.runs[0].train_loss_curve[-1] for c in result.cells}
    still = next((c for c in result.cells if float(c.cell.values["alpha"]) == 1.0), None)
    verdicts = [claims.alpha(final, still.runs[0].train_loss_curve).to_dict()] if still is not None else []
    return Section(
        "blend",
        "The blended update",
        "W <- (1 - alpha) W_new + alpha W_old after every optimizer step: alpha = 0 is plain training, alpha = 1 "
        "never moves the weights.\nFinal test accuracy by alpha: "
        + ", ".join(f"{a:g}: {v:.3f}" for a, v in acc.items())
        + ".",
        f"bplab blend --alphas {','.join(f'{a:g}' for a in alphas)} --data {ctx.data} --model {ctx.model} "
        f"--epochs {ctx.settings.get('epochs')} --out runs/blend",
        [
            (ctx.rel(folder / "curves.png"), "Loss and accuracy per epoch for each alpha"),
            (ctx.rel(steps), "Per-step training loss for each alpha"),
        ],
        [sweep_table("Final figures by alpha", result)],
        {"acc": {str(k): v for k, v in acc.items()}},
        verdicts=verdicts,
    )


# --- 9: the CIFAR-10 set-up -------------------------------------------------------


def cifar(ctx: Context) -> Section:

    wanted = ctx.settings.get("data", "cifar10")
    note = ""
    try:
        load_dataset(wanted, ctx.data_dir)
        data = wanted
    except BplabError:
        data = ctx.study.common["data"]
        note = (
            f"{wanted} is not on this machine, so this section ran on {data}; put its files in place (or give "
            f"--data-dir) to run it on {wanted}."
        )
    config = ctx.config()
    setup = prepare(data, ctx.model, config, ctx.data_dir)
    result = compare(setup, ["scratch", "tape"], 1)
    result.save(
        ctx.folder / "runs", f"The CIFAR-10 set-up as written, hand-written vs GradientTape: {ctx.model} on {data}"
    )
    doc = result.to_dict()
    times = {r["engine"]: r["median_epoch_s"] for r in doc["summary"]}
    stated = result.runs[result.seeds[0]]["scratch"]
    w0 = initial_weights(setup.spec, config)
    # what the reference's own choices change, measured from the same weights and batches
    variants = [("as stated: squared error summed over outputs, L2 gradient 2λW", config, stated)]
    half_l2 = replace(config, l2=config.l2 / 2)  # its hand-written gradient reg·W is the gradient of (reg/2)·ΣW²
    variants.append(
        (
            f"the reference's L2 gradient λW (= our L2 {half_l2.l2:g})",
            half_l2,
            train_run(replace(setup, config=half_l2), "scratch", weights=w0),
        )
    )
    mse = replace(config, loss="mse")
    variants.append(
        (
            "Keras's mse (also averaged over the 10 outputs: a tenth of the gradient)",
            mse,
            train_run(replace(setup, config=mse), "scratch", weights=w0),
        )
    )
    rows = [
        [
            name,
            f"{run.history.epochs[-1].train_loss:.5f}",
            f"{run.test.accuracy:.4f}",
            f"{relative_difference(run.weights, w0):.2e}",
            "-" if run is stated else f"{relative_difference(run.weights, stated.weights):.1e}",
        ]
        for name, _, run in variants
    ]
    pair = result.pairs[0]
    moved = {name: relative_difference(run.weights, w0) for name, _, run in variants}
    return Section(
        "cifar",
        "Two-layer full-batch network, squared error + L2 (the CIFAR-10 set-up)",
        f"The set-up as the reference wrote it: relu(X W1 + b1) with {ctx.model.split(':')[1].split('/')[0]} hidden units, "
        f"a linear output, plain full-batch gradient descent, the squared error summed over the outputs "
        f"(`squared_error`, not Keras's `mse`), L2 {config.l2:g}, lr {config.learning_rate:g} decaying by "
        f"{config.decay_rate:g} per epoch, {config.epochs} epochs, on {data}: hand-written and GradientTape end "
        f"{pair.final_weight_rel:.1e} apart.\n"
        f"Its hand-written L2 gradient reg·W is half the gradient of its own loss term reg·ΣW²: training with it "
        f"ends {relative_difference(variants[1][2].weights, stated.weights):.1e} from the correct gradient's weights "
        f"(at this λ the penalty barely matters). Keras's mse would average over the outputs too and move the "
        f"weights {moved[variants[2][0]] / max(moved[variants[0][0]], 1e-30):.2f}x as far.",
        f"bplab compare --engines scratch,tape --data {data} --model {ctx.model} {ctx.flags(config)} --out runs/cifar",
        [(ctx.rel(ctx.folder / "runs" / "curves.png"), "Loss and accuracy per epoch, both engines")],
        [
            Table(
                "What each of the reference's choices changes (scratch engine, the same initial weights)",
                ["variant", "final train loss", "test accuracy", "weights moved (rel.)", "vs as stated (rel.)"],
                rows,
            ),
            Table("Epoch times", ["engine", "median epoch (s)"], [[e, f"{t:.3f}"] for e, t in times.items()]),
        ],
        {
            "data": data,
            "epoch_s": times,
            "final_weight_rel": pair.final_weight_rel,
            "model": ctx.model,
            "loss": config.loss,
            "optimizer": config.optimizer,
        },
        note,
    )


# --- 11-13: the CNN, save and load, transfer ----------------------------------------


def _cnn_run(ctx: Context):
    """The CNN run shared by sections 11 to 13 (trained once with the cnn section's settings, resumable)."""

    own = Context(ctx.root, ctx.study.settings("cnn"), "cnn", ctx.study)
    folder = own.folder / "run"
    if folder.is_dir() and any(folder.iterdir()):
        return (load_run(folder) if inspect_run(folder).complete else resume_run(folder)), folder, own
    try:
        setup = prepare(own.data, own.model, own.config(), own.data_dir)
    except SpecError:  # images too small for 'valid' convolutions and pools: keep the size with 'same' padding
        setup = prepare(own.data, own.model + "/pad=same", own.config(), own.data_dir)
    return start_run(setup, own.settings.get("engine", "scratch"), new_run_folder(folder)), folder, own


def _fits(ctx: Context) -> bool:

    ds = load_dataset(ctx.data, ctx.data_dir)
    try:
        parse_model(ctx.model, ds.input_shape, ds.num_classes)
        return True
    except SpecError:
        return False


def cnn(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_confusion_heatmap, save_curves

    run, folder, _ = _cnn_run(ctx)
    model, note = ctx.model, ""
    if not _fits(ctx):
        model = ctx.model + "/pad=same"
        note = (
            f"{ctx.model} does not fit {ctx.data}'s {run.spec.input_shape[0]}x{run.spec.input_shape[1]} images with "
            f"'valid' padding, so sections 11 to 13 use {model}."
        )
    report = run.test
    heatmap = save_confusion_heatmap(report, ctx.folder / "confusion.png", f"{ctx.model} on {ctx.data} ({run.engine})")
    curves = save_curves(
        {run.engine: run.history},
        ctx.folder / "curves.png",
        f"The CNN ({ctx.model}, {run.engine} engine): loss and accuracy per epoch on {ctx.data}",
    )
    trainable, frozen = run.spec.count_params()
    summary = summary_table(
        f"Summary: {trainable + frozen:,} parameters ({trainable:,} trainable)", summary_rows(run.spec)
    )
    worst = min(report.per_class, key=lambda r: r.f1)

    verdict = claims.cnn97(
        report.accuracy, len(run.history.epochs), ctx.data, len(load_dataset(ctx.data, ctx.data_dir).x_train)
    )
    return Section(
        "cnn",
        "The CNN",
        f"{model} trained by the {run.engine} engine: test accuracy {report.accuracy:.4f}, macro F1 "
        f"{report.macro.f1:.4f}.\nThe hardest class is {worst.name} (F1 {worst.f1:.3f}); the "
        "confusion matrix shows what it is mistaken for.",
        f"bplab train --engine {run.engine} --data {ctx.data} --model {model} {ctx.flags(run.config)} --out runs/cnn"
        f"  &&  bplab evaluate runs/cnn",
        [(ctx.rel(curves), "Loss and accuracy per epoch"), (ctx.rel(heatmap), "Confusion matrix (test set)")],
        [
            summary,
            history_table("Per-epoch figures", run.history),
            report_table("Per-class precision, recall and F1 (test set)", report),
        ],
        {"test_acc": report.accuracy, "macro_f1": report.macro.f1},
        note,
        verdicts=[verdict.to_dict()],
    )


def saveload(ctx: Context) -> Section:

    _, folder, own = _cnn_run(ctx)
    saved = load_run(folder)
    keras_file = export_keras(saved, ctx.folder / "cnn.keras")
    reloaded = import_keras(keras_file)
    ds = load_dataset(own.data, own.data_dir)
    x, y = ds.x_test, ds.y_test
    dtype = str(next(iter(saved.weights.values())).dtype)
    reference = get_engine(saved.engine).predict(saved.spec, saved.weights, x, dtype)
    rows, worst = [], 0.0
    for label, run, engine in [(f"run folder -> {e}", saved, e) for e in ("scratch", "tape", "fit")] + [
        (f".keras -> {e}", reloaded, e) for e in ("scratch", "fit")
    ]:
        probs = get_engine(engine).predict(run.spec, run.weights, x, dtype)
        diff = float(np.max(np.abs(probs - reference)))
        worst = max(worst, diff)
        same = float(np.mean(predicted_labels(probs) == predicted_labels(reference)))
        rows.append([label, f"{diff:.1e}", f"{100 * same:.2f}%", f"{float(np.mean(predicted_labels(probs) == y)):.4f}"])
    return Section(
        "saveload",
        "Save and load, across engines",
        f"The CNN's architecture (model.json) and weights (weights.npz) were written, reloaded by every engine, and also "
        f"exported to Keras's .keras format and read back.\nEvery reloaded model predicts the same classes; the largest "
        f"probability difference is {worst:.1e} (float32 arithmetic in different libraries).",
        "bplab export runs/cnn --keras cnn.keras  &&  bplab evaluate cnn.keras --engine fit",
        [],
        [
            Table(
                f"Predictions on the {len(x):,} test images vs the training engine ({saved.engine})",
                ["model loaded into", "max |probability difference|", "same predicted class", "test accuracy"],
                rows,
            )
        ],
        {"max_prob_diff": worst},
    )


def transfer(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_confusion_heatmap

    base, _, own = _cnn_run(ctx)
    ds = load_dataset(own.data, own.data_dir)
    classes = resolve_classes(str(ctx.settings.get("classes", "3,8")), ds.class_names)
    config = ctx.config(loss="binary_crossentropy", init="glorot_uniform")
    result = run_transfer(
        base,
        ds,
        classes,
        ctx.settings.get("engine", "scratch"),
        config,
        finetune=bool(ctx.settings.get("finetune", True)),
        timing_repeats=int(ctx.settings.get("timing_repeats", 1)),
    )
    result.save(ctx.folder / "runs")
    figures = []
    for v in result.variants:
        path = save_confusion_heatmap(v.run.test, ctx.folder / f"confusion_{v.slug}.png", v.name)
        figures.append((ctx.rel(path), f"Confusion matrix: {v.name}"))
    rows = [
        [
            v.name,
            f"{v.trainable:,}",
            f"{v.frozen:,}",
            f"{v.accuracy:.4f}",
            f"{v.epochs} over {v.epochs_over}",
            f"{v.steps:,}",
            f"{v.own_seconds:.2f}",
            f"{v.seconds:.2f}",
        ]
        for v in result.variants
    ]
    head, scratch = result.variant("head_only"), result.variant("from_scratch")
    ft = next((v for v in result.variants if v.slug == "finetune"), None)
    h = result.head
    verdicts = [claims.finetune(head.accuracy, ft.accuracy, head.seconds, ft.seconds)] if ft else []
    budget = (
        f"The head was trained on the frozen base's features (computed once, {h.extract_seconds:.1f} s) for {h.epochs} "
        f"epochs, {h.steps:,} steps ({h.stop_reason}: {h.rule})."
    )
    if ft:
        budget += (
            f" Fine-tuning then trained every layer from that head for {result.finetune_epochs} epoch"
            f"{'s' if result.finetune_epochs != 1 else ''} at lr {result.finetune_lr:g}."
        )
    budget += f" From scratch: {result.scratch_epochs} epochs ({result.scratch_epochs_rule})."
    if result.timing_repeats > 1:
        budget += (
            f" Head and fine-tuning wall times are the fastest of {result.timing_repeats} identical runs of "
            f"each stage (a stage of a second or two is otherwise timed by whatever else the machine did)."
        )
    return Section(
        "transfer",
        "Transfer learning and fine-tuning",
        f"{' vs '.join(result.classes)}: the CNN's base frozen ({head.frozen:,} parameters) with a new sigmoid head "
        f"({head.trainable:,} trainable) reaches {head.accuracy:.4f}"
        + (f", fine-tuned {ft.accuracy:.4f}" if ft else "")
        + f"; the same network from scratch {scratch.accuracy:.4f}.\n"
        + budget
        + f" The frozen base stayed bit-identical during head-only training: {result.base_unchanged}.",
        f"bplab transfer --from runs/cnn --classes {ctx.settings.get('classes', '3,8')} --finetune --out runs/transfer",
        figures,
        [
            Table(
                "Accuracy, parameters, budget and wall time",
                [
                    "variant",
                    "trainable",
                    "frozen",
                    "test accuracy",
                    "epochs",
                    "steps",
                    "own time (s)",
                    "time from the base (s)",
                ],
                rows,
            )
        ],
        {
            "variants": {v.slug: v.accuracy for v in result.variants},
            "base_unchanged": result.base_unchanged,
            "head_epochs": h.epochs,
            "head_stop_reason": h.stop_reason,
            "scratch_epochs": result.scratch_epochs,
        },
        verdicts=[v.to_dict() for v in verdicts],
    )


SECTION_FUNCTIONS: dict[str, Callable[[Context], Section]] = {
    "network": network,
    "forward": forward,
    "backward": backward,
    "equations": equations,
    "tape": tape,
    "engines": engines,
    "numpy33": numpy33,
    "experiments": experiments,
    "cifar": cifar,
    "blend": blend,
    "cnn": cnn,
    "saveload": saveload,
    "transfer": transfer,
}
