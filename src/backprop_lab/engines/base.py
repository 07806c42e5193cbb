"""What an engine is to the one training loop: a state that steps, and the loop as the state sees it.

The loop (``training/loop.py``) hands a state itself (``state.drive(loop)``); a state either calls
``loop.step_through(self)`` or runs its framework's own loop and calls ``loop.before_step`` /
``loop.after_step`` around each step. :class:`Driver` is that view of the loop, so an engine depends
on this file, not on the training package above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

Weights = dict[str, np.ndarray]


class Driver(Protocol):
    """The loop as an engine's ``drive`` sees it."""

    x: np.ndarray  # the training inputs, in the run's dtype
    t: np.ndarray  # the training targets
    plan: Any  # the batch plan (datasets.batches.BatchPlan)

    def remaining_steps(self) -> int: ...
    def remaining_orders(self) -> Any: ...
    def before_step(self) -> Any: ...
    def after_step(self, *args: Any, **kwargs: Any) -> Any: ...
    def step_through(self, state: EngineState) -> None: ...


@dataclass
class StepResult:
    loss: float  # the batch's loss, L2 penalty included
    out: np.ndarray  # the network's output for the batch (probabilities)
    finite: bool = True  # every weight is finite after the update
    grad_norms: dict[str, float] | None = None  # per weight, when the state was asked for them


@runtime_checkable
class EngineState(Protocol):
    """What an engine hands the loop: a model with its optimizer, ready to step."""

    def step(self, x: np.ndarray, t: np.ndarray, lr: float) -> StepResult: ...
    def rollback(self) -> None: ...  # weights back to before the last step
    def weights(self) -> Weights: ...
    def previous_weights(self) -> Weights: ...  # trainable weights before the last step
    def set_weights(self, weights: Weights) -> None: ...
    def export_state(self) -> tuple[dict[str, np.ndarray], dict]: ...  # arrays + JSON-able scalars

    grad_norms: bool  # set by the loop: should step() report per-weight gradient norms?

    def import_state(self, arrays: dict[str, np.ndarray], meta: dict) -> None: ...
    def predict(self, x: np.ndarray) -> np.ndarray: ...
    def drive(self, loop: Driver) -> None: ...  # run the loop's remaining steps: loop.step_through(self), or own loop
