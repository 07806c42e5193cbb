"""HTML for results shown in a notebook (IPython's ``_repr_html_``): tables, inline SVG pictures and
MathML. Renderers only: every number is read from the result it shows.

Everything here is well-formed XML under one ``<div>`` (XHTML-style ``<br/>``, escaped text, SVG and
MathML inline), so a test can parse it with ``xml.etree`` and a notebook shows it as it is.
"""

from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from backprop_lab.core.table import Table
from backprop_lab.maths.expr import MATH_FONT_CSS

STYLE = "font-family:system-ui,sans-serif;font-size:13px"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    """A plain HTML table (the one table model's HTML); the first column left-aligned."""

    return Table(caption, list(header), [[str(c) for c in row] for row in rows]).to_html()


def block(title: str, *parts: str) -> str:
    """One result: a heading and its parts, under a single root element."""
    return f'<div style="{STYLE}"><div style="font-weight:600;font-size:14px">{esc(title)}</div>{"".join(parts)}</div>'


def paragraph(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def svg_text(path: Path) -> str:
    """An SVG file's ``<svg>`` element, without the XML prolog and DOCTYPE, for inlining."""
    text = Path(path).read_text(encoding="utf-8")
    return text[text.index("<svg") :]


def png_img(path: Path, alt: str = "") -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}" style="max-width:100%"/>'


def picture(path: Path, alt: str = "") -> str:
    """A written picture inline: SVG as it is, PNG as a data URI, anything else as a link."""
    path = Path(path)
    if path.suffix == ".svg":
        return f"<div>{svg_text(path)}</div>"
    if path.suffix == ".png":
        return f"<div>{png_img(path, alt)}</div>"
    return f'<p><a href="{esc(path.as_posix())}">{esc(path.name)}</a></p>'


def plotted(save, *args) -> str:
    """The ``<svg>`` of a plot written by one of ``viz.plots``'s ``save_*`` functions (``save(*args, path)``
    with the path inserted second-to-last, as they all take it)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.svg"
        *head, title = args
        save(*head, path, title)
        return svg_text(path)


def mathml(blocks: str) -> str:
    """MathML blocks (from ``viz.equations.mathml_blocks`` or a worked example) in a scrolling box."""
    return f'<div style="overflow-x:auto"><style>{MATH_FONT_CSS}</style>{blocks}</div>'


def pre(text: str) -> str:
    return f'<pre style="white-space:pre-wrap">{esc(text)}</pre>'


def strip_tags(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)
