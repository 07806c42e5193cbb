"""Options declared once. ``training_options`` adds every training option to a command
and hands it a validated TrainConfig; the commands that train (train, compare, and
those to come) share exactly the same names, help and defaults."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from backprop_lab.engines.registry import ENGINE_NAMES, check_engine
from backprop_lab.options.config import config_from_options
from backprop_lab.options.registry import TRAINING

DataOpt = Annotated[
    str, typer.Option("--data", "-d", help="digits, mnist-5k, mnist, fashion-mnist, cifar10 or csv:PATH[,TEST]")
]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding the data set's files.")]
ModelOpt = Annotated[
    str,
    typer.Option("--model", "-m", help="mlp:256,128,64[/act=tanh][/dropout=0.2], cnn:32,64,64, or a .json/.toml spec."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite files in an existing --out folder.")]
LayoutOpt = Annotated[
    str,
    typer.Option(
        help="Write the equations in the rows layout (Z = A W + b, W is (in, out), as the code runs it) "
        "or the columns layout (Z = W A + b, W is (out, in), as many courses write it)."
    ),
]

# what check-code and check-derivation check against, beside the model (classroom/choices.py)
CheckLossOpt = Annotated[
    Optional[str],
    typer.Option(
        "--loss",
        help="categorical_crossentropy (softmax output), binary_crossentropy (sigmoid output), mse, "
        "squared_error or half_squared_error; default: the output's cross-entropy (mse for linear).",
    ),
]
L2FormOpt = Annotated[
    str,
    typer.Option(
        "--l2-form",
        help="The penalty's form: keras (lambda sum W^2, dW gets 2 lambda W), half (1/2 lambda sum W^2: lambda W), "
        "half-mean (lambda/(2m) sum W^2: (lambda/m) W), mean (lambda/m sum W^2: (2 lambda/m) W).",
    ),
]


def _declared(name: str) -> Any:
    """The typer annotation of a training option declared in ``backprop_lab.options.registry``."""
    option = next(o for o in TRAINING if o.name == name)
    flags = (option.flag,) if option.flag else ()
    return Annotated[option.type, typer.Option(*flags, help=option.help)]


SeedOpt = _declared("seed")
OptimizerOpt = _declared("optimizer")
LrOpt = _declared("lr")
InitOpt = _declared("init")
LossOpt = _declared("loss")
L2Opt = _declared("l2")
AlphaOpt = _declared("alpha")


def _engine_callback(value: str | None) -> str | None:
    return None if value is None else check_engine(value)


EngineOpt = Annotated[str, typer.Option(help=f"{', '.join(ENGINE_NAMES)}.", callback=_engine_callback)]

# name -> (annotation, default), from the one declaration. The order is the order --help shows.
TRAINING_OPTIONS: dict[str, tuple[Any, Any]] = {o.name: (_declared(o.name), o.default) for o in TRAINING}


def training_options(**defaults) -> Callable:
    """Decorator: the command gets every training option (``defaults`` overrides some defaults)
    and receives ``config: TrainConfig`` instead of them."""
    unknown = set(defaults) - set(TRAINING_OPTIONS)
    if unknown:
        raise TypeError(f"not training options: {sorted(unknown)}")

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "config"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(name, default), annotation=annotation
            )
            for name, (annotation, default) in TRAINING_OPTIONS.items()
        ]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {name: kwargs.pop(name) for name in TRAINING_OPTIONS}
            return command(*args, config=config_from_options(values), **kwargs)

        params = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD else p
            for p in own
        ] + added
        wrapper.__signature__ = signature.replace(parameters=params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def explicit_options(ctx: typer.Context, allowed: tuple[str, ...]) -> list[str]:
    """The options the user typed (not left at their defaults), other than ``allowed``."""
    return [
        p.opts[0]
        for p in ctx.command.params
        if p.name not in allowed and getattr(ctx.get_parameter_source(p.name), "name", "DEFAULT") != "DEFAULT"
    ]


def explicit_names(ctx: typer.Context, names) -> list[str]:
    """Which of ``names`` (parameter names) the user typed."""
    return [n for n in names if getattr(ctx.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT"]


# The options of a worked example, declared once: derive and explore take the same ones.
WorkedModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Model shorthand or spec file (small networks read best).")
]
RowsOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--input", help="One input row as numbers (0.05,0.10); repeat for more rows, or give a .csv file of rows."
    ),
]
TargetsOpt = Annotated[
    Optional[list[str]],
    typer.Option("--target", help="The target row for each --input (0.01,0.99), or a .csv file of rows."),
]
RowsDataOpt = Annotated[
    Optional[str], typer.Option("--data", "-d", help="Take the rows from a data set instead of --input.")
]
RowCountOpt = Annotated[int, typer.Option(help="With --data: how many training rows.")]
WeightsFileOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="Weights file: .json/.toml written by hand (dense_0/kernel = "
        "[[...]] in the (in, out) layout, dense_0/bias = [...]) or .npz."
    ),
]
RunWeightsOpt = Annotated[Optional[Path], typer.Option("--run", help="Take the weights of this run folder.")]
MomentumOpt = Annotated[float, typer.Option(help="Momentum for the momentum and nesterov optimizers.")]
FixedBiasesOpt = Annotated[
    bool, typer.Option("--fixed-biases", help="Keep the biases fixed (some textbook examples do).")
]
DigitsOpt = Annotated[int, typer.Option(help="Significant digits of the numbers shown.")]
MaxEntriesOpt = Annotated[
    int, typer.Option(help="Arrays with more entries are shown by their symbol (and a heat map).")
]
