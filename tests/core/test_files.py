"""Writing and reading files (core/files.py): atomic writes, folders, and JSON with NumPy values."""

from __future__ import annotations

import os

import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write, make_folder, read_json, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    atomic_write(path, b"old")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["record.json"]
    monkeypatch.undo()
    atomic_write(path, b"new", sync=False)
    assert path.read_bytes() == b"new"


def test_json_round_trips_numpy_values_and_paths(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3), "p": tmp_path})
    assert read_json(path) == {"n": 3, "x": 0.5, "a": [0, 1, 2], "p": str(tmp_path)}
    with pytest.raises(TypeError, match="cannot serialise object"):
        write_json(path, {"bad": object()})


@pytest.mark.parametrize(
    "content, message", [(b"{not json", "not valid JSON"), (b"\xff\xfe", "not valid JSON"), (None, "cannot read")]
)
def test_a_bad_json_file_is_one_line_naming_it(tmp_path, content, message):
    path = tmp_path / "doc.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BplabError) as info:
        read_json(path)
    assert str(info.value).startswith(f"{path}: {message}") and "\n" not in str(info.value)


def test_make_folder_makes_parents_and_names_a_file_in_the_way(tmp_path):
    assert make_folder(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(BplabError, match="file: exists and is not a folder"):
        make_folder(tmp_path / "file")
    with pytest.raises(BplabError, match=f"cannot create this folder: {tmp_path / 'file'} is a file, not a folder"):
        make_folder(tmp_path / "file" / "inner")
