"""backprop-lab: one model description, three engines, measured parity.

The Python API has one function per ``bplab`` command, with the command's option names and
defaults (``import backprop_lab as bl``; ``bl.train(engine="scratch", data="digits", model="mlp:16",
epochs=2)``); see :mod:`backprop_lab.api`. Bad arguments raise :class:`BplabError` with the
message the command prints.
"""

import sys as _sys
import types as _types

__version__ = "0.1.0"

from .api import (blend, check_derivation, compare, data, derive, draw, evaluate, export, gradcheck, load,  # noqa: E402
                  model, resume, study, sweep, train, transfer)
from .errors import BplabError  # noqa: E402

__all__ = ["BplabError", "blend", "check_derivation", "compare", "data", "derive", "draw", "evaluate", "export",
           "gradcheck", "load", "model", "resume", "study", "sweep", "train", "transfer"]


class _Package(_types.ModuleType):
    """Some API functions share their name with a sub-module (``bl.data`` and ``backprop_lab.data``,
    also compare, evaluate, gradcheck, study). Importing such a sub-module for the first time would
    make Python set it as this package's attribute, over the function: the function stays (the
    sub-module is still ``sys.modules["backprop_lab.data"]`` and ``from backprop_lab.data import X`` works)."""

    def __setattr__(self, name: str, value) -> None:
        if name in __all__ and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
