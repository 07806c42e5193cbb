"""TrainConfig: the training options every engine accepts, validated once."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from backprop_lab.core.errors import BplabError
from backprop_lab.core.names import DECAYS, DEFAULT_LR, DTYPES, INITIALIZERS, LOSSES, OPTIMIZERS  # noqa: F401 - declared once, there
from backprop_lab.options.registry import TRAINING, TRAINING_DEFAULTS, TRAINING_NAMES

MAX_SEEDS = 1000  # seeds of one comparison, sweep cell or study: more is a typo, not a plan
OPTIONAL = ("lr", "batch_size", "decay_steps")  # the fields that may be None (a default derived later)


@dataclass(frozen=True)
class TrainConfig:
    # the options of the registry (options/registry.py), with its defaults
    optimizer: str = TRAINING_DEFAULTS["optimizer"]
    lr: float | None = TRAINING_DEFAULTS["lr"]
    epochs: int = TRAINING_DEFAULTS["epochs"]
    batch_size: int | None = int(TRAINING_DEFAULTS["batch_size"])  # None: full batch
    loss: str = TRAINING_DEFAULTS["loss"]
    init: str = TRAINING_DEFAULTS["init"]
    l2: float = TRAINING_DEFAULTS["l2"]
    alpha: float = TRAINING_DEFAULTS["alpha"]  # blended update: theta <- (1 - alpha) theta_new + alpha theta_old
    decay: str = TRAINING_DEFAULTS["decay"]
    decay_rate: float = TRAINING_DEFAULTS["decay_rate"]
    decay_steps: int | None = TRAINING_DEFAULTS["decay_steps"]  # None: one epoch
    momentum: float = TRAINING_DEFAULTS["momentum"]  # also rmsprop's optional momentum when rmsprop_momentum is set
    # the optimizers' constants (Keras's defaults), not command options
    rho: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    seed: int = TRAINING_DEFAULTS["seed"]
    dtype: str = TRAINING_DEFAULTS["dtype"]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise BplabError(msg)

        def option(name: str) -> str:
            return f"--{name.replace('_', '-')}"

        def given(name: str) -> Any:
            """The field's value, or a number stand-in where an optional field is None."""
            value = getattr(self, name)
            return 0 if value is None and name in OPTIONAL else value

        for name in ("lr", "l2", "alpha", "decay_rate", "momentum", "rho", "beta_1", "beta_2", "epsilon"):
            value = given(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                bad(f"{option(name)}: must be a finite number, got {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "decay_steps", "seed"):
            value = given(name)
            if isinstance(value, bool) or not isinstance(value, int):
                bad(f"{option(name)}: must be a whole number, got {getattr(self, name)!r}")
        for name in ("optimizer", "loss", "init", "decay", "dtype"):
            if not isinstance(getattr(self, name), str):
                bad(f"{option(name)}: must be a name, got {getattr(self, name)!r}")
        if not isinstance(self.extra, dict):
            bad(f"extra: must be a table, got {self.extra!r}")
        OPTIMIZERS.check(self.optimizer, "--optimizer")
        LOSSES.check(self.loss, "--loss")
        INITIALIZERS.check(self.init, "--init")
        if self.dtype not in DTYPES:
            bad(f"--dtype: must be {DTYPES.listing()}, got {self.dtype!r}")
        DECAYS.check(self.decay, "--decay")
        if self.lr is not None and not self.lr > 0:
            bad(f"--lr: learning rate must be positive, got {self.lr}")
        if self.epochs < 1:
            bad(f"--epochs: must be at least 1, got {self.epochs}")
        if self.seed < 0:
            bad(f"--seed: must be a non-negative integer, got {self.seed}")
        if self.epsilon < 0:
            bad(f"--epsilon: must be zero or positive, got {self.epsilon}")
        if self.batch_size is not None and self.batch_size < 1:
            bad(f"--batch-size: must be a positive integer or 'full', got {self.batch_size}")
        if self.l2 < 0:
            bad(f"--l2: must be zero or positive, got {self.l2}")
        if not 0.0 <= self.alpha <= 1.0:
            bad(f"--alpha: blend factor must be in [0, 1], got {self.alpha}")
        if not 0.0 < self.decay_rate <= 1.0:
            bad(f"--decay-rate: must be in (0, 1], got {self.decay_rate}")
        if self.decay_steps is not None and self.decay_steps < 1:
            bad(f"--decay-steps: must be at least 1, got {self.decay_steps}")
        for name in ("momentum", "rho", "beta_1", "beta_2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                bad(f"{option(name)}: must be in [0, 1), got {getattr(self, name)}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def parse_batch_size(text: str | int | None) -> int | None:
    if text is None or (isinstance(text, str) and text.lower() in ("full", "all")):
        return None
    try:
        value = int(text)
    except ValueError:
        raise BplabError(f"--batch-size: expected a positive integer or 'full', got {text!r}") from None
    if value < 1:
        raise BplabError(f"--batch-size: must be a positive integer or 'full', got {value}")
    return value


def config_from_options(values: dict[str, Any], defaults: dict[str, Any] | None = None) -> TrainConfig:
    """The one translation from option values (the given ones; the rest from ``defaults``, then
    ``TRAINING``) to a TrainConfig, which validates them."""
    merged = {**TRAINING_DEFAULTS, **(defaults or {}), **values}
    for option in TRAINING:
        value = merged[option.name]
        if (
            option.type in (int, Optional[int])
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int))
        ):
            raise BplabError(f"{option.cli_flag}: expected a whole number, got {value!r}")
    return TrainConfig(**{**merged, "batch_size": parse_batch_size(merged["batch_size"])})


def options_of(config: TrainConfig) -> dict[str, Any]:
    """A TrainConfig back as option values (batch_size None as 'full')."""
    values = {name: getattr(config, name) for name in TRAINING_NAMES}
    values["batch_size"] = "full" if config.batch_size is None else config.batch_size
    return values
