"""Computation graphs generated from a derivation's expression trees.

``forward_graph``: every node of every forward equation's tree (matmul, add, the activation,
convolution, pooling, flatten, dropout), the inputs X and Y and the parameters W[l], b[l] as leaves,
the loss as one node; edges carry the tensor's name (where it has one) and shape.

``backward_graph``: the trees of the output delta, the delta recursion and the gradients: each
delta node is made from the one after it, the forward values a step reuses are dashed "saved"
inputs, and every parameter's gradient dW[l], db[l] is a node reached from dL.

``dependencies``: which symbol each forward symbol is computed from (the edges a chain rule may use).

Both graphs are plain ``Graph`` objects, rendered by ``viz.render``. With ``values`` (an evaluated
environment, see ``Derivation.evaluate``) every forward node is labelled with its value statistics
and every gradient node with its norm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from backprop_lab.maths.equations import Derivation
from backprop_lab.maths.expr import Const, Expr, Sym, label, shape, symbols, to_text
from backprop_lab.maths.rules import loss_rule


@dataclass
class Node:
    id: str
    label: str
    kind: str  # input, param, op, loss, grad, saved, neuron, ellipsis, caption
    shape: tuple | None = None
    rank: int | None = None
    group: str | None = None


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    dashed: bool = False


@dataclass
class Graph:
    name: str
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    direction: str = "LR"
    exprs: dict[str, Expr] = field(default_factory=dict)  # node id -> the expression whose value the node holds

    def add(self, node: Node) -> str:
        self.nodes.append(node)
        return node.id

    def link(self, src: str, dst: str, label: str = "", dashed: bool = False) -> None:
        self.edges.append(Edge(src, dst, label, dashed))

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def by_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]


def shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


_SCALAR_KINDS = ("dim", "hyper")  # m, K, lambda: numbers, not nodes


def stats_text(value: Any) -> str:
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return f"= {float(v.reshape(-1)[0]):.4g}"
    return f"mean {v.mean():.3g} ± {v.std():.3g}\n[{v.min():.3g}, {v.max():.3g}]"


def norm_text(value: Any) -> str:
    return f"‖·‖ = {float(np.linalg.norm(np.asarray(value, dtype=np.float64))):.3g}"


class _Builder:
    """Adds expression trees to a graph, one node per operation."""

    def __init__(self, graph: Graph, leaf_kind, values: Mapping[str, Any] | None, annotate):
        self.g, self.leaf_kind, self.values, self.annotate = graph, leaf_kind, values or {}, annotate
        self.made: dict[str, str] = {}  # symbol name -> the node holding its value
        self.count = 0

    def leaf(self, s: Sym) -> str:
        if s.name not in self.made:
            kind, node_id, dashed = self.leaf_kind(s)
            text = to_text(s)
            if s.name in self.values and kind != "saved":
                text += "\n" + self.annotate(self.values[s.name])
            self.g.add(Node(node_id, text, kind, s.shape))
            self.g.exprs[node_id] = s
            self.made[s.name] = node_id
        return self.made[s.name]

    def edge_label(self, e: Expr) -> str:
        if isinstance(e, Sym):
            return f"{to_text(e)} {shape_text(e.shape)}" if e.shape else to_text(e)
        return shape_text(shape(e))

    def build(self, e: Expr) -> str | None:
        if isinstance(e, Const) or (isinstance(e, Sym) and e.kind in _SCALAR_KINDS):
            return None
        if isinstance(e, Sym):
            return self.leaf(e)
        inputs = [(c, self.build(c)) for c in e.children()]
        self.count += 1
        node_id = self.g.add(Node(f"{self.g.name}_op{self.count}", label(e), "op", shape(e)))
        self.g.exprs[node_id] = e
        for c, cid in inputs:
            if cid is not None:
                dashed = self.g.node(cid).kind == "saved"
                self.g.link(cid, node_id, "" if dashed else self.edge_label(c), dashed)
        return node_id


def _loss_title(d: Derivation) -> str:
    rule = loss_rule(d.config.loss)
    return rule.title + (f" (from the logits Z[{d.layers[-1].l}], as Keras)" if d.fused else "")


def forward_graph(d: Derivation, values: Mapping[str, Any] | None = None) -> Graph:
    g = Graph("forward", f"Forward computation graph ({loss_rule(d.config.loss).title})")

    def leaf_kind(s: Sym):
        return ({"input": "input", "mask": "input", "param": "param"}.get(s.kind, "op"), s.name, False)

    b = _Builder(g, leaf_kind, values, stats_text)
    for eq in d.section("forward"):
        if isinstance(eq.rhs, Sym):  # A[0] = X, A = Z for a linear layer: the same node under another name
            b.made[eq.name] = b.build(eq.rhs)
            continue
        root = b.build(eq.rhs)
        b.made[eq.name] = root
        if values is not None and eq.name in values:
            g.node(root).label += "\n" + stats_text(values[eq.name])
    loss_eq = d.section("loss")[0]
    data_term, penalty = (loss_eq.rhs.a, loss_eq.rhs.b) if d.config.l2 else (loss_eq.rhs, None)
    loss_label = _loss_title(d) + (
        "\n" + stats_text(values["loss"]) if values and "loss" in values and penalty is None else ""
    )
    loss_node = g.add(Node("loss", loss_label, "loss", ()))
    g.exprs[loss_node] = data_term if penalty is not None else loss_eq.lhs
    for s in symbols(data_term):
        if s.kind not in _SCALAR_KINDS:
            g.link(b.made.get(s.name) or b.leaf(s), loss_node, b.edge_label(s))
    if penalty is not None:
        reg = g.add(Node("l2", f"L2 penalty λ={d.config.l2:g}", "op", ()))
        g.exprs[reg] = penalty
        for s in symbols(penalty):
            if s.kind == "param":
                g.link(b.made[s.name], reg, "")
        total = g.add(
            Node("total", "L = loss + penalty" + ("\n" + stats_text(values["loss"]) if values else ""), "loss", ())
        )
        g.exprs[total] = loss_eq.lhs
        g.link(loss_node, total, "scalar")
        g.link(reg, total, "scalar")
    return g


def backward_graph(d: Derivation, values: Mapping[str, Any] | None = None) -> Graph:
    g = Graph("backward", f"Backward computation graph ({loss_rule(d.config.loss).title})")

    def leaf_kind(s: Sym):
        if s.kind == "grad":
            return "grad", s.name, False
        return "saved", f"saved_{s.name}", True

    b = _Builder(g, leaf_kind, values, norm_text)
    start = g.add(Node("dL", "dL/dL = 1", "loss", ()))
    g.exprs[start] = Const(1.0)
    for eq in d.section("output delta") + [e for e in d.equations if e.section in ("backward", "gradients")]:
        root = b.build(eq.rhs)
        kind = "grad" if eq.name.startswith("delta") else "param"
        text = to_text(eq.lhs) + (f" = dL/dZ[{eq.layer}]" if eq.section == "output delta" else "")
        if values is not None and eq.name in values:
            text += "\n" + norm_text(values[eq.name])
        node = g.add(Node(eq.name, text, kind, eq.lhs.shape))
        g.exprs[node] = eq.lhs
        if eq.section == "output delta":
            g.link(start, root, f"∂L/∂Z[{eq.layer}]")
        g.link(root, node, shape_text(eq.lhs.shape))
        b.made[eq.name] = node
    return g


def dependencies(d: Derivation) -> dict[str, list[str]]:
    """For each forward symbol and the loss, the symbols its equation reads (scalars left out):
    the edges of the computation graph in the notation of the equations. The loss is read as the
    mathematics writes it, a function of the network's output A[L] (and of every kernel, with L2),
    also where Keras computes it from the logits Z[L] for numerical safety."""
    deps: dict[str, list[str]] = {}
    for eq in d.section("forward") + d.section("loss"):
        deps[eq.name] = [s.name for s in symbols(eq.rhs) if s.kind not in _SCALAR_KINDS]
    if d.fused:
        last = d.layers[-1]
        deps["loss"] = [last.a.name if name == last.z.name else name for name in deps["loss"]]
    return deps
