"""``bplab check-code``: checks a learner's NumPy forward and backward propagation, tensor by tensor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.options import CheckLossOpt, DataDirOpt, JsonOpt, L2FormOpt
from backprop_lab.cli.output import emit_json, out
from backprop_lab.results.code_check import CodeChecks


def check_code(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE|FOLDER",
            help="A .py file or .ipynb notebook with the forward and backward functions, or a folder of them "
            "(one row per file).",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="The network the code is for: mlp:128 (one hidden layer), mlp:64,32/act=tanh, "
            "mlp:16/out=sigmoid (binary); the checker picks its own small sizes.",
        ),
    ] = ...,
    loss: CheckLossOpt = None,
    l2: Annotated[float, typer.Option(help="The L2 factor lambda the backward function adds to dW.")] = 0.0,
    l2_form: L2FormOpt = "keras",
    forward: Annotated[
        Optional[str], typer.Option(help="The forward function's name (default: the one with 'forward' in it).")
    ] = None,
    backward: Annotated[
        Optional[str], typer.Option(help="The backward function's name (default: the one with 'backward' in it).")
    ] = None,
    data: Annotated[
        Optional[str],
        typer.Option(
            "--data",
            "-d",
            help="Take the sizes from a data set (digits, mnist-5k, fashion-mnist, csv:PATH): its features and "
            "classes, the model's hidden widths, batches of 1 and more; for functions that hard-code them "
            "(reshape(-1, 784), np.eye(10)). Default: small sizes, pairwise distinct.",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds the learner's code may run per file.")] = 10.0,
    out_csv: Annotated[
        Optional[Path], typer.Option("--out", help="Write one CSV row per file (verdict, first wrong tensor, cause).")
    ] = None,
    as_json: JsonOpt = False,
):
    """Check a learner's own NumPy backpropagation tensor by tensor and name the bug. Only the file's
    imports, functions and constants run (training code is skipped and listed), in a child process
    with a time and memory limit (protection against accidents, not malice). Every variable the
    functions assign (Z1, A1, dZ2, dW1, grads["db1"], ...) is compared with the correct value; the
    first wrong one is named with its line and, where a known mistake reproduces it, its cause.
    Exit code 0: correct; 1: a wrong tensor or failing code; 2: unreadable file, no function found,
    a parameter name that cannot be mapped, bad options.

    Example: bplab check-code examples/learner/broken_no_derivative.py --model mlp:128

    Example: bplab check-code examples/learner --model mlp:128 --out results.csv

    Example: bplab check-code examples/learner/hard_coded_sizes.py --model mlp:128 --data mnist-5k
    """
    result = api.check_code(
        file,
        model=model,
        loss=loss,
        l2=l2,
        l2_form=l2_form,
        forward=forward,
        backward=backward,
        timeout=timeout,
        out=out_csv,
        data=data,
        data_dir=data_dir,
    )
    if as_json:
        emit_json(result.to_dict())
    elif isinstance(result, CodeChecks):
        out.print(result.table().to_rich())
    else:
        out.print(result.text(), markup=False, highlight=False)
    return 0 if result.correct else 1
