"""Sections 1 to 4: the network, the forward and backward graphs, the equations and the small worked example."""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

import numpy as np

from backprop_lab.analysis.derivation_check import TOLERANCE, check
from backprop_lab.classroom.derivation import check_derivation, typical_matrix_mistakes, typical_mistakes
from backprop_lab.classroom.explorer.page import build_page_data, render_html
from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write
from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph, forward_graph
from backprop_lab.maths.worked import worked_example
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.tables import Table
from backprop_lab.runs.record import read_weights
from backprop_lab.spec.model import parse_model
from backprop_lab.studies.sections.common import (
    Context,
    Section,
    mlp_setup,
)
from backprop_lab.training import targets
from backprop_lab.viz.equations import mathml_blocks, write_equations
from backprop_lab.viz.network import network_graph

# Section 4's worked example: the classic 2-2-2 sigmoid network, small enough to show every number, with the
# published weights (examples/published-2-2-2.json, shipped with the package too) and its one training row.
SMALL_WEIGHTS = Path(__file__).parents[1] / "published-2-2-2.json"
SMALL_MODEL = "mlp:2/act=sigmoid/out=sigmoid"
SMALL_INPUT, SMALL_TARGET = (0.05, 0.10), (0.01, 0.99)
SMALL_CONFIG = TrainConfig(optimizer="sgd", lr=0.5, loss="half_squared_error", dtype="float64")


def small_command(weights: str) -> str:
    """The command that writes section 4's explorer page; ``weights`` the weights file as the report names it."""
    return (
        f"bplab explore --model {SMALL_MODEL} --weights {weights} "
        f"--input {','.join(map(str, SMALL_INPUT))} --target {','.join(map(str, SMALL_TARGET))} "
        f"--loss {SMALL_CONFIG.loss} --lr {SMALL_CONFIG.lr:g} --fixed-biases --out explorer.html"
    )


def _draw(ctx: Context, which: str) -> Section:
    from backprop_lab.viz.render import render

    setup = mlp_setup(ctx)
    config = setup.config
    graph = {
        "network": lambda: network_graph(setup.spec, setup.dataset.class_names),
        "forward": lambda: forward_graph(derive(setup.spec, config)),
        "backward": lambda: backward_graph(derive(setup.spec, config)),
    }[which]()
    picture, dot, used = render(graph, ctx.folder, "png", "auto")
    layers = [i for i in setup.spec.infos if i.params]
    titles = {
        "network": "The network",
        "forward": "Forward computation graph",
        "backward": "Backward computation graph",
    }
    readings = {
        "network": f"{ctx.model} on {ctx.data}: {setup.dataset.input_shape} inputs, {len(layers) - 1} hidden layers, "
        f"{setup.dataset.num_classes} outputs, {sum(setup.spec.count_params()):,} parameters.\n"
        "Drawn from the same spec object every engine builds from; large layers show their first and last units.",
        "forward": "Every operation from the input batch to the loss, with the shape of each tensor (batch rows first): "
        "Z = A W + b, then the activation, layer by layer.\nThe loss node adds the L2 term when --l2 is set.",
        "backward": "The same graph run backwards: each node's gradient comes from the one after it, dW = A^T delta and "
        "db = sum of delta over rows.\nFor softmax with cross-entropy the output delta is (P - Y) / m.",
    }
    return Section(
        which,
        titles[which],
        readings[which],
        f"bplab draw --model {ctx.model} --data {ctx.data} --format png --out drawings",
        [(ctx.rel(picture), f"{titles[which]} (rendered by {used}; DOT source: {dot.name})")],
        numbers={"renderer": used, "parameters": sum(setup.spec.count_params())},
    )


def network(ctx):
    return _draw(ctx, "network")


def forward(ctx):
    return _draw(ctx, "forward")


def backward(ctx):
    return _draw(ctx, "backward")


def equations(ctx: Context) -> Section:

    setup = mlp_setup(ctx)
    config = setup.config
    write_equations(setup.spec, config, ctx.folder, f"{ctx.model} on {ctx.data} ({config.loss}, {config.optimizer})")
    n = ctx.settings.get("batch_size", 16)
    if not isinstance(n, int) or n < 1:  # 'full' trains on every row; the check takes this many rows
        raise BplabError(f"[{ctx.key}] batch_size = {n!r}: the rows the gradients are checked on, a positive integer")
    x, y = setup.dataset.x_train[:n], setup.dataset.y_train[:n]
    derivation = derive(setup.spec, replace(config, dtype="float64"))
    checks = check(derivation, x, targets(setup.spec, y, "float64"), config.seed)
    worst = max(c.worst for c in checks)

    example, page = small_worked_example(ctx.folder)
    small_weights = ctx.folder / SMALL_WEIGHTS.name

    report = check_derivation("\n".join(typical_mistakes(derivation)), derivation, ctx.model)
    said = list(report.verdicts)
    matrix = typical_matrix_mistakes(derivation, "rows", "sum")
    for _, line in matrix.lines:  # each in a file of its own, after the correct output delta (its scale)
        said.append(check_derivation(matrix.file(line), derivation, ctx.model, layout="rows").verdicts[1])
    mistakes = [
        [v.text, "; ".join(f"{i.code}: {i.message}" for i in v.issues) or "(judged right)", v.expected or "-"]
        for v in said
    ]
    rows = [
        [
            c.symbol,
            f"{c.fd_rel:.1e}",
            f"{c.engine_rel:.1e}",
            "-" if c.chain_rel is None else f"{c.chain_rel:.1e}",
            "pass" if c.worst < TOLERANCE else "FAIL",
        ]
        for c in checks
    ]
    return Section(
        "equations",
        "Weight-update equations, derived and checked",
        f"The equations of every layer, generated from the rules the project declares once, in the batch-matrix "
        f"notation the code uses.\nEach gradient was evaluated on {n} examples (float64) and checked against "
        f"central finite differences of the derived loss, and the scratch engine against it: largest relative "
        f"difference {worst:.1e} (tolerance {TOLERANCE:.0e}).",
        f"bplab draw --model {ctx.model} --data {ctx.data} --out drawings  &&  "
        f"bplab gradcheck --model {ctx.model} --data {ctx.data}  &&  {small_command(ctx.rel(small_weights))}"
        "   # draw writes equations.html/.md/.tex/.svg",
        [],
        [
            Table(
                "Derived gradients checked (norm-wise relative difference)",
                [
                    "gradient",
                    "vs finite differences",
                    "scratch engine vs derived",
                    "chain-rule form vs recursion",
                    "result",
                ],
                rows,
            ),
            Table(
                "Common mistakes in hand derivations of this network, and what bplab check-derivation says: "
                "chain-rule lines, then one matrix-form line for each known matrix-form mistake (rows layout, "
                f"after the correct {matrix.first or 'output delta'}, deltas as sums over the batch)",
                ["hand-written line", "what is wrong", "the correct line"],
                mistakes,
                [0, 1, 2],
            ),
        ],
        {"worst_rel": worst, "all_passed": all(c.worst < TOLERANCE for c in checks)},
        math=mathml_blocks(derivation)
        + "<h3>A worked example small enough to show every number: the classic 2-2-2 network</h3>"
        f"<p>{html.escape(example.title)}. Loss {example.loss_before:.9g} before the step, "
        f"{example.losses[-1]:.9g} after it. The same rules as above, for two inputs, two sigmoid units, two "
        f"sigmoid outputs, the half squared error and plain gradient descent, with the numbers of the published "
        f"example; the explorer page (linked below) steps through them and recomputes every value when a number "
        f"is edited.</p>" + example.mathml_body("h4"),
        links=[
            (
                ctx.rel(page),
                "Step through this example in the explorer: every value of the forward pass, the loss, the deltas, "
                "the gradients and the update, one node at a time (an offline page beside this report)",
            )
        ],
    )


def small_worked_example(folder: Path):
    """Section 4's worked example (one step of the classic 2-2-2 network, biases fixed as published) and its
    explorer page, written to ``folder/explorer.html``."""

    spec = parse_model(SMALL_MODEL, (len(SMALL_INPUT),), len(SMALL_TARGET))
    weights = read_weights(SMALL_WEIGHTS, spec)
    x, y = np.array([SMALL_INPUT]), np.array([SMALL_TARGET])
    title = (
        f"{SMALL_MODEL} with the published weights, input {list(SMALL_INPUT)}, target {list(SMALL_TARGET)}; "
        f"{SMALL_CONFIG.loss}, sgd lr {SMALL_CONFIG.lr:g}"
    )
    example = worked_example(spec, SMALL_CONFIG, weights, x, y, fixed_biases=True, digits=9, title=title)
    page = build_page_data(spec, SMALL_CONFIG, weights, x, y, None, title, fixed_biases=True, steps=20)
    path = Path(folder) / "explorer.html"
    atomic_write(path, render_html(page).encode("utf-8"))
    atomic_write(Path(folder) / SMALL_WEIGHTS.name, SMALL_WEIGHTS.read_bytes())  # the command beside it reads it
    return example, path
