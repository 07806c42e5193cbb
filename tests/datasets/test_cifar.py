"""Reading CIFAR-10 (datasets/cifar.py): the archive or its extracted folder, never unpickling code."""

import pickle

import numpy as np
import pytest
from helpers.files import cifar_batch, write_cifar_archive

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.cifar import read_cifar10
from backprop_lab.datasets.registry import load_dataset


def test_cifar_archive_and_extracted_folder(tmp_path):
    archive = write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", n=6)
    (xtr, ytr), (xte, yte) = read_cifar10(archive)
    assert xtr.shape == (30, 32, 32, 3) and xte.shape == (6, 32, 32, 3)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(cifar_batch(6, i - 1))
    (folder / "test_batch").write_bytes(cifar_batch(6, 5))
    (xtr2, _), _ = read_cifar10(folder)
    assert np.array_equal(xtr, xtr2)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.class_names[0] == "airplane" and ds.input_shape == (32, 32, 3)


def test_cifar_pickle_with_code_is_refused(tmp_path):
    folder = tmp_path
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": [print], b"labels": []}))
    with pytest.raises(DataError, match="not a CIFAR-10 batch"):
        read_cifar10(folder)


def test_cifar_truncated_archive(tmp_path):
    archive = write_cifar_archive(tmp_path / "c.tar.gz")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DataError, match="c.tar.gz: truncated or corrupt archive"):
        read_cifar10(archive)


# --- download (a real HTTP server on 127.0.0.1) -----------------------
