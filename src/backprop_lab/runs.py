"""Run records: ``model.json`` (spec, training config, class names, versions),
``weights.npz`` (flat keys, never pickled), ``history.json`` and ``metrics.json``.

Files are written to a temporary name and renamed, so a crash never leaves a
half-written file; an existing run folder is not overwritten unless asked.
Loading validates every key, shape and dtype against the spec.
"""

from __future__ import annotations

import json
import platform
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .errors import BplabError
from .fileio import atomic_write, json_bytes, jsonable  # noqa: F401  (re-exported)
from .spec import ModelSpec
from .training.history import History

FORMAT = "backprop-lab-run/1"


@dataclass
class Run:
    engine: str
    dataset: str
    spec: ModelSpec
    config: TrainConfig
    class_names: list[str]
    weights: dict[str, np.ndarray]
    history: History = field(default_factory=History)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def save_heatmap(self, folder: Path) -> Path:
        """confusion.png of the test-set confusion matrix in ``folder``."""
        from .viz.plots import save_confusion_heatmap

        return save_confusion_heatmap(self.metrics["test"], Path(folder) / "confusion.png",
                                      f"{self.engine} on {self.dataset}")


def versions() -> dict[str, str]:
    import numpy

    from . import __version__

    out = {"backprop_lab": __version__, "numpy": numpy.__version__, "python": platform.python_version()}
    for name in ("tensorflow", "keras"):  # only when already loaded: importing TensorFlow takes seconds
        if name in sys.modules:
            out[name] = sys.modules[name].__version__
    return out


def prepare_out_dir(out: Path, force: bool) -> Path:
    """Refuse to overwrite an existing run unless ``force``."""
    if out.exists() and not out.is_dir():
        raise BplabError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise BplabError(f"{out}: folder already holds files; choose another --out or pass --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_weights(path: Path, weights: dict[str, np.ndarray]) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in weights.items()})
    atomic_write(path, buffer.getvalue())


def model_document(run: Run) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "engine": run.engine,
        "dataset": run.dataset,
        "class_names": run.class_names,
        "spec": run.spec.to_dict(),
        "config": run.config.to_dict(),
        "versions": versions(),
        **run.extra,
    }


def save_run(run: Run, out: Path, force: bool = False) -> Path:
    out = prepare_out_dir(Path(out), force)
    save_weights(out / "weights.npz", run.weights)
    atomic_write(out / "history.json", json_bytes(run.history.to_dict()))
    atomic_write(out / "metrics.json", json_bytes(run.metrics))
    atomic_write(out / "model.json", json_bytes(model_document(run)))  # last: its presence marks a complete run
    return out


def load_weights(path: Path, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Weights checked key by key against the spec; pickled arrays refused, nothing executed."""
    if not path.is_file():
        raise BplabError(f"{path}: file not found")
    if not zipfile.is_zipfile(path):
        raise BplabError(f"{path}: not a valid .npz weights file (not a zip archive)")
    expected = spec.param_shapes()
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            missing = sorted(set(expected) - keys)
            extra = sorted(keys - set(expected))
            if missing:
                raise BplabError(f"{path}: missing weight {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
            if extra:
                raise BplabError(f"{path}: unexpected weight {extra[0]} not in the model spec")
            weights = {}
            for key, shape in expected.items():
                arr = archive[key]
                if arr.dtype not in (np.float32, np.float64):
                    raise BplabError(f"{path}: weight {key} has dtype {arr.dtype}, expected float32 or float64")
                if tuple(arr.shape) != tuple(shape):
                    raise BplabError(f"{path}: weight {key} has shape {tuple(arr.shape)}, the spec needs {tuple(shape)}")
                if not np.isfinite(arr).all():
                    raise BplabError(f"{path}: weight {key} holds NaN or infinite values")
                weights[key] = arr
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BplabError(f"{path}: holds pickled objects; refusing to load it") from None
        raise BplabError(f"{path}: not a valid weights file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BplabError(f"{path}: not a valid .npz weights file ({exc})") from None
    return weights


def load_run(folder: Path | str) -> Run:
    folder = Path(folder)
    doc_path = folder / "model.json"
    if not folder.is_dir():
        raise BplabError(f"{folder}: run folder not found")
    if not doc_path.is_file():
        raise BplabError(f"{doc_path}: file not found (not a complete run folder)")
    try:
        doc = json.loads(doc_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BplabError(f"{doc_path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BplabError(f"{doc_path}: not a backprop-lab model file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    try:
        spec = ModelSpec.from_dict(doc["spec"])
        config = TrainConfig.from_dict(doc["config"])
        class_names = [str(c) for c in doc["class_names"]]
    except KeyError as exc:
        raise BplabError(f"{doc_path}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise BplabError(f"{doc_path}: invalid field ({exc})") from None
    weights = load_weights(folder / "weights.npz", spec)
    history = History()
    if (folder / "history.json").is_file():
        try:
            history = History.from_dict(json.loads((folder / "history.json").read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BplabError(f"{folder / 'history.json'}: unreadable ({exc})") from None
    metrics = {}
    if (folder / "metrics.json").is_file():
        try:
            metrics = json.loads((folder / "metrics.json").read_text())
        except json.JSONDecodeError as exc:
            raise BplabError(f"{folder / 'metrics.json'}: not valid JSON ({exc})") from None
    known = {"format", "engine", "dataset", "class_names", "spec", "config", "versions"}
    return Run(doc.get("engine", "?"), doc.get("dataset", "?"), spec, config, class_names, weights, history, metrics,
               {k: v for k, v in doc.items() if k not in known})
