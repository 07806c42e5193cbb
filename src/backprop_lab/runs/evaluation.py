"""Evaluation: accuracy, per-class precision / recall / F1, macro averages and the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder, write_json
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import get_engine
from backprop_lab.results.classification import ClassificationReport, classification_report  # noqa: F401
from backprop_lab.runs.portable import load_model


@dataclass
class Evaluation(Displayable):
    """A saved model evaluated on a data set's test split by one engine: ``evaluation.test.accuracy``."""

    source: Path
    data: str
    engine: str
    test: ClassificationReport
    files: list[Path] = field(default_factory=list)  # evaluation_DATA.json and confusion_DATA.png, once saved

    @property
    def accuracy(self) -> float:
        return self.test.accuracy

    def __repr__(self) -> str:
        return f"Evaluation({self.source} on {self.data}, {self.engine}: accuracy {self.accuracy:.4f})"

    @property
    def slug(self) -> str:
        return self.data.replace(":", "_").replace("/", "_").replace(",", "_")

    def save(self, folder: Path) -> tuple[Path, Path]:
        """evaluation_DATA.json and confusion_DATA.png in ``folder``."""
        from backprop_lab.viz.plots import save_confusion_heatmap

        folder = Path(folder)
        make_folder(folder)
        write_json(folder / f"evaluation_{self.slug}.json", self.test.to_dict())
        heatmap = save_confusion_heatmap(
            self.test, folder / f"confusion_{self.slug}.png", f"{self.source.name} on {self.data}"
        )
        return folder / f"evaluation_{self.slug}.json", heatmap


def evaluate_model(
    path: Path, data: str | None = None, data_dir: Path | None = None, engine: str = "scratch"
) -> Evaluation:
    """Load a run folder or .keras file and evaluate it on ``data`` (default: the data set it was trained on)."""

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
