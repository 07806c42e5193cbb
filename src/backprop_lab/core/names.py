"""The names of things, declared once: each activation, loss, optimizer, initializer, learning-rate
schedule, dtype and engine. Everything that accepts or lists one of these names reads it here:
``TrainConfig``'s validation, the model spec, the options' help texts (CLI and Python API), sweep
and study files, and the implementations. Each implementation table (the scratch formulas in
``numerics/`` and ``scratch/optimizers.py``, Keras's in ``keras_engines/build.py``, the derivation
rules in ``derive/rules.py``) registers against its registry with :meth:`Registry.table`, which
refuses a table that misses a name or has one the registry does not declare; so a name added here
without its implementations fails at import, and ``tests/test_names.py`` checks every table.

As Keras's registries do, a lookup of an unknown name says which name and what the choices are:
``LOSSES.check("hinge", "--loss")`` raises ``--loss: unknown loss 'hinge' (choose from
categorical_crossentropy, binary_crossentropy, mse, squared_error, half_squared_error)``.

This module imports nothing heavy: the CLI reads it to build ``--help``.
"""

from __future__ import annotations

from typing import Iterator, Mapping, TypeVar

from backprop_lab.core.errors import BplabError

T = TypeVar("T")


class Registry:
    """The names of one kind, in the order help texts and error messages list them, each with an
    optional note for help texts (``mse (Keras's)``)."""

    def __init__(self, kind: str, names: tuple[str, ...] | Mapping[str, str]):
        self.kind = kind
        self.notes: dict[str, str] = dict(names) if isinstance(names, Mapping) else {n: "" for n in names}
        self.names: tuple[str, ...] = tuple(self.notes)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.notes  # a list or a dict from a file is no name

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names!r})"

    def listing(self, last: str = " or ", notes: bool = False) -> str:
        """``a, b or c`` (``last`` joins the last two), with each name's note in brackets when ``notes``."""
        shown = [f"{n} ({self.notes[n]})" if notes and self.notes[n] else n for n in self.names]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + last + shown[-1]

    def unknown(self, name: object, option: str | None = None) -> str:
        """The message for a name that is not one of these: it names the bad name and the choices."""
        where = f"{option}: " if option else ""
        return f"{where}unknown {self.kind} {name!r} (choose from {', '.join(self.names)})"

    def check(self, name: str, option: str | None = None) -> str:
        """``name`` if declared; else :class:`BplabError` naming ``option``, the name and the choices."""
        if name not in self:
            raise BplabError(self.unknown(name, option))
        return name

    def get(self, table: Mapping[str, T], name: str, option: str | None = None) -> T:
        """``table[name]`` for a table made by :meth:`table`; an unknown name is a :class:`BplabError`."""
        return table[self.check(name, option)]

    def table(self, entries: Mapping[str, T], where: str) -> dict[str, T]:
        """Register an implementation table (name -> implementation): it must cover exactly these
        names (a TypeError at import otherwise, naming ``where`` and what is missing or extra).
        Returned in the registry's order."""
        missing = [n for n in self.names if n not in entries]
        extra = [n for n in entries if n not in self.notes]
        if missing or extra:
            raise TypeError(
                f"{where}: the {self.kind} table does not match backprop_lab.core.names "
                f"(missing: {', '.join(missing) or 'none'}; not declared: {', '.join(extra) or 'none'})"
            )
        return {n: entries[n] for n in self.names}


ACTIVATIONS = Registry("activation", ("relu", "sigmoid", "tanh", "softmax", "linear"))
LOSSES = Registry(
    "loss",
    {
        "categorical_crossentropy": "",
        "binary_crossentropy": "",
        "mse": "Keras's",
        "squared_error": "summed over outputs",  # not Keras's: summed over the outputs, averaged over the batch
        "half_squared_error": "",  # not Keras's: half of squared_error
    },
)
OPTIMIZERS = Registry("optimizer", ("sgd", "momentum", "nesterov", "rmsprop", "adam"))
INITIALIZERS = Registry(
    "initializer", ("zeros", "small_normal", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform")
)
DECAYS = Registry("schedule", ("none", "exponential", "step"))
DTYPES = Registry("dtype", ("float32", "float64"))
ENGINES = Registry("engine", ("scratch", "tape", "fit"))

# Keras 3's default learning rate of each optimizer.
DEFAULT_LR: dict[str, float] = OPTIMIZERS.table(
    {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "rmsprop": 0.001, "adam": 0.001}, "names.DEFAULT_LR"
)

REGISTRIES: tuple[Registry, ...] = (ACTIVATIONS, LOSSES, OPTIMIZERS, INITIALIZERS, DECAYS, DTYPES, ENGINES)
