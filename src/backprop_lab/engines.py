"""Engines by name. Each has ``train``, ``predict`` and ``gradients`` with the
same signatures; TensorFlow is imported only when a TensorFlow engine is used."""

from __future__ import annotations

from .errors import BplabError

ENGINE_NAMES = ("scratch", "tape", "fit")


def get_engine(name: str, **options):
    if name == "scratch":
        from .scratch.engine import ScratchEngine

        return ScratchEngine()
    if name == "tape":
        from .keras_engines.tape import TapeEngine

        return TapeEngine(**options)
    if name == "fit":
        from .keras_engines.fit import FitEngine

        return FitEngine()
    raise BplabError(f"--engine: unknown engine {name!r} (choose from {', '.join(ENGINE_NAMES)})")
