"""The Dataset every engine receives (datasets/dataset.py): its summary, labels, splits and scalings."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.dataset import Dataset, check_labels, one_hot, preprocess, stratified_split


def test_the_summary_counts_each_part_and_each_class():
    x = np.zeros((6, 2, 2, 1), np.float32)
    ds = Dataset("toy", x, np.array([0, 2, 2, 0, 2, 2]), x[:2], np.array([1, 0]), ["a", "b", "c"], "made here")
    assert ds.num_classes == 3 and ds.input_shape == (2, 2, 1)
    info = ds.info()
    assert info["train_class_counts"] == [2, 0, 4] and info["train"] == 6 and info["test"] == 2
    assert "validation" not in info
    ds.x_val, ds.y_val = x[:1], np.array([1])
    assert ds.info()["validation"] == 1


def test_one_hot_and_the_label_range():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    check_labels(np.array([0, 2]), 3, "here")
    with pytest.raises(DataError, match=r"here: labels outside the class range 0..2 \(found 0..3\)"):
        check_labels(np.array([0, 3]), 3, "here")


def test_a_stratified_split_keeps_every_class_in_both_parts_and_is_deterministic():
    x, y = np.arange(40).reshape(20, 2), np.repeat([0, 1], [12, 8])
    keep_x, keep_y, held_x, held_y = stratified_split(x, y, 0.25, seed=1)
    assert len(held_y) == 5 and np.bincount(held_y).tolist() == [3, 2]
    assert sorted(keep_x[:, 0].tolist() + held_x[:, 0].tolist()) == x[:, 0].tolist()
    assert np.array_equal(held_x, stratified_split(x, y, 0.25, seed=1)[2])
    with pytest.raises(DataError, match="too few rows for a stratified 50% split"):
        stratified_split(x[:3], np.array([0, 1, 1]), 0.5, seed=1)


def test_the_scalings_and_flattening():
    x = np.array([[[0.0, 255.0]], [[51.0, 51.0]]])
    assert np.allclose(preprocess(x, 255, "unit", False), [[[0.0, 1.0]], [[0.2, 0.2]]])
    standard = preprocess(x, 255, "standardize", True)
    assert standard.shape == (2, 2) and standard.dtype == np.float32
    assert np.allclose(standard[0], [-1, 1]) and np.allclose(standard[1], 0)  # a constant image stays finite
    with pytest.raises(DataError, match="scaling 'log' is unknown"):
        preprocess(x, 255, "log", False)
