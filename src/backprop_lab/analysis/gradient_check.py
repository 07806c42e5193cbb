"""Gradient check: central finite differences (float64) vs the hand-written
backward pass, and optionally vs TensorFlow's autograd, per parameter tensor.

Large tensors are checked on a seeded sample of entries. The error of a tensor
is norm-wise over the checked entries: ||g_a - g_n|| / (||g_a|| + ||g_n||).
Dropout masks are drawn from a fresh generator with the same seed for every
evaluation, so the masks are identical and dropout's backward is checked too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.engines.registry import get_engine
from backprop_lab.engines.scratch.engine import ScratchEngine
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import prepare
from backprop_lab.spec.model import ModelSpec

TOLERANCE = 1e-6


@dataclass
class GradRow:
    key: str
    shape: tuple[int, ...]
    checked: int
    rel_error: float
    autograd_rel: float | None = None

    @property
    def passed(self) -> bool:
        ok = self.rel_error < TOLERANCE
        if self.autograd_rel is not None:
            ok = ok and self.autograd_rel < TOLERANCE
        return ok

    def to_dict(self) -> dict:
        return {**asdict(self), "shape": list(self.shape), "passed": self.passed}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def gradcheck(
    spec: ModelSpec,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    weights=None,
    max_entries: int = 30,
    eps: float = 1e-6,
    seed: int = 0,
    autograd=None,
) -> list[GradRow]:
    """``autograd``: optional function (spec, weights, x, y, config) -> (loss, grads) to compare too."""
    config = replace(config, dtype="float64")
    engine = ScratchEngine()
    if weights is None:
        weights = init_weights(spec.param_shapes(), config.init, seed, "float64")
        # non-zero biases so their gradients are exercised in every layer
        rng = np.random.default_rng(seed + 1)
        weights = {k: (v + 0.1 * rng.standard_normal(v.shape) if k.endswith("bias") else v) for k, v in weights.items()}
    weights = {k: v.astype(np.float64) for k, v in weights.items()}
    x = x.astype(np.float64)

    def loss_at(w) -> float:
        return engine.gradients(spec, w, x, y, config, training=True, rng=np.random.default_rng(seed))[0]

    _, analytic = engine.gradients(spec, weights, x, y, config, training=True, rng=np.random.default_rng(seed))
    auto = autograd(spec, weights, x, y, config)[1] if autograd else None
    pick = np.random.default_rng(seed)
    rows = []
    for key, grad in analytic.items():
        flat = weights[key].reshape(-1)
        n = flat.size
        entries = np.arange(n) if n <= max_entries else pick.choice(n, max_entries, replace=False)
        numeric = np.empty(len(entries))
        for j, e in enumerate(entries):
            old = flat[e]
            flat[e] = old + eps
            plus = loss_at(weights)
            flat[e] = old - eps
            minus = loss_at(weights)
            flat[e] = old
            numeric[j] = (plus - minus) / (2 * eps)
        row = GradRow(key, tuple(grad.shape), len(entries), relative(grad.reshape(-1)[entries], numeric))
        if auto is not None:
            row.autograd_rel = relative(grad, np.asarray(auto[key], dtype=np.float64))
        rows.append(row)
    return rows


def gradcheck_data(
    data: str,
    model: str,
    config: TrainConfig,
    data_dir=None,
    batch: int = 16,
    entries: int = 30,
    autograd: bool = False,
) -> list[GradRow]:
    """The gradient check on the first ``batch`` training examples of a data set."""

    if batch < 1:
        raise BplabError(f"--batch: must be a positive number of examples, got {batch}")
    if entries < 1:
        raise BplabError(f"--entries: must be positive, got {entries}")
    setup = prepare(data, model, config, data_dir)
    x, y = setup.dataset.x_train[:batch], setup.dataset.y_train[:batch]
    auto = None
    if autograd:
        auto = get_engine("tape").gradients
    return gradcheck(setup.spec, x, y, config, max_entries=entries, seed=config.seed, autograd=auto)
