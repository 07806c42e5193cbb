"""The computation graphs generated from a derivation: the forward graph's parameters, operations, loss and
edges, the L2 penalty, a backward graph that reaches every parameter's gradient once, nodes labelled with
values and gradient norms, and the dependencies a chain rule may use."""

import numpy as np
import pytest
from helpers.graphs import MLP, backward_graph, forward_graph

from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph as backward_of
from backprop_lab.maths.graphs import dependencies
from backprop_lab.maths.graphs import forward_graph as forward_of
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model


def test_forward_graph_of_reference_mlp():
    g = forward_graph(MLP)
    params = {n.label: n.shape for n in g.by_kind("param")}
    assert params == {
        "W[1]": (784, 256),
        "b[1]": (256,),
        "W[2]": (256, 128),
        "b[2]": (128,),
        "W[3]": (128, 64),
        "b[3]": (64,),
        "W[4]": (64, 10),
        "b[4]": (10,),
    }
    ops = [n.label for n in g.by_kind("op")]
    assert ops.count("matmul") == 4 and ops.count("add") == 4 and ops.count("relu") == 3
    assert ops.count("softmax") == 1 and ops.count("flatten") == 1
    assert [n.label for n in g.by_kind("loss")] == ["categorical cross-entropy (from the logits Z[4], as Keras)"]
    assert {n.label: n.shape for n in g.by_kind("input")} == {"X": ("m", 28, 28, 1), "Y": ("m", 10)}
    labels = {e.label for e in g.edges}
    assert {"A[0] (m, 784)", "Z[1] (m, 256)", "A[3] (m, 64)", "Z[4] (m, 10)", "W[1] (784, 256)"} <= labels
    for e in g.edges:  # every edge joins existing nodes
        g.node(e.src), g.node(e.dst)


def test_forward_graph_with_l2_adds_penalty():
    g = forward_graph(MLP, "mse", l2=1e-3)
    penalty = g.node("l2")
    assert sum(1 for e in g.edges if e.dst == penalty.id) == 4
    assert g.node("total").kind == "loss"


def _reachable(g, start):
    succ = {}
    for e in g.edges:
        succ.setdefault(e.src, []).append(e.dst)
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += succ.get(n, [])
    return seen


@pytest.mark.parametrize(
    "model, shape",
    [("mlp:256,128,64", (28, 28, 1)), ("cnn:32,64,64/dropout=0.2", (28, 28, 1)), ("mlp:16,8/dropout=0.5", (8, 8, 1))],
)
def test_backward_graph_reaches_every_parameter_exactly_once(model, shape):
    spec = parse_model(model, shape, 10)
    g = backward_graph(spec)
    grads = [n for n in g.by_kind("param")]
    expected = sorted(
        f"d{k[0].upper() if k == 'W' else k}[{l}]"
        for l in range(1, len([i for i in spec.infos if i.params]) + 1)
        for k in ("W", "b")
    )
    assert sorted(n.label for n in grads) == expected  # one gradient node per parameter
    reach = _reachable(g, "dL")
    assert all(n.id in reach for n in grads)
    # each delta before the last comes from a matmul with W[l+1]^T (or col2im for a convolution) and g'(Z[l])
    labels = [n.label for n in g.by_kind("op")]
    assert "transpose" in labels and "1[· > 0]" in labels
    deltas = [n for n in g.by_kind("grad")]
    assert len(deltas) == len([i for i in spec.infos if i.params])
    assert all(n.id in reach for n in deltas)


def test_graph_nodes_carry_values_and_gradient_norms(tmp_path):
    from backprop_lab.analysis.derivation_check import dropout_masks

    spec = parse_model("mlp:6,5/dropout=0.5", (7,), 3)
    d = derive(spec, TrainConfig(l2=0.01))
    rng = np.random.default_rng(0)
    w = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    env = d.evaluate(w, rng.standard_normal((4, 7)), np.eye(3)[[0, 1, 2, 0]], dropout_masks(d, 4, 0))
    fwd, bwd = forward_of(d, env), backward_of(d, env)
    z1 = next(n for n in fwd.nodes if n.label.startswith("add"))  # Z[1] = A[0] W[1] + b[1]
    assert f"mean {env['Z1'].mean():.3g}" in z1.label
    dw1 = bwd.node("dW1")
    assert f"‖·‖ = {np.linalg.norm(env['dW1']):.3g}" in dw1.label
    assert "= " in fwd.node("total").label


def test_dependencies_read_the_loss_from_the_output_and_keep_weightless_symbols():
    fused = dependencies(derive(parse_model("mlp:4/dropout=0.5", (3,), 2), TrainConfig()))
    assert fused["loss"] == ["Y", "A2"]  # computed from the logits Z2, read as the mathematics writes it: of A2
    assert fused["Z2"] == ["D1", "W2", "b2"] and fused["D1"] == ["A1", "M1"]  # dropout D1 and its mask M1
    with_l2 = dependencies(derive(parse_model("mlp:4", (3,), 2), TrainConfig(l2=0.1, loss="mse")))
    assert with_l2["loss"] == ["A2", "Y", "W1", "W2"]  # the penalty reads every kernel; lambda is a scalar
    pooled = dependencies(derive(parse_model("cnn:2", (6, 6, 1), 2), TrainConfig()))
    assert (pooled["P1"], pooled["F1"], pooled["Z2"][0]) == (["A1"], ["P1"], "F1")
