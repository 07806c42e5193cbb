"""A derivation written out: Markdown (TeX between $$ and the plain-text form), LaTeX, HTML with
MathML (selectable, searchable, readable at any zoom; no script, no network) and an SVG picture.

Every string here is printed from the derivation's expression trees (``derive.equations``); this
module states no rule of its own.
"""

from __future__ import annotations

import html
from pathlib import Path

from backprop_lab.core.files import make_folder
from backprop_lab.maths.equations import SECTION_TITLES, Derivation, derive
from backprop_lab.maths.expr import MATH_FONT_CSS, to_tex
from backprop_lab.maths.worked import tex_text
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec

NOTATION = {
    "rows": "Batch-matrix notation as the code runs it: rows are the m examples of a batch, K outputs; "
    "⊙ is the element-wise product; δ[l] = ∂L/∂Z[l]; layer l is the l-th layer with weights, A[0] the input.",
    "columns": "Columns layout (as many courses write it): columns are the m examples of a batch, K outputs; "
    "W[l] is (out, in) and b[l] a column, each matrix the transpose of the code's (rows) one; "
    "⊙ is the element-wise product; δ[l] = ∂L/∂Z[l]; layer l is the l-th layer with weights, A[0] the input.",
}


def to_markdown(d: Derivation, title: str) -> str:
    lines = [f"# {title}", "", NOTATION[d.layout], ""]
    for section, eqs in d.grouped().items():
        lines += [f"## {SECTION_TITLES[section]}", ""]
        for eq in eqs:
            lines += ["$$", eq.tex, "$$", "", f"`{eq.text}`", ""]
    return "\n".join(lines)


LEFTARROW = r"\leftarrow"


def latex_body(d: Derivation) -> str:
    """The equations as a LaTeX fragment (no preamble; amsmath's ``align*``, to paste into slides or a
    document): one ``align*`` block per section, every line aligned at its ``&=`` (or ``&\\leftarrow``)."""
    body = []
    for section, eqs in d.grouped().items():
        body += [f"\\section*{{{SECTION_TITLES[section]}}}", "\\begin{align*}"]
        rows = [f"{to_tex(eq.lhs)} &{'=' if eq.op == '=' else LEFTARROW} {to_tex(eq.rhs)}" for eq in eqs]
        body += [" \\\\\n".join(rows), "\\end{align*}"]
    return "\n".join(body) + "\n"


def to_latex(d: Derivation, title: str) -> str:
    """A whole document: the preamble, the title and ``latex_body``."""
    return "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage{amsmath,amssymb}",
            r"\usepackage[margin=1.5cm,landscape]{geometry}",
            r"\begin{document}",
            f"\\section*{{{tex_text(title)}}}",
            latex_body(d),
            r"\end{document}",
            "",
        ]
    )


MATH_CSS = (
    "math[display=block]{font-size:1.15em;margin:.35em 0;padding:.15em 0;overflow-x:auto;overflow-y:hidden;max-width:100%}.eq-section{margin-top:1.2em}"
    + MATH_FONT_CSS
)


def mathml_blocks(d: Derivation) -> str:
    """The equations as HTML: a heading per section and one MathML block per equation."""
    parts = []
    for section, eqs in d.grouped().items():
        parts.append(f'<h4 class="eq-section">{html.escape(SECTION_TITLES[section])}</h4>')
        parts += [eq.mathml for eq in eqs]
    return "\n".join(parts)


def to_html(d: Derivation, title: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}}{MATH_CSS}"
        f"</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(NOTATION[d.layout])}</p>"
        f"{mathml_blocks(d)}</body></html>\n"
    )


def render_svg(d: Derivation, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[tuple[str, str]] = [("title", title)]
    for section, eqs in d.grouped().items():
        rows.append(("section", SECTION_TITLES[section]))
        rows += [("eq", eq.tex) for eq in eqs]
    longest = max(len(t) for kind, t in rows if kind == "eq")
    fig = plt.figure(figsize=(min(40, max(10, longest * 0.075)), 0.42 * len(rows) + 0.5))
    step = 1.0 / (len(rows) + 1)
    for i, (kind, text) in enumerate(rows):
        y = 1 - (i + 0.8) * step
        if kind == "eq":
            fig.text(0.02, y, f"${text}$", fontsize=12, va="center")
        else:
            fig.text(0.01, y, text, fontsize=14 if kind == "title" else 12, weight="bold", va="center")
    fig.savefig(path)
    plt.close(fig)
    return path


def write_equations(
    spec: ModelSpec, config: TrainConfig, out_dir: Path, title: str, layout: str = "rows"
) -> list[Path]:
    """equations.md, .tex (a document), .body.tex (the fragment for slides), .html (MathML) and .svg in
    ``out_dir``, in the rows or columns layout."""
    d = derive(spec, config, layout)
    make_folder(out_dir)
    written = []
    for name, text in (
        ("equations.md", to_markdown(d, title)),
        ("equations.tex", to_latex(d, title)),
        ("equations.body.tex", latex_body(d)),
        ("equations.html", to_html(d, title)),
    ):
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    written.append(render_svg(d, out_dir / "equations.svg", title))
    return written
