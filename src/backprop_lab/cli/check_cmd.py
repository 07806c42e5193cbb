"""``bplab check-derivation``: checks a hand-written chain-rule derivation against the model's graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.options import DataDirOpt, DataOpt, JsonOpt
from backprop_lab.cli.output import emit_json
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
    l2: Annotated[
        float,
        typer.Option(
            help="L2 penalty: the cost then also depends on every W[l] directly, so dC/dW[l] is a sum over two paths."
        ),
    ] = 0.0,
    as_json: JsonOpt = False,
    show: Annotated[
        bool,
        typer.Option(
            "--show-chains", help="Print the correct chain of every weight and bias instead of checking a FILE."
        ),
    ] = False,
    latex: Annotated[bool, typer.Option("--latex", help="With --show-chains: in LaTeX.")] = False,
):
    """Check a hand-written chain-rule derivation (dC/dW[l] as a product of factors) against the
    computation graph of MODEL: every factor must be an edge of the graph, every product an unbroken
    chain from the cost to the parameter, and the sum must cover every path. Each wrong equation gets
    what is wrong (not-an-edge, chain-broken, lhs-mismatch, missing-path, nonexistent-path,
    off-by-one, unknown-layer, ...) and its correct chain in the same notation.
    Exit code 0: all correct; 1: some equation is wrong; 2: unreadable file, unparsable line or bad model.

    Example: bplab check-derivation --show-chains --model mlp:16,8,4 > chains.txt

    Example: bplab check-derivation chains.txt --model mlp:16,8,4 --data digits
    """
    result = api.check_derivation(file, model=model, data=data, data_dir=data_dir, l2=l2, show_chains=show, latex=latex)
    if isinstance(result, Chains):
        return emit_json(result.to_dict()) if as_json else print("\n".join(result.chains))
    if as_json:
        emit_json(result.to_dict())
    else:
        print(result.text())
    return 0 if result.correct else 1
