"""Checkpoints: everything needed to continue a run exactly where it was.

One file, ``checkpoint.npz``, written atomically (temporary file, fsync, rename):
``weights/<key>`` (the flat weight keys), ``state/<name>`` (the engine's
optimizer slots and other variables, e.g. dropout generator state),
``loop/<name>`` (the loop's arrays: the per-step losses so far) and ``meta``, a
JSON document stored as bytes (position in the plan, the epochs so far, the
epoch's partial sums, the engine's scalar state such as the NumPy dropout
generator). Never pickled; loaded with ``allow_pickle=False`` and checked
against the spec.

The arrays are copied when a checkpoint is taken and written by a background
thread, so training goes on while the file is written and synced; a kill
during the write leaves the previous checkpoint in place. ``wait()`` (called
before a run ends or stops) makes sure the last one is on disk.

``metrics.jsonl`` beside it gets one line per finished epoch, flushed.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write
from backprop_lab.spec.model import ModelSpec
from backprop_lab.training.history import EpochRecord, History

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.jsonl"
FORMAT = "backprop-lab-checkpoint/1"


@dataclass
class Checkpoint:
    weights: dict[str, np.ndarray]
    state: dict[str, np.ndarray]
    meta: dict[str, Any]
    loop: dict[str, np.ndarray] = field(default_factory=dict)


def checkpoint_arrays(weights, state, meta: dict, loop=None) -> dict[str, np.ndarray]:
    """The checkpoint's arrays, copied: the caller may go on changing its own."""
    arrays = {f"weights/{k}": np.array(v) for k, v in weights.items()}
    arrays.update({f"state/{k}": np.array(v) for k, v in state.items()})
    arrays.update({f"loop/{k}": np.array(v) for k, v in (loop or {}).items()})
    arrays["meta"] = np.frombuffer(json.dumps({"format": FORMAT, **meta}).encode(), dtype=np.uint8)
    return arrays


def write_checkpoint(path: Path, arrays: dict[str, np.ndarray]) -> None:
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
        raise BplabError(
            f"{path}: not a valid checkpoint ({'holds pickled objects' if 'pickle' in str(exc).lower() else exc})"
        ) from None
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
    weights = {k[len("weights/") :]: v for k, v in arrays.items() if k.startswith("weights/")}
    state = {k[len("state/") :]: v for k, v in arrays.items() if k.startswith("state/")}
    loop = {k[len("loop/") :]: v for k, v in arrays.items() if k.startswith("loop/")}
    expected = spec.param_shapes()
    if set(weights) != set(expected):
        odd = sorted(set(weights) ^ set(expected))
        raise BplabError(f"{path}: weights do not match the run's model ({odd[0]})")
    for key, shape in expected.items():
        if tuple(weights[key].shape) != tuple(shape) or weights[key].dtype.kind != "f":
            raise BplabError(f"{path}: weight {key} has shape {weights[key].shape}, the model needs {tuple(shape)}")
    return Checkpoint(weights, state, meta, loop)


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
        self.total_cost = 0.0  # seconds training waited for checkpoints
        self.count = 0
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None

    def due(self, step: int) -> bool:
        if self.every is not None:
            return step - self.last_step >= self.every
        waited = time.perf_counter() - self.last_time
        return waited >= max(self.min_interval_s, self.last_cost / self.budget)

    def write(self, step: int, weights, state, meta, loop=None) -> float:
        """Take a checkpoint now and write it in the background; returns the seconds training waited."""
        begin = time.perf_counter()
        self.wait()
        arrays = checkpoint_arrays(weights, state, meta, loop)
        self._writer = threading.Thread(target=self._write, args=(arrays,), name="checkpoint-writer", daemon=True)
        self._writer.start()
        end = time.perf_counter()
        self.last_cost = end - begin
        self.total_cost += self.last_cost
        self.count += 1
        self.last_step, self.last_time = step, end
        return self.last_cost

    def _write(self, arrays) -> None:
        try:
            write_checkpoint(self.path, arrays)
        except BaseException as exc:  # reported by wait(), in the training thread
            self._error = exc

    def wait(self) -> None:
        """Block until the checkpoint being written is on disk."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._error is not None:
            error, self._error = self._error, None
            raise BplabError(f"{self.path}: could not write the checkpoint ({error})")

    def append_metrics(self, record: EpochRecord) -> None:
        with open(self.folder / METRICS, "a") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def rewrite_metrics(self, history: History) -> None:
        """metrics.jsonl as the checkpoint knows it (a resumed run may have written a line past it)."""
        atomic_write(self.folder / METRICS, "".join(json.dumps(asdict(e)) + "\n" for e in history.epochs).encode())

    def remove(self) -> None:
        self.wait()
        if self.path.exists():
            self.path.unlink()
