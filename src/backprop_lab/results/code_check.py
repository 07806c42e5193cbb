"""The results of ``bplab check-code``: one file's verdict with its tensors, and a folder's rows."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

from backprop_lab.core.files import atomic_write
from backprop_lab.results.tables import Table


@dataclass
class TensorCheck:
    """One tensor the learner named: where it was assigned and how it compares with the correct value."""

    function: str
    name: str  # the learner's name: dZ2, grads["dW1"]
    symbol: str  # the network's: dZ2 (the delta of layer 2), dW1, ...
    where: str  # "line 25" or "cell 3, line 5"
    status: str  # "ok", "wrong" (blamed), "depends" (wrong only through an earlier wrong tensor)
    difference: float | None = None  # max |learner - correct|; None where the shapes differ
    shape: str = ""  # the learner's shape, with the correct one when they differ
    cause: str = ""  # the known mistake's message, "wrong, no known cause", or what it depends on


@dataclass
class CodeCheck:
    """One learner file checked: ``verdict`` is "correct", "wrong" (a tensor's value), "failing" (an
    exception, no return in time, a missing return value, an input changed in place) or "error" (in a
    folder: a file that could not be checked at all)."""

    file: str
    model: str
    verdict: str
    message: str  # one line: the first wrong tensor with its cause, the failure, or "correct"
    forward: str = ""
    backward: str = ""
    layout: str = ""  # "rows (one example per row)" or "columns (one example per column)"
    delta_scale: str = ""
    sizes: str = ""  # the sizes the functions ran at (chosen, or the --data set's)
    first_wrong: TensorCheck | None = None
    tensors: list[TensorCheck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def cause(self) -> str:
        return self.first_wrong.cause if self.first_wrong else ""

    def table(self) -> Table:
        return Table(
            f"{self.file}: {self.verdict}",
            ["function", "tensor", "where", "status", "max |diff|", "shape", "cause"],
            [
                [
                    t.function,
                    t.name,
                    t.where,
                    {"ok": "pass", "wrong": "FAIL"}.get(t.status, t.status),
                    "-" if t.difference is None else f"{t.difference:.1e}",
                    t.shape,
                    t.cause,
                ]
                for t in self.tensors
            ],
            [0, 1, 2, 3, 5, 6],
        )

    def text(self) -> str:
        """The report in Markdown (also what the terminal shows)."""
        lines = [f"## {self.file}: {self.verdict}", "", self.message, ""]
        if self.layout:
            lines.append(f"- layout: {self.layout}")
        if self.delta_scale:
            lines.append(f"- deltas: {self.delta_scale}")
        if self.sizes:
            lines.append(f"- sizes: {self.sizes}")
        lines += [f"- {n}" for n in self.notes]
        if self.skipped:
            lines.append(f"- skipped (not run): {len(self.skipped)} statements")
            lines += [f"  - {s}" for s in self.skipped]
        if self.tensors:
            lines += ["", self.table().to_markdown()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "correct": self.correct}

    def _repr_html_(self) -> str:

        said = [
            f"layout: {self.layout}" * bool(self.layout),
            f"deltas: {self.delta_scale}" * bool(self.delta_scale),
            f"sizes: {self.sizes}" * bool(self.sizes),
        ]
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in [*said, *self.notes] if n)
        return (
            f"<div><p><b>{html.escape(self.file)}: {html.escape(self.verdict)}</b> {html.escape(self.message)}</p>"
            f"<ul>{notes}</ul>{self.table().to_html() if self.tensors else ''}</div>"
        )


@dataclass
class CodeChecks:
    """A folder of submissions: one check per file, in name order."""

    folder: str
    model: str
    checks: list[CodeCheck]

    @property
    def correct(self) -> bool:
        return all(c.correct for c in self.checks)

    def table(self) -> Table:
        return Table(
            f"{self.folder}: {sum(c.correct for c in self.checks)} of {len(self.checks)} correct",
            ["file", "verdict", "first wrong tensor", "where", "cause"],
            [
                [
                    Path(c.file).name,
                    c.verdict,
                    c.first_wrong.name if c.first_wrong else "",
                    c.first_wrong.where if c.first_wrong else "",
                    c.cause or ("" if c.correct else c.message),
                ]
                for c in self.checks
            ],
            [0, 1, 2, 3, 4],
        )

    def text(self) -> str:
        return self.table().to_markdown()

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        table = self.table()
        writer.writerow(table.header)
        writer.writerows(table.rows)
        return buf.getvalue()

    def write_csv(self, path: Path) -> None:
        atomic_write(Path(path), self.csv().encode())

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "model": self.model,
            "correct": self.correct,
            "checks": [c.to_dict() for c in self.checks],
        }

    def _repr_html_(self) -> str:
        return self.table().to_html()
