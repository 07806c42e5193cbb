"""How far two training runs drift apart, step by step, set against what explains it: float32
round-off (the same pair in float64) and the spread between seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backprop_lab.viz.plots import figure, save_figure, set_title

FLOOR = 1e-16  # exact zeros are drawn here (log scale)


def abs_diff(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = min(len(a), len(b))
    return np.abs(a[:n] - b[:n])


def save_drift_explained(series: list[tuple[str, np.ndarray]], path: Path, title: str) -> Path:
    """One line per (label, |per-step loss difference|), log scale, exact zeros at the floor and said so."""
    fig, ax = figure(10, 4.8)
    styles = ["-", "--", ":", "-."]
    for i, (label, diff) in enumerate(series):
        diff = np.asarray(diff, dtype=np.float64)
        shown = np.maximum(diff, FLOOR)
        if not np.any(diff):
            label += f" (identical: drawn at {FLOOR:g})"
        ax.plot(np.arange(1, len(diff) + 1), shown, color=f"C{i}", ls=styles[i % len(styles)], lw=1.8, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("|loss difference| at that step")
    ax.grid(alpha=0.3)
    # under the axes, not in them: the lines span the whole log scale, so no corner is free of data
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    set_title(fig, title)
    return save_figure(fig, path)
