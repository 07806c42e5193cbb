"""Options declared once. ``training_options`` adds every training option to a command
and hands it a validated TrainConfig; the commands that train (train, compare, and
those to come) share exactly the same names, help and defaults."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..config import TrainConfig, parse_batch_size
from ..engines import ENGINE_NAMES, check_engine

DataOpt = Annotated[str, typer.Option("--data", "-d", help="digits, mnist-5k, mnist, fashion-mnist, cifar10 or csv:PATH[,TEST]")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding the data set's files.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="mlp:256,128,64[/act=tanh][/dropout=0.2], cnn:32,64,64, or a .json/.toml spec.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]
ForceOpt = Annotated[bool, typer.Option(help="Overwrite files in an existing --out folder.")]
SeedOpt = Annotated[int, typer.Option(help="Seed for initial weights, batch order and dropout.")]
OptimizerOpt = Annotated[str, typer.Option(help="sgd, momentum, nesterov, rmsprop or adam (Keras 3 formulas).")]
LrOpt = Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: Keras's default for the optimizer).")]
EpochsOpt = Annotated[int, typer.Option(help="Passes over the training set.")]
BatchOpt = Annotated[str, typer.Option("--batch-size", help="Rows per batch, or 'full' for full-batch training.")]
InitOpt = Annotated[str, typer.Option(help="zeros, small_normal, glorot_uniform, glorot_normal, he_normal, he_uniform.")]
LossOpt = Annotated[str, typer.Option(help="categorical_crossentropy, binary_crossentropy, mse (Keras's), squared_error "
                                          "(summed over outputs) or half_squared_error.")]
L2Opt = Annotated[float, typer.Option(help="L2 penalty on kernels: l2 * sum(W^2), as Keras's L2 regulariser.")]
AlphaOpt = Annotated[float, typer.Option(help="Blended update: W <- (1-alpha) W_new + alpha W_old (0: plain).")]


def _engine_callback(value: str | None) -> str | None:
    return None if value is None else check_engine(value)


EngineOpt = Annotated[str, typer.Option(help=f"{', '.join(ENGINE_NAMES)}.", callback=_engine_callback)]

# name -> (annotation, default). The order is the order --help shows.
TRAINING_OPTIONS: dict[str, tuple[Any, Any]] = {
    "optimizer": (OptimizerOpt, "adam"),
    "lr": (LrOpt, None),
    "epochs": (EpochsOpt, 5),
    "batch_size": (BatchOpt, "128"),
    "init": (InitOpt, "he_normal"),
    "loss": (LossOpt, "categorical_crossentropy"),
    "l2": (L2Opt, 0.0),
    "alpha": (AlphaOpt, 0.0),
    "decay": (Annotated[str, typer.Option(help="Learning-rate schedule: none, exponential or step.")], "none"),
    "decay_rate": (Annotated[float, typer.Option(help="Decay factor per --decay-steps.")], 0.9),
    "decay_steps": (Annotated[Optional[int], typer.Option(help="Steps per decay period (default: one epoch).")], None),
    "momentum": (Annotated[float, typer.Option(help="Momentum for the momentum and nesterov optimizers.")], 0.9),
    "seed": (SeedOpt, 0),
    "dtype": (Annotated[str, typer.Option(help="float32 or float64.")], "float32"),
}


def config_from_options(values: dict[str, Any]) -> TrainConfig:
    """The one translation from option values to a TrainConfig (which validates them)."""
    return TrainConfig(**{**values, "batch_size": parse_batch_size(values["batch_size"])})


def training_options(**defaults) -> Callable:
    """Decorator: the command gets every training option (``defaults`` overrides some defaults)
    and receives ``config: TrainConfig`` instead of them."""
    unknown = set(defaults) - set(TRAINING_OPTIONS)
    if unknown:
        raise TypeError(f"not training options: {sorted(unknown)}")

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "config"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(name, default),
                                   annotation=annotation)
                 for name, (annotation, default) in TRAINING_OPTIONS.items()]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {name: kwargs.pop(name) for name in TRAINING_OPTIONS}
            return command(*args, config=config_from_options(values), **kwargs)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
                  else p for p in own] + added
        wrapper.__signature__ = signature.replace(parameters=params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def explicit_options(ctx: typer.Context, allowed: tuple[str, ...]) -> list[str]:
    """The options the user typed (not left at their defaults), other than ``allowed``."""
    return [p.opts[0] for p in ctx.command.params if p.name not in allowed
            and getattr(ctx.get_parameter_source(p.name), "name", "DEFAULT") != "DEFAULT"]


def explicit_names(ctx: typer.Context, names) -> list[str]:
    """Which of ``names`` (parameter names) the user typed."""
    return [n for n in names if getattr(ctx.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT"]
