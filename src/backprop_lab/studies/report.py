"""The study report: ``report.html``, one self-contained file (images embedded as data
URIs, inline CSS, no script, no request to any network, opens from ``file://``), and
``report.md`` with the same content and the images beside it. A section's ``links`` point to pages written
beside the report in the study folder (section 4's explorer page, which holds the script the report does not)."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment

from backprop_lab.maths.expr import MATH_FONT_CSS
from backprop_lab.studies.claims import CLAIMS, LEGEND, SOURCE
from backprop_lab.studies.sections import Section

MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
header { background: #1f3a5f; color: #fff; padding: 1.6em 2em; }
header h1 { margin: 0 0 .3em 0; font-size: 1.7em; }
header p { margin: .2em 0; opacity: .9; }
nav { background: #fff; padding: .8em 2em; border-bottom: 1px solid #dde1e6; font-size: .92em;
      display: flex; flex-wrap: wrap; gap: .3em 1.1em; }
nav a { color: #1f3a5f; text-decoration: none; white-space: nowrap; }
main { max-width: 1100px; margin: 0 auto; padding: 1em 2em 3em; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 1.2em 1.6em; margin: 1.4em 0; }
h2 { margin-top: 0; color: #1f3a5f; }
.reading { border-left: 4px solid #4a7ab5; padding: .2em .9em; background: #f0f4fa; margin: .8em 0; }
.note { border-left: 4px solid #c98a14; padding: .2em .9em; background: #fdf6e7; margin: .8em 0; }
figure { margin: 1em 0; text-align: center; }
figure img { max-width: 100%; border: 1px solid #e3e6ea; }
.scroll { overflow-x: auto; }
.scroll img { max-width: none; }
figcaption { font-size: .88em; color: #57606a; margin-top: .3em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .88em; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #d0d7de; padding: .3em .6em; text-align: right; }
th { background: #eef1f4; }
td:first-child, th:first-child, td.text, th.text { text-align: left; }
.math { overflow-x: auto; }
math[display=block] { font-size: 1.15em; margin: .4em 0; }
{{ math_font_css | safe }}
.math h4 { margin: 1em 0 .3em; color: #3d444d; }
.claim { border-left: 4px solid #6b4fa3; padding: .2em .9em; background: #f4f0fa; margin: .6em 0; font-style: italic; }
.verdict-box { border-left: 4px solid #57606a; padding: .4em .9em; background: #f3f4f6; margin: .8em 0; }
.verdict-box.holds { border-color: #1a7f37; } .verdict-box.fails { border-color: #cf222e; }
.verdict-box.unsure { border-color: #9a6700; }
td.verdict { font-weight: 600; white-space: nowrap; } td.holds { color: #1a7f37; } td.fails { color: #cf222e; }
td.unsure { color: #9a6700; }
table.claims td, table.claims th { text-align: left; vertical-align: top; }
dl.legend { font-size: .85em; color: #3d444d; display: grid; grid-template-columns: max-content 1fr; gap: .2em .9em; }
dl.legend dt { font-weight: 600; } dl.legend dd { margin: 0; }
pre { background: #0f1720; color: #e6edf3; padding: .7em 1em; border-radius: 6px; overflow-x: auto; font-size: .85em; }
.meta { font-size: .8em; color: #57606a; }
.link { border-left: 4px solid #1a7f37; padding: .4em .9em; background: #eef8f0; margin: .8em 0; }
.link a { color: #1f3a5f; font-weight: 600; }
footer { max-width: 1100px; margin: 0 auto; padding: 0 2em 3em; font-size: .85em; color: #3d444d; }
footer table { font-size: .95em; }
</style></head>
<body>
<header><h1>{{ title }}</h1><p>{{ subtitle }}</p></header>
{% if claims %}<section id="claims"><h2>The claims this study tests</h2>
<p>{{ source }} Each claim's section runs the set-up the claim was made with; the verdict is computed from
the measurements.</p>
<table class="claims"><thead><tr><th>claim</th><th>tested in</th><th>measured</th><th>verdict</th></tr></thead><tbody>
{% for c in claims %}<tr><td>{{ c.text }}</td><td><a href="#{{ c.section }}">{{ c.section_title }}</a></td><td>{{ c.measured }}</td>
<td class="verdict {{ c.css }}">{{ c.verdict }}</td></tr>{% endfor %}</tbody></table>
<dl class="legend">{% for term, meaning in legend %}<dt>{{ term }}</dt><dd>{{ meaning }}</dd>{% endfor %}</dl></section>{% endif %}
<nav>{% for s in sections %}<a href="#{{ s.key }}">{{ loop.index }}. {{ s.title }}</a>{% endfor %}</nav>
<main>
{% for s in sections %}
<section id="{{ s.key }}"><h2>{{ loop.index }}. {{ s.title }}</h2>
{% for v in s.verdicts %}<div class="claim">Claim tested: “{{ v.text }}”</div>{% endfor %}
{% for line in s.reading.split("\\n") %}<div class="reading">{{ line }}</div>{% endfor %}
{% if s.note %}<div class="note">{{ s.note }}</div>{% endif %}
{% if s.math %}<div class="math">{{ s.math|safe }}</div>{% endif %}
{% for href, text in s.links %}<p class="link"><a href="{{ href }}">{{ text }}</a> <span class="meta">({{ href }})</span></p>{% endfor %}
{% for block in s.blocks %}{% if block.kind == "figure" %}{% set src, caption, width = block.item %}<figure>{% if width %}<div class="scroll"><img src="{{ src }}" alt="{{ caption }}" width="{{ width }}"></div>{% else %}<img src="{{ src }}" alt="{{ caption }}">{% endif %}<figcaption>{{ caption }}{% if width %} (scroll sideways){% endif %}</figcaption></figure>
{% else %}<div class="scroll">{{ block.item.to_html(styled=False)|safe }}</div>{% endif %}{% endfor %}
{% for v in s.verdicts %}<div class="verdict-box {{ v.css }}"><b>Verdict: {{ v.verdict }}.</b> {{ v.measured }}. {{ v.reason }}.</div>{% endfor %}
<p class="meta">Reproduce:</p><pre><code>{{ s.command }}</code></pre>
<p class="meta">{{ "%.1f"|format(s.seconds) }} s{% if s.cached %} (from an earlier run of this study){% endif %}</p>
</section>
{% endfor %}
</main>
<footer><h3>How this report was made</h3>
<table><tbody>{% for k, v in footer %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</tbody></table>
</footer>
</body></html>
"""


def data_uri(path: Path) -> str:
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def wide_width(path: Path, page: int = 1000, most: int = 2200) -> int | None:
    """For a PNG much wider than the page, the width to show it at (in a sideways-scrolling box); else None."""
    head = path.read_bytes()[:24] if path.suffix.lower() == ".png" else b""
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if width <= 1.6 * page or width < 3 * height:
        return None
    return min(width, most)


def verdict_css(verdict: str) -> str:
    return {"holds": "holds", "does not hold": "fails"}.get(verdict, "unsure")


def claims_rows(sections: list[Section]) -> list[dict]:
    """One row per claim tested, in the order of the sections: the claim, its section, the figure, the verdict."""

    return [
        {
            **v,
            "text": CLAIMS[v["claim"]].text,
            "section": s.key,
            "section_title": s.title,
            "css": verdict_css(v["verdict"]),
        }
        for s in sections
        for v in s.verdicts
    ]


def _blocks(s: Section, images: list) -> list[dict]:
    """Figures and tables in reading order: each figure with its table when the section pairs them."""
    figures = [{"kind": "figure", "item": i} for i in images]
    tables = [{"kind": "table", "item": t} for t in s.tables]
    if not s.paired:
        return figures + tables
    out = []
    for i in range(max(len(figures), len(tables))):
        out += figures[i : i + 1] + tables[i : i + 1]
    return out


def write_html(
    path: Path,
    root: Path,
    title: str,
    subtitle: str,
    sections: list[Section],
    cached: set[str],
    footer: list[tuple[str, str]],
) -> Path:

    env = Environment(autoescape=True)
    view = []
    for s in sections:
        images = [(data_uri(root / rel), caption, wide_width(root / rel)) for rel, caption in s.figures]
        view.append(
            {
                "key": s.key,
                "title": s.title,
                "reading": s.reading,
                "note": s.note,
                "command": s.command,
                "seconds": s.seconds,
                "cached": s.key in cached,
                "math": s.math,
                "links": s.links,
                "blocks": _blocks(s, images),
                "verdicts": [
                    {**v, "text": CLAIMS[v["claim"]].text, "css": verdict_css(v["verdict"])} for v in s.verdicts
                ],
            }
        )
    text = env.from_string(TEMPLATE).render(
        title=title,
        subtitle=subtitle,
        sections=view,
        footer=footer,
        claims=claims_rows(sections),
        math_font_css=MATH_FONT_CSS,
        source=SOURCE,
        legend=LEGEND,
    )
    path.write_text(text)
    return path


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|")


def write_markdown(
    path: Path, title: str, subtitle: str, sections: list[Section], footer: list[tuple[str, str]]
) -> Path:
    lines = [f"# {title}", "", subtitle, ""]
    rows = claims_rows(sections)
    if rows:
        lines += ["## The claims this study tests", "", SOURCE, ""]
        lines += ["| claim | tested in | measured | verdict |", "|---|---|---|---|"]
        lines += [
            f"| {_md_cell(r['text'])} | {_md_cell(r['section_title'])} | {_md_cell(r['measured'])} | "
            f"**{_md_cell(r['verdict'])}** |"
            for r in rows
        ] + [""]
        lines += [f"- **{term}**: {meaning}" for term, meaning in LEGEND] + [""]
    for i, s in enumerate(sections, start=1):
        lines += [f"## {i}. {s.title}", ""]

        lines += [f"*Claim tested: “{CLAIMS[v['claim']].text}”*" for v in s.verdicts] + ([""] if s.verdicts else [])
        lines += [f"> {line}" for line in s.reading.split("\n")] + [""]
        if s.note:
            lines += [f"**Note:** {s.note}", ""]
        if s.math:
            lines += [
                f"The equations: [sections/{s.key}/equations.md](sections/{s.key}/equations.md) "
                f"(also equations.html with MathML, equations.tex and equations.svg).",
                "",
            ]
        lines += [f"[{text}]({href})" for href, text in s.links] + ([""] if s.links else [])
        for rel, caption in s.figures:
            lines += [f"![{caption}]({rel})", f"*{caption}*", ""]
        for t in s.tables:
            lines += [t.to_markdown(), ""]
        lines += [f"**Verdict: {v['verdict']}.** {v['measured']}. {v['reason']}." for v in s.verdicts]
        lines += ([""] if s.verdicts else []) + [
            "Reproduce:",
            "",
            "```sh",
            s.command,
            "```",
            "",
            f"*{s.seconds:.1f} s*",
            "",
        ]
    lines += ["## How this report was made", "", "| | |", "|---|---|"]
    lines += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in footer]
    path.write_text("\n".join(lines) + "\n")
    return path


__all__ = ["write_html", "write_markdown", "data_uri"]
