"""The one table model: a caption, a header and rows of text, with notes under it. Every result builds its
table once (``results/tables.py``); the terminal (rich), HTML (the study report, the notebook) and Markdown
renderings below only render it, so the three always carry the same cells."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from rich.table import Table as RichTable

CELL = "border:1px solid #d0d7de;padding:.25em .6em;text-align:right"
TABLE = "border-collapse:collapse;margin:.6em 0;font-size:.9em"


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    left: list[int] = field(default_factory=lambda: [0])  # left-aligned columns (the others are numbers)

    def __rich__(self):
        """What ``rich.Console.print(table)`` shows."""
        return self.to_rich()

    def to_rich(self):

        table = RichTable(title=self.caption or None)
        for i, col in enumerate(self.header):
            table.add_column(col, justify="left" if i in self.left else "right")
        for row in self.rows:
            table.add_row(*[{"pass": "[green]pass[/green]", "FAIL": "[red]FAIL[/red]"}.get(c, c) for c in row])
        return table

    def to_html(self, styled: bool = True) -> str:
        """``styled``: inline styles (a notebook cell); without, the page's CSS styles it (the study report)."""

        def style(i: int, head: bool = False) -> str:
            if not styled:  # the page's CSS aligns the first column; a class marks the other text columns
                return ' class="text"' if i in self.left and i else ""
            extra = ";background:#eef1f4" if head else ""
            return f' style="{CELL}{";text-align:left" if i in self.left else ""}{extra}"'

        esc = lambda v: html.escape(str(v), quote=True)  # noqa: E731
        head = "".join(f"<th{style(i, True)}>{esc(h)}</th>" for i, h in enumerate(self.header))
        body = "".join(
            "<tr>" + "".join(f"<td{style(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in self.rows
        )
        cap_style = ' style="text-align:left;font-weight:600"' if styled else ""
        cap = f"<caption{cap_style}>{esc(self.caption)}</caption>" if self.caption else ""
        table_style = f' style="{TABLE}"' if styled else ""
        return f"<table{table_style}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def to_markdown(self) -> str:
        cell = lambda v: str(v).replace("|", "\\|")  # noqa: E731
        lines = [f"**{cell(self.caption)}**", ""] if self.caption else []
        lines += [
            "| " + " | ".join(cell(h) for h in self.header) + " |",
            "|" + "".join(":---|" if i in self.left else "---:|" for i in range(len(self.header))),
        ]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)
