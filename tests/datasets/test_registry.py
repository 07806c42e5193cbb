"""Data sets by name (datasets/registry.py): the bundled sets, where files are found, and the download through the loader."""

import hashlib

import numpy as np
import pytest
from helpers.files import IDX_NAMES, write_csv, write_idx, write_idx_set
from helpers.server import serve

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.registry import BatchPlan, find_files, load_dataset


# --- bundled sets -----------------------------------------------------
def test_digits_and_mnist5k_load_with_fixed_stratified_splits():
    digits = load_dataset("digits")
    assert digits.input_shape == (8, 8, 1) and digits.num_classes == 10
    assert len(digits.x_train) + len(digits.x_test) == 1797
    m = load_dataset("mnist-5k")
    assert m.input_shape == (28, 28, 1)
    assert (len(m.x_train), len(m.x_test)) == (4000, 1000)
    assert np.bincount(m.y_test).tolist() == [100] * 10  # stratified
    assert m.x_train.dtype == np.float32 and 0.0 <= m.x_train.min() and m.x_train.max() == 1.0
    again = load_dataset("mnist-5k")
    assert np.array_equal(again.y_train, m.y_train)


def test_preprocessing_options():
    flat = load_dataset("digits", flatten=True)
    assert flat.input_shape == (64,)
    std = load_dataset("digits", scale="standardize")
    per_image = std.x_train.reshape(len(std.x_train), -1)
    assert np.allclose(per_image.mean(axis=1), 0, atol=1e-5) and np.allclose(per_image.std(axis=1), 1, atol=1e-3)
    val = load_dataset("digits", val_fraction=0.2, seed=1)
    assert len(val.x_val) == pytest.approx(0.2 * 1437, abs=1)
    assert set(np.unique(val.y_val)) == set(range(10))


def test_unknown_name_is_refused():
    with pytest.raises(DataError, match="unknown data set 'mnits'"):
        load_dataset("mnits")


# --- IDX --------------------------------------------------------------
def test_idx_set_loads_from_data_dir_gzipped_or_not(tmp_path):
    write_idx_set(tmp_path / "gz", gz=True)
    write_idx_set(tmp_path / "raw", gz=False)
    for folder in ("gz", "raw"):
        ds = load_dataset("mnist", data_dir=tmp_path / folder)
        assert ds.x_train.shape == (60, 28, 28, 1) and ds.x_test.shape == (20, 28, 28, 1)
        assert ds.num_classes == 10


def test_idx_found_through_env_variable(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "fashion-mnist")
    monkeypatch.setenv("BPLAB_DATA", str(tmp_path))
    assert "fashion-mnist" in str(find_files("fashion-mnist")[IDX_NAMES[0]])


def test_idx_labels_outside_class_range(tmp_path):
    files = write_idx_set(tmp_path)
    write_idx(files[IDX_NAMES[1]], np.full(60, 12))
    with pytest.raises(DataError, match="labels outside the class range 0..9"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path) in message and "\n" not in message
    assert "apt-get" not in message  # no distribution packages MNIST


def test_missing_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    import importlib

    data_mod = importlib.import_module("backprop_lab.datasets.registry")
    monkeypatch.setitem(data_mod.SYSTEM_PATHS, "fashion-mnist", [tmp_path / "system"])
    monkeypatch.setenv("BPLAB_CACHE", str(tmp_path / "cache"))
    for offline in ("1", "0"):  # offline, and online with the download refused by the mirror
        monkeypatch.setenv("BPLAB_OFFLINE", offline)
        with serve(tmp_path / "empty-mirror") as base:
            monkeypatch.setenv("BPLAB_MIRROR_FASHION_MNIST", base)
            with pytest.raises(DataError) as info:
                load_dataset("fashion-mnist", data_dir=tmp_path / "nowhere")
        message = str(info.value)
        assert message.startswith("fashion-mnist: ") and "\n" not in message
        assert message.endswith("or install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")


# --- CSV --------------------------------------------------------------
def test_csv_train_and_test_files(tmp_path):
    a = write_csv(tmp_path / "a.csv", [0, 1, 0, 1], np.ones((4, 5)))
    b = write_csv(tmp_path / "b.csv", [1, 0], np.ones((2, 5)))
    ds = load_dataset(f"csv:{a},{b}")
    assert ds.input_shape == (5,) and len(ds.x_test) == 2


# --- download through the loader (a real HTTP server on 127.0.0.1) ----
def test_dataset_download_end_to_end_refuses_wrong_files(tmp_path, monkeypatch):
    """The loader downloads from the mirror; synthetic files fail the real MNIST checksums and nothing is cached."""
    write_idx_set(tmp_path / "mirror")
    monkeypatch.setenv("BPLAB_OFFLINE", "0")
    with serve(tmp_path / "mirror") as base:
        monkeypatch.setenv("BPLAB_MIRROR_MNIST", base)
        with pytest.raises(DataError, match="mnist: not found locally and .* checksum mismatch"):
            load_dataset("mnist")
    cache = tmp_path / "cache" / "mnist"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_dataset_download_end_to_end_with_matching_checksums(tmp_path, monkeypatch):
    import importlib

    data_mod = importlib.import_module("backprop_lab.datasets.registry")  # bl.data is the API function

    files = write_idx_set(tmp_path / "mirror")
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()}
    monkeypatch.setitem(data_mod.REMOTE, "mnist", data_mod.Remote("unused", hashes))
    monkeypatch.setenv("BPLAB_OFFLINE", "0")
    with serve(tmp_path / "mirror") as base:
        monkeypatch.setenv("BPLAB_MIRROR_MNIST", base)
        ds = load_dataset("mnist")
    assert len(ds.x_train) == 60
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(hashes)


# --- the real Fashion-MNIST from Debian --------------------------------
FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not __import__("os").path.isdir(FASHION), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package():
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.num_classes == 10 and ds.class_names[9] == "Ankle boot"
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert BatchPlan(len(ds.x_train), 128).steps_per_epoch == 469
