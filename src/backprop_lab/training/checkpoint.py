"""Checkpoints: everything needed to continue a run exactly where it was.

One file, ``checkpoint.npz``, written atomically (temporary file, fsync, rename):
``weights/<key>`` (the flat weight keys), ``state/<name>`` (the engine's
optimizer slots and other variables, e.g. dropout generator state) and
``meta``, a JSON document stored as bytes (position in the plan, history so
far, the epoch's partial sums, the engine's scalar state such as the NumPy
dropout generator). Never pickled; loaded with ``allow_pickle=False`` and
checked against the spec.

``metrics.jsonl`` beside it gets one line per finished epoch, flushed.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BplabError
from ..fileio import atomic_write
from ..spec import ModelSpec
from .history import EpochRecord, History

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.jsonl"
FORMAT = "backprop-lab-checkpoint/1"


@dataclass
class Checkpoint:
    weights: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    meta: dict[str, Any]


def write_checkpoint(path: Path, weights: dict[str, np.ndarray], state: dict[str, np.ndarray], meta: dict) -> None:
    arrays = {f"weights/{k}": np.asarray(v) for k, v in weights.items()}
    arrays.update({f"state/{k}": np.asarray(v) for k, v in state.items()})
    doc = json.dumps({"format": FORMAT, **meta}).encode()
    arrays["meta"] = np.frombuffer(doc, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def read_checkpoint(path: Path, spec: ModelSpec) -> Checkpoint:
    """A checkpoint checked against the spec; any damage is one BplabError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise BplabError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise BplabError(f"{path}: not a valid checkpoint (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as exc:
        raise BplabError(f"{path}: not a valid checkpoint ({'holds pickled objects' if 'pickle' in str(exc).lower() else exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise BplabError(f"{path}: not a valid checkpoint ({exc})") from None
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8:
        raise BplabError(f"{path}: not a valid checkpoint (no meta record)")
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BplabError(f"{path}: damaged meta record ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BplabError(f"{path}: not a backprop-lab checkpoint")
    weights = {k[len("weights/"):]: v for k, v in arrays.items() if k.startswith("weights/")}
    state = {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}
    expected = spec.param_shapes()
    if set(weights) != set(expected):
        odd = sorted(set(weights) ^ set(expected))
        raise BplabError(f"{path}: weights do not match the run's model ({odd[0]})")
    for key, shape in expected.items():
        if tuple(weights[key].shape) != tuple(shape) or weights[key].dtype.kind != "f":
            raise BplabError(f"{path}: weight {key} has shape {weights[key].shape}, the model needs {tuple(shape)}")
    return Checkpoint(weights, state, meta)


class Checkpointer:
    """Writes checkpoints into a run folder at the end of every epoch and every ``every`` steps.

    With ``every=None`` the cadence is automatic: a step checkpoint is written once the training
    time since the last one is at least ``1 / budget`` times what writing the last one cost
    (1% by default), so checkpoints cost about ``budget`` of training time whatever the model size.
    """

    def __init__(self, folder: Path, every: int | None = None, budget: float = 0.01, min_interval_s: float = 2.0):
        if every is not None and every < 1:
            raise BplabError(f"--checkpoint-every: must be at least 1 step, got {every}")
        self.folder = Path(folder)
        self.path = self.folder / CHECKPOINT
        self.every, self.budget, self.min_interval_s = every, budget, min_interval_s
        self.last_step = 0
        self.last_time = time.perf_counter()
        self.last_cost = 0.0
        self.total_cost = 0.0
        self.count = 0

    def due(self, step: int) -> bool:
        if self.every is not None:
            return step - self.last_step >= self.every
        waited = time.perf_counter() - self.last_time
        return waited >= max(self.min_interval_s, self.last_cost / self.budget)

    def write(self, step: int, weights, state, meta) -> float:
        begin = time.perf_counter()
        write_checkpoint(self.path, weights, state, meta)
        end = time.perf_counter()
        self.last_cost = end - begin
        self.total_cost += self.last_cost
        self.count += 1
        self.last_step, self.last_time = step, end
        return self.last_cost

    def append_metrics(self, record: EpochRecord) -> None:
        with open(self.folder / METRICS, "a") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def rewrite_metrics(self, history: History) -> None:
        """metrics.jsonl as the checkpoint knows it (a resumed run may have written a line past it)."""
        atomic_write(self.folder / METRICS, "".join(json.dumps(asdict(e)) + "\n" for e in history.epochs).encode())

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()
