"""Every picture and derivation of a model in one folder: the network diagram, the
forward and backward computation graphs (picture + DOT) and the update equations."""

from __future__ import annotations

from pathlib import Path

from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph, forward_graph
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec
from backprop_lab.viz.equations import write_equations
from backprop_lab.viz.network import network_graph
from backprop_lab.viz.render import render


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
) -> tuple[list[Path], str]:
    """Returns the files written and the renderer that drew the pictures. ``values`` (an evaluated
    derivation) labels the graphs' nodes with their values and gradient norms; ``layout``: the graphs and
    equations in the rows (Z = A W + b) or columns (Z = W A + b) layout."""
    written: list[Path] = []
    used = renderer
    derivation = derive(spec, config, layout)
    for graph in (
        network_graph(spec, class_names),
        forward_graph(derivation, values),
        backward_graph(derivation, values),
    ):
        picture, dot, used = render(graph, Path(out_dir), fmt, renderer)
        written += [picture, dot]
    written += write_equations(spec, config, Path(out_dir), title, layout)
    return written, used
