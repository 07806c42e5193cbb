"""The ``bplab`` command: each command calls the library and a renderer; no maths here.

Bad input of any kind ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from typer.exceptions import Abort, TyperException  # noqa: E402

from ..config import TrainConfig  # noqa: E402
from ..errors import BplabError  # noqa: E402
from . import tables  # noqa: E402
from .options import (AlphaOpt, DataDirOpt, DataOpt, EngineOpt, ForceOpt, InitOpt, JsonOpt, L2Opt, LossOpt,  # noqa: E402
                      LrOpt, ModelOpt, OptimizerOpt, QuietOpt, SeedOpt, TRAINING_OPTIONS, explicit_names,
                      explicit_options, training_options)

app = typer.Typer(help="backprop-lab: build, derive, train and compare neural networks three ways.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
data_app = typer.Typer(help="Data sets: where they come from and what they hold.", no_args_is_help=True,
                       rich_markup_mode=None)
app.add_typer(data_app, name="data")
out = Console(width=None if sys.stdout.isatty() else 150)  # tables stay readable when piped
RunArg = Annotated[Path, typer.Argument(help="A run folder (model.json + weights.npz) or a .keras file.")]


def emit_json(obj) -> None:
    from ..fileio import jsonable

    print(json.dumps(obj, indent=2, default=jsonable))


def progress(label: str, show: bool) -> list:
    from ..progress import ProgressBar

    return [ProgressBar(label)] if show else []


@app.command()
def summary(model: Annotated[str, typer.Argument(help="Model shorthand or spec file.")], data: DataOpt = "mnist-5k",
            data_dir: DataDirOpt = None, as_json: JsonOpt = False):
    """Print a Keras-style summary of MODEL on a data set's input shape.

    Example: bplab summary cnn:32,64,64 --data mnist-5k
    """
    from ..data import load_dataset
    from ..spec import parse_model, summary_document

    ds = load_dataset(data, data_dir)
    doc = summary_document(parse_model(model, ds.input_shape, ds.num_classes))
    if as_json:
        return emit_json(doc)
    out.print(tables.summary_table(f"{model} on {data} (input {tuple(doc['input_shape'])})",
                                   [tuple(r.values()) for r in doc["layers"]]))
    out.print(f"Total params: {doc['total']:,}\nTrainable params: {doc['trainable']:,}\n"
              f"Non-trainable params: {doc['non_trainable']:,}")


@data_app.command("info")
def data_info(name: Annotated[str, typer.Argument(help="Data set name.")], data_dir: DataDirOpt = None,
              as_json: JsonOpt = False):
    """Sizes, shapes, classes and where the files came from.

    Example: bplab data info fashion-mnist
    """
    from ..data import load_dataset

    info = load_dataset(name, data_dir).info()
    if as_json:
        return emit_json(info)
    out.print(tables.data_info_table(name, info))


@app.command()
@training_options()
def train(
    ctx: typer.Context, config: TrainConfig,
    data: DataOpt = "mnist-5k", model: ModelOpt = "mlp:256,128,64", engine: EngineOpt = "scratch",
    val_split: Annotated[float, typer.Option("--val-split", help="Fraction of training data held out for validation.")] = 0.0,
    data_dir: DataDirOpt = None,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly instead of tf.function.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default runs/TIMESTAMP-ENGINE-DATA).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue an interrupted run folder with its own settings.")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option("--checkpoint-every", help="Also checkpoint every N steps (default: automatic, about 1% of training time).")] = None,
    quiet: QuietOpt = False, as_json: JsonOpt = False,
):
    """Train MODEL on a data set with one engine and write a run record.

    The run folder gets a checkpoint at the end of every epoch (and every --checkpoint-every steps);
    a run that was killed or interrupted with Ctrl-C continues with --resume.

    Example: bplab train --engine scratch --data mnist-5k --model mlp:256,128,64 --optimizer adam --lr 0.001
    --epochs 5 --batch-size 128 --init he_normal --seed 0 --out runs/mnist

    Example: bplab train --resume runs/mnist
    """
    from ..training import Interrupted
    from ..workflow import default_run_folder, inspect_run, new_run_folder, prepare, resume_run, start_run

    show = not (quiet or as_json)
    try:
        if resume is not None:
            given = explicit_options(ctx, allowed=("resume", "quiet", "as_json"))
            if given:
                raise BplabError(f"--resume continues with the run's own settings; drop {', '.join(given)}")
            info = inspect_run(resume)
            if info.complete:
                return out.print(f"{resume}: the run is complete; nothing to do")
            run, folder = resume_run(resume, progress(f"{info.engine} (resumed)", show)), resume
        else:
            setup = prepare(data, model, config, data_dir, val_split)
            folder = new_run_folder(out_dir or default_run_folder(engine, data), force)
            run = start_run(setup, engine, folder, progress(engine, show), {"eager": eager} if engine == "tape" else None,
                            checkpoint_every)
    except Interrupted as exc:
        print(f"interrupted at step {exc.step}; checkpoint written. Continue with: bplab train --resume {exc.folder}",
              file=sys.stderr)
        raise typer.Exit(130)
    run.save_heatmap(folder)
    if as_json:
        return emit_json({"out": str(folder), "history": run.history.to_dict(), "test": run.metrics["test"]})
    out.print(tables.history_table(f"{run.engine} · {run.dataset}", run.history))
    if run.history.stopped:
        out.print(f"[yellow]{run.history.stopped}[/yellow]")
    out.print(f"test accuracy {run.metrics['test']['accuracy']:.4f}; run written to {folder}")


@app.command()
def gradcheck(
    data: DataOpt = "digits", model: ModelOpt = "mlp:16,16", loss: LossOpt = "categorical_crossentropy",
    l2: L2Opt = 0.0, init: InitOpt = "he_normal", seed: SeedOpt = 0, data_dir: DataDirOpt = None,
    batch: Annotated[int, typer.Option(help="Examples in the checked batch.")] = 16,
    entries: Annotated[int, typer.Option(help="Entries sampled per large tensor.")] = 30,
    autograd: Annotated[bool, typer.Option(help="Also compare with TensorFlow autograd (GradientTape).")] = False,
    as_json: JsonOpt = False,
):
    """Finite differences (float64) vs the hand-written backward pass, per parameter tensor.

    Example: bplab gradcheck --model mlp:32,16/act=tanh --data digits --loss mse
    """
    from ..gradcheck import TOLERANCE, gradcheck_data

    config = TrainConfig(loss=loss, l2=l2, init=init, seed=seed, dtype="float64")
    rows = gradcheck_data(data, model, config, data_dir, batch, entries, autograd)
    if as_json:
        emit_json({"tolerance": TOLERANCE, "rows": [r.to_dict() for r in rows]})
    else:
        out.print(tables.gradcheck_table(f"gradient check · {model} · {loss} (float64, tolerance {TOLERANCE:g})",
                                         rows, autograd))
    if not all(r.passed for r in rows):
        raise typer.Exit(1)


@app.command()
@training_options()
def compare(
    config: TrainConfig,
    engines: Annotated[str, typer.Option(help="Comma-separated engines to compare.")] = "scratch,tape,fit",
    data: DataOpt = "mnist-5k", model: ModelOpt = "mlp:256,128,64", data_dir: DataDirOpt = None,
    seeds: Annotated[int, typer.Option(help="Seeds per engine (seed, seed+1, ...); 2 or more adds Welch's t-test.")] = 1,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for compare.json, curves and the runs.")] = None,
    force: ForceOpt = False, quiet: QuietOpt = False, as_json: JsonOpt = False,
):
    """Train several engines from identical weights and batches; measure how far apart they end.

    Example: bplab compare --engines scratch,tape,fit --data mnist-5k --model mlp:256,128,64 --epochs 3 --seeds 3
    --out runs/compare
    """
    from ..compare import compare as run_compare, parse_engines
    from ..workflow import new_run_folder, prepare

    names = parse_engines(engines, eager)
    setup = prepare(data, model, config, data_dir)
    if out_dir is not None:
        new_run_folder(out_dir, force)
    show = not (quiet or as_json)
    result = run_compare(setup, names, seeds, {"tape": {"eager": eager}},
                         callbacks_for=lambda e, s: progress(f"{e} seed {s}", show))
    if out_dir is not None:
        result.save(out_dir, f"{model} on {data}")
    doc = result.to_dict()
    if as_json:
        return emit_json(doc)
    k = len(result.seeds)
    title = f"{model} on {data} · {config.optimizer} · {config.epochs} epochs · {k} seed{'s' if k > 1 else ''}"
    for table in tables.comparison_tables(title, doc, result.pairs):
        out.print(table)
    for note in result.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    if k == 1:
        out.print("With --seeds 2 or more, each pair is tested against the seed-to-seed spread (Welch's t-test).")
    if out_dir is not None:
        out.print(f"written to {out_dir}: compare.json, curves.png, curves.svg and one run folder per seed and engine")


@app.command()
def draw(
    model: ModelOpt = "mlp:256,128,64", data: DataOpt = "mnist-5k", data_dir: DataDirOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pictures, DOT files and equations.")] = Path("drawings"),
    fmt: Annotated[str, typer.Option("--format", help="svg, png or pdf.")] = "svg",
    renderer: Annotated[str, typer.Option(help="auto (Graphviz if installed), graphviz or matplotlib.")] = "auto",
    loss: LossOpt = "categorical_crossentropy", l2: L2Opt = 0.0, optimizer: OptimizerOpt = "adam", lr: LrOpt = None,
    alpha: AlphaOpt = 0.0, force: ForceOpt = False,
    values: Annotated[bool, typer.Option("--values", help="Label every node of the graphs with its value statistics "
                                         "(forward) or gradient norm (backward) on a batch of the training set.")] = False,
    run_path: Annotated[Optional[Path], typer.Option("--run", help="With --values: take the weights of this run folder "
                                                     "(default: the initial weights for --seed).")] = None,
    rows: Annotated[int, typer.Option(help="With --values: training rows in the batch.")] = 8,
    seed: SeedOpt = 0,
):
    """Draw the network, its forward and backward computation graphs, and derive its update equations.

    Example: bplab draw --model mlp:256,128,64 --data mnist-5k --out drawings --format png --values
    """
    from ..viz.drawings import graph_values, write_drawings
    from ..viz.render import check_format
    from ..workflow import new_run_folder, prepare

    check_format(fmt, renderer)
    if rows < 1:
        raise BplabError(f"--rows: must be at least 1, got {rows}")
    config = TrainConfig(loss=loss, l2=l2, optimizer=optimizer, lr=lr, alpha=alpha, seed=seed)
    setup = prepare(data, model, config, data_dir)
    labels = graph_values(setup, run_path, rows) if values or run_path is not None else None
    new_run_folder(out_dir, force)
    written, used = write_drawings(setup.spec, setup.dataset.class_names, config, out_dir, fmt, renderer,
                                   f"{model} on {data} ({loss}, {optimizer})", labels)
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"pictures rendered by {used}")


@app.command()
def evaluate(
    run_path: RunArg, data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the run's).")] = None,
    data_dir: DataDirOpt = None, engine: EngineOpt = "scratch",
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for evaluation.json and the heatmap (default: the run folder).")] = None,
    as_json: JsonOpt = False,
):
    """Accuracy, per-class precision/recall/F1, macro averages and the confusion matrix of a saved model.

    Example: bplab evaluate runs/mnist --data mnist-5k
    """
    from ..evaluate import evaluate_model

    result = evaluate_model(run_path, data, data_dir, engine)
    _, heatmap = result.save(out_dir or (run_path if run_path.is_dir() else run_path.parent))
    if as_json:
        return emit_json(result.report)
    report = result.report
    out.print(tables.report_table(f"{run_path} on {result.data} ({engine}): accuracy {report['accuracy']:.4f}", report))
    out.print(tables.confusion_table(report))
    out.print(f"heatmap: {heatmap}")


@app.command()
def export(run_path: RunArg, keras_file: Annotated[Path, typer.Option("--keras", help="Output .keras file.")],
           force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False):
    """Write a saved run in Keras's native .keras format.

    Example: bplab export runs/mnist --keras mnist.keras
    """
    from ..portable import export_keras, load_model

    if keras_file.exists() and not force:
        raise BplabError(f"{keras_file}: exists; pass --force to overwrite")
    run = load_model(run_path)
    export_keras(run, keras_file)
    out.print(f"wrote {keras_file} ({sum(run.spec.count_params()):,} parameters)")


@app.command()
@training_options(epochs=2, batch_size="32", init="glorot_uniform")
def transfer(
    config: TrainConfig,
    from_path: Annotated[Path, typer.Option("--from", help="Trained run folder or .keras file (the base).")],
    classes: Annotated[str, typer.Option(help="Two classes by name or index, e.g. 3,8 or Sneaker,Sandal.")],
    engine: EngineOpt = "scratch",
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the base run's).")] = None,
    data_dir: DataDirOpt = None,
    finetune: Annotated[bool, typer.Option(help="Then unfreeze every layer and keep training at a lower rate.")] = False,
    finetune_lr: Annotated[Optional[float], typer.Option(help="Fine-tuning learning rate (default: lr / 10).")] = None,
    finetune_epochs: Annotated[Optional[int], typer.Option(help="Fine-tuning epochs (default: --epochs).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for transfer.json, runs and confusion matrices.")] = None,
    force: ForceOpt = False, quiet: QuietOpt = False, as_json: JsonOpt = False,
):
    """Reuse a trained network for a two-class task: frozen base + new sigmoid head, optional fine-tuning,
    compared with training the same network from scratch (the loss is always binary cross-entropy).

    Example: bplab transfer --from runs/cnn --classes 3,8 --finetune --out runs/transfer
    """
    from ..experiments.transfer import transfer_from
    from ..workflow import new_run_folder

    if out_dir is not None:
        new_run_folder(out_dir, force)
    show = not (quiet or as_json)
    result = transfer_from(from_path, classes, engine, config, data, data_dir, finetune, finetune_lr, finetune_epochs,
                           callbacks_for=lambda label: progress(label, show))
    if out_dir is not None:
        result.save(out_dir)
    if as_json:
        return emit_json(result.to_dict())
    out.print(tables.transfer_table(f"transfer to {' vs '.join(result.classes)} ({engine})", result))
    for v in result.variants:
        out.print(f"{v.name}: confusion {v.run.metrics['test']['confusion_matrix']}")
    out.print(f"frozen base bit-identical after head-only training: {result.base_unchanged}")
    if result.finetune_changed_base is not None:
        out.print(f"fine-tuning changed the base: {result.finetune_changed_base}")
    if out_dir is not None:
        out.print(f"written to {out_dir}")


SweepOut = Annotated[Optional[Path], typer.Option("--out", help="Folder of the sweep (a run folder per cell and seed, results).")]
JobsOpt = Annotated[int, typer.Option(help="Runs at a time in worker processes (threads are split between them).")]
BackendOpt = Annotated[str, typer.Option(help="local (this machine) or ray (an existing Ray cluster).")]
AddressOpt = Annotated[Optional[str], typer.Option(help="Ray cluster address (default: start or join a local one).")]


def _base_from_cli(ctx: typer.Context, config: TrainConfig, model: str, engine: str) -> dict:
    base = {name: getattr(config, name) for name in explicit_names(ctx, TRAINING_OPTIONS) if name != "seed"}
    base.update({name: value for name, value in (("model", model), ("engine", engine))
                 if name in explicit_names(ctx, ("model", "engine"))})
    return base


def _run_and_show(plan, out_dir: Path, force: bool, jobs: int, backend: str, address, show: bool, as_json: bool):
    from ..experiments.sweep import run_sweep
    from ..progress import SweepProgress
    from ..workflow import sweep_folder

    sweep_folder(out_dir, plan.to_dict(), force)
    with SweepProgress(len(plan.cells()) * plan.seeds, show) as bar:
        result = run_sweep(plan, out_dir, jobs, backend, address, on_done=bar.done)
    written = result.save(out_dir)
    if as_json:
        emit_json({"out": str(out_dir), "cells": result.rows(), "seconds": result.seconds})
    else:
        out.print(result.markdown())
        out.print(f"{len(plan.cells()) * plan.seeds} runs in {result.seconds:.1f} s; wrote "
                  + ", ".join(str(p.name) for p in written) + f" in {out_dir}")
    return result


@app.command()
@training_options()
def sweep(
    ctx: typer.Context, config: TrainConfig,
    file: Annotated[Optional[Path], typer.Argument(help="Sweep file (TOML): base options, [grid], [variants.NAME].")] = None,
    preset: Annotated[Optional[str], typer.Option(help="width, depth, init, optimizer, lr, batch, dropout, l2, loss, activation, blend or numpy-33.")] = None,
    grid: Annotated[Optional[list[str]], typer.Option("--grid", help="KEY=V1,V2 (repeatable; use | between values holding commas).")] = None,
    data: DataOpt = "mnist-5k", data_dir: DataDirOpt = None, model: ModelOpt = "mlp:256,128,64",
    engine: EngineOpt = "scratch",
    seeds: Annotated[int, typer.Option(help="Seeds per cell (default 3, or the file's).")] = 3,
    baseline: Annotated[Optional[str], typer.Option(help="Cell the others are tested against (default: the first).")] = None,
    jobs: JobsOpt = 1, backend: BackendOpt = "local", address: AddressOpt = None,
    out_dir: SweepOut = None, force: Annotated[bool, typer.Option(help="Replace a different sweep in --out.")] = False,
    quiet: QuietOpt = False, as_json: JsonOpt = False,
):
    """Train a grid of option values over several seeds; table with mean ± std, 95% intervals and a test
    of each cell against the baseline, curves and a bar chart. Re-running the same command skips
    finished runs and resumes interrupted ones.

    Example: bplab sweep --grid optimizer=sgd,adam,rmsprop --grid init=he_normal,small_normal --seeds 3 --data digits --out runs/sweep

    Example: bplab sweep --preset numpy-33 --data mnist-5k --seeds 1 --jobs 2 --out runs/numpy33
    """
    from ..experiments.presets import preset as preset_doc
    from ..experiments.sweep import normalise_key, parse_grid_arg, plan_from_document, read_sweep_file

    doc = preset_doc(preset) if preset else {}
    if file is not None:
        own = read_sweep_file(file)
        doc = {**doc, **{k: v for k, v in own.items() if k not in ("grid", "variants")},
               "grid": {**doc.get("grid", {}), **own.get("grid", {})},
               "variants": {**doc.get("variants", {}), **own.get("variants", {})}}
    doc = {**doc, **_base_from_cli(ctx, config, model, engine)}
    settings = {"data": data, "seeds": seeds, "baseline": baseline, "data_dir": str(data_dir) if data_dir else None}
    doc.update({name: settings[name] for name in explicit_names(ctx, settings)})
    doc.setdefault("data", data)
    if "seed" in explicit_names(ctx, ("seed",)):
        doc["seed"] = config.seed
    for text in grid or []:
        key, values = parse_grid_arg(text)
        doc.setdefault("grid", {})
        doc["grid"] = {**doc["grid"], normalise_key(key, "--grid"): values}
    plan = plan_from_document(doc, str(file) if file else (f"preset {preset}" if preset else "sweep"))
    if not plan.grid:
        raise BplabError("sweep: nothing to vary; give --grid KEY=V1,V2, --preset NAME or a file with [grid]")
    name = preset or (file.stem if file else "sweep")
    _run_and_show(plan, out_dir or Path("runs") / f"sweep-{name}", force, jobs, backend, address,
                  not (quiet or as_json), as_json)


@app.command()
@training_options()
def blend(
    ctx: typer.Context, config: TrainConfig,
    alphas: Annotated[str, typer.Option(help="Comma-separated blend factors in [0, 1].")] = "0,0.25,0.5,0.75,1",
    data: DataOpt = "mnist-5k", data_dir: DataDirOpt = None, model: ModelOpt = "mlp:256,128,64",
    engine: EngineOpt = "scratch", seeds: Annotated[int, typer.Option(help="Seeds per alpha.")] = 1,
    jobs: JobsOpt = 1, out_dir: SweepOut = None,
    force: Annotated[bool, typer.Option(help="Replace a different study in --out.")] = False,
    quiet: QuietOpt = False, as_json: JsonOpt = False,
):
    """The blended update W <- (1 - alpha) W_new + alpha W_old for several alpha: loss and accuracy
    curves per alpha on one plot (per epoch, and per step for the first seed) and a table of final figures.

    Example: bplab blend --alphas 0,0.25,0.5,0.75,1 --engine scratch --data digits --epochs 5 --out runs/blend
    """
    from ..experiments.blend import blend_plan, save_step_curves

    base = {**_base_from_cli(ctx, config, model, engine), "model": model, "engine": engine}
    plan = blend_plan(alphas, data, base, seeds, config.seed, str(data_dir) if data_dir else None)
    out_dir = out_dir or Path("runs") / "blend"
    result = _run_and_show(plan, out_dir, force, jobs, "local", None, not (quiet or as_json), as_json)
    path = save_step_curves(result, out_dir / "step_loss.png")
    if not as_json:
        out.print(f"per-step loss curves: {path}")


@app.command()
def study(
    file: Annotated[Optional[Path], typer.Argument(help="Study file (TOML); default: the reference study shipped with the package.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set for every section (default: the study's).")] = None,
    preset: Annotated[str, typer.Option(help="quick (minutes) or full (more epochs and seeds; fashion-mnist), as the study file defines them.")] = "quick",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html, report.md and every run folder used.")] = Path("runs/study"),
    show_reference: Annotated[bool, typer.Option("--print-reference", help="Print the reference study file (to copy and change) and exit.")] = False,
    quiet: QuietOpt = False,
):
    """Run the whole study (diagrams, derived and checked equations, the three engines from the same weights,
    the 33% set-up, experiments with seeds and intervals, the CIFAR-10 set-up, the blended update, the CNN,
    save and load, transfer learning) and write one offline HTML report. Re-running skips what is finished.

    Example: bplab study --preset quick --data mnist-5k --out runs/study

    Example: bplab study --print-reference > my-study.toml && bplab study my-study.toml --out runs/my-study
    """
    from ..progress import StudyProgress
    from ..study import load_study, reference_text, run_study
    from ..study.run import WEIGHTS

    if show_reference:
        return print(reference_text(), end="")
    plan = load_study(file, preset, data)
    if out_dir.exists() and not out_dir.is_dir():
        raise BplabError(f"{out_dir}: exists and is not a folder")
    command = "bplab " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["study"] else "bplab study"
    with StudyProgress({k: WEIGHTS.get(k, 5) for k in plan.sections}, not quiet) as bar:
        result = run_study(plan, out_dir, command, bar)
    size = result.html.stat().st_size
    out.print(f"{len(result.sections)} sections in {result.seconds:.1f} s ({len(result.cached)} from an earlier run); "
              f"report: {result.html} ({size / 1e6:.1f} MB), {result.markdown}")


from . import check_cmd, derive_cmd  # noqa: E402,F401 - they add their commands to ``app``


def main() -> None:
    """Entry point: every user error becomes one line on stderr and exit code 2."""
    try:
        rv = app(standalone_mode=False)
    except BplabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except TyperException as exc:  # bad options: one line, exit 2 (Typer's usage errors)
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except (Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
