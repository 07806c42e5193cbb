"""Downloading a file (datasets/download.py) from a real HTTP server on 127.0.0.1: checked against its SHA-256, nothing left behind on failure."""

import hashlib

import pytest
from helpers.server import serve

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.download import fetch


def test_download_good_checksum_caches_file(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "f.bin").write_bytes(b"hello" * 1000)
    digest = hashlib.sha256(b"hello" * 1000).hexdigest()
    with serve(served) as base:
        dest = fetch(base + "f.bin", tmp_path / "cache" / "f.bin", digest)
    assert dest.read_bytes() == b"hello" * 1000
    assert [p.name for p in dest.parent.iterdir()] == ["f.bin"]


def test_download_bad_checksum_leaves_nothing(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "f.bin").write_bytes(b"tampered")
    with serve(served) as base:
        with pytest.raises(DataError, match="checksum mismatch"):
            fetch(base + "f.bin", tmp_path / "cache" / "f.bin", "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []


def test_download_missing_file_on_server(tmp_path):
    (tmp_path / "served").mkdir()
    with serve(tmp_path / "served") as base:
        with pytest.raises(DataError, match="download failed"):
            fetch(base + "nope.gz", tmp_path / "cache" / "nope.gz", "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []
