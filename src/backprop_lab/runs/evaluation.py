"""Evaluation: accuracy, per-class precision / recall / F1, macro averages and the confusion matrix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder, write_json
from backprop_lab.training import predicted_labels


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
class ClassificationReport:
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

    def _repr_html_(self) -> str:
        from backprop_lab.viz.display import report_html

        return report_html(self, f"accuracy {self.accuracy:.4f} on {self.n} examples")


@dataclass
class Evaluation:
    """A saved model evaluated on a data set's test split by one engine: ``evaluation.test.accuracy``."""

    source: Path
    data: str
    engine: str
    report: dict
    files: list[Path] = field(default_factory=list)  # evaluation_DATA.json and confusion_DATA.png, once saved

    @property
    def test(self) -> ClassificationReport:
        return ClassificationReport.from_dict(self.report)

    @property
    def accuracy(self) -> float:
        return self.test.accuracy

    def __repr__(self) -> str:
        return f"Evaluation({self.source} on {self.data}, {self.engine}: accuracy {self.accuracy:.4f})"

    def _repr_html_(self) -> str:
        from backprop_lab.viz.display import report_html

        return report_html(
            self.test,
            f"{self.source} on {self.data} ({self.engine}): accuracy {self.accuracy:.4f}",
            self.files[1] if len(self.files) > 1 else None,
        )

    @property
    def slug(self) -> str:
        return self.data.replace(":", "_").replace("/", "_").replace(",", "_")

    def save(self, folder: Path) -> tuple[Path, Path]:
        """evaluation_DATA.json and confusion_DATA.png in ``folder``."""
        from backprop_lab.viz.plots import save_confusion_heatmap

        folder = Path(folder)
        make_folder(folder)
        write_json(folder / f"evaluation_{self.slug}.json", self.report)
        heatmap = save_confusion_heatmap(
            self.report, folder / f"confusion_{self.slug}.png", f"{self.source.name} on {self.data}"
        )
        return folder / f"evaluation_{self.slug}.json", heatmap


def evaluate_model(
    path: Path, data: str | None = None, data_dir: Path | None = None, engine: str = "scratch"
) -> Evaluation:
    """Load a run folder or .keras file and evaluate it on ``data`` (default: the data set it was trained on)."""
    from backprop_lab.datasets.registry import load_dataset
    from backprop_lab.engines.registry import get_engine
    from backprop_lab.runs.portable import load_model

    path = Path(path)
    run = load_model(path)
    name = data or run.dataset
    if name == "?":
        raise BplabError(f"{path}: the file does not say which data set it was trained on; pass --data")
    ds = load_dataset(name, data_dir)
    if tuple(ds.input_shape) != tuple(run.spec.input_shape):
        raise BplabError(f"{path}: the model expects input {run.spec.input_shape} but {name} has {ds.input_shape}")
    units = run.spec.output_shape[-1]
    if units not in (1, ds.num_classes) or (units == 1 and ds.num_classes != 2):
        raise BplabError(f"{path}: the model has {units} outputs but {name} has {ds.num_classes} classes")
    dtype = str(next(iter(run.weights.values())).dtype)
    probs = get_engine(engine).predict(run.spec, run.weights, ds.x_test, dtype)
    return Evaluation(path, name, engine, classification_report(probs, ds.y_test, ds.class_names))
