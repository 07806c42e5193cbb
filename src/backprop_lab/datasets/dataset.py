"""The Dataset every engine receives: validated arrays plus metadata."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from backprop_lab.core.errors import DataError

SCALINGS = ("unit", "standardize", "none")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    notes: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def info(self) -> dict:
        out = {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "train": int(len(self.x_train)),
            "test": int(len(self.x_test)),
            "train_class_counts": np.bincount(self.y_train, minlength=self.num_classes).tolist(),
        }
        if self.x_val is not None:
            out["validation"] = int(len(self.x_val))
        return out


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def check_labels(y: np.ndarray, num_classes: int, where: str) -> None:
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{where}: labels outside the class range 0..{num_classes - 1} (found {y.min()}..{y.max()})")


def stratified_split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    """(x_keep, y_keep, x_held, y_held): a deterministic stratified split."""
    n = len(y)
    _, counts = np.unique(y, return_counts=True)
    held = math.ceil(fraction * n)  # as scikit-learn counts the held-out part
    rarest = int(counts.min()) if n else 0
    if n == 0 or rarest < 2 or held < len(counts) or n - held < len(counts):
        # what scikit-learn would refuse, said here without importing it (seconds)
        raise DataError(
            f"too few rows for a stratified {fraction:.0%} split: {n} rows in {len(counts)} classes, "
            f"the rarest has {rarest}; each class needs 2 rows and each part at least one row per class"
        )
    from sklearn.model_selection import train_test_split  # imported here: it takes seconds

    try:
        keep, held_idx = train_test_split(np.arange(n), test_size=fraction, stratify=y, random_state=seed)
    except ValueError as exc:  # anything else scikit-learn refuses
        raise DataError(
            f"cannot make a stratified {fraction:.0%} split of {n} rows ({str(exc).splitlines()[0]})"
        ) from None
    keep.sort()
    held_idx.sort()
    return x[keep], y[keep], x[held_idx], y[held_idx]


def preprocess(x: np.ndarray, max_value: float, scale: str, flatten: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if scale == "unit":
        x = x / np.float32(max_value)
    elif scale == "standardize":
        axes = tuple(range(1, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        std = x.std(axis=axes, keepdims=True)
        x = (x - mean) / np.maximum(std, 1e-6)
    elif scale != "none":
        raise DataError(f"scaling {scale!r} is unknown (choose from {', '.join(SCALINGS)})")
    if flatten:
        x = x.reshape(len(x), -1)
    return np.ascontiguousarray(x, dtype=np.float32)
