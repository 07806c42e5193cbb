"""The explorer page's data, built from the maths (``maths/``), and the one self-contained HTML file.

The page steps through one training step of a network: the forward graph node by node, the loss, the
output delta, the delta recursion and the gradients, then the optimizer's update of every parameter. It
receives the derivation's expression trees as data (:data:`FORMAT`, version :data:`VERSION`, described in
docs/explore.md) and evaluates them with ``static/explorer.js``, a small interpreter of the same node types
as :func:`backprop_lab.maths.expr.evaluate`; the rules themselves are never restated in JavaScript.

- the graphs are ``maths.graphs.forward_graph`` and ``backward_graph`` (the same nodes and edges as
  ``bplab draw``), each node with the expression whose value it holds;
- the equations are the derivation's, in the order ``maths.worked.worked_example`` evaluates them, and its
  update lines (the optimizer's declared rule written for each parameter);
- the numbers substituted into an equation are MathML slots (``<mn data-ref="W1" data-i="3">``) that the
  page refills when a number is edited, so the equation is printed once, by ``maths.expr.MathMLPrinter``.

Networks whose trees hold an operation the interpreter lacks (convolution, pooling) get their values
computed here, and the page says that editing is off.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.maths.equations import SECTION_TITLES, derive, update_equations
from backprop_lab.maths.expr import (
    Add,
    Binary,
    Const,
    Div,
    Expr,
    Func,
    Hadamard,
    MathMLPrinter,
    MatMul,
    Neg,
    Op,
    Pow,
    Scale,
    Sub,
    SumAll,
    SumCols,
    SumFirst,
    SumLast,
    SumRows,
    Sym,
    TextPrinter,
    Transpose,
    Unary,
    evaluate,
    symbols,
    to_mathml,
    to_text,
)
from backprop_lab.maths.graphs import Graph, backward_graph, forward_graph
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec

FORMAT = "backprop-lab-explorer"
VERSION = 1

# the tree's node types as the page names them; static/explorer.js evaluates each of these
NODE_NAMES: dict[type, str] = {
    MatMul: "matmul",
    Add: "add",
    Sub: "sub",
    Hadamard: "hadamard",
    Div: "div",
    Pow: "pow",
    Scale: "scale",
    Transpose: "transpose",
    Neg: "neg",
    SumRows: "sumrows",
    SumLast: "sumlast",
    SumAll: "sumall",
    SumCols: "sumcols",
    SumFirst: "sumfirst",
}
# the functions and tensor operations explorer.js implements (the others: values computed here, editing off)
JS_FUNCTIONS = (
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "softmax_cols",
    "exp",
    "log",
    "abs",
    "max0",
    "logsumexp",
    "logsumexp_cols",
    "floor",
    "sqrt",
    "step",
)
JS_OPS = ("flatten", "unflatten")
EDITABLE_KINDS = ("input", "param", "hyper")
SIZE_WARNING = 20_000  # numbers held by the page beyond which it warns that editing may be slow

STATIC = resources.files("backprop_lab.classroom.explorer") / "static"


def tree(e: Expr) -> list:
    """``e`` as JSON: ``["sym", "W1"]``, ``["const", 0.5]``, ``["func", "relu", a]``, ``["op", name, [args], params]``,
    ``[node name, a(, b)]``."""
    if isinstance(e, Sym):
        return ["sym", e.name]
    if isinstance(e, Const):
        return ["const", e.value]
    if isinstance(e, Func):
        return ["func", e.fn, tree(e.a)]
    if isinstance(e, Op):
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in e.params.items()}
        return ["op", e.op, [tree(a) for a in e.args], params]
    if isinstance(e, (Binary, Unary)):
        return [NODE_NAMES[type(e)], *(tree(c) for c in e.children())]
    raise TypeError(f"cannot encode {type(e).__name__}")


def interpretable(e: Expr) -> bool:
    """Whether explorer.js can evaluate every node of ``e``."""
    if isinstance(e, Func) and e.fn not in JS_FUNCTIONS:
        return False
    if isinstance(e, Op) and e.op not in JS_OPS:
        return False
    return all(interpretable(c) for c in e.children())


class SlotPrinter(MathMLPrinter):
    """MathML in which every substituted number is a slot the page refills: ``<mn data-ref="W1" data-i="3">``
    (``data-i`` the entry's row-major index)."""

    def __init__(self, values, digits: int, max_entries: int):
        super().__init__(values, digits, max_entries)
        self.ref: str | None = None
        self.index = 0

    def value(self, s: Sym) -> str | None:
        self.ref, self.index = s.name, 0
        try:
            return super().value(s)
        finally:
            self.ref = None

    def number(self, v: float) -> str:
        text = super().number(v)
        if self.ref is None:
            return text
        self.index += 1
        return text.replace("<mn>", f'<mn data-ref="{self.ref}" data-i="{self.index - 1}">', 1)


def _array(v: Any) -> dict:
    a = np.asarray(v, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def _symbol_info(s: Sym) -> dict:
    return {"text": to_text(s), "mathml": to_mathml(s), "kind": s.kind}


@dataclass
class PageData:
    """Everything the page shows, as the JSON it embeds (``to_json``)."""

    title: str
    payload: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), allow_nan=False)


def _snapshots(eqs: list, start: dict) -> tuple[list[dict], dict]:
    """For each line, the values its right-hand side read when it was evaluated; and the values before the
    update (those the graphs' nodes show). Evaluated as ``worked_example`` evaluates them."""
    env = dict(start)
    seen: list[dict] = []
    before = None
    for eq in eqs:
        if eq.section == "update":
            if before is None:
                before = dict(env)
            if eq.lhs.name not in env:
                env[eq.lhs.name] = np.zeros_like(env[eq.lhs.name.rsplit("_", 1)[-1]])
        seen.append({s.name: env[s.name] for s in symbols(eq.rhs)})
        env[eq.lhs.name] = evaluate(eq.rhs, env)
    return seen, before if before is not None else env


def _graph_entry(g: Graph, direction: str) -> dict:
    return {
        "name": g.name,
        "title": g.title,
        "direction": direction,
        "nodes": [
            {
                "id": n.id,
                "label": n.label,
                "kind": n.kind,
                "shape": [str(s) for s in n.shape or ()],
                "expr": tree(g.exprs[n.id]) if n.id in g.exprs else None,
            }
            for n in g.nodes
        ],
        "edges": [{"src": e.src, "dst": e.dst, "label": e.label, "dashed": e.dashed} for e in g.edges],
    }


def _owner(eqs: list) -> dict[int, int]:
    """id() of every subtree of every equation -> the equation's index."""
    owner: dict[int, int] = {}

    def walk(e: Expr, i: int) -> None:
        owner.setdefault(id(e), i)
        for c in e.children():
            walk(c, i)

    for i, eq in enumerate(eqs):
        walk(eq.rhs, i)
    return owner


def build_page_data(
    spec: ModelSpec,
    config: TrainConfig,
    weights: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    masks: dict[str, np.ndarray] | None = None,
    title: str = "Explorer",
    fixed_biases: bool = False,
    steps: int = 1,
    digits: int = 6,
    max_entries: int = 24,
    direction: str = "tb",
    layout: str = "rows",
) -> PageData:
    """The page's data for one training step of ``spec`` on the rows ``x``/``y`` from ``weights`` (given in the
    rows layout); ``layout`` the equations' (rows: Z = A W + b, columns: Z = W A + b), ``direction`` the graphs'."""
    d = derive(spec, config, layout)
    example = worked_example(spec, config, weights, x, y, 1, fixed_biases, digits, max_entries, masks, title, layout)
    # the derivation's own equations (the graphs' nodes are their subtrees), then worked_example's update lines
    eqs = [e for e in d.equations if e.section in ("forward", "loss", "output delta", "backward", "gradients")]
    eqs += [line.equation for line in example.lines if line.section == "update"]
    assert [e.name for e in eqs] == [line.equation.name for line in example.lines]
    hypers = {e.lhs.name: evaluate(e.rhs, {}) for e in update_equations(config) if e.op == "=" and not symbols(e.rhs)}
    start = d.env({k: np.asarray(v, np.float64) for k, v in weights.items()}, np.asarray(x, np.float64), y, masks)
    start = {k: np.asarray(v, np.float64) for k, v in start.items()} | hypers | {"t": 1.0}
    seen, before = _snapshots(eqs, start)
    editable = all(interpretable(eq.rhs) for eq in eqs)
    fwd, bwd = forward_graph(d), backward_graph(d)
    owner = _owner(eqs)
    index = {eq.lhs.name: i for i, eq in enumerate(eqs) if eq.section != "update"}
    steps_out: list[dict] = []
    text = TextPrinter()
    for node in fwd.nodes:
        if node.kind not in ("op", "loss"):
            continue
        e = fwd.exprs[node.id]
        i = index[e.name] if isinstance(e, Sym) else owner[id(e)]
        eq = eqs[i]
        root = isinstance(e, Sym) or e is eq.rhs
        shown = eq.rhs if root else e
        reads = {s.name: before[s.name] for s in symbols(shown) if s.name in before}
        steps_out.append(
            {
                "section": eq.section,
                "graph": "forward",
                "node": node.id,
                "eq": i,
                "expr": tree(eq.lhs if root else e),
                "name": eq.lhs.name if root else None,
                "text": f"{to_text(eq.lhs)} = {text(shown)}" if root else text(e),
                "mathml": (
                    f"<mrow>{to_mathml(eq.lhs)}<mo>=</mo>{to_mathml(shown)}</mrow>" if root else to_mathml(shown)
                ),
                "filled": SlotPrinter(reads, digits, max_entries)(shown),
            }
        )
    for i, eq in enumerate(eqs):
        if eq.section in ("output delta", "backward", "gradients"):
            node = eq.lhs.name
        elif eq.section == "update":
            param = eq.lhs.name.rsplit("_", 1)[-1]
            node = "d" + param
        else:
            continue
        steps_out.append(
            {
                "section": eq.section,
                "graph": "backward",
                "node": node if any(n.id == node for n in bwd.nodes) else None,
                "eq": i,
                "expr": None,
                "name": eq.lhs.name,
                "text": f"{to_text(eq.lhs)} {eq.op} {to_text(eq.rhs)}",
                "mathml": f"<mrow>{to_mathml(eq.lhs)}<mo>{html.escape(eq.op)}</mo>{to_mathml(eq.rhs)}</mrow>",
                "filled": SlotPrinter(seen[i], digits, max_entries)(eq.rhs),
            }
        )
    syms: dict[str, dict] = {}
    for eq in eqs:
        for s in [eq.lhs, *symbols(eq.rhs)]:
            syms.setdefault(s.name, _symbol_info(s))
    for name in start:
        syms.setdefault(name, {"text": name, "mathml": f"<mi>{html.escape(name)}</mi>", "kind": "dim"})
    shown_start = {k: v for k, v in start.items() if k in syms}
    big = sorted(
        f"{syms[k]['text']} ({'×'.join(str(n) for n in np.shape(v))})"
        for k, v in before.items()
        if k in syms and np.size(v) > max_entries
    )
    notes = list(example.notes)
    held = sum(int(np.size(v)) for v in shown_start.values())
    if big:
        notes.append(
            "A large network: the tensors with more than "
            f"{max_entries} entries are shown by their symbol and as heat maps, as derive shows them."
        )
    if held > SIZE_WARNING:
        notes.append(f"The page holds {held:,} starting numbers: editing recomputes them all and may be slow.")
    if not editable:
        notes.append(
            "This network has operations (convolution, pooling) that the page does not compute: its values were "
            "computed in Python, and editing and training are off."
        )
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "title": title,
        "notes": notes,
        "editable": editable,
        "digits": digits,
        "max_entries": max_entries,
        "train_steps": steps,
        "sections": {k: v for k, v in SECTION_TITLES.items() if k != "chain rule"},
        "symbols": syms,
        "start": {k: _array(v) for k, v in shown_start.items()},
        "editable_names": [k for k, v in shown_start.items() if syms[k]["kind"] in EDITABLE_KINDS],
        "equations": _equation_entries_from(eqs, seen, digits, max_entries),
        "graphs": {"forward": _graph_entry(fwd, direction), "backward": _graph_entry(bwd, direction)},
        "steps": steps_out,
    }
    if not editable:
        payload["computed"] = {
            "lines": [_array(line.value) for line in example.lines],
            "before": {k: _array(v) for k, v in before.items() if k in syms},
            "steps": [
                _array(evaluate(fwd.exprs[s["node"]], before)) if s["graph"] == "forward" else None for s in steps_out
            ],
        }
    return PageData(title, payload, notes)


def _equation_entries_from(eqs: list, seen: list[dict], digits: int, max_entries: int) -> list[dict]:
    return [
        {
            "section": eq.section,
            "lhs": eq.lhs.name,
            "op": eq.op,
            "rhs": tree(eq.rhs),
            "reads": list(seen[i]),
            "param": eq.lhs.name.rsplit("_", 1)[-1] if eq.section == "update" else None,
            "text": f"{to_text(eq.lhs)} {eq.op} {to_text(eq.rhs)}",
            "mathml": f"<mrow>{to_mathml(eq.lhs)}<mo>{html.escape(eq.op)}</mo>{to_mathml(eq.rhs)}</mrow>",
            "filled": SlotPrinter(seen[i], digits, max_entries)(eq.rhs),
        }
        for i, eq in enumerate(eqs)
    ]


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def render_html(data: PageData) -> str:
    """The one self-contained page: the template with the style, the script and the data inlined."""
    page = _static("template.html")
    blob = data.to_json().replace("</", "<\\/").replace("<!--", "<\\!--")
    for key, value in (
        ("{{TITLE}}", html.escape(data.title)),
        ("{{CSS}}", _static("explorer.css")),
        ("{{JS}}", _static("explorer.js")),
        ("{{DATA}}", blob),
    ):
        page = page.replace(key, value)
    return page


@dataclass
class ExplorerPage:
    """The result of ``bl.explore``: the page (``html``), where it was written and its size; shows the page
    inside a notebook."""

    title: str
    html: str
    path: Path | None
    notes: list[str]
    data: PageData

    @property
    def size(self) -> int:
        """The page's size in bytes (UTF-8)."""
        return len(self.html.encode("utf-8"))

    def __repr__(self) -> str:
        where = f" written to {self.path}" if self.path else ""
        return f"ExplorerPage({self.title!r}; {self.size:,} bytes{where})"

    def _repr_html_(self) -> str:
        return (
            f'<iframe title="{html.escape(self.title)}" srcdoc="{html.escape(self.html)}" '
            'style="width:100%;height:900px;border:1px solid #ccc" sandbox="allow-scripts"></iframe>'
        )
