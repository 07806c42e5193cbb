"""The reference MLP and its forward and backward graphs, as the drawing tests build them."""

from backprop_lab.maths.equations import derive
from backprop_lab.maths.graphs import backward_graph as backward_of
from backprop_lab.maths.graphs import forward_graph as forward_of
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

MLP = parse_model("mlp:256,128,64", (28, 28, 1), 10)


def forward_graph(spec, loss="categorical_crossentropy", l2=0.0):
    return forward_of(derive(spec, TrainConfig(loss=loss, l2=l2)))


def backward_graph(spec, loss="categorical_crossentropy", l2=0.0):
    return backward_of(derive(spec, TrainConfig(loss=loss, l2=l2)))
