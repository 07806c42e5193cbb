"""IDX reader (the MNIST / Fashion-MNIST file format), gzipped or not."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error):
            raise DataError(f"{path}: truncated or corrupt gzip data") from None
    return raw


def read_idx(path: Path) -> np.ndarray:
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        magic = data[:4].hex() if data else "empty file"
        raise DataError(f"{path}: not an IDX file (magic number {magic})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: IDX header is truncated")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = math.prod(dims) * dtype.itemsize  # Python integers: a lying header cannot overflow
    body = len(data) - header
    if body != expected:
        raise DataError(f"{path}: IDX header promises {expected} bytes of data for shape {dims}, file has {body}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def read_idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images)
    y = read_idx(labels)
    if x.ndim not in (3, 4):
        raise DataError(f"{images}: expected images of shape (n, H, W), got {x.shape}")
    if y.ndim != 1:
        raise DataError(f"{labels}: expected a vector of labels, got shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{labels}: {len(y)} labels but {images.name} has {len(x)} images")
    if len(x) == 0 or x.size == 0:
        raise DataError(f"{images}: holds no images (shape {x.shape})")
    if y.dtype.kind not in "iu":
        raise DataError(f"{labels}: labels must be integers, the file holds {y.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{images}: holds NaN or infinite pixel values")
    if x.ndim == 3:
        x = x[..., None]
    return x, y.astype(np.int64)
