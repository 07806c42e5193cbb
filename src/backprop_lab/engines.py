"""Engines by name. Each has ``train``, ``predict`` and ``gradients`` with the
same signatures; TensorFlow is imported only when a TensorFlow engine is used."""

from __future__ import annotations

from .errors import BplabError

ENGINE_NAMES = ("scratch", "tape", "fit")


def check_engine(name: str, option: str = "--engine") -> str:
    """The one place engine names are checked; the error names the option."""
    if name not in ENGINE_NAMES:
        raise BplabError(f"{option}: unknown engine {name!r} (choose from {', '.join(ENGINE_NAMES)})")
    return name


def get_engine(name: str, **options):
    check_engine(name)
    if name == "scratch":
        from .scratch.engine import ScratchEngine

        return ScratchEngine()
    if name == "tape":
        from .keras_engines.tape import TapeEngine

        return TapeEngine(**options)
    from .keras_engines.fit import FitEngine

    return FitEngine()
