"""Writers for small data files in the real formats (IDX, CSV, CIFAR-10 batches)."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_idx_set(folder: Path, n_train=60, n_test=20, side=28, classes=10, gz=True, seed=0) -> dict[str, Path]:
    """A complete synthetic IDX data set; returns stem -> path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [
        rng.integers(0, 256, (n_train, side, side)),
        np.arange(n_train) % classes,
        rng.integers(0, 256, (n_test, side, side)),
        np.arange(n_test) % classes,
    ]
    return {stem: write_idx(folder / (stem + (".gz" if gz else "")), a, gz) for stem, a in zip(IDX_NAMES, arrays)}


def write_csv(path: Path, labels, pixels, header=True) -> Path:
    lines = []
    if header:
        lines.append(",".join(["label"] + [f"pixel{i}" for i in range(pixels.shape[1])]))
    for y, row in zip(labels, pixels):
        lines.append(",".join([str(int(y))] + [str(int(v)) for v in row]))
    path.write_text("\n".join(lines) + "\n")
    return path


def cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [int(i % 10) for i in range(n)]}
    return pickle.dumps(batch, protocol=2)


def write_cifar_archive(path: Path, n=10) -> Path:
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(path, "w:gz") as tar:
        for i, name in enumerate(names):
            raw = cifar_batch(n, i)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path
