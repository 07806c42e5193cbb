"""The ``bplab`` command: thin wiring from options to the library, no maths here.

Bad input of any kind ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import typer
from typer.exceptions import Abort, TyperException
from rich.console import Console
from rich.table import Table

from .config import TrainConfig, parse_batch_size
from .errors import BplabError

app = typer.Typer(help="backprop-lab: build, derive, train and compare neural networks three ways.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
data_app = typer.Typer(help="Data sets: where they come from and what they hold.", no_args_is_help=True,
                       rich_markup_mode=None)
app.add_typer(data_app, name="data")
out = Console(width=None if sys.stdout.isatty() else 150)  # tables stay readable when piped

# --- options shared by the commands that train -------------------------
DataOpt = Annotated[str, typer.Option("--data", "-d", help="digits, mnist-5k, mnist, fashion-mnist, cifar10 or csv:PATH[,TEST]")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding the data set's files.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="mlp:256,128,64[/act=tanh][/dropout=0.2], cnn:32,64,64, or a .json/.toml spec.")]
OptimizerOpt = Annotated[str, typer.Option(help="sgd, momentum, nesterov, rmsprop or adam (Keras 3 formulas).")]
LrOpt = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: Keras's default for the optimizer).")]
EpochsOpt = Annotated[int, typer.Option(help="Passes over the training set.")]
BatchOpt = Annotated[str, typer.Option("--batch-size", help="Rows per batch, or 'full' for full-batch training.")]
InitOpt = Annotated[str, typer.Option(help="zeros, small_normal, glorot_uniform, glorot_normal, he_normal, he_uniform.")]
LossOpt = Annotated[str, typer.Option(help="categorical_crossentropy, binary_crossentropy or mse.")]
L2Opt = Annotated[float, typer.Option(help="L2 penalty on kernels: l2 * sum(W^2), as Keras's L2 regulariser.")]
AlphaOpt = Annotated[float, typer.Option(help="Blended update: W <- (1-alpha) W_new + alpha W_old (0: plain).")]
DecayOpt = Annotated[str, typer.Option(help="Learning-rate schedule: none, exponential or step.")]
DecayRateOpt = Annotated[float, typer.Option(help="Decay factor per --decay-steps.")]
DecayStepsOpt = Annotated[Optional[int], typer.Option(help="Steps per decay period (default: one epoch).")]
MomentumOpt = Annotated[float, typer.Option(help="Momentum for the momentum and nesterov optimizers.")]
SeedOpt = Annotated[int, typer.Option(help="Seed for initial weights, batch order and dropout.")]
DtypeOpt = Annotated[str, typer.Option(help="float32 or float64.")]
ValOpt = Annotated[float, typer.Option("--val-split", help="Fraction of training data held out for validation.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def make_config(optimizer, lr, epochs, batch_size, init, loss, l2, alpha, decay, decay_rate, decay_steps, momentum,
                seed, dtype) -> TrainConfig:
    return TrainConfig(optimizer=optimizer, lr=lr, epochs=epochs, batch_size=parse_batch_size(batch_size), loss=loss,
                       init=init, l2=l2, alpha=alpha, decay=decay, decay_rate=decay_rate, decay_steps=decay_steps,
                       momentum=momentum, seed=seed, dtype=dtype)


def _emit_json(obj) -> None:
    from .fileio import jsonable

    print(json.dumps(obj, indent=2, default=jsonable))


# --- commands ----------------------------------------------------------

@app.command()
def summary(model: Annotated[str, typer.Argument(help="Model shorthand or spec file.")], data: DataOpt = "mnist-5k",
            data_dir: DataDirOpt = None, as_json: JsonOpt = False):
    """Print a Keras-style summary of MODEL on a data set's input shape.

    Example: bplab summary cnn:32,64,64 --data mnist-5k
    """
    from .data import load_dataset
    from .spec import parse_model, summary_rows

    ds = load_dataset(data, data_dir)
    spec = parse_model(model, ds.input_shape, ds.num_classes)
    trainable, frozen = spec.count_params()
    if as_json:
        _emit_json({"input_shape": spec.input_shape, "layers": [dict(zip(("layer", "output_shape", "params", "detail"), r))
                    for r in summary_rows(spec)], "total": trainable + frozen, "trainable": trainable, "non_trainable": frozen})
        return
    table = Table(title=f"{model} on {data} (input {spec.input_shape})")
    for col, justify in (("Layer (type)", "left"), ("Output Shape", "left"), ("Param #", "right"), ("", "left")):
        table.add_column(col, justify=justify)
    for name, shape, params, detail in summary_rows(spec):
        table.add_row(name, shape, f"{params:,}", detail)
    out.print(table)
    out.print(f"Total params: {trainable + frozen:,}\nTrainable params: {trainable:,}\nNon-trainable params: {frozen:,}")


@data_app.command("info")
def data_info(name: Annotated[str, typer.Argument(help="Data set name.")], data_dir: DataDirOpt = None,
              as_json: JsonOpt = False):
    """Sizes, shapes, classes and where the files came from.

    Example: bplab data info fashion-mnist
    """
    from .data import load_dataset

    info = load_dataset(name, data_dir).info()
    if as_json:
        _emit_json(info)
        return
    table = Table(title=f"data set {name}", show_header=False)
    for key in ("source", "input_shape", "num_classes", "train", "test"):
        table.add_row(key, str(info[key]))
    table.add_row("class_names", ", ".join(info["class_names"]))
    table.add_row("train per class", ", ".join(str(c) for c in info["train_class_counts"]))
    out.print(table)


def _history_table(title: str, history) -> Table:
    table = Table(title=title)
    for col in ("epoch", "train loss", "train acc", "test loss", "test acc", "time (s)"):
        table.add_column(col, justify="right")
    for e in history.epochs:
        table.add_row(str(e.epoch), f"{e.train_loss:.4f}", f"{e.train_acc:.4f}", f"{e.test_loss:.4f}",
                      f"{e.test_acc:.4f}", f"{e.time_s:.2f}")
    return table


@app.command()
def train(
    ctx: typer.Context,
    data: DataOpt = "mnist-5k", model: ModelOpt = "mlp:256,128,64",
    engine: Annotated[str, typer.Option(help="scratch, tape or fit.")] = "scratch",
    optimizer: OptimizerOpt = "adam", lr: LrOpt = None, epochs: EpochsOpt = 5, batch_size: BatchOpt = "128",
    init: InitOpt = "he_normal", loss: LossOpt = "categorical_crossentropy", l2: L2Opt = 0.0, alpha: AlphaOpt = 0.0,
    decay: DecayOpt = "none", decay_rate: DecayRateOpt = 0.9, decay_steps: DecayStepsOpt = None,
    momentum: MomentumOpt = 0.9, seed: SeedOpt = 0, dtype: DtypeOpt = "float32", val_split: ValOpt = 0.0,
    data_dir: DataDirOpt = None,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly instead of tf.function.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default runs/TIMESTAMP-ENGINE-DATA).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run folder.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue an interrupted run folder with its own settings.")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option("--checkpoint-every", help="Also checkpoint every N steps (default: automatic, about 1% of training time).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    as_json: JsonOpt = False,
):
    """Train MODEL on a data set with one engine and write a run record.

    The run folder gets a checkpoint at the end of every epoch (and every --checkpoint-every steps);
    a run that was killed or interrupted with Ctrl-C continues with --resume.

    Example: bplab train --engine scratch --data mnist-5k --model mlp:256,128,64 --optimizer adam --lr 0.001
    --epochs 5 --batch-size 128 --init he_normal --seed 0 --out runs/mnist

    Example: bplab train --resume runs/mnist
    """
    from .engines import ENGINE_NAMES
    from .progress import ProgressBar
    from .runs import prepare_out_dir
    from .training import Interrupted
    from .workflow import inspect_run, prepare, resume_run, start_run

    if resume is not None:
        given = [p.opts[0] for p in ctx.command.params if p.name not in ("resume", "quiet", "as_json")
                 and getattr(ctx.get_parameter_source(p.name), "name", "DEFAULT") != "DEFAULT"]
        if given:
            raise BplabError(f"--resume continues with the run's own settings; drop {', '.join(given)}")
        info = inspect_run(resume)
        if info.complete:
            out.print(f"{resume}: the run is complete; nothing to do")
            return
        callbacks = [] if quiet or as_json else [ProgressBar(f"{info.engine} (resumed)")]
        try:
            run = resume_run(resume, callbacks)
        except Interrupted as exc:
            _interrupted(exc)
        _report_run(run, resume, info.engine, str(info.doc.get("data")), str(info.doc.get("data")), as_json)
        return
    if engine not in ENGINE_NAMES:
        raise BplabError(f"--engine: unknown engine {engine!r} (choose from {', '.join(ENGINE_NAMES)})")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise BplabError(f"--checkpoint-every: must be at least 1 step, got {checkpoint_every}")
    config = make_config(optimizer, lr, epochs, batch_size, init, loss, l2, alpha, decay, decay_rate, decay_steps,
                         momentum, seed, dtype)
    if out_dir is None:
        out_dir = Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{engine}-{data.replace(':', '_').replace('/', '_')}"
    setup = prepare(data, model, config, data_dir, val_split)
    prepare_out_dir(out_dir, force)  # refuse before spending time on training
    if force:  # a fresh run: nothing of an earlier one may be resumed into it
        for stale in ("checkpoint.npz", "metrics.jsonl", "model.json"):
            (out_dir / stale).unlink(missing_ok=True)
    callbacks = [] if quiet or as_json else [ProgressBar(engine)]
    try:
        run = start_run(setup, engine, out_dir, callbacks, {"eager": eager} if engine == "tape" else None,
                        checkpoint_every)
    except Interrupted as exc:
        _interrupted(exc)
    _report_run(run, out_dir, engine, model, data, as_json)


def _interrupted(exc) -> None:
    print(f"interrupted at step {exc.step}; checkpoint written. Continue with: bplab train --resume {exc.folder}",
          file=sys.stderr)
    raise typer.Exit(130)


def _report_run(run, out_dir: Path, engine: str, model: str, data: str, as_json: bool) -> None:
    from .viz.plots import save_confusion_heatmap

    save_confusion_heatmap(run.metrics["test"], out_dir / "confusion.png", f"{engine} on {data}")
    if as_json:
        _emit_json({"out": str(out_dir), "history": run.history.to_dict(), "test": run.metrics["test"]})
        return
    out.print(_history_table(f"{engine} · {model} · {data}", run.history))
    if run.history.stopped:
        out.print(f"[yellow]{run.history.stopped}[/yellow]")
    out.print(f"test accuracy {run.metrics['test']['accuracy']:.4f}; run written to {out_dir}")


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
    from .gradcheck import TOLERANCE, gradcheck as run_check
    from .workflow import prepare

    if batch < 1 or entries < 1:
        raise BplabError("--batch and --entries must be positive")
    config = TrainConfig(loss=loss, l2=l2, init=init, seed=seed, dtype="float64")
    setup = prepare(data, model, config, data_dir)
    x, y = setup.dataset.x_train[:batch], setup.dataset.y_train[:batch]
    auto = None
    if autograd:
        from .engines import get_engine

        auto = get_engine("tape").gradients
    rows = run_check(setup.spec, x, y, config, max_entries=entries, seed=seed, autograd=auto)
    if as_json:
        _emit_json({"tolerance": TOLERANCE, "rows": [r.to_dict() for r in rows]})
    else:
        table = Table(title=f"gradient check · {model} · {loss} (float64, tolerance {TOLERANCE:g})")
        cols = ["parameter", "shape", "entries", "rel. error vs finite diff."] + (["rel. diff vs autograd"] if autograd else []) + ["result"]
        for c in cols:
            table.add_column(c, justify="left" if c in ("parameter", "shape", "result") else "right")
        for r in rows:
            cells = [r.key, str(r.shape), str(r.checked), f"{r.rel_error:.2e}"]
            if autograd:
                cells.append(f"{r.autograd_rel:.2e}")
            table.add_row(*cells, "[green]pass[/green]" if r.passed else "[red]FAIL[/red]")
        out.print(table)
    if not all(r.passed for r in rows):
        raise typer.Exit(1)


@app.command()
def compare(
    engines: Annotated[str, typer.Option(help="Comma-separated engines to compare.")] = "scratch,tape,fit",
    data: DataOpt = "mnist-5k", model: ModelOpt = "mlp:256,128,64",
    optimizer: OptimizerOpt = "adam", lr: LrOpt = None, epochs: EpochsOpt = 5, batch_size: BatchOpt = "128",
    init: InitOpt = "he_normal", loss: LossOpt = "categorical_crossentropy", l2: L2Opt = 0.0, alpha: AlphaOpt = 0.0,
    decay: DecayOpt = "none", decay_rate: DecayRateOpt = 0.9, decay_steps: DecayStepsOpt = None,
    momentum: MomentumOpt = 0.9, seed: SeedOpt = 0, dtype: DtypeOpt = "float32", data_dir: DataDirOpt = None,
    seeds: Annotated[int, typer.Option(help="Seeds per engine (seed, seed+1, ...); 2 or more adds Welch's t-test.")] = 1,
    eager: Annotated[bool, typer.Option(help="tape engine: run eagerly.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for compare.json, curves and the runs.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out folder.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    as_json: JsonOpt = False,
):
    """Train several engines from identical weights and batches; measure how far apart they end.

    Example: bplab compare --engines scratch,tape,fit --data mnist-5k --model mlp:256,128,64 --epochs 3 --seeds 3
    --out runs/compare
    """
    from .compare import compare as run_compare, parse_engines
    from .progress import ProgressBar
    from .fileio import atomic_write, json_bytes
    from .runs import prepare_out_dir, save_run
    from .viz.plots import save_curves
    from .workflow import prepare

    names = parse_engines(engines, eager)
    config = make_config(optimizer, lr, epochs, batch_size, init, loss, l2, alpha, decay, decay_rate, decay_steps,
                         momentum, seed, dtype)
    if out_dir is not None:
        prepare_out_dir(out_dir, force)
    setup = prepare(data, model, config, data_dir)
    show = not (quiet or as_json)
    result = run_compare(setup, names, seeds, {"tape": {"eager": eager}},
                         callbacks_for=lambda e, s: [ProgressBar(f"{e} seed {s}")] if show else [])
    doc = result.to_dict()
    if out_dir is not None:
        atomic_write(out_dir / "compare.json", json_bytes(doc))
        first = result.runs[result.seeds[0]]
        for ext in ("png", "svg"):
            save_curves({e: first[e].history for e in names}, out_dir / f"curves.{ext}",
                        f"{model} on {data}, seed {result.seeds[0]}")
        for s, by_engine in result.runs.items():
            for e, run in by_engine.items():
                save_run(run, out_dir / f"seed{s}" / e, force=True)
    if as_json:
        _emit_json(doc)
        return
    k = len(result.seeds)
    table = Table(title=f"{model} on {data} · {optimizer} · {epochs} epochs · {k} seed{'s' if k > 1 else ''}")
    for col in ("engine", "train loss", "train acc", "test loss", "test acc", "median epoch (s)"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for row in doc["summary"]:
        def cell(name, digits=4):
            return f"{row[name]:.{digits}f}" + (f" ± {row[name + '_std']:.{digits}f}" if k > 1 else "")
        table.add_row(row["engine"], cell("train_loss"), cell("train_acc"), cell("test_loss"), cell("test_acc"),
                      f"{row['median_epoch_s']:.3f}")
    out.print(table)
    parity = Table(title="parity (norm-wise relative ||A-B||/||B||, worst tensor" + (", worst seed)" if k > 1 else ")"))
    cols = ["pair", "grad, 1st batch", "weights, step 1", "weights, end", "max |step loss diff|", "test acc diff"]
    if k > 1:
        cols += ["Welch p", "beyond seed spread?"]
    for col in cols:
        parity.add_column(col, justify="left" if col == "pair" else "right")
    for p in result.pairs:
        cells = [f"{p.a} vs {p.b}", f"{p.grad_rel:.2e}", f"{p.step1_weight_rel:.2e}", f"{p.final_weight_rel:.2e}",
                 f"{p.max_step_loss_diff:.2e}", f"{100 * p.acc_diff:+.2f} pp"]
        if k > 1:
            cells += [f"{p.welch_p:.3f}", "yes" if p.significant else "no"]
        parity.add_row(*cells)
    out.print(parity)
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
    alpha: AlphaOpt = 0.0, force: Annotated[bool, typer.Option(help="Overwrite files in an existing --out folder.")] = False,
):
    """Draw the network, its forward and backward computation graphs, and derive its update equations.

    Example: bplab draw --model mlp:256,128,64 --data mnist-5k --out drawings --format png
    """
    from .runs import prepare_out_dir
    from .viz.equations import write_equations
    from .viz.graph import backward_graph, forward_graph
    from .viz.network import network_graph
    from .viz.render import FORMATS, RENDERERS, render
    from .workflow import prepare

    if fmt not in FORMATS:
        raise BplabError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if renderer not in RENDERERS:
        raise BplabError(f"--renderer: must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    config = TrainConfig(loss=loss, l2=l2, optimizer=optimizer, lr=lr, alpha=alpha)
    setup = prepare(data, model, config, data_dir)
    prepare_out_dir(out_dir, force)
    written = []
    for graph in (network_graph(setup.spec, setup.dataset.class_names), forward_graph(setup.spec, loss, l2),
                  backward_graph(setup.spec, loss, l2)):
        picture, dot, used = render(graph, out_dir, fmt, renderer)
        written += [picture, dot]
    written += write_equations(setup.spec, config, out_dir, f"{model} on {data} ({loss}, {optimizer})")
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"pictures rendered by {used}")


RunArg = Annotated[Path, typer.Argument(help="A run folder (model.json + weights.npz) or a .keras file.")]


def _report_table(title: str, report: dict) -> Table:
    table = Table(title=title)
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for row in report["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    macro = report["macro"]
    table.add_row("[bold]macro average[/bold]", f"{macro['precision']:.4f}", f"{macro['recall']:.4f}", f"{macro['f1']:.4f}",
                  str(report["n"]))
    return table


def _confusion_table(report: dict) -> Table:
    names = report["class_names"]
    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("true \\ pred")
    for n in names:
        table.add_column(n[:10], justify="right")
    for name, row in zip(names, report["confusion_matrix"]):
        table.add_row(name[:12], *[str(v) for v in row])
    return table


@app.command()
def evaluate(
    run_path: RunArg, data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the run's).")] = None,
    data_dir: DataDirOpt = None,
    engine: Annotated[str, typer.Option(help="Engine that predicts: scratch, tape or fit.")] = "scratch",
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for evaluation.json and the heatmap (default: the run folder).")] = None,
    as_json: JsonOpt = False,
):
    """Accuracy, per-class precision/recall/F1, macro averages and the confusion matrix of a saved model.

    Example: bplab evaluate runs/mnist --data mnist-5k
    """
    from .data import load_dataset
    from .engines import ENGINE_NAMES, get_engine
    from .evaluate import classification_report
    from .portable import load_model
    from .fileio import atomic_write, json_bytes
    from .viz.plots import save_confusion_heatmap

    if engine not in ENGINE_NAMES:
        raise BplabError(f"--engine: unknown engine {engine!r} (choose from {', '.join(ENGINE_NAMES)})")
    run = load_model(run_path)
    name = data or run.dataset
    if name == "?":
        raise BplabError(f"{run_path}: the file does not say which data set it was trained on; pass --data")
    ds = load_dataset(name, data_dir)
    if tuple(ds.input_shape) != tuple(run.spec.input_shape):
        raise BplabError(f"{run_path}: the model expects input {run.spec.input_shape} but {name} has {ds.input_shape}")
    if run.spec.output_shape[-1] not in (1, ds.num_classes) or (run.spec.output_shape[-1] == 1 and ds.num_classes != 2):
        raise BplabError(f"{run_path}: the model has {run.spec.output_shape[-1]} outputs but {name} has {ds.num_classes} classes")
    probs = get_engine(engine).predict(run.spec, run.weights, ds.x_test, str(next(iter(run.weights.values())).dtype))
    report = classification_report(probs, ds.y_test, ds.class_names)
    target = out_dir or (run_path if run_path.is_dir() else run_path.parent)
    target.mkdir(parents=True, exist_ok=True)
    slug = name.replace(":", "_").replace("/", "_")
    atomic_write(target / f"evaluation_{slug}.json", json_bytes(report))
    heatmap = save_confusion_heatmap(report, target / f"confusion_{slug}.png", f"{run_path.name} on {name}")
    if as_json:
        _emit_json(report)
        return
    out.print(_report_table(f"{run_path} on {name} ({engine}): accuracy {report['accuracy']:.4f}", report))
    out.print(_confusion_table(report))
    out.print(f"heatmap: {heatmap}")


@app.command()
def export(run_path: RunArg, keras_file: Annotated[Path, typer.Option("--keras", help="Output .keras file.")],
           force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False):
    """Write a saved run in Keras's native .keras format.

    Example: bplab export runs/mnist --keras mnist.keras
    """
    from .portable import export_keras, load_model

    if keras_file.exists() and not force:
        raise BplabError(f"{keras_file}: exists; pass --force to overwrite")
    run = load_model(run_path)
    export_keras(run, keras_file)
    out.print(f"wrote {keras_file} ({sum(run.spec.count_params()):,} parameters)")


@app.command()
def transfer(
    from_path: Annotated[Path, typer.Option("--from", help="Trained run folder or .keras file (the base).")],
    classes: Annotated[str, typer.Option(help="Two classes by name or index, e.g. 3,8 or Sneaker,Sandal.")],
    engine: Annotated[str, typer.Option(help="scratch, tape or fit.")] = "scratch",
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Data set (default: the base run's).")] = None,
    data_dir: DataDirOpt = None,
    finetune: Annotated[bool, typer.Option(help="Then unfreeze every layer and keep training at a lower rate.")] = False,
    finetune_lr: Annotated[Optional[float], typer.Option(help="Fine-tuning learning rate (default: lr / 10).")] = None,
    finetune_epochs: Annotated[Optional[int], typer.Option(help="Fine-tuning epochs (default: --epochs).")] = None,
    optimizer: OptimizerOpt = "adam", lr: LrOpt = None, epochs: EpochsOpt = 2, batch_size: BatchOpt = "32",
    seed: SeedOpt = 0, init: InitOpt = "glorot_uniform",
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for transfer.json, runs and confusion matrices.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out folder.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    as_json: JsonOpt = False,
):
    """Reuse a trained network for a two-class task: frozen base + new sigmoid head, optional fine-tuning,
    compared with training the same network from scratch.

    Example: bplab transfer --from runs/cnn --classes 3,8 --finetune --out runs/transfer
    """
    from .data import load_dataset
    from .engines import ENGINE_NAMES
    from .experiments.transfer import resolve_classes, transfer as run_transfer
    from .portable import load_model
    from .progress import ProgressBar
    from .fileio import atomic_write, json_bytes
    from .runs import prepare_out_dir, save_run
    from .viz.plots import save_confusion_heatmap

    if engine not in ENGINE_NAMES:
        raise BplabError(f"--engine: unknown engine {engine!r} (choose from {', '.join(ENGINE_NAMES)})")
    if finetune_lr is not None and not finetune_lr > 0:
        raise BplabError(f"--finetune-lr: must be positive, got {finetune_lr}")
    if finetune_epochs is not None and finetune_epochs < 1:
        raise BplabError(f"--finetune-epochs: must be at least 1, got {finetune_epochs}")
    config = TrainConfig(optimizer=optimizer, lr=lr, epochs=epochs, batch_size=parse_batch_size(batch_size), seed=seed,
                         init=init, loss="binary_crossentropy")
    if out_dir is not None:
        prepare_out_dir(out_dir, force)
    base = load_model(from_path)
    name = data or base.dataset
    if name == "?":
        raise BplabError(f"{from_path}: the file does not say which data set it was trained on; pass --data")
    ds = load_dataset(name, data_dir)
    picked = resolve_classes(classes, ds.class_names)
    show = not (quiet or as_json)
    result = run_transfer(base, ds, picked, engine, config, finetune, finetune_lr, finetune_epochs,
                          callbacks_for=lambda label: [ProgressBar(label)] if show else [])
    doc = result.to_dict()
    if out_dir is not None:
        atomic_write(out_dir / "transfer.json", json_bytes(doc))
        for i, v in enumerate(result.variants):
            folder = out_dir / f"{i + 1}_{v.name.split(' (')[0].split(',')[0].replace(' ', '_')}"
            save_run(v.run, folder, force=True)
            save_confusion_heatmap(v.run.metrics["test"], folder / "confusion.png", v.name)
    if as_json:
        _emit_json(doc)
        return
    table = Table(title=f"transfer to {' vs '.join(result.classes)} on {name} ({engine})")
    for col in ("variant", "trainable", "frozen", "test acc", "wall time (s)"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for v in result.variants:
        table.add_row(v.name, f"{v.trainable:,}", f"{v.frozen:,}", f"{v.accuracy:.4f}", f"{v.seconds:.2f}")
    out.print(table)
    for v in result.variants:
        cm = v.run.metrics["test"]["confusion_matrix"]
        out.print(f"{v.name}: confusion {cm}")
    out.print(f"frozen base bit-identical after head-only training: {result.base_unchanged}")
    if result.finetune_changed_base is not None:
        out.print(f"fine-tuning changed the base: {result.finetune_changed_base}")
    if out_dir is not None:
        out.print(f"written to {out_dir}")


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
