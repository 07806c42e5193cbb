"""Every option declared once: name, type, default and help. The CLI (``cli/options.py``) turns them into
``--options``; the Python API (``api.py``) into keyword arguments with the same names and defaults;
``TrainConfig`` (``config.py``) takes its defaults from here, and both the CLI and the API make one through
``config.config_from_options``, which validates it and says what is wrong in the CLI's words."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Optional, TypedDict

from backprop_lab.core.errors import BplabError
from backprop_lab.core.names import DECAYS, DTYPES, INITIALIZERS, LOSSES, OPTIMIZERS


@dataclass(frozen=True)
class Option:
    name: str  # the Python keyword; the CLI flag is --name-with-dashes unless ``flag`` says otherwise
    type: Any
    default: Any
    help: str
    flag: str | None = None

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def value_type(self) -> Any:
        """The type of a given value (``Optional[float]`` -> ``float``); for sweep and study files."""
        return {Optional[float]: float, Optional[int]: int}.get(self.type, self.type)


TRAINING: tuple[Option, ...] = (  # the order --help shows
    Option("optimizer", str, "adam", f"{OPTIMIZERS.listing()} (Keras 3 formulas)."),
    Option("lr", Optional[float], None, "Learning rate (default: Keras's default for the optimizer).", "--lr"),
    Option("epochs", int, 5, "Passes over the training set."),
    Option("batch_size", str, "128", "Rows per batch, or 'full' for full-batch training.", "--batch-size"),
    Option("init", str, "he_normal", f"{INITIALIZERS.listing(', ')}."),
    Option("loss", str, "categorical_crossentropy", f"{LOSSES.listing(notes=True)}."),
    Option("l2", float, 0.0, "L2 penalty on kernels: l2 * sum(W^2), as Keras's L2 regulariser."),
    Option("alpha", float, 0.0, "Blended update: W <- (1-alpha) W_new + alpha W_old (0: plain)."),
    Option("decay", str, "none", f"Learning-rate schedule: {DECAYS.listing()}."),
    Option("decay_rate", float, 0.9, "Decay factor per --decay-steps."),
    Option("decay_steps", Optional[int], None, "Steps per decay period (default: one epoch)."),
    Option("momentum", float, 0.9, "Momentum for the momentum and nesterov optimizers."),
    Option("seed", int, 0, "Seed for initial weights, batch order and dropout."),
    Option("dtype", str, "float32", f"{DTYPES.listing()}."),
)
TRAINING_NAMES: tuple[str, ...] = tuple(o.name for o in TRAINING)
TRAINING_DEFAULTS: dict[str, Any] = {o.name: o.default for o in TRAINING}


class TrainingOptions(TypedDict, total=False):
    """The training options as keyword arguments (for type checkers; the declaration is ``TRAINING``)."""

    optimizer: str
    lr: float | None
    epochs: int
    batch_size: int | str | None
    init: str
    loss: str
    l2: float
    alpha: float
    decay: str
    decay_rate: float
    decay_steps: int | None
    momentum: float
    seed: int
    dtype: str


def check_names(given, where: str) -> None:
    """Refuse a keyword that is not a training option, naming the closest one."""
    for name in given:
        if name not in TRAINING_DEFAULTS:
            close = difflib.get_close_matches(name, TRAINING_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (training options: {', '.join(TRAINING_NAMES)})"
            raise BplabError(f"{where}: unknown option {name!r}{hint}")


DEFAULT_MODEL = "mlp:256,128,64"  # the network of train, compare, sweep, draw and the study: 3 hidden layers
WORKED_MODEL = "mlp:2/act=sigmoid/out=sigmoid"  # the network of a worked example: one a student can do by hand

# Command options with a default of their own, read by the command and its API function alike.
GRADCHECK_MODEL = "mlp:16,16"  # small enough for finite differences of every sampled entry
GRADCHECK_BATCH = 16  # examples in the checked batch
GRADCHECK_ENTRIES = 30  # entries sampled per large tensor
EXERCISE_MAX_STEPS = 5  # training steps an exercise sheet may ask for (by hand, each step is a page)
COMPARE_ENGINES = "scratch,tape,fit"  # compare runs every engine unless told otherwise
COMPARE_DATA = "mnist-5k"  # compare's data set: real digits, small enough for minutes
STUDY_PRESET = "quick"  # the study's preset: minutes on the embedded data
STUDY_OUT = "runs/study"  # where the study writes its report
