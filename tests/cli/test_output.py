"""What commands print: JSON with NumPy numbers and paths written as plain values, a console wide enough when piped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from backprop_lab.cli import output


def test_json_writes_numpy_values_and_paths_as_plain_json(capsys):
    output.emit_json({"acc": np.float32(0.5), "n": np.int64(3), "cm": np.eye(2, dtype=int), "out": Path("runs/a")})
    printed = capsys.readouterr().out
    assert json.loads(printed) == {"acc": 0.5, "n": 3, "cm": [[1, 0], [0, 1]], "out": "runs/a"}
    assert printed.startswith("{\n  ")  # indented for a reader


def test_the_console_is_150_columns_when_not_a_terminal():
    assert output.out.width == 150  # pytest captures stdout: not a terminal, so tables are not cut at 80
