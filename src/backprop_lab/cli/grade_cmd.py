"""``bplab grade``: grade answers to exercise sheets, with error carried forward."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from backprop_lab import api
from backprop_lab.cli.options import ForceOpt, JsonOpt
from backprop_lab.cli.output import emit_json, out


def grade(
    keys: Annotated[Path, typer.Argument(help="The exercise folder (or its keys.json).")],
    answers: Annotated[Path, typer.Argument(help="One answer file (.csv as answers.csv, .json, .toml) or a folder.")],
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out", help="Folder for gradebook.csv, feedback/ID.md/.html, summary.md/.html/.png."),
    ] = None,
    scheme: Annotated[
        Optional[Path],
        typer.Option(help='Marking scheme TOML: [points] default = 1, "L" = 2, ...; [credit] carried = 1.0.'),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
):
    """Grade answer files against the keys: each quantity correct, correct from an earlier error (recomputed
    from the student's own earlier answers), wrong (the first one diagnosed) or missing; marks per quantity,
    a total per student, copied answers flagged. The answers are read in the key's layout (rows or columns), and
    a later step of a several-step exercise goes on from the student's own earlier step. Exit 0 when the class
    was graded, 2 when the keys are unusable.

    Example: bplab grade exam examples/answers --out graded

    (exam: written by the first exercise example; --scheme sets the points per quantity)
    """
    report = api.grade(keys, answers, out_dir, scheme, force)
    for line in report.problems + [p for g in report.students for p in g.problems]:
        print(f"problem: {line}", file=sys.stderr)
    if as_json:
        return emit_json(
            {
                "students": [
                    {
                        "id": g.student.id,
                        "total": g.total,
                        "out_of": g.out_of,
                        "closer_to": g.closer_to,
                        "marks": [m.__dict__ for m in g.marks],
                    }
                    for g in report.students
                ],
                "problems": report.problems,
            }
        )
    out.print(report.totals().to_rich())
    out.print(report.summary_table().to_rich())
    out.print(report.summary_text(), markup=False)
    if out_dir is not None:
        out.print(
            f"written to {out_dir}: gradebook.csv, feedback/, summary.md, summary.html, summary.png", markup=False
        )
