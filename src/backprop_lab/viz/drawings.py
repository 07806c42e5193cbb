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
) -> tuple[list[Path], str]:
    """Returns the files written and the renderer that drew the pictures. ``values`` (an evaluated
    derivation) labels the graphs' nodes with their values and gradient norms."""
    written: list[Path] = []
    used = renderer
    derivation = derive(spec, config)
    for graph in (
        network_graph(spec, class_names),
        forward_graph(derivation, values),
        backward_graph(derivation, values),
    ):
        picture, dot, used = render(graph, Path(out_dir), fmt, renderer)
        written += [picture, dot]
    written += write_equations(spec, config, Path(out_dir), title)
    return written, used


def graph_values(setup, run_path: Path | None, rows: int) -> dict:
    """The derivation evaluated on the first ``rows`` training rows, at a run's weights or the initial ones
    (float64; dropout masks drawn as the scratch engine draws them), for labelling the graphs' nodes."""
    import numpy as np

    from backprop_lab.analysis.derivation_check import dropout_masks
    from backprop_lab.core.errors import BplabError
    from backprop_lab.runs.record import load_run
    from backprop_lab.runs.workflow import initial_weights
    from backprop_lab.training import targets

    if run_path is not None:
        run = load_run(run_path)
        if run.spec.param_shapes() != setup.spec.param_shapes():
            raise BplabError(f"--run {run_path}: its model ({len(run.spec.layers)} layers) is not --model")
        weights = run.weights
    else:
        weights = initial_weights(setup.spec, setup.config)
    derivation = derive(setup.spec, setup.config)
    x = np.asarray(setup.dataset.x_train[:rows], np.float64)
    y = targets(setup.spec, setup.dataset.y_train[:rows], "float64")
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    return derivation.evaluate(w, x, y, dropout_masks(derivation, len(x), setup.config.seed))
