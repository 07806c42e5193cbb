"""The ``bplab`` command: each command calls the library and a renderer; no maths here.

Bad input of any kind ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import typer  # noqa: E402
from typer.exceptions import Abort, TyperException  # noqa: E402

from backprop_lab import api  # noqa: E402
from backprop_lab.cli.check_cmd import check_derivation  # noqa: E402
from backprop_lab.cli.check_code_cmd import check_code  # noqa: E402
from backprop_lab.cli.derive_cmd import derive  # noqa: E402
from backprop_lab.cli.exercise_cmd import exercise  # noqa: E402
from backprop_lab.cli.explore_cmd import explore  # noqa: E402
from backprop_lab.cli.grade_cmd import grade  # noqa: E402
from backprop_lab.cli.options import (
    TRAINING_OPTIONS,
    AlphaOpt,
    DataDirOpt,
    DataOpt,
    EngineOpt,
    ForceOpt,
    InitOpt,
    JsonOpt,
    L2Opt,
    LayoutOpt,
    LossOpt,
    LrOpt,
    ModelOpt,
    OptimizerOpt,
    QuietOpt,
    SeedOpt,
    explicit_names,
    explicit_options,
    training_options,
)
from backprop_lab.cli.output import emit_json, out  # noqa: E402
from backprop_lab.core.errors import BplabError, printable  # noqa: E402
from backprop_lab.options.config import (
    TrainConfig,  # noqa: E402
    options_of,
)
from backprop_lab.options.registry import (
    COMPARE_DATA,
    COMPARE_ENGINES,
    DEFAULT_MODEL,
    GRADCHECK_BATCH,
    GRADCHECK_ENTRIES,
    GRADCHECK_MODEL,
    STUDY_OUT,
    STUDY_PRESET,
)
from backprop_lab.runs.record import save_weights  # noqa: E402
from backprop_lab.runs.workflow import inspect_run
from backprop_lab.training import Interrupted

app = typer.Typer(
    help="backprop-lab: build, derive, train and compare neural networks three ways.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(
    help="Data sets: where they come from and what they hold.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(data_app, name="data")
RunArg = Annotated[Path, typer.Argument(help="A run folder (model.json + weights.npz) or a .keras file.")]


@app.command()
def summary(
    model: Annotated[str, typer.Argument(help="Model shorthand or spec file.")],
    data: DataOpt = "mnist-5k",
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    weights_out: Annotated[
        Optional[Path],
        typer.Option(
            help="Also write the starting weights every engine trains from (for --seed and --init) to this .npz file."
        ),
    ] = None,
    seed: SeedOpt = 0,
    init: InitOpt = "he_normal",
    force: Annotated[bool, typer.Option(help="Overwrite an existing --weights-out file.")] = False,
):
    """Print a Keras-style summary of MODEL on a data set's input shape.

    Example: bplab summary cnn:32,64,64 --data mnist-5k

    Example: bplab summary mlp:16 --data digits --seed 3 --weights-out start.npz
    """
    built = api.model(model, data, data_dir)
    if weights_out is not None:
        if weights_out.suffix != ".npz":
            raise BplabError(f"--weights-out {weights_out}: the file name must end in .npz (NumPy's archive)")
        if weights_out.exists() and not force:
            raise BplabError(f"--weights-out {weights_out}: file exists; choose another name or pass --force")
        save_weights(weights_out, built.initial_weights(seed=seed, init=init))
    result = built.summary()
    if as_json:
        return emit_json(result.to_dict())
    out.print(result.table())
    out.print(
        f"Total params: {result.total:,}\nTrainable params: {result.trainable:,}\n"
        f"Non-trainable params: {result.non_trainable:,}"
    )
    if weights_out is not None:
        out.print(f"starting weights (seed {seed}, {init}): {weights_out}")


@data_app.command("info")
def data_info(
    name: Annotated[str, typer.Argument(help="Data set name.")], data_dir: DataDirOpt = None, as_json: JsonOpt = False
):
    """Sizes, shapes, classes and where the files came from.

    Example: bplab data info fashion-mnist
    """
    info = api.data(name, data_dir)
    if as_json:
        return emit_json(info.to_dict())
    table = info.table().to_rich()
    table.show_header = False
    out.print(table)


@app.command()
@training_options()
def train(
    ctx: typer.Context,
    config: TrainConfig,
    data: DataOpt = "mnist-5k",
    model: ModelOpt = DEFAULT_MODEL,
    engine: EngineOpt = "scratch",
    val_split: Annotated[
        float, typer.Option("--val-split", help="Fraction of training data held out for validation.")
    ] = 0.0,
    data_dir: DataDirOpt = None,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly instead of tf.function.")] = False,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Run folder (default runs/TIMESTAMP-ENGINE-DATA).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder.")] = False,
    resume: Annotated[
        Optional[Path], typer.Option("--resume", help="Continue an interrupted run folder with its own settings.")
    ] = None,
    checkpoint_every: Annotated[
        Optional[int],
        typer.Option(
            "--checkpoint-every", help="Also checkpoint every N steps (default: automatic, about 1% of training time)."
        ),
    ] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
):
    """Train MODEL on a data set with one engine and write a run record.

    The run folder gets a checkpoint at the end of every epoch (and every --checkpoint-every steps);
    a run that was killed or interrupted with Ctrl-C continues with --resume.

    Example: bplab train --engine scratch --data mnist-5k --model mlp:256,128,64 --optimizer adam --lr 0.001
    --epochs 5 --batch-size 128 --init he_normal --seed 0 --out runs/mnist

    Example: bplab train --resume runs/mnist
    """

    quiet = quiet or as_json
    try:
        if resume is not None:
            given = explicit_options(ctx, allowed=("resume", "quiet", "as_json"))
            if given:
                raise BplabError(f"--resume continues with the run's own settings; drop {', '.join(given)}")
            if inspect_run(resume).complete:
                return out.print(f"{resume}: the run is complete; nothing to do")
            run = api.resume(resume, quiet)
        else:
            run = api.train(
                data,
                model,
                engine,
                val_split,
                data_dir,
                eager,
                out_dir,
                force,
                checkpoint_every,
                quiet,
                **options_of(config),
            )
    except Interrupted as exc:
        print(
            f"interrupted at step {exc.step}; checkpoint written. Continue with: bplab train --resume {exc.folder}",
            file=sys.stderr,
        )
        raise typer.Exit(130) from None
    if as_json:
        return emit_json({"out": str(run.folder), "history": run.history.to_dict(), "test": run.test.to_dict()})
    out.print(run.history.table(f"{run.engine} · {run.dataset}"))
    if run.history.stopped:
        out.print(f"[yellow]{run.history.stopped}[/yellow]")
    out.print(f"test accuracy {run.test.accuracy:.4f}; run written to {run.folder}")


@app.command()
def gradcheck(
    data: DataOpt = "digits",
    model: ModelOpt = GRADCHECK_MODEL,
    loss: LossOpt = "categorical_crossentropy",
    l2: L2Opt = 0.0,
    init: InitOpt = "he_normal",
    seed: SeedOpt = 0,
    data_dir: DataDirOpt = None,
    batch: Annotated[int, typer.Option(help="Examples in the checked batch.")] = GRADCHECK_BATCH,
    entries: Annotated[int, typer.Option(help="Entries sampled per large tensor.")] = GRADCHECK_ENTRIES,
    autograd: Annotated[bool, typer.Option(help="Also compare with TensorFlow autograd (GradientTape).")] = False,
    as_json: JsonOpt = False,
):
    """Finite differences (float64) vs the hand-written backward pass, per parameter tensor.

    Example: bplab gradcheck --model mlp:32,16/act=tanh --data digits --loss mse
    """
    result = api.gradcheck(data, model, loss, l2, init, seed, data_dir, batch, entries, autograd)
    if as_json:
        emit_json(result.to_dict())
    else:
        out.print(result.table())
    if not result.passed:
        raise typer.Exit(1)


@app.command()
@training_options()
def compare(
    config: TrainConfig,
    engines: Annotated[str, typer.Option(help="Comma-separated engines to compare.")] = COMPARE_ENGINES,
    data: DataOpt = COMPARE_DATA,
    model: ModelOpt = DEFAULT_MODEL,
    data_dir: DataDirOpt = None,
    seeds: Annotated[
        int, typer.Option(help="Seeds per engine (seed, seed+1, ...); 2 or more adds Welch's t-test.")
    ] = 1,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly.")] = False,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for compare.json, curves and the runs.")
    ] = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
):
    """Train several engines from identical weights and batches; measure how far apart they end.

    Example: bplab compare --engines scratch,tape,fit --data mnist-5k --model mlp:256,128,64 --epochs 3 --seeds 3
    --out runs/compare
    """
    result = api.compare(
        engines, data, model, data_dir, seeds, eager, out_dir, force, quiet or as_json, **options_of(config)
    )
    doc = result.to_dict()
    if as_json:
        return emit_json(doc)
    for table in result.tables():
        out.print(table.to_rich())
    for note in result.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    if len(result.seeds) == 1:
        out.print("With --seeds 2 or more, each pair is tested against the seed-to-seed spread (Welch's t-test).")
    if out_dir is not None:
        out.print(
            f"written to {out_dir}: compare.json, curves.png and curves.svg (every seed), one run folder per seed and engine"
        )


@app.command()
def draw(
    model: ModelOpt = DEFAULT_MODEL,
    data: DataOpt = "mnist-5k",
    data_dir: DataDirOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pictures, DOT files and equations.")] = Path(
        "drawings"
    ),
    fmt: Annotated[str, typer.Option("--format", help="svg, png or pdf.")] = "svg",
    renderer: Annotated[str, typer.Option(help="auto (Graphviz if installed), graphviz or matplotlib.")] = "auto",
    loss: LossOpt = "categorical_crossentropy",
    l2: L2Opt = 0.0,
    optimizer: OptimizerOpt = "adam",
    lr: LrOpt = None,
    alpha: AlphaOpt = 0.0,
    force: ForceOpt = False,
    values: Annotated[
        bool,
        typer.Option(
            "--values",
            help="Label every node of the graphs with its value statistics "
            "(forward) or gradient norm (backward) on a batch of the training set.",
        ),
    ] = False,
    run_path: Annotated[
        Optional[Path],
        typer.Option(
            "--run",
            help="With --values: take the weights of this run folder (default: the initial weights for --seed).",
        ),
    ] = None,
    rows: Annotated[int, typer.Option(help="With --values: training rows in the batch.")] = 8,
    seed: SeedOpt = 0,
    layout: LayoutOpt = "rows",
    rankdir: Annotated[
        str,
        typer.Option(
            help="The graphs' direction: LR (left to right) or TB (top to bottom: a backward graph fits a 16:9 "
            "slide better)."
        ),
    ] = "LR",
):
    """Draw the network, its forward and backward computation graphs, and derive its update equations.

    Example: bplab draw --model mlp:256,128,64 --data mnist-5k --out drawings --format png --values

    In the columns layout (Z = W A + b) of many courses: bplab draw --model mlp:16,8 --data digits --layout columns

    For a 16:9 slide, top to bottom: bplab draw --model mlp:16,8 --data digits --rankdir TB
    """
    result = api.draw(
        model,
        data,
        data_dir,
        out_dir,
        fmt,
        renderer,
        loss,
        l2,
        optimizer,
        lr,
        alpha,
        force,
        values,
        run_path,
        rows,
        seed,
        layout,
        rankdir,
    )
    for path in result.files:
        out.print(f"wrote {path}")
    out.print(f"pictures rendered by {result.renderer}")


@app.command()
def evaluate(
    run_path: RunArg,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the run's).")] = None,
    data_dir: DataDirOpt = None,
    engine: EngineOpt = "scratch",
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out", help="Folder for evaluation.json and the heatmap (default: the run folder)."),
    ] = None,
    as_json: JsonOpt = False,
):
    """Accuracy, per-class precision/recall/F1, macro averages and the confusion matrix of a saved model.

    Example: bplab evaluate runs/mnist --data mnist-5k
    """
    result = api.evaluate(run_path, data, data_dir, engine, out_dir)
    if as_json:
        return emit_json(result.test.to_dict())
    report = result.test
    out.print(report.table(f"{run_path} on {result.data} ({engine}): accuracy {report.accuracy:.4f}"))
    out.print(report.confusion_table())
    out.print(f"heatmap: {result.files[1]}")


@app.command()
def export(
    run_path: RunArg,
    keras_file: Annotated[Optional[Path], typer.Option("--keras", help="Output .keras file.")] = None,
    script: Annotated[
        Optional[Path],
        typer.Option(
            "--script",
            help="Output .py file: the run as a standalone TensorFlow script (its tf.GradientTape loop, or "
            "compile + fit for a fit run), with its data, starting weights and batch order in FILE.npz beside it.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
):
    """Write a saved run in Keras's native .keras format, or as a TensorFlow script that trains it again.

    Example: bplab export runs/mnist --keras mnist.keras

    Example: bplab export runs/mnist --script mnist_train.py

    Then `python mnist_train.py` (NumPy and TensorFlow only) trains the run again and says whether it ended
    on the run's weights bit for bit.
    """
    result = api.export(run_path, keras_file, script, force)
    if result.path is not None:
        out.print(f"wrote {result.path} ({result.parameters:,} parameters)")
    if result.script is not None:
        how = "a tf.GradientTape loop" if result.loop == "tape" else "compile + fit"
        out.print(f"wrote {result.script} ({how}) and {result.arrays} (data, starting weights, batch order)")
        out.print(f"run it: python {result.script}")


@app.command()
@training_options(epochs=2, batch_size="32", init="glorot_uniform")
def transfer(
    config: TrainConfig,
    from_path: Annotated[Path, typer.Option("--from", help="Trained run folder or .keras file (the base).")],
    classes: Annotated[str, typer.Option(help="Two classes by name or index, e.g. 3,8 or Sneaker,Sandal.")],
    engine: EngineOpt = "scratch",
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the base run's).")] = None,
    data_dir: DataDirOpt = None,
    finetune: Annotated[
        bool, typer.Option(help="Then unfreeze every layer and keep training at a lower rate.")
    ] = False,
    finetune_lr: Annotated[Optional[float], typer.Option(help="Fine-tuning learning rate (default: lr / 10).")] = None,
    finetune_epochs: Annotated[Optional[int], typer.Option(help="Fine-tuning epochs (default: --epochs).")] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for transfer.json, runs and confusion matrices.")
    ] = None,
    force: ForceOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
):
    """Reuse a trained network for a two-class task: frozen base + new sigmoid head, optional fine-tuning,
    compared with training the same network from scratch (the loss is always binary cross-entropy).

    Example: bplab train --engine scratch --data mnist-5k --model cnn:32,64,64 --epochs 2 --out runs/cnn

    Example: bplab transfer --from runs/cnn --classes 3,8 --finetune --out runs/transfer
    """
    result = api.transfer(
        from_path,
        classes,
        engine,
        data,
        data_dir,
        finetune,
        finetune_lr,
        finetune_epochs,
        out_dir,
        force,
        quiet or as_json,
        **options_of(config),
    )
    if as_json:
        return emit_json(result.to_dict())
    out.print(result.table())
    for v in result.variants:
        out.print(f"{v.name}: confusion {v.run.test.confusion_matrix}")
    h = result.head
    out.print(
        f"head: trained on the frozen base's cached features {tuple(h.feature_shape)} for {h.epochs} epochs, "
        f"{h.steps:,} steps ({h.stop_reason}: {h.rule}); from scratch: {result.scratch_epochs} epochs "
        f"({result.scratch_epochs_rule})",
        markup=False,
    )
    out.print(f"frozen base bit-identical after head-only training: {result.base_unchanged}")
    if result.finetune_changed_base is not None:
        out.print(f"fine-tuning changed the base: {result.finetune_changed_base}")
    if out_dir is not None:
        out.print(f"written to {out_dir}")


SweepOut = Annotated[
    Optional[Path], typer.Option("--out", help="Folder of the sweep (a run folder per cell and seed, results).")
]
JobsOpt = Annotated[int, typer.Option(help="Runs at a time in worker processes (threads are split between them).")]
BackendOpt = Annotated[str, typer.Option(help="local (this machine) or ray (an existing Ray cluster).")]
AddressOpt = Annotated[Optional[str], typer.Option(help="Ray cluster address (default: start or join a local one).")]


def given_training_options(ctx: typer.Context, config: TrainConfig) -> dict:
    """The training options the user typed, as keywords for the API (which leaves the others to a file)."""
    values = options_of(config)
    return {name: values[name] for name in explicit_names(ctx, TRAINING_OPTIONS)}


def show_sweep(result, as_json: bool) -> None:
    if as_json:
        return emit_json({"out": str(result.folder), "cells": result.rows(), "seconds": result.seconds})
    out.print(result.markdown())
    out.print(
        f"{len(result.plan.cells()) * result.plan.seeds} runs in {result.seconds:.1f} s; wrote "
        + ", ".join(str(p.name) for p in result.files)
        + f" in {result.folder}"
    )


@app.command()
@training_options()
def sweep(
    ctx: typer.Context,
    config: TrainConfig,
    file: Annotated[
        Optional[Path], typer.Argument(help="Sweep file (TOML): base options, [grid], [variants.NAME].")
    ] = None,
    preset: Annotated[
        Optional[str],
        typer.Option(
            help="width, depth, init, optimizer, lr, batch, dropout, l2, loss, activation, blend or numpy-33."
        ),
    ] = None,
    grid: Annotated[
        Optional[list[str]], typer.Option("--grid", help="KEY=V1,V2 (repeatable; use | between values holding commas).")
    ] = None,
    data: DataOpt = "mnist-5k",
    data_dir: DataDirOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    engine: EngineOpt = "scratch",
    seeds: Annotated[int, typer.Option(help="Seeds per cell (default 3, or the file's).")] = 3,
    baseline: Annotated[
        Optional[str], typer.Option(help="Cell the others are tested against (default: the first).")
    ] = None,
    jobs: JobsOpt = 1,
    backend: BackendOpt = "local",
    address: AddressOpt = None,
    out_dir: SweepOut = None,
    force: Annotated[bool, typer.Option(help="Replace a different sweep in --out.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
):
    """Train a grid of option values over several seeds; table with mean ± std, 95% intervals and a test
    of each cell against the baseline, curves and a bar chart. Re-running the same command skips
    finished runs and resumes interrupted ones.

    Example: bplab sweep --grid optimizer=sgd,adam,rmsprop --grid init=he_normal,small_normal --seeds 3 --data digits --out runs/sweep

    Example: bplab sweep --preset numpy-33 --data mnist-5k --seeds 1 --jobs 2 --out runs/numpy33
    """

    def typed(name, value):
        return value if name in explicit_names(ctx, (name,)) else None

    result = api.sweep(
        file,
        preset,
        grid,
        typed("data", data),
        typed("data_dir", data_dir),
        typed("model", model),
        typed("engine", engine),
        typed("seeds", seeds),
        typed("baseline", baseline),
        jobs,
        backend,
        address,
        out_dir,
        force,
        quiet or as_json,
        **given_training_options(ctx, config),
    )
    show_sweep(result, as_json)


@app.command()
@training_options()
def blend(
    ctx: typer.Context,
    config: TrainConfig,
    alphas: Annotated[str, typer.Option(help="Comma-separated blend factors in [0, 1].")] = "0,0.25,0.5,0.75,1",
    data: DataOpt = "mnist-5k",
    data_dir: DataDirOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    engine: EngineOpt = "scratch",
    seeds: Annotated[int, typer.Option(help="Seeds per alpha.")] = 1,
    jobs: JobsOpt = 1,
    out_dir: SweepOut = None,
    force: Annotated[bool, typer.Option(help="Replace a different study in --out.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
):
    """The blended update W <- (1 - alpha) W_new + alpha W_old for several alpha: loss and accuracy
    curves per alpha on one plot (per epoch, and per step for the first seed) and a table of final figures.

    Example: bplab blend --alphas 0,0.25,0.5,0.75,1 --engine scratch --data digits --epochs 5 --out runs/blend
    """
    options = {**given_training_options(ctx, config), "seed": config.seed}
    result = api.blend(alphas, data, data_dir, model, engine, seeds, jobs, out_dir, force, quiet or as_json, **options)
    show_sweep(result, as_json)
    if not as_json:
        out.print(f"per-step loss curves: {result.step_curves}")


@app.command()
def study(
    file: Annotated[
        Optional[Path], typer.Argument(help="Study file (TOML); default: the reference study shipped with the package.")
    ] = None,
    data: Annotated[
        Optional[str], typer.Option("--data", "-d", help="Data set for every section (default: the study's).")
    ] = None,
    data_dir: DataDirOpt = None,
    preset: Annotated[
        str,
        typer.Option(
            help="quick (minutes) or full (more epochs and seeds; fashion-mnist), as the study file defines them."
        ),
    ] = STUDY_PRESET,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.html, report.md and every run folder used.")
    ] = Path(STUDY_OUT),
    show_reference: Annotated[
        bool, typer.Option("--print-reference", help="Print the reference study file (to copy and change) and exit.")
    ] = False,
    notebook: Annotated[
        bool,
        typer.Option(
            "--notebook",
            help="Also write study.ipynb in --out: a markdown cell per section "
            "and code cells that reproduce it through the Python API.",
        ),
    ] = False,
    quiet: QuietOpt = False,
):
    """Run the whole study (diagrams, derived and checked equations, the three engines from the same weights,
    the 33% set-up, experiments with seeds and intervals, the CIFAR-10 set-up, the blended update, the CNN,
    save and load, transfer learning) and write one offline HTML report. Re-running skips what is finished.

    Example: bplab study --preset quick --data mnist-5k --out runs/study

    Example: bplab study --print-reference > my-study.toml && bplab study my-study.toml --out runs/my-study

    Example: bplab study --data digits --out runs/study --notebook

    Example: bplab study --data mnist --data-dir ~/data/mnist --preset full --out runs/mnist-study
    """
    if show_reference:
        return print(api.study(print_reference=True), end="")
    command = "bplab " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["study"] else "bplab study"
    result = api.study(file, data, preset, out_dir, quiet=quiet, notebook=notebook, command=command, data_dir=data_dir)
    size = result.html.stat().st_size
    out.print(
        f"{len(result.sections)} sections in {result.seconds:.1f} s ({len(result.cached)} from an earlier run); "
        f"report: {result.html} ({size / 1e6:.1f} MB), {result.markdown}"
        + (f"; notebook: {result.notebook}" if result.notebook else "")
    )


# Commands written in modules of their own, registered here (not by import side effect).
app.command("check-derivation")(check_derivation)
app.command("check-code")(check_code)
app.command("derive")(derive)
app.command("exercise")(exercise)
app.command("grade")(grade)
app.command("explore")(explore)


def main() -> None:
    """Entry point: every user error becomes one line on stderr and exit code 2."""
    try:
        rv = app(standalone_mode=False)
    except BplabError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        sys.exit(2)
    except TyperException as exc:  # bad options: one line, exit 2 (Typer's usage errors)
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except (Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # a path the system refuses (no permission, disk full, a file where a folder goes)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{(exc.strerror or str(exc)).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
