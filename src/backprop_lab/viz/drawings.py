"""Every picture and derivation of a model in one folder: the network diagram, the
forward and backward computation graphs (picture + DOT) and the update equations."""

from __future__ import annotations

from pathlib import Path

from ..config import TrainConfig
from ..spec import ModelSpec
from .equations import write_equations
from .graph import backward_graph, forward_graph
from .network import network_graph
from .render import render


def write_drawings(spec: ModelSpec, class_names: list[str], config: TrainConfig, out_dir: Path, fmt: str = "svg",
                   renderer: str = "auto", title: str = "") -> tuple[list[Path], str]:
    """Returns the files written and the renderer that drew the pictures."""
    written: list[Path] = []
    used = renderer
    for graph in (network_graph(spec, class_names), forward_graph(spec, config.loss, config.l2),
                  backward_graph(spec, config.loss, config.l2)):
        picture, dot, used = render(graph, Path(out_dir), fmt, renderer)
        written += [picture, dot]
    written += write_equations(spec, config, Path(out_dir), title)
    return written, used
