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
