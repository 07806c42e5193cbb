"""A classification report: accuracy, per-class precision / recall / F1, macro averages and the confusion
matrix, computed from predictions and read by attribute (``report.per_class[3].f1``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from backprop_lab.core.display import Displayable
from backprop_lab.numerics.metrics import predicted_labels


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def classification_report(probs: np.ndarray, y: np.ndarray, class_names: list[str]) -> dict:
    k = len(class_names)
    pred = predicted_labels(probs)
    cm = confusion_matrix(y, pred, k)
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return {
        "accuracy": float((pred == y).mean()),
        "n": int(len(y)),
        "class_names": class_names,
        "per_class": [
            {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(class_names, precision, recall, f1, actual)
        ],
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class, and how many test examples it has."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Averages:
    """Macro averages: the mean over classes, each class counted once."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationReport(Displayable):
    """``classification_report`` with names: ``report.accuracy``, ``report.per_class[3].f1``,
    ``report.macro.recall``, ``report.confusion_matrix[true][predicted]``."""

    accuracy: float
    n: int
    class_names: list[str]
    per_class: list[ClassScores]
    macro: Averages
    confusion_matrix: list[list[int]]

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "ClassificationReport":
        return cls(
            float(doc["accuracy"]),
            int(doc["n"]),
            list(doc["class_names"]),
            [ClassScores(r["class"], r["precision"], r["recall"], r["f1"], r["support"]) for r in doc["per_class"]],
            Averages(**doc["macro"]),
            [list(row) for row in doc["confusion_matrix"]],
        )

    def to_dict(self) -> dict[str, Any]:
        """The dictionary ``classification_report`` returns (and ``--json`` prints)."""
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "class_names": self.class_names,
            "per_class": [
                {"class": c.name, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}
                for c in self.per_class
            ],
            "macro": asdict(self.macro),
            "confusion_matrix": self.confusion_matrix,
        }

    def __repr__(self) -> str:
        return f"ClassificationReport(accuracy={self.accuracy:.4f}, n={self.n}, macro_f1={self.macro.f1:.4f})"
