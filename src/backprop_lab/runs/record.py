"""Run records: ``model.json`` (spec, training config, class names, versions),
``weights.npz`` (flat keys, never pickled), ``history.json`` and ``metrics.json``.

Files are written to a temporary name and renamed, so a crash never leaves a
half-written file; an existing run folder is not overwritten unless asked.
Loading validates every key, shape and dtype against the spec.
"""

from __future__ import annotations

import io
import platform
import sys
import tomllib
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import numpy as np
from numpy.lib import format as npy

from backprop_lab.core import records
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError, first_line
from backprop_lab.core.files import atomic_write, json_bytes, jsonable, make_folder, read_json  # noqa: F401  (re-exported)
from backprop_lab.core.version import __version__
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import ClassificationReport
from backprop_lab.spec.model import ModelSpec
from backprop_lab.training.history import History

FORMAT = "backprop-lab-run/1"


@dataclass
class RunMetrics:
    """What a run measured on held-out data (``metrics.json``): ``metrics.test``, the test split's report."""

    test: ClassificationReport | None = None


@dataclass
class Run(Displayable):
    """A trained (or loaded) run: ``run.weights`` holds the final weights as NumPy arrays under the flat keys
    of ``weights.npz`` (``dense_0/kernel`` ``(in, out)``, ``dense_0/bias``, conv kernels ``HWIO``);
    ``run.history`` the per-step and per-epoch figures, ``run.test`` the test metrics, ``run.folder`` where
    it lives.

    Example: ``bl.load("runs/mnist").weights["dense_0/kernel"].shape``
    """

    engine: str
    dataset: str
    spec: ModelSpec
    config: TrainConfig
    class_names: list[str]
    weights: dict[str, np.ndarray]
    history: History = field(default_factory=History)
    metrics: RunMetrics = field(default_factory=RunMetrics)
    extra: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None  # the run folder it was trained into or loaded from, if any

    @property
    def test(self):
        """The test-set metrics with names: ``run.test.accuracy``, ``run.test.per_class[3].f1``."""

        if self.metrics.test is None:
            raise BplabError(f"{self.folder or 'this run'}: no test metrics recorded")
        return self.metrics.test

    def __repr__(self) -> str:
        acc = f", test accuracy {self.metrics.test.accuracy:.4f}" if self.metrics.test else ""
        where = f", {self.folder}" if self.folder else ""
        return (
            f"Run({self.engine} on {self.dataset}, {sum(self.spec.count_params()):,} parameters, "
            f"{len(self.history.epochs)} epochs{acc}{where})"
        )

    def save_heatmap(self, folder: Path) -> Path:
        """confusion.png of the test-set confusion matrix in ``folder``."""
        from backprop_lab.viz.plots import save_confusion_heatmap

        return save_confusion_heatmap(self.test, Path(folder) / "confusion.png", f"{self.engine} on {self.dataset}")


def versions() -> dict[str, str]:

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
    make_folder(out)
    return out


def save_weights(path: Path, weights: dict[str, np.ndarray]) -> None:

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
    atomic_write(out / "metrics.json", json_bytes(records.dump(run.metrics)))
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
        _check_headers(path, expected)
        with np.load(path, allow_pickle=False) as archive:
            weights = checked_weights(path, expected, {key: archive[key] for key in archive.files})
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BplabError(f"{path}: holds pickled objects; refusing to load it") from None
        raise BplabError(f"{path}: not a valid weights file ({exc})") from None
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        EOFError,
        KeyError,
        RuntimeError,
        MemoryError,
        zlib.error,
    ) as exc:
        raise BplabError(
            f"{path}: not a valid .npz weights file ({exc.__class__.__name__}: {first_line(exc)})"
        ) from None
    return weights


def checked_weights(
    path: Path, expected: dict[str, tuple[int, ...]], arrays: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """``arrays`` checked against the spec's keys and shapes: none missing, none extra, float, finite."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    for key in missing:  # {"dense_0/bias": {"a": 1}} comes back flattened as dense_0/bias/a
        if any(k.startswith(key + "/") for k in arrays):
            raise BplabError(f"{path}: weight {key} is a table, not an array of numbers")
    if missing:
        raise BplabError(
            f"{path}: missing weight {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    if extra:
        raise BplabError(f"{path}: unexpected weight {extra[0]} not in the model spec")
    weights = {}
    for key, shape in expected.items():
        arr = arrays[key]
        if arr.dtype not in (np.float32, np.float64):
            raise BplabError(f"{path}: weight {key} has dtype {arr.dtype}, expected float32 or float64")
        if tuple(arr.shape) != tuple(shape):
            raise BplabError(f"{path}: weight {key} has shape {tuple(arr.shape)}, the spec needs {tuple(shape)}")
        if not np.isfinite(arr).all():
            raise BplabError(f"{path}: weight {key} holds NaN or infinite values")
        weights[key] = arr
    return weights


def read_weights(path: Path, spec: ModelSpec) -> dict[str, np.ndarray]:
    """A weights file by its suffix: ``.npz`` (as a run saves it), or a hand-written ``.json`` / ``.toml`` table
    of nested lists by flat key, ``dense_0/kernel`` in the (in, out) layout and ``dense_0/bias``."""
    path = Path(path)
    if path.suffix.lower() not in (".json", ".toml"):
        return load_weights(path, spec)
    if not path.is_file():
        raise BplabError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        doc = read_json(path)
    else:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BplabError(f"{path}: not valid TOML ({first_line(exc)})") from None
    if not isinstance(doc, dict):
        raise BplabError(
            f"{path}: expected a table of weights by key (dense_0/kernel = [[...]]), got {type(doc).__name__}"
        )
    doc = _flatten_tables(doc)
    arrays = {}
    for key, value in doc.items():
        try:
            arrays[key] = np.array(value, dtype=np.float64)
        except OverflowError:
            raise BplabError(f"{path}: weight {key} holds a number too large for a float") from None
        except (ValueError, TypeError):
            raise BplabError(f"{path}: weight {key} is not a rectangular array of numbers") from None
    return checked_weights(path, spec.param_shapes(), arrays)


def _flatten_tables(doc: dict, prefix: str = "") -> dict:
    """TOML writes ``[dense_0] kernel = ...`` as nested tables: back to flat ``dense_0/kernel`` keys."""
    flat = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            flat.update(_flatten_tables(v, f"{prefix}{k}/"))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _check_headers(path: Path, expected: dict[str, tuple[int, ...]]) -> None:
    """Each expected array's dtype and shape, read from its ``.npy`` header before any array is: a
    damaged header cannot make the loader allocate more than the spec's weights."""

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for key, shape in expected.items():
            member = f"{key}.npy" if f"{key}.npy" in names else key
            if member not in names:
                continue  # reported as missing below, with the other keys
            with archive.open(member) as handle:
                reader = readers.get(npy.read_magic(handle))
                if reader is None:
                    raise BplabError(f"{path}: weight {key} is stored in an unsupported .npy format version")
                found, _, dtype = reader(handle)
            if dtype.hasobject:
                raise BplabError(f"{path}: holds pickled objects; refusing to load it")
            if tuple(found) != tuple(shape):
                raise BplabError(f"{path}: weight {key} has shape {tuple(found)}, the spec needs {tuple(shape)}")


def load_run(folder: Path | str) -> Run:
    folder = Path(folder)
    doc_path = folder / "model.json"
    if not folder.is_dir():
        raise BplabError(f"{folder}: run folder not found")
    if not doc_path.is_file():
        raise BplabError(f"{doc_path}: file not found (not a complete run folder)")
    doc = read_json(doc_path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BplabError(
            f"{doc_path}: not a backprop-lab model file (format {doc.get('format') if isinstance(doc, dict) else None!r})"
        )
    try:
        spec = ModelSpec.from_dict(doc["spec"])
        if not isinstance(doc["config"], dict):
            raise BplabError(f"'config' must be a table, got {doc['config']!r}")
        config = TrainConfig.from_dict(doc["config"])
        if not isinstance(doc["class_names"], list):
            raise BplabError(f"'class_names' must be a list, got {doc['class_names']!r}")
        class_names = doc["class_names"]
        for i, name in enumerate(class_names):
            if not isinstance(name, str):
                raise BplabError(f"'class_names' entry {i} must be a name in quotes, got {name!r}")
    except KeyError as exc:
        raise BplabError(f"{doc_path}: missing field {exc.args[0]!r}") from None
    except BplabError as exc:  # an invalid spec or training option: say in which file
        raise BplabError(f"{doc_path}: {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise BplabError(f"{doc_path}: invalid field ({first_line(exc)})") from None
    if not spec.param_shapes() or len(spec.output_shape) != 1:
        raise BplabError(f"{doc_path}: the model has no weights or does not end in a vector of class scores")
    if len(class_names) != spec.output_shape[0]:
        raise BplabError(
            f"{doc_path}: 'class_names' has {len(class_names)} names, the model has {spec.output_shape[0]} outputs"
        )
    weights = load_weights(folder / "weights.npz", spec)
    history = History()
    if (folder / "history.json").is_file():
        recorded = read_json(folder / "history.json")
        try:
            history = History.from_dict(recorded)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BplabError(
                f"{folder / 'history.json'}: unreadable ({exc.__class__.__name__}: {first_line(exc)})"
            ) from None
    metrics = RunMetrics()
    if (folder / "metrics.json").is_file():
        metrics = records.load(RunMetrics, read_json(folder / "metrics.json"), str(folder / "metrics.json"))
    known = {"format", "engine", "dataset", "class_names", "spec", "config", "versions"}
    return Run(
        doc.get("engine", "?"),
        doc.get("dataset", "?"),
        spec,
        config,
        class_names,
        weights,
        history,
        metrics,
        {k: v for k, v in doc.items() if k not in known},
        folder,
    )
