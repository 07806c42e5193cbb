"""Reading CSV data (datasets/csvdata.py): a label column then the pixels, with or without a header."""

import numpy as np
import pytest
from helpers.files import write_csv

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.csvdata import read_csv
from backprop_lab.datasets.registry import load_dataset


def test_csv_with_and_without_header(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (30, 784))
    labels = np.arange(30) % 3
    for header in (True, False):
        path = write_csv(tmp_path / f"h{header}.csv", labels, pixels, header)
        x, y = read_csv(path)
        assert x.shape == (30, 28, 28, 1) and y.tolist() == labels.tolist()
        assert x.reshape(30, -1)[4, 17] == pixels[4, 17]
    ds = load_dataset(f"csv:{tmp_path / 'hTrue.csv'}")
    assert ds.num_classes == 3 and len(ds.x_train) + len(ds.x_test) == 30
    assert ds.x_train.max() <= 1.0


def test_csv_wrong_column_count(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("label,p1,p2\n1,2,3\n0,1\n")
    with pytest.raises(DataError, match="bad.csv: line 3 has 2 columns, expected 3"):
        read_csv(path)


def test_csv_non_numeric_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n0,x7,1\n")
    with pytest.raises(DataError, match="bad.csv: non-numeric cell 'x7' in data row 2"):
        read_csv(path)


def test_csv_negative_label(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n-1,4,1\n")
    with pytest.raises(DataError, match="labels in the first column must be non-negative integers"):
        read_csv(path)


# --- CIFAR-10 ---------------------------------------------------------
