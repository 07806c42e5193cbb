"""``bplab check-derivation``: checks a hand derivation (chain-rule and matrix-form lines) against the model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.options import CheckLossOpt, DataDirOpt, DataOpt, JsonOpt, L2FormOpt
from backprop_lab.cli.output import emit_json
from backprop_lab.core.errors import printable
from backprop_lab.results.objects import Chains

CheckModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="The network the derivation is about: mlp:16,8,4, "
        "cnn:32,64 or a .json/.toml spec (mlp:16,8,4 has 4 layers with weights).",
    ),
]


def check_derivation(
    file: Annotated[
        Optional[Path],
        typer.Argument(
            metavar="FILE",
            help="Text file: one equation per line, plain (dC/dW[2] = dC/da[3] * ...) or LaTeX "
            "(\\frac{\\partial C}{\\partial W^{[2]}} = ...); lines starting with # or % are comments.",
        ),
    ] = None,
    model: CheckModelOpt = ...,
    data: DataOpt = "digits",
    data_dir: DataDirOpt = None,
    loss: CheckLossOpt = None,
    l2: Annotated[
        float,
        typer.Option(
            help="L2 penalty: the cost then also depends on every W[l] directly, so dC/dW[l] is a sum over two "
            "paths, and a matrix-form dW[l] has the --l2-form's term."
        ),
    ] = 0.0,
    l2_form: L2FormOpt = "keras",
    as_json: JsonOpt = False,
    show: Annotated[
        bool,
        typer.Option(
            "--show-chains", help="Print the correct chain of every weight and bias instead of checking a FILE."
        ),
    ] = False,
    latex: Annotated[bool, typer.Option("--latex", help="With --show-chains: in LaTeX.")] = False,
    layout: Annotated[
        Optional[str],
        typer.Option(
            help="rows (Z = A W + b) or columns (Z = W A + b): how matrix-form lines are read "
            "(default: decided from the file's forward or delta lines)."
        ),
    ] = None,
    form: Annotated[
        str, typer.Option(help="With --show-chains: chain (dC/dW[2] = ...) or matrix (dW[2] = (1/m) ...).")
    ] = "chain",
    scale: Annotated[
        str, typer.Option(help="With --show-chains --form matrix: deltas as the sum over examples or the mean's.")
    ] = "sum",
):
    """Check a hand derivation against MODEL, line by line. Chain-rule lines (dC/dW[2] = dC/da[3] * ...):
    every factor a total derivative along the graph, every product an unbroken chain, the sum covering
    every path once. Matrix-form lines (dW[2] = (1/m) dZ[2] A[1]^T, rows or columns layout): evaluated on
    random values and compared with the derivation for the --loss (dZ[L] = A[L] - Y is the output's
    cross-entropy's; mse's is (2/K) (A[L] - Y) * g'(Z[L]), K the outputs) and --l2-form, later lines using
    your own earlier ones; a known mistake (transposed, product order, missing g', 1/m, sign, sum axis, L2
    form, another loss), or two at once, is named.
    Exit code 0: all correct; 1: some line is wrong; 2: a line cannot be read (the rest still judged),
    or an unreadable file or bad model.

    Example: bplab check-derivation --show-chains --model mlp:16,8,4 > chains.txt

    Example: bplab check-derivation chains.txt --model mlp:16,8,4 --data digits

    Example: bplab check-derivation --show-chains --form matrix --layout columns --model mlp:16

    Example: bplab check-derivation --show-chains --form matrix --model mlp:16/out=linear --loss mse --l2 0.01 --l2-form half
    """
    result = api.check_derivation(
        file,
        model=model,
        data=data,
        data_dir=data_dir,
        loss=loss,
        l2=l2,
        l2_form=l2_form,
        show_chains=show,
        latex=latex,
        layout=layout,
        form=form,
        scale=scale,
    )
    if isinstance(result, Chains):
        return emit_json(result.to_dict()) if as_json else print("\n".join(result.chains))
    if as_json:
        emit_json(result.to_dict())
    else:
        print(result.text())
    unreadable = next((v for v in result.verdicts if v.error), None)
    if unreadable is not None:  # the other lines are judged above; the bad input gets its one line on stderr
        print(f"error: {printable(f'{file}: line {unreadable.line}, {unreadable.error}')}", file=sys.stderr)
    return result.exit_code
