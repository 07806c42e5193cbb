"""Plots: confusion-matrix heatmaps and overlaid training curves (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_confusion_heatmap(report: dict, path: Path, title: str) -> Path:
    cm = np.asarray(report["confusion_matrix"])
    names = report["class_names"]
    k = len(names)
    size = max(4.0, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=45 if max(len(n) for n in names) > 2 else 0, ha="right" if max(len(n) for n in names) > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: accuracy {report['accuracy']:.4f}")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_curves(histories: dict[str, object], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch for several runs overlaid (train solid, test dashed)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, history) in enumerate(histories.items()):
        color = f"C{i % 10}"
        epochs = [e.epoch for e in history.epochs]
        ax_loss.plot(epochs, [e.train_loss for e in history.epochs], color=color, marker="o", label=f"{label} train")
        ax_loss.plot(epochs, [e.test_loss for e in history.epochs], color=color, ls="--", marker="x", label=f"{label} test")
        ax_acc.plot(epochs, [e.train_acc for e in history.epochs], color=color, marker="o", label=f"{label} train")
        ax_acc.plot(epochs, [e.test_acc for e in history.epochs], color=color, ls="--", marker="x", label=f"{label} test")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _mean_band(ax, runs: list[list[float]], color: str, label: str) -> None:
    """Mean over seeds (runs of unequal length are cut to the shortest) with a min-max band."""
    n = min((len(r) for r in runs), default=0)
    if n == 0:
        return
    data = np.array([r[:n] for r in runs], dtype=float)
    x = np.arange(1, n + 1)
    ax.plot(x, data.mean(axis=0), color=color, marker="o", ms=3, label=label)
    if len(runs) > 1:
        ax.fill_between(x, data.min(axis=0), data.max(axis=0), color=color, alpha=0.15)


def save_sweep_curves(train_loss: dict[str, list[list[float]]], test_acc: dict[str, list[list[float]]], path: Path,
                      title: str) -> Path:
    """Per cell: training loss and test accuracy per epoch, mean over seeds with the min-max band."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, name in enumerate(test_acc):
        color = f"C{i % 10}"
        _mean_band(ax_loss, train_loss[name], color, name)
        _mean_band(ax_acc, test_acc[name], color, name)
    for ax, name in ((ax_loss, "training loss"), (ax_acc, "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_sweep_bars(cells: dict[str, tuple[float, float, float]], path: Path, title: str) -> Path:
    """Final test accuracy per cell: the mean, with its 95% interval (low, high) as error bars."""
    names = list(cells)
    means = [cells[n][0] for n in names]
    lows, highs = [cells[n][1] for n in names], [cells[n][2] for n in names]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 2), 4.5))
    errors = [[m - lo for m, lo in zip(means, lows)], [hi - m for m, hi in zip(means, highs)]]
    ax.bar(range(len(names)), means, yerr=errors, capsize=4, color=[f"C{i % 10}" for i in range(len(names))])
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(max(0.0, min(lows, default=0.0) - 0.05), min(1.0, max(highs, default=1.0) + 0.02))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_step_losses(losses: dict[str, list[float]], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (name, values) in enumerate(losses.items()):
        ax.plot(range(1, len(values) + 1), values, color=f"C{i % 10}", lw=1, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (batch)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_drift(step_losses: dict[str, list[float]], path: Path, title: str) -> Path:
    """|loss_a - loss_b| per step for every pair of engines (log scale; exact zeros drawn at the floor)."""
    import itertools

    fig, ax = plt.subplots(figsize=(9, 4.5))
    floor = 1e-12
    for i, (a, b) in enumerate(itertools.combinations(step_losses, 2)):
        la, lb = np.asarray(step_losses[a]), np.asarray(step_losses[b])
        n = min(len(la), len(lb))
        diff = np.maximum(np.abs(la[:n] - lb[:n]), floor)
        label = f"{a} vs {b}" + (" (identical: drawn at 1e-12)" if not np.any(np.abs(la[:n] - lb[:n])) else "")
        ax.plot(range(1, n + 1), diff, color=f"C{i}", lw=2.2 - 0.6 * i, ls=("-", "--", ":")[i % 3], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("|per-step loss difference|")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
