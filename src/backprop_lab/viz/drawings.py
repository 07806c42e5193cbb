"""Every picture and derivation of a model in one folder: the network diagram, the
forward and backward computation graphs (picture + DOT) and the update equations."""

from __future__ import annotations

from pathlib import Path

from backprop_lab.maths.equations import Derivation, derive
from backprop_lab.maths.graphs import Graph, backward_graph, forward_graph
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec
from backprop_lab.viz.equations import write_equations
from backprop_lab.viz.network import network_graph
from backprop_lab.viz.render import check_rankdir, render


def drawn_graphs(
    spec: ModelSpec, class_names: list[str], derivation: Derivation, values: dict | None = None, rankdir: str = "LR"
) -> list[Graph]:
    """The network diagram and the forward and backward computation graphs, laid out in ``rankdir``: LR (left to
    right) or TB (top to bottom)."""
    graphs = [network_graph(spec, class_names), forward_graph(derivation, values), backward_graph(derivation, values)]
    for graph in graphs:
        graph.direction = check_rankdir(rankdir)
    return graphs


def write_drawings(
    spec: ModelSpec,
    class_names: list[str],
    config: TrainConfig,
    out_dir: Path,
    fmt: str = "svg",
    renderer: str = "auto",
    title: str = "",
    values: dict | None = None,
    layout: str = "rows",
    rankdir: str = "LR",
) -> tuple[list[Path], str]:
    """Returns the files written and the renderer that drew the pictures. ``values`` (an evaluated
    derivation) labels the graphs' nodes with their values and gradient norms; ``layout``: the graphs and
    equations in the rows (Z = A W + b) or columns (Z = W A + b) layout; ``rankdir``: every graph laid out
    left to right (LR) or top to bottom (TB)."""
    written: list[Path] = []
    used = renderer
    derivation = derive(spec, config, layout)
    for graph in drawn_graphs(spec, class_names, derivation, values, rankdir):
        picture, dot, used = render(graph, Path(out_dir), fmt, renderer)
        written += [picture, dot]
    written += write_equations(spec, config, Path(out_dir), title, layout)
    return written, used
