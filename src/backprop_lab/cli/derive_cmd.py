"""``bplab derive``: a worked example with the numbers filled in, for a network the learner chooses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.options import (
    DataDirOpt,
    DigitsOpt,
    FixedBiasesOpt,
    ForceOpt,
    InitOpt,
    L2Opt,
    LayoutOpt,
    LossOpt,
    LrOpt,
    MaxEntriesOpt,
    MomentumOpt,
    OptimizerOpt,
    RowCountOpt,
    RowsDataOpt,
    RowsOpt,
    RunWeightsOpt,
    SeedOpt,
    TargetsOpt,
    WeightsFileOpt,
    WorkedModelOpt,
)
from backprop_lab.cli.output import out
from backprop_lab.options.registry import WORKED_MODEL


def derive(
    model: WorkedModelOpt = WORKED_MODEL,
    inputs: RowsOpt = None,
    target: TargetsOpt = None,
    data: RowsDataOpt = None,
    data_dir: DataDirOpt = None,
    rows: RowCountOpt = 1,
    weights: WeightsFileOpt = None,
    run_path: RunWeightsOpt = None,
    seed: SeedOpt = 0,
    init: InitOpt = "glorot_uniform",
    loss: LossOpt = "mse",
    optimizer: OptimizerOpt = "sgd",
    lr: LrOpt = None,
    l2: L2Opt = 0.0,
    momentum: MomentumOpt = 0.9,
    steps: Annotated[int, typer.Option(help="Optimizer steps to take (the first is written out in full).")] = 1,
    fixed_biases: FixedBiasesOpt = False,
    digits: DigitsOpt = 6,
    max_entries: MaxEntriesOpt = 24,
    out_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Also write worked.md, worked.tex (a document), worked.body.tex (its LaTeX for slides, no "
            "preamble) and worked.html (MathML) here.",
        ),
    ] = None,
    force: ForceOpt = False,
    layout: LayoutOpt = "rows",
):
    """A worked example: the forward values, deltas, gradients and updated weights of MODEL, each as its
    equation with symbols, then with the numbers substituted, then the result.

    Example: bplab derive --model mlp:2/act=sigmoid/out=sigmoid --weights examples/published-2-2-2.json
    --input 0.05,0.10 --target 0.01,0.99 --loss half_squared_error --optimizer sgd --lr 0.5 --fixed-biases

    In the columns layout (Z = W A + b) of many courses: add --layout columns.
    """
    example = api.derive(
        model,
        inputs,
        target,
        data,
        data_dir,
        rows,
        weights,
        run_path,
        seed,
        init,
        loss,
        optimizer,
        lr,
        l2,
        momentum,
        steps,
        fixed_biases,
        digits,
        max_entries,
        out_dir,
        force,
        layout,
    )
    out.print(example.to_markdown(), markup=False, highlight=False)
    if out_dir is not None:
        out.print(f"written to {out_dir}: worked.md, worked.tex, worked.body.tex, worked.html", markup=False)
