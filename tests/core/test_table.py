"""Each result's table carries the same cells in its three renderings: the terminal (rich), Markdown and HTML,
each parsed back from the real output (the house rule: a table is built once and only rendered)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from rich.console import Console

import backprop_lab as bl
from backprop_lab.core.table import Table
from backprop_lab.results.classification import classification_report
from backprop_lab.training.history import EpochRecord, History


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.caption, self._cell, self._in_caption = [], "", None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        elif self._in_caption:
            self.caption += data


def from_html(text: str) -> tuple[str, list[list[str]]]:
    parser = _Cells()
    parser.feed(text)
    return parser.caption, parser.rows


def from_markdown(text: str) -> tuple[str, list[list[str]]]:
    caption = re.match(r"\*\*(.*)\*\*\n", text)
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(:?-+:?\|)+", line):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append([c.strip().replace("\\|", "|") for c in cells])
    return (caption.group(1).replace("\\|", "|") if caption else ""), rows


def from_terminal(table: Table) -> tuple[str, list[list[str]]]:
    console = Console(record=True, width=400, color_system=None)
    console.print(table)
    text = console.export_text()
    rows = [[c.strip() for c in re.split(r"[│┃]", line)[1:-1]] for line in text.splitlines() if re.search("[│┃]", line)]
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.lstrip().startswith(("┏", "┌")))
    caption = " ".join(line.strip() for line in lines[:top])  # rich wraps a long title to the table's width
    return caption, rows


def tables() -> list[Table]:
    history = History()
    for e in range(3):
        history.epochs.append(EpochRecord(e + 1, 1.0 / (e + 1), 0.5 + 0.1 * e, 0.25, 1e-3, None if e == 0 else 0.9))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    report = classification_report(
        np.eye(3)[np.where(rng.random(60) < 0.8, y, rng.integers(0, 3, 60))], y, ["a|b", "<c>", "d & e"]
    )
    return [
        history.table("history"),
        report.table("report"),
        report.confusion_table(),
        bl.model("mlp:16,8", "digits").summary().table(),
        bl.data("digits").table(),
        Table("cells | with <marks> & ±", ["x<y", "a|b", "±"], [["1 & 2", "|", "ü"], ["-", "", "π"]]),
        *_grade_tables(),
    ]


def _grade_tables() -> list[Table]:
    """A graded class of two: one copies the key, the other leaves out δ[2] and doubles L."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    ex = bl.exercise(out=folder / "ex", count=2, seed=5)
    (folder / "answers").mkdir()
    for sheet, slip in zip(ex.sheets, (False, True)):
        rows = ["quantity,values"]
        for q in sheet.key.quantities:
            values = [float(v) * (2 if slip and q.name == "L" else 1) for v in q.rounded.ravel()]
            if not (slip and q.name == "δ[2]"):
                rows.append(f'"{q.name}",' + " ".join(f"{v:.4g}" for v in values))
        (folder / "answers" / f"{sheet.key.student.id}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = bl.grade(folder / "ex", folder / "answers")
    return [report.gradebook(), report.totals(), report.summary_table()]


@pytest.mark.parametrize("table", tables(), ids=lambda t: t.caption[:20] or "untitled")
def test_the_three_renderings_carry_the_same_cells(table):
    want = [list(table.header), *[[str(c) for c in row] for row in table.rows]]
    for name, (caption, rows) in {
        "html": from_html(table.to_html()),
        "markdown": from_markdown(table.to_markdown()),
        "terminal": from_terminal(table),
    }.items():
        assert rows == want, name
        assert caption == table.caption, name
