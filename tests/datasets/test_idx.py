"""Reading IDX files (datasets/idx.py): MNIST's format, gzipped or not, and one error naming the file for each damage."""

import gzip

import numpy as np
import pytest
from helpers.files import idx_bytes, write_idx

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.idx import read_idx, read_idx_pair


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x12\x34\x08\x03" + b"\0" * 20)
    with pytest.raises(DataError, match=r"x: not an IDX file \(magic number 12340803\)"):
        read_idx(path)


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 4, 4))))[:-12])
    with pytest.raises(DataError, match="x.gz: truncated or corrupt gzip data"):
        read_idx(path)


def test_idx_body_shorter_than_header_promises(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros((5, 4, 4)))[:-3])
    with pytest.raises(DataError, match="promises 80 bytes of data for shape \\(5, 4, 4\\), file has 77"):
        read_idx(path)


def test_idx_counts_disagree(tmp_path):
    images = write_idx(tmp_path / "i", np.zeros((5, 4, 4)))
    labels = write_idx(tmp_path / "l", np.zeros(4))
    with pytest.raises(DataError, match="4 labels but i has 5 images"):
        read_idx_pair(images, labels)


def test_a_tiny_idx_file_reads_back_its_shape_and_big_endian_values(tmp_path):
    path = tmp_path / "tiny"
    # magic 00 00 0B 02: big-endian int16, two dimensions (2, 3)
    path.write_bytes(
        b"\x00\x00\x0b\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + np.arange(-3, 3, dtype=">i2").tobytes()
    )
    x = read_idx(path)
    assert x.shape == (2, 3) and x.tolist() == [[-3, -2, -1], [0, 1, 2]]
    path.write_bytes(gzip.compress(path.read_bytes()))
    assert read_idx(path).tolist() == x.tolist()


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nothing-here: file not found"):
        read_idx(tmp_path / "nothing-here")
