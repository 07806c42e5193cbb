"""Render a Graph: DOT text always; the picture by Graphviz's ``dot`` when it is
installed, otherwise by a built-in matplotlib layered layout, so drawing works
on a fresh machine without Graphviz. Both lay a graph out in its ``direction``:
LR (left to right, the default) or TB (top to bottom: a backward graph is then
nearer a 16:9 slide's shape than its long LR strip)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from backprop_lab.core.errors import BplabError  # noqa: E402
from backprop_lab.core.files import make_folder  # noqa: E402
from backprop_lab.maths.graphs import Graph, Node  # noqa: E402

FORMATS = ("svg", "png", "pdf")
RENDERERS = ("auto", "graphviz", "matplotlib")
RANKDIRS = ("LR", "TB")  # Graphviz's rankdir: left to right (the default), top to bottom


def check_format(fmt: str, renderer: str) -> None:
    if fmt not in FORMATS:
        raise BplabError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if renderer not in RENDERERS:
        raise BplabError(f"--renderer: must be one of {', '.join(RENDERERS)}, got {renderer!r}")


def check_rankdir(rankdir: str) -> str:
    """LR or TB (any case), as Graphviz spells it."""
    if not isinstance(rankdir, str) or rankdir.upper() not in RANKDIRS:
        raise BplabError(f"--rankdir: LR (left to right, the default) or TB (top to bottom), got {rankdir!r}")
    return rankdir.upper()


STYLE = {  # kind -> (DOT attributes, matplotlib box style, face colour)
    "input": ('shape=box, style="rounded,filled", fillcolor="#dbeafe"', "round,pad=0.3", "#dbeafe"),
    "param": ('shape=box, style=filled, fillcolor="#fde68a"', "square,pad=0.3", "#fde68a"),
    "op": ('shape=ellipse, style=filled, fillcolor="#e5e7eb"', "round4,pad=0.3", "#e5e7eb"),
    "loss": ('shape=doubleoctagon, style=filled, fillcolor="#fecaca"', "sawtooth,pad=0.3", "#fecaca"),
    "grad": ('shape=box, style="rounded,filled", fillcolor="#bbf7d0"', "round,pad=0.3", "#bbf7d0"),
    "saved": ('shape=note, style="dashed,filled", fillcolor="#f8fafc"', "square,pad=0.3", "#f8fafc"),
    "neuron": (
        'shape=circle, style=filled, fillcolor="#dbeafe", width=0.45, fixedsize=true',
        "circle,pad=0.3",
        "#dbeafe",
    ),
    "ellipsis": ("shape=plaintext", None, None),
    "caption": ("shape=plaintext, fontsize=10", None, None),
}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label(node: Node) -> str:
    if node.kind in ("param", "input", "grad", "saved") and node.shape is not None and node.shape != ():
        return f"{node.label}\n{'(' + ', '.join(map(str, node.shape)) + ')'}"
    return node.label


def to_dot(graph: Graph) -> str:
    pinned = layout(graph)[0] if is_neuron_diagram(graph) else {}
    # a computation graph is wider than a page and is shown in a box that scrolls sideways: its title goes at the
    # left, where the box opens, not in the middle of the drawing, off-screen
    just = "" if pinned else " labeljust=l;"
    # top to bottom, the ranks are rows of a few short labels: closer rows, wider gaps between the nodes of one
    spacing = " ranksep=0.25; nodesep=0.5;" if graph.direction == "TB" and not pinned else ""
    lines = [
        f'digraph "{graph.name}" {{',
        f"  rankdir={graph.direction};{spacing}",
        f'  label="{_escape(graph.title)}"; labelloc=t;{just} fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11]; edge [fontname="Helvetica", fontsize=9];',
    ]
    if pinned:  # a neuron diagram keeps its columns in order: positions fixed, drawn by ``neato -n2``
        lines.append("  splines=false;")
    for node in graph.nodes:
        where = f', pos="{pinned[node.id][0] * 72:.0f},{pinned[node.id][1] * 72:.0f}!"' if pinned else ""
        lines.append(f'  "{node.id}" [label="{_escape(_label(node))}", {STYLE[node.kind][0]}{where}];')
    for e in graph.edges:
        attrs = []
        if e.label:
            attrs.append(f'label="{_escape(e.label)}"')
        if e.dashed:
            attrs.append("style=dashed, color=gray40")
        if graph.nodes and any(n.kind == "neuron" for n in graph.nodes):
            attrs.append("arrowhead=none, color=gray60, penwidth=0.5")
        lines.append(f'  "{e.src}" -> "{e.dst}"' + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def ranks(graph: Graph) -> dict[str, int]:
    """Given ranks, else longest path from the sources; a source sits one rank before its first consumer."""
    given = {n.id: n.rank for n in graph.nodes if n.rank is not None}
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        preds[e.dst].append(e.src)
        succs[e.src].append(e.dst)
    rank: dict[str, int] = dict(given)

    def visit(node_id: str, seen=()) -> int:
        if node_id in rank:
            return rank[node_id]
        ps = [p for p in preds[node_id] if p not in seen]
        rank[node_id] = 0 if not ps else 1 + max(visit(p, seen + (node_id,)) for p in ps)
        return rank[node_id]

    for n in graph.nodes:
        visit(n.id)
    for n in graph.nodes:  # pull sources next to their consumers
        if n.id not in given and not preds[n.id] and succs[n.id]:
            rank[n.id] = max(0, min(rank[s] for s in succs[n.id]) - 1)
    return rank


def is_neuron_diagram(graph: Graph) -> bool:
    return any(n.kind == "neuron" for n in graph.nodes)


def layout(graph: Graph) -> tuple[dict[str, tuple[float, float]], dict[int, list[Node]]]:
    """Node centres (inches): one column per rank, nodes stacked in insertion order, captions under their column;
    top to bottom (``direction`` TB), one row per rank, nodes side by side, captions right of their row."""
    rank = ranks(graph)
    columns: dict[int, list[Node]] = {}
    for node in graph.nodes:
        columns.setdefault(rank[node.id], []).append(node)
    if graph.direction == "TB":
        return _layout_rows(columns, is_neuron_diagram(graph)), columns
    dx, dy = (3.2, 0.75) if is_neuron_diagram(graph) else (2.4, 1.25)
    pos = {}
    for r, nodes in columns.items():
        stacked = [n for n in nodes if n.kind != "caption"]
        top = (len(stacked) - 1) * dy / 2
        for i, node in enumerate(stacked):
            pos[node.id] = (r * dx, top - i * dy)
    bottom = min(p[1] for p in pos.values()) if pos else 0.0
    for r, nodes in columns.items():
        for node in nodes:
            if node.kind == "caption":
                pos[node.id] = (r * dx, bottom - 1.1)
    return pos, columns


def _layout_rows(columns: dict[int, list[Node]], neurons: bool) -> dict[str, tuple[float, float]]:
    """The TB layout: rank r is the row y = -r * down, its nodes centred side by side ``across`` apart."""
    across, down = (0.75, 1.6) if neurons else (2.0, 1.2)
    pos = {}
    for r, nodes in columns.items():
        stacked = [n for n in nodes if n.kind != "caption"]
        left = -(len(stacked) - 1) * across / 2
        for i, node in enumerate(stacked):
            pos[node.id] = (left + i * across, -r * down)
    right = max(p[0] for p in pos.values()) if pos else 0.0
    for r, nodes in columns.items():
        for node in nodes:
            if node.kind == "caption":
                pos[node.id] = (right + 1.6, -r * down)
    return pos


def draw_matplotlib(graph: Graph, path: Path) -> Path:
    pos, columns = layout(graph)
    neurons = is_neuron_diagram(graph)
    rows = graph.direction == "TB"
    tallest = max(len(c) for c in columns.values())
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    if rows:  # inches of the layout, and room for the labels around it
        width, height = max(6.0, 0.65 * (max(xs) - min(xs)) + 2.5), max(3.5, 0.65 * (max(ys) - min(ys)) + 1.8)
    else:
        width = max(6.0, (max(columns) + 1) * (1.9 if neurons else 1.5))
        height = max(3.5, tallest * (0.45 if neurons else 0.8) + 1.5)
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_axis_off()
    for e in graph.edges:
        (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
        if neurons:
            ax.plot([x1, x2], [y1, y2], color="0.7", lw=0.4, zorder=1)
            continue
        arrow = FancyArrowPatch(
            (x1, y1),
            (x2, y2),
            arrowstyle="-|>",
            mutation_scale=10,
            lw=0.8,
            zorder=1,
            color="0.55" if e.dashed else "0.2",
            linestyle="--" if e.dashed else "-",
            shrinkA=18,
            shrinkB=18,
        )
        ax.add_patch(arrow)
        if e.label:
            ax.text(
                (x1 + x2) / 2,
                (y1 + y2) / 2 + 0.12,
                e.label,
                fontsize=6.5,
                ha="center",
                va="bottom",
                color="0.25",
                zorder=3,
                bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.8),
            )
    for node in graph.nodes:
        x, y = pos[node.id]
        _, box, face = STYLE[node.kind]
        if node.kind == "neuron":
            ax.scatter([x], [y], s=260, c=face, edgecolors="0.3", linewidths=0.8, zorder=2)
            if node.label and rows:  # the inputs' names above their row, the outputs' below
                ax.text(x, y + (0.3 if not node.rank else -0.3), node.label, fontsize=7, ha="center",
                        va="bottom" if not node.rank else "top", zorder=3)  # fmt: skip
            elif node.label:
                ax.text(
                    x + (0.3 if node.rank else -0.3),
                    y,
                    node.label,
                    fontsize=7,
                    ha="left" if node.rank else "right",
                    va="center",
                    zorder=3,
                )
            continue
        if node.kind == "caption":
            if rows:
                ax.text(x - 1.0, y, node.label, fontsize=8, ha="left", va="center")
            else:
                ax.text(x, y + 0.9, node.label, fontsize=8, ha="center", va="top")
            continue
        style = dict(boxstyle=box, fc=face, ec="0.3", lw=0.8, ls="--" if node.kind == "saved" else "-") if box else None
        ax.text(
            x,
            y,
            _label(node),
            fontsize=8 if node.kind != "ellipsis" else 14,
            ha="center",
            va="center",
            zorder=4,
            bbox=style,
        )
    if rows:
        ax.set_xlim(min(xs) - 1.3, max(xs) + (1.0 if neurons else 1.3))
        ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    else:
        ax.set_xlim(min(xs) - 1.3, max(xs) + 1.3)
        ax.set_ylim(min(ys) - (1.6 if neurons else 0.8), max(ys) + 0.8)
    ax.set_title(graph.title, fontsize=11, loc="center" if neurons else "left")  # as to_dot places it
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def graphviz_available() -> bool:
    return shutil.which("dot") is not None


def render(graph: Graph, out_dir: Path, fmt: str = "svg", renderer: str = "auto") -> tuple[Path, Path, str]:
    """Write ``NAME.dot`` and ``NAME.FMT``; returns (picture, dot file, renderer used)."""
    if fmt not in FORMATS:
        raise BplabError(f"--format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if renderer not in RENDERERS:
        raise BplabError(f"--renderer: must be one of {', '.join(RENDERERS)}, got {renderer!r}")
    make_folder(out_dir)
    dot_path = out_dir / f"{graph.name}.dot"
    dot_path.write_text(to_dot(graph))
    picture = out_dir / f"{graph.name}.{fmt}"
    use_graphviz = renderer == "graphviz" or (renderer == "auto" and graphviz_available())
    if use_graphviz:
        if not graphviz_available():
            raise BplabError("--renderer graphviz: the 'dot' program is not installed (apt-get install graphviz)")
        command = ["neato", "-n2"] if is_neuron_diagram(graph) else ["dot"]
        done = subprocess.run(command + [f"-T{fmt}", str(dot_path), "-o", str(picture)], capture_output=True, text=True)
        if done.returncode != 0:
            raise BplabError(
                f"{dot_path}: graphviz failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
            )
        return picture, dot_path, "graphviz"
    return draw_matplotlib(graph, picture), dot_path, "matplotlib"
