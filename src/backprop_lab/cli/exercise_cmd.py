"""``bplab exercise``: personalised backpropagation exercise sheets with their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.derive_cmd import RowsOpt, TargetsOpt
from backprop_lab.cli.options import ForceOpt, LossOpt, LrOpt, OptimizerOpt
from backprop_lab.cli.output import out
from backprop_lab.options.registry import EXERCISE_MAX_STEPS, WORKED_MODEL


def exercise(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for keys.json, class.html/.tex, sheets/, keys/ (and solutions/).")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model shorthand (a dense network small enough to work by hand).")
    ] = WORKED_MODEL,
    inputs: Annotated[int, typer.Option(help="Input width (values per example).")] = 2,
    outputs: Annotated[int, typer.Option(help="Output width (values per target).")] = 2,
    rows: Annotated[
        int, typer.Option(help="Examples in the batch (a missing 1/m can only be detected with 2 or more).")
    ] = 1,
    loss: LossOpt = "half_squared_error",
    optimizer: OptimizerOpt = "sgd",
    lr: LrOpt = 0.5,
    momentum: Annotated[float, typer.Option(help="Momentum for the momentum and nesterov optimizers.")] = 0.9,
    fixed_biases: Annotated[bool, typer.Option("--fixed-biases", help="Keep the biases fixed.")] = False,
    steps: Annotated[
        int,
        typer.Option(
            help=f"Training steps the sheet asks for (1 to {EXERCISE_MAX_STEPS}), each from the weights the step "
            "before left; a later step's values are named with it: Z[1] (step 2), W[1] after step 2."
        ),
    ] = 1,
    layout: Annotated[
        str,
        typer.Option(
            help="rows (Z = A W + b, one row per example) or columns (Z = W A + b, one column per example, as "
            "derive --layout): the sheet's equations, the key's values and the answers grade reads."
        ),
    ] = "rows",
    ask: Annotated[
        str, typer.Option(help="What the sheet asks, comma-separated: forward, loss, deltas, gradients, update.")
    ] = "forward,loss,deltas,gradients,update",
    students: Annotated[
        Optional[Path],
        typer.Option(help="Roster CSV: an id column, optionally name; other columns are kept for the gradebook."),
    ] = None,
    count: Annotated[int, typer.Option(help="Without --students: this many sheets (s1, s2, ...).")] = 1,
    seed: Annotated[
        int, typer.Option(help="Seed of the random numbers: the same roster and seed, the same folder.")
    ] = 0,
    weights: Annotated[
        Optional[Path], typer.Option(help="Fixed weights (.json/.toml/.npz as derive) instead of random ones.")
    ] = None,
    inputs_given: RowsOpt = None,
    target: TargetsOpt = None,
    decimals: Annotated[int, typer.Option(help="Decimals of the random weights, inputs and targets (1 to 3).")] = 2,
    digits: Annotated[int, typer.Option(help="Significant figures the sheet asks for (2 to 12).")] = 4,
    names: Annotated[
        str, typer.Option(help="layered (W[1] entries) or flat (also lists the weights as w1, w2, ... ).")
    ] = "layered",
    solutions: Annotated[bool, typer.Option("--solutions", help="Also write each worked solution.")] = False,
    force: ForceOpt = False,
):
    """Personalised exercise sheets (HTML with MathML, LaTeX, Markdown) with their keys: one training step (or
    --steps N) of a small network, numbers on a grid a person can work by hand, one sheet per student. The same
    roster and seed give a byte-identical folder. Grade the answers with bplab grade (it reads the answers in
    the key's layout).

    Example: bplab exercise --out exam --seed 7 --solutions

    Example: bplab exercise --out class --students examples/roster.csv --seed 7

    Example: bplab exercise --out mazur --weights examples/published-2-2-2.json --input 0.05,0.10 --target 0.01,0.99 --fixed-biases

    In the columns layout (Z = W A + b), two steps: bplab exercise --out exam --layout columns --steps 2
    """
    result = api.exercise(
        out_dir,
        model,
        inputs,
        outputs,
        rows,
        loss,
        optimizer,
        lr,
        momentum,
        fixed_biases,
        ask,
        students,
        count,
        seed,
        weights,
        inputs_given,
        target,
        decimals,
        digits,
        names,
        solutions,
        force,
        layout=layout,
        steps=steps,
    )
    for note in result.notes:
        out.print(f"note: {note}", markup=False)
    out.print(
        f"{len(result.sheets)} sheet{'s' if len(result.sheets) > 1 else ''} written to {out_dir}: class.html, "
        f"class.tex, sheets/ID/ (sheet.html, sheet.tex, sheet.md, answers.csv), keys.json and keys/"
        + (", solutions/" if solutions else "")
        + f"; grade with: bplab grade {out_dir} ANSWERS --out graded",
        markup=False,
    )
