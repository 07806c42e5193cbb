"""The blended-update study: the same training for several alpha in
W <- (1 - alpha) W_new + alpha W_old (the loop applies it after every optimizer step).

alpha = 0 is plain training; alpha = 1 never moves the weights, so the loss stays
where the first step found it (constant with full batches); in between, the
update is damped by (1 - alpha).
"""

from __future__ import annotations

import json
from pathlib import Path

from backprop_lab.core.errors import BplabError
from backprop_lab.experiments.sweep import SweepPlan, SweepResult


def parse_alphas(text: str) -> list[float]:
    try:
        alphas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise BplabError(f"--alphas: expected numbers like 0,0.25,0.5, got {text!r}") from None
    if not alphas:
        raise BplabError("--alphas: give at least one blend factor")
    bad = [a for a in alphas if not 0.0 <= a <= 1.0]
    if bad:
        raise BplabError(f"--alphas: every blend factor must be in [0, 1], got {bad[0]}")
    if len(set(alphas)) != len(alphas):
        raise BplabError(f"--alphas: {text!r} names a value twice")
    return alphas


def blend_plan(
    alphas: str, data: str, base: dict, seeds: int = 1, seed: int = 0, data_dir: str | None = None
) -> SweepPlan:
    base = {k: v for k, v in base.items() if k != "alpha"}
    return SweepPlan(data, base, {"alpha": parse_alphas(alphas)}, {}, seeds, seed, data_dir)


def save_step_curves(result: SweepResult, path: Path, title: str | None = None) -> Path:
    """Per-step training loss of the first seed, one line per alpha (labelled ``α = 0.5``). ``title`` says
    what is shown; the seed is added to it."""
    from backprop_lab.viz.plots import save_step_losses

    losses = {}
    for cell in result.cells:
        first = cell.runs[0]
        history = json.loads((Path(first.folder) / "history.json").read_text())
        losses[cell.cell.name] = history["step_loss"]
    title = title or f"Blended update W ← (1 − α)·W_new + α·W_old on {result.plan.data}: training loss per step"
    return save_step_losses(losses, path, f"{title}, seed {result.plan.seed}")
