"""CSV reader: label in the first column, pixels after it, header optional
(the format of the common ``mnist_train.csv``)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import DataError

MAX_CLASSES = 1000  # more distinct labels than this is a column that is not a label (an id, a pixel)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x of shape (n, features) or (n, s, s, 1) when square, int labels)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows: list[list[str]] = []
    width = None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file (byte {exc.start} is not UTF-8)") from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from None
    for line_no, row in enumerate(lines, start=1):
        if not row or all(not c.strip() for c in row):
            continue
        if width is None:
            width = len(row)
            if not _is_number(row[0]):  # header line
                continue
        if len(row) != width:
            raise DataError(f"{path}: line {line_no} has {len(row)} columns, expected {width}")
        rows.append(row)
    if not rows or width is None or width < 2:
        raise DataError(f"{path}: no data rows (need a label column and at least one pixel column)")
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError:
        for offset, row in enumerate(rows):
            bad = next((c for c in row if not _is_number(c)), None)
            if bad is not None:
                raise DataError(f"{path}: non-numeric cell {bad!r} in data row {offset + 1}") from None
        raise
    finite = np.isfinite(table)
    if not finite.all():
        row, col = (int(i[0]) for i in np.nonzero(~finite))
        raise DataError(f"{path}: cell {rows[row][col]!r} in data row {row + 1} is not a finite number")
    labels = table[:, 0]
    if np.any(labels != np.round(labels)) or np.any(labels < 0):
        raise DataError(f"{path}: labels in the first column must be non-negative integers")
    if labels.max() >= MAX_CLASSES:
        row = int(np.argmax(labels))
        raise DataError(
            f"{path}: label {rows[row][0]!r} in data row {row + 1} is too large (at most {MAX_CLASSES} "
            "classes, labelled 0, 1, ...); is the label in the first column?"
        )
    huge = np.abs(table[:, 1:]) > np.finfo(np.float32).max
    if huge.any():
        row, col = (int(i[0]) for i in np.nonzero(huge))
        raise DataError(
            f"{path}: cell {rows[row][col + 1]!r} in data row {row + 1} is too large for a pixel (beyond float32)"
        )
    x = table[:, 1:].astype(np.float32)
    side = math.isqrt(x.shape[1])
    if side * side == x.shape[1] and side > 1:
        x = x.reshape(-1, side, side, 1)
    return x, labels.astype(np.int64)
