"""Engines by name, and what an engine is: the :class:`Engine` protocol.

An engine is an adapter (DESIGN.md): it makes a training-loop state from weights (``start``; the
state's interface is :class:`backprop_lab.training.loop.EngineState`), gives the loss and gradients
of one batch (``gradients``: parity and gradient checks), and predicts (``predict``). Everything
else (plan, schedule, NaN policy, checkpoints, metrics) is engine-neutral and knows an engine only
through this interface. The names are ``backprop_lab.core.names.ENGINES``; TensorFlow is imported only
when a TensorFlow engine is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from backprop_lab.core.names import ENGINES

if TYPE_CHECKING:
    import numpy as np

    from backprop_lab.engines.base import EngineState
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.spec.model import ModelSpec

ENGINE_NAMES: tuple[str, ...] = ENGINES.names


@runtime_checkable
class Engine(Protocol):
    """What the training workflow, ``compare``, ``gradcheck`` and ``evaluate`` call on an engine."""

    name: str  # as in backprop_lab.core.names.ENGINES
    uses_tensorflow: bool  # runs on TensorFlow (so, e.g., TensorBoard's own writer is already loaded)

    def start(self, spec: ModelSpec, weights: dict[str, np.ndarray], config: TrainConfig) -> EngineState:
        """A training-loop state holding a copy of ``weights`` and the config's optimizer."""
        ...

    def gradients(
        self,
        spec: ModelSpec,
        weights: dict[str, np.ndarray],
        x: np.ndarray,
        y: np.ndarray,
        config: TrainConfig,
        training: bool = False,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss (L2 included) and gradients by weight key for one batch at ``weights``; ``y`` are labels."""
        ...

    def predict(
        self, spec: ModelSpec, weights: dict[str, np.ndarray], x: np.ndarray, dtype: str = "float32"
    ) -> np.ndarray:
        """The network's outputs (probabilities) for ``x`` at ``weights``."""
        ...


def check_engine(name: str, option: str = "--engine") -> str:
    """The one place engine names are checked; the error names the option."""
    return ENGINES.check(name, option)


def _scratch(options: dict[str, Any]) -> Engine:
    from backprop_lab.engines.scratch.engine import ScratchEngine

    return ScratchEngine()


def _tape(options: dict[str, Any]) -> Engine:
    from backprop_lab.engines.keras.tape import TapeEngine

    return TapeEngine(**options)


def _fit(options: dict[str, Any]) -> Engine:
    from backprop_lab.engines.keras.fit import FitEngine

    return FitEngine()


# Each engine name and how to make it (with its engine options: tape's ``eager``).
FACTORIES: dict[str, Callable[[dict[str, Any]], Engine]] = ENGINES.table(
    {"scratch": _scratch, "tape": _tape, "fit": _fit}, "engines.FACTORIES"
)


def get_engine(name: str, **options) -> Engine:
    return ENGINES.get(FACTORIES, name, "--engine")(options)
