"""Pictures and equations generated from the spec: graph structure, files, both renderers, numerical equations."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from backprop_lab.config import TrainConfig
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss, l2_factor
from backprop_lab.scratch.model import ScratchModel
from backprop_lab.spec import parse_model
from backprop_lab.training import targets
from backprop_lab.viz import render as render_mod
from backprop_lab.viz.equations import derive, evaluate, write_equations
from backprop_lab.viz.graph import backward_graph, forward_graph
from backprop_lab.viz.network import network_graph

MLP = parse_model("mlp:256,128,64", (28, 28, 1), 10)


def test_forward_graph_of_reference_mlp():
    g = forward_graph(MLP)
    params = {n.label: n.shape for n in g.by_kind("param")}
    assert params == {"W[1]": (784, 256), "b[1]": (256,), "W[2]": (256, 128), "b[2]": (128,),
                      "W[3]": (128, 64), "b[3]": (64,), "W[4]": (64, 10), "b[4]": (10,)}
    ops = [n.label for n in g.by_kind("op")]
    assert ops.count("matmul") == 4 and ops.count("add") == 4 and ops.count("relu") == 3
    assert ops.count("softmax") == 1 and ops.count("flatten") == 1
    assert [n.label for n in g.by_kind("loss")] == ["categorical cross-entropy"]
    assert {n.label: n.shape for n in g.by_kind("input")} == {"X": ("m", 28, 28, 1), "Y": ("m", 10)}
    labels = {e.label for e in g.edges}
    assert {"(m, 784)", "Z[1] (m, 256)", "A[3] (m, 64)", "A[4] (m, 10)", "(784, 256)"} <= labels
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


@pytest.mark.parametrize("model, shape", [("mlp:256,128,64", (28, 28, 1)), ("cnn:32,64,64/dropout=0.2", (28, 28, 1)),
                                          ("mlp:16,8/dropout=0.5", (8, 8, 1))])
def test_backward_graph_reaches_every_parameter_exactly_once(model, shape):
    spec = parse_model(model, shape, 10)
    g = backward_graph(spec)
    grads = [n for n in g.by_kind("param")]
    expected = sorted(f"d{k[0].upper() if k == 'W' else k}[{l}]" for l in range(1, len([i for i in spec.infos if i.params]) + 1)
                      for k in ("W", "b"))
    assert sorted(n.label for n in grads) == expected  # one gradient node per parameter
    reach = _reachable(g, "dL")
    assert all(n.id in reach for n in grads)
    # each delta comes from a matmul with the next layer's W^T and a product with g'(Z)
    labels = [n.label for n in g.by_kind("op")]
    assert any("ᵀ" in l for l in labels) and any(l.startswith("⊙ g'(Z[") for l in labels)


def test_network_graph_truncates_and_labels():
    g = network_graph(MLP, [str(i) for i in range(10)])
    captions = [n.label for n in g.by_kind("caption")]
    assert captions[0].startswith("input (28, 28, 1)") and "784 pixels" in captions[0]
    assert "256 units" in captions[1] and "relu" in captions[1] and "softmax" in captions[-1]
    outputs = [n.label for n in g.nodes if n.group == "dense_3" and n.kind == "neuron"]
    assert outputs == [str(i) for i in range(10)]
    assert sum(1 for n in g.by_kind("ellipsis")) == 4  # input and three hidden layers are truncated


def _check_picture(path, fmt):
    data = path.read_bytes()
    assert len(data) > 1000
    if fmt == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_renders_without_graphviz(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(render_mod.shutil, "which", lambda name: None)  # as on a fresh machine
    for graph in (network_graph(MLP), forward_graph(MLP), backward_graph(MLP)):
        picture, dot, used = render_mod.render(graph, tmp_path, fmt)
        assert used == "matplotlib"
        _check_picture(picture, fmt)
        assert dot.read_text().startswith(f'digraph "{graph.name}"')


@pytest.mark.skipif(not render_mod.graphviz_available(), reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_renders_with_graphviz(tmp_path, fmt):
    for graph in (network_graph(MLP), forward_graph(MLP), backward_graph(MLP)):
        picture, _, used = render_mod.render(graph, tmp_path, fmt)
        assert used == "graphviz"
        _check_picture(picture, fmt)


def test_graphviz_renderer_refused_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(render_mod.shutil, "which", lambda name: None)
    from backprop_lab.errors import BplabError

    with pytest.raises(BplabError, match="'dot' program is not installed"):
        render_mod.render(forward_graph(MLP), tmp_path, "svg", "graphviz")


CASES = [
    ("mlp:6,5,4", (8, 8, 1), "categorical_crossentropy", 0.0),
    ("mlp:6,5/act=tanh/out=sigmoid", (7,), "mse", 0.01),
    ("mlp:6,5/act=sigmoid/out=softmax", (7,), "mse", 0.0),
    ("mlp:5/act=relu/out=linear", (7,), "mse", 0.0),
    ("mlp:6/act=tanh", (7,), "categorical_crossentropy", 0.1),
    ("cnn:3,4", (12, 12, 1), "categorical_crossentropy", 0.001),
    ("cnn:3/pad=same", (6, 6, 2), "categorical_crossentropy", 0.0),
]


@pytest.mark.parametrize("model, shape, loss, l2", CASES)
def test_equations_evaluate_to_the_engines_gradients(model, shape, loss, l2):
    rng = np.random.default_rng(0)
    spec = parse_model(model, shape, 3)
    config = TrainConfig(loss=loss, l2=l2, dtype="float64", init="glorot_uniform")
    w = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in init_weights(spec.param_shapes(), config.init, 0, "float64").items()}
    x = rng.standard_normal((5, *shape))
    t = targets(spec, np.arange(5) % 3, "float64")
    model_ = ScratchModel(spec)
    out, caches = model_.forward(w, x)
    grads = model_.backward(w, caches, out, t, get_loss(loss), l2)
    ns = evaluate(derive(spec, config), spec, w, x, t, l2_factor(l2))
    for l, info in enumerate([i for i in spec.infos if i.params], start=1):
        assert np.allclose(ns[f"dW{l}"], grads[f"{info.name}/kernel"], rtol=1e-10, atol=1e-13)
        assert np.allclose(ns[f"db{l}"], grads[f"{info.name}/bias"], rtol=1e-10, atol=1e-13)
        assert np.allclose(ns[f"chain_dW{l}"], grads[f"{info.name}/kernel"], rtol=1e-10, atol=1e-13)
    assert ns["loss"] == pytest.approx(get_loss(loss).value(out, t) + l2_factor(l2) * sum((w[k] ** 2).sum() for k in model_.kernel_keys))


def test_equations_with_dropout_masks_match_the_engine():
    rng = np.random.default_rng(1)
    spec = parse_model("mlp:6,5/dropout=0.3", (7,), 3)
    config = TrainConfig(dtype="float64", init="glorot_uniform")
    w = init_weights(spec.param_shapes(), config.init, 0, "float64")
    x = rng.standard_normal((4, 7))
    t = targets(spec, np.arange(4) % 3, "float64")
    model_ = ScratchModel(spec)
    out, caches = model_.forward(w, x, training=True, rng=np.random.default_rng(5))
    grads = model_.backward(w, caches, out, t, get_loss("categorical_crossentropy"))
    # the engine's masks are scaled by 1/(1-p); the equations scale explicitly
    masks = {1: caches[1] * 0.7, 2: caches[3] * 0.7}
    ns = evaluate(derive(spec, config), spec, w, x, t, 0.0, masks)
    assert np.allclose(ns["dW1"], grads["dense_0/kernel"]) and np.allclose(ns["chain_dW1"], grads["dense_0/kernel"])


def test_a_wrong_derivation_would_be_caught():
    """The numerical check can fail: shift a layer index in the recursion and the gradients disagree."""
    spec = parse_model("mlp:6,5", (7,), 3)
    config = TrainConfig(dtype="float64")
    eqs = derive(spec, config)
    for eq in eqs:
        if eq.name == "dZ1":
            eq.numpy = eq.numpy.replace("Z1 > 0", "Z2[:, :6] > 0") if "Z2" not in eq.numpy else eq.numpy
            eq.numpy = eq.numpy.replace("@ W2.T", "@ W2.T * 1.5")
    rng = np.random.default_rng(0)
    w = init_weights(spec.param_shapes(), "glorot_uniform", 0, "float64")
    x = rng.standard_normal((4, 7))
    t = targets(spec, np.arange(4) % 3, "float64")
    ns = evaluate(eqs, spec, w, x, t)
    model_ = ScratchModel(spec)
    out, caches = model_.forward(w, x)
    grads = model_.backward(w, caches, out, t, get_loss("categorical_crossentropy"))
    assert not np.allclose(ns["dW1"], grads["dense_0/kernel"])


def test_equation_files(tmp_path):
    paths = write_equations(MLP, TrainConfig(l2=1e-4, optimizer="adam"), tmp_path, "test")
    md, tex, svg = (p.read_text() for p in paths)
    assert r"\delta^{[4]} = \frac{\partial \mathcal{L}}{\partial Z^{[4]}} = \frac{1}{m}(A^{[4]} - Y)" in md
    assert r"\delta^{[3]} = \left(\delta^{[4]} W^{[4]\top}\right) \odot \mathbf{1}[Z^{[3]} > 0]" in md
    assert r"dW^{[1]} = A^{[0]\top} \delta^{[1]} + 2\lambda W^{[1]}" in md
    assert "\\beta_1" in md and tex.startswith("\\documentclass") and tex.count("\\[") == tex.count("\\]")
    assert ET.fromstring(svg).tag.endswith("svg")
    # no invented shortcut: layer 1's gradient only ever involves W[2], never W[4] directly with Z[1]
    chain = [l for l in md.splitlines() if l.startswith("dW^{[1]} = A^{[0]\\top} \\left[")][0]
    assert chain.index("W^{[4]\\top}") < chain.index("W^{[3]\\top}") < chain.index("W^{[2]\\top}")
    assert not re.search(r"\^\{\[\d\]\}\^", md)  # no double superscripts
