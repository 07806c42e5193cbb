"""Evaluation: accuracy, per-class precision / recall / F1, macro averages and the confusion matrix."""

from __future__ import annotations

import numpy as np

from .training import predicted_labels


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
        "per_class": [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(class_names, precision, recall, f1, actual)],
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }
