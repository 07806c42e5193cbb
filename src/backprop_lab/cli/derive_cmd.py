"""``bplab derive``: a worked example with the numbers filled in, for a network the learner chooses."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from ..config import TrainConfig
from ..errors import BplabError
from .app import app, out
from .options import DataDirOpt, ForceOpt, InitOpt, L2Opt, LossOpt, LrOpt, OptimizerOpt, SeedOpt

RowsOpt = Annotated[Optional[list[str]], typer.Option(
    "--input", help="One input row as numbers (0.05,0.10); repeat for more rows, or give a .csv file of rows.")]
TargetsOpt = Annotated[Optional[list[str]], typer.Option(
    "--target", help="The target row for each --input (0.01,0.99), or a .csv file of rows.")]


def _rows(values: list[str], what: str) -> np.ndarray:
    """Rows from '0.05,0.10' strings or from one CSV file."""
    if len(values) == 1 and values[0].lower().endswith(".csv"):
        path = Path(values[0])
        if not path.is_file():
            raise BplabError(f"{what} {path}: file not found")
        text = path.read_text(encoding="utf-8", errors="replace")
        values = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = []
    for text in values:
        try:
            row = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise BplabError(f"{what}: expected numbers separated by commas, got {text!r}") from None
        if not row or not all(math.isfinite(v) for v in row):
            raise BplabError(f"{what}: expected finite numbers separated by commas, got {text!r}")
        rows.append(row)
    if len({len(r) for r in rows}) != 1:
        raise BplabError(f"{what}: every row needs the same number of values, got {[len(r) for r in rows]}")
    return np.array(rows, dtype=np.float64)


@app.command()
def derive(
    model: Annotated[str, typer.Option("--model", "-m", help="Model shorthand or spec file (small networks read best).")]
    = "mlp:2/act=sigmoid/out=sigmoid",
    inputs: RowsOpt = None, target: TargetsOpt = None,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Take the rows from a data set instead of --input.")] = None,
    data_dir: DataDirOpt = None,
    rows: Annotated[int, typer.Option(help="With --data: how many training rows.")] = 1,
    weights: Annotated[Optional[Path], typer.Option(help="Weights file: .json/.toml written by hand (dense_0/kernel = "
                                                    "[[...]] in the (in, out) layout, dense_0/bias = [...]) or .npz.")] = None,
    run_path: Annotated[Optional[Path], typer.Option("--run", help="Take the weights of this run folder.")] = None,
    seed: SeedOpt = 0, init: InitOpt = "glorot_uniform",
    loss: LossOpt = "mse", optimizer: OptimizerOpt = "sgd", lr: LrOpt = None, l2: L2Opt = 0.0,
    momentum: Annotated[float, typer.Option(help="Momentum for the momentum and nesterov optimizers.")] = 0.9,
    steps: Annotated[int, typer.Option(help="Optimizer steps to take (the first is written out in full).")] = 1,
    fixed_biases: Annotated[bool, typer.Option("--fixed-biases", help="Keep the biases fixed (some textbook examples do).")] = False,
    digits: Annotated[int, typer.Option(help="Significant digits of the numbers shown.")] = 6,
    max_entries: Annotated[int, typer.Option(help="Arrays with more entries are shown by their symbol.")] = 24,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also write worked.md, worked.tex and worked.html "
                                                    "(MathML) here.")] = None,
    force: ForceOpt = False,
):
    """A worked example: the forward values, deltas, gradients and updated weights of MODEL, each as its
    equation with symbols, then with the numbers substituted, then the result.

    Example: bplab derive --model mlp:2/act=sigmoid/out=sigmoid --weights mazur.json --input 0.05,0.10 --target 0.01,0.99 --loss half_squared_error --lr 0.5 --fixed-biases
    """
    from ..derive.check import dropout_masks
    from ..derive.equations import derive as derivation_of
    from ..derive.worked import worked_example
    from ..runs import load_run, read_weights
    from ..spec import parse_model
    from ..workflow import initial_weights, new_run_folder

    for name, value, least in (("--steps", steps, 1), ("--rows", rows, 1), ("--digits", digits, 1), ("--max-entries", max_entries, 1)):
        if value < least:
            raise BplabError(f"{name}: must be at least {least}, got {value}")
    if weights is not None and run_path is not None:
        raise BplabError("--weights and --run both give the weights: choose one")
    config = TrainConfig(optimizer=optimizer, lr=lr, loss=loss, l2=l2, init=init, seed=seed, momentum=momentum,
                         dtype="float64")
    if data is not None:
        if inputs or target:
            raise BplabError("--data takes the rows from the data set: drop --input/--target")
        from ..data import load_dataset
        from ..training import targets

        ds = load_dataset(data, data_dir)
        spec = parse_model(model, ds.input_shape, ds.num_classes)
        x = ds.x_train[:rows].astype(np.float64)
        y = targets(spec, ds.y_train[:rows], "float64")
        source = f"the first {len(x)} training row{'s' if len(x) > 1 else ''} of {data}"
    else:
        if not inputs or not target:
            raise BplabError("give the rows: --input 0.05,0.10 --target 0.01,0.99 (or --data NAME)")
        x, y = _rows(inputs, "--input"), _rows(target, "--target")
        if len(x) != len(y):
            raise BplabError(f"--target: {len(y)} rows for {len(x)} --input rows")
        spec = parse_model(model, (x.shape[1],), y.shape[1])
        source = f"{len(x)} row{'s' if len(x) > 1 else ''} given on the command line"
    if spec.output_shape != (y.shape[1],):
        raise BplabError(f"--target: the model has {spec.output_shape[0]} outputs, the targets {y.shape[1]} values")
    if run_path is not None:
        run = load_run(run_path)
        if run.spec.param_shapes() != spec.param_shapes():
            raise BplabError(f"--run {run_path}: its model is not --model {model}")
        w = run.weights
        where = f"the weights of {run_path}"
    elif weights is not None:
        w = read_weights(weights, spec)
        where = f"the weights in {weights}"
    else:
        w = initial_weights(spec, config)
        where = f"{init} initial weights (seed {seed})"
    derivation = derivation_of(spec, config)
    masks = dropout_masks(derivation, len(x), seed) if derivation.masks else None
    title = f"{model}: {source}, {where}; {loss}, {optimizer} lr {config.learning_rate:g}"
    example = worked_example(spec, config, w, x, y, steps, fixed_biases, digits, max_entries, masks, title)
    out.print(example.to_markdown(), markup=False, highlight=False)
    if out_dir is not None:
        new_run_folder(out_dir, force)
        for name, text in (("worked.md", example.to_markdown()), ("worked.tex", example.to_latex()),
                           ("worked.html", example.to_html())):
            (out_dir / name).write_text(text, encoding="utf-8")
        out.print(f"written to {out_dir}: worked.md, worked.tex, worked.html", markup=False)
