"""Independent checks of a derivation: the derived gradients against central finite differences of
the derived loss (float64), the chain-rule product form against the delta recursion, and the
scratch engine's fast backward pass against the derived gradients. Never the engine against itself.

(The tests add a third, TensorFlow autograd, in ``tests/derive``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import Derivation, derive
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss
from backprop_lab.numerics.metrics import targets
from backprop_lab.runs.record import load_run
from backprop_lab.runs.workflow import initial_weights


@dataclass(frozen=True)
class GradientCheck:
    key: str  # dense_0/kernel
    symbol: str  # dW[1]
    fd_rel: float  # derived gradient vs central finite differences, on the probed entries
    engine_rel: float  # scratch engine vs derived gradient (whole array)
    chain_rel: float | None  # chain-rule product form vs the delta recursion (kernels only)

    @property
    def worst(self) -> float:
        return max(self.fd_rel, self.engine_rel, self.chain_rel or 0.0)


TOLERANCE = 1e-7  # float64: relative error of every check


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-wise relative difference, symmetric; 0 when both are zero."""
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / scale) if scale else 0.0


def dropout_masks(derivation: Derivation, m: int, seed: int) -> dict[str, np.ndarray]:
    """0/1 masks drawn exactly as the scratch engine draws them from ``default_rng(seed)``: layer by layer,
    keep where ``rng.random(shape) >= rate``."""
    rng = np.random.default_rng(seed)
    return {
        name: (rng.random((m, *shape)) >= rate).astype(np.float64)
        for name, (_, rate, shape) in derivation.masks.items()
    }


def loss_of(derivation: Derivation, weights: dict[str, np.ndarray], x, y, masks) -> float:
    """The derived loss: the forward and loss equations interpreted."""
    return float(derivation.evaluate(weights, x, y, masks, sections=("forward", "loss"))["loss"])


def finite_differences(
    derivation: Derivation, weights: dict[str, np.ndarray], x, y, masks, key: str, index: list[tuple], eps: float = 1e-6
) -> np.ndarray:
    """Central differences (L(w + eps) - L(w - eps)) / 2 eps of the derived loss at the given entries."""
    out = []
    for ix in index:
        w = {k: v.copy() for k, v in weights.items()}
        w[key][ix] += eps
        up = loss_of(derivation, w, x, y, masks)
        w[key][ix] -= 2 * eps
        down = loss_of(derivation, w, x, y, masks)
        out.append((up - down) / (2 * eps))
    return np.array(out)


def probe_indices(shape: tuple, count: int, rng: np.random.Generator) -> list[tuple]:
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(count, size), replace=False)
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat]


def check(
    derivation: Derivation, x: np.ndarray, y: np.ndarray, seed: int = 0, probes: int = 6, bias_scale: float = 0.1
) -> list[GradientCheck]:
    """Every trainable parameter's derived gradient checked three ways, float64, at the config's initial
    weights with non-zero biases (so a missing bias term cannot hide) and the engine's dropout masks."""
    from backprop_lab.engines.scratch.model import ScratchModel

    spec, config = derivation.spec, derivation.config
    rng = np.random.default_rng(seed)
    weights = {
        k: v + (bias_scale * rng.standard_normal(v.shape) if k.endswith("bias") else 0)
        for k, v in init_weights(spec.param_shapes(), config.init, seed, "float64").items()
    }
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    masks = dropout_masks(derivation, len(x), seed + 1)
    env = derivation.evaluate(weights, x, y, masks)
    derived = derivation.gradients(env)
    model = ScratchModel(spec)
    out, caches = model.forward(weights, x, training=bool(masks), rng=np.random.default_rng(seed + 1))
    engine = model.backward(weights, caches, out, y, get_loss(config.loss), config.l2)
    checks = []
    for layer in derivation.layers:
        for part, symbol in (("kernel", f"dW[{layer.l}]"), ("bias", f"db[{layer.l}]")):
            key = f"{layer.info.name}/{part}"
            if key not in engine:  # frozen
                continue
            index = probe_indices(weights[key].shape, probes, rng)
            fd = finite_differences(derivation, weights, x, y, masks, key, index)
            chain = (
                rel(env[f"chain_dW{layer.l}"], derived[key])
                if part == "kernel" and f"chain_dW{layer.l}" in env
                else None
            )
            checks.append(
                GradientCheck(
                    key,
                    symbol,
                    rel(np.array([derived[key][i] for i in index]), fd),
                    rel(engine[key], derived[key]),
                    chain,
                )
            )
    return checks


def graph_values(setup, run_path: Path | None, rows: int, layout: str = "rows") -> dict:
    """The derivation evaluated on the first ``rows`` training rows, at a run's weights or the initial ones
    (float64; dropout masks drawn as the scratch engine draws them), for labelling the graphs' nodes
    (in the graphs' ``layout``)."""

    if run_path is not None:
        run = load_run(run_path)
        if run.spec.param_shapes() != setup.spec.param_shapes():
            raise BplabError(f"--run {run_path}: its model ({len(run.spec.layers)} layers) is not --model")
        weights = run.weights
    else:
        weights = initial_weights(setup.spec, setup.config)
    derivation = derive(setup.spec, setup.config, layout)
    x = np.asarray(setup.dataset.x_train[:rows], np.float64)
    y = targets(setup.spec, setup.dataset.y_train[:rows], "float64")
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    return derivation.evaluate(w, x, y, dropout_masks(derivation, len(x), setup.config.seed))
