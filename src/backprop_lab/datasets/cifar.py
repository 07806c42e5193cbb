"""CIFAR-10 reader: the "python version" archive or its extracted batches.

The batches are Python pickles by design. They are read with an unpickler that
only accepts plain containers and NumPy arrays: nothing in the file is run.
"""

from __future__ import annotations

import io
import lzma
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import DataError

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "bytes"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # any malformed pickle is a data error
        raise DataError(f"{where}: not a CIFAR-10 batch ({exc.__class__.__name__}: {exc})") from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{where}: expected rows of 3072 pixel values, got shape {data.shape}")
    if labels.ndim != 1:
        raise DataError(f"{where}: expected a list of labels, got shape {labels.shape}")
    if len(data) != len(labels):
        raise DataError(f"{where}: {len(labels)} labels but {len(data)} images")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar10(location: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``location`` is the ``.tar.gz`` archive or a folder holding the batch files."""
    names = TRAIN_BATCHES + [TEST_BATCH]
    raws: dict[str, tuple[bytes, str]] = {}
    if location.is_dir():
        for name in names:
            path = location / name
            if not path.is_file():
                raise DataError(f"{path}: file not found")
            raws[name] = (path.read_bytes(), str(path))
    else:
        try:
            with tarfile.open(location, "r:*") as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if base in names and member.isfile():
                        raws[base] = (tar.extractfile(member).read(), f"{location}:{member.name}")
        except tarfile.ReadError:
            raise DataError(f"{location}: not a tar archive (plain, gzip, bz2 or xz), or truncated") from None
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            raise DataError(f"{location}: truncated or corrupt archive ({str(exc).splitlines()[0]})") from None
        missing = [n for n in names if n not in raws]
        if missing:
            raise DataError(f"{location}: archive lacks {', '.join(missing)}")
    train = _concat([_parse_batch(*raws[n]) for n in TRAIN_BATCHES])
    test = _parse_batch(*raws[TEST_BATCH])
    return train, test
