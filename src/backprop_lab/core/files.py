"""Files that are never half-written: write to a temporary name in the same folder,
fsync, rename over the target, fsync the folder. JSON helpers for NumPy values."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.core.errors import BplabError, first_line


def make_folder(folder: Path) -> Path:
    """``mkdir -p``, with a one-line error that names the folder when it cannot be made (a file where a
    folder goes on the way, no permission, a read-only or full disk)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BplabError(f"{folder}: exists and is not a folder") from None
    except OSError as exc:
        blocked = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
        why = f"{blocked} is a file, not a folder" if blocked is not None else (exc.strerror or str(exc)).lower()
        raise BplabError(f"{folder}: cannot create this folder: {why}") from None
    return folder


def atomic_write(path: Path, data: bytes, sync: bool = True) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if sync:
            sync_folder(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some file systems refuse to open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def jsonable(obj: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, default=jsonable) + "\n").encode()


def read_json(path: Path) -> Any:
    """A JSON file's value; a file that cannot be read or is not JSON (bad UTF-8, nested too deep) is a
    one-line error naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BplabError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors; nesting too deep
        raise BplabError(f"{path}: not valid JSON ({first_line(exc)})") from None


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json_bytes(obj))
