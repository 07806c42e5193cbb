"""A classification report: accuracy, per-class precision / recall / F1, macro averages and the confusion
matrix, computed from predictions and read by attribute (``report.per_class[3].f1``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_lab.core import records
from backprop_lab.core.display import Displayable
from backprop_lab.core.table import Table
from backprop_lab.numerics.metrics import predicted_labels


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class, and how many test examples it has."""

    name: str = field(metadata={"key": "class"})
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
    def from_dict(cls, doc: dict[str, Any], where: str = "classification report") -> ClassificationReport:
        return records.load(cls, doc, where)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``metrics.json``'s ``test``, ``--json``): per-class rows keyed ``class``."""
        return records.dump(self)

    def table(self, caption: str = "") -> Table:
        """Per-class precision, recall and F1, and the macro average: the table every rendering shows."""
        cell = lambda x: f"{x:.4f}"  # noqa: E731
        rows = [[r.name, cell(r.precision), cell(r.recall), cell(r.f1), str(r.support)] for r in self.per_class]
        m = self.macro
        rows.append(["macro average", cell(m.precision), cell(m.recall), cell(m.f1), str(self.n)])
        return Table(caption, ["class", "precision", "recall", "F1", "support"], rows)

    def confusion_table(self) -> Table:
        return Table(
            "confusion matrix (rows: true, columns: predicted)",
            ["true \\ pred"] + [n[:10] for n in self.class_names],
            [[name[:12], *[str(v) for v in row]] for name, row in zip(self.class_names, self.confusion_matrix)],
        )

    def __repr__(self) -> str:
        return f"ClassificationReport(accuracy={self.accuracy:.4f}, n={self.n}, macro_f1={self.macro.f1:.4f})"


def classification_report(probs: np.ndarray, y: np.ndarray, class_names: list[str]) -> ClassificationReport:
    k = len(class_names)
    pred = predicted_labels(probs)
    cm = confusion_matrix(y, pred, k)
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return ClassificationReport(
        float((pred == y).mean()),
        int(len(y)),
        list(class_names),
        [
            ClassScores(c, float(p), float(r), float(f), int(s))
            for c, p, r, f, s in zip(class_names, precision, recall, f1, actual)
        ],
        Averages(float(precision.mean()), float(recall.mean()), float(f1.mean())),
        cm.tolist(),
    )
