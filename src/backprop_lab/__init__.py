"""backprop-lab: one model description, three engines, measured parity.

The Python API has one function per ``bplab`` command, with the command's option names and
defaults (``import backprop_lab as bl``; ``bl.train(engine="scratch", data="digits", model="mlp:16",
epochs=2)``); see :mod:`backprop_lab.api`. Bad arguments raise :class:`BplabError` with the
message the command prints. No sub-package shares its name with an API function.
"""

from backprop_lab.api import (  # noqa: E402
    blend,
    check_code,
    check_derivation,
    compare,
    data,
    derive,
    draw,
    evaluate,
    exercise,
    explore,
    export,
    gradcheck,
    grade,
    load,
    model,
    resume,
    study,
    sweep,
    train,
    transfer,
)
from backprop_lab.core.errors import BplabError  # noqa: E402
from backprop_lab.core.version import __version__  # noqa: F401
from backprop_lab.viz.display import register_renderers  # noqa: E402

register_renderers()  # results show themselves in notebooks through core/display.py

__all__ = [
    "BplabError",
    "blend",
    "check_code",
    "check_derivation",
    "compare",
    "data",
    "derive",
    "draw",
    "evaluate",
    "exercise",
    "explore",
    "export",
    "grade",
    "gradcheck",
    "load",
    "model",
    "resume",
    "study",
    "sweep",
    "train",
    "transfer",
]
