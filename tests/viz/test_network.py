"""The network diagram: layers captioned as the equations name them, wide layers truncated, outputs by class."""

from helpers.graphs import MLP

from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.viz.network import network_graph


def test_network_graph_truncates_and_labels():
    g = network_graph(MLP, [str(i) for i in range(10)])
    captions = [n.label for n in g.by_kind("caption")]
    assert captions[0].startswith("input X (28, 28, 1)") and "784 pixels" in captions[0]
    assert "256 units" in captions[1] and "relu" in captions[1] and "softmax" in captions[-1]
    # the diagram names the layers as the equations do (W[1]); dense_0 is only for files
    for layer, caption in zip(derive(MLP, TrainConfig()).layers, captions[1:]):
        assert caption.startswith(f"layer {layer.l}: ") and f"W[{layer.l}], b[{layer.l}]" in caption
    assert not any("dense" in c for c in captions)
    outputs = [n.label for n in g.nodes if n.group == "dense_3" and n.kind == "neuron"]
    assert outputs == [str(i) for i in range(10)]
    assert sum(1 for n in g.by_kind("ellipsis")) == 4  # input and three hidden layers are truncated
