"""``bplab explore``: one offline HTML page that steps through forward and backward propagation with real numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backprop_lab import api
from backprop_lab.cli.options import (
    DataDirOpt,
    DigitsOpt,
    FixedBiasesOpt,
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


def explore(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="The page to write (page.html).")],
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
    steps: Annotated[int, typer.Option(help="How many steps the page's Train button takes at first.")] = 20,
    fixed_biases: FixedBiasesOpt = False,
    digits: DigitsOpt = 6,
    max_entries: MaxEntriesOpt = 24,
    layout: LayoutOpt = "rows",
    direction: Annotated[
        str, typer.Option(help="The graphs' direction: tb (top to bottom) or lr (left to right).")
    ] = "tb",
    force: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
):
    """Write one self-contained HTML page (no network, opens from file://) that steps through one training step
    of MODEL: its forward and backward graphs, the equations with the numbers substituted and every value. Edit
    an input, a target, a weight or the learning rate and every value is computed again; Train takes steps
    and plots the loss. Takes the options of derive.

    Example: bplab explore --weights examples/published-2-2-2.json --input 0.05,0.10 --target 0.01,0.99 --loss half_squared_error --lr 0.5 --out page.html
    """
    page = api.explore(
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
        layout,
        direction,
        out_path,
        force,
    )
    for note in page.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    out.print(f"written to {page.path} ({page.size / 1000:.0f} kB): open it in a browser", markup=False)
