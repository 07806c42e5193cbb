"""Scratch layers: one concept per file, forward and backward side by side.

Every layer is stateless: ``forward(params, x, training, rng)`` returns the
output and a cache for this call; ``backward(params, cache, dout, need_dx)``
returns (dL/dx or None, {param name: gradient}). Nothing is kept on ``self``
between calls.
"""

from __future__ import annotations

from backprop_lab.engines.scratch.layers.base import Layer
from backprop_lab.engines.scratch.layers.conv2d import Conv2DLayer
from backprop_lab.engines.scratch.layers.dense import DenseLayer
from backprop_lab.engines.scratch.layers.dropout import DropoutLayer
from backprop_lab.engines.scratch.layers.flatten import FlattenLayer
from backprop_lab.engines.scratch.layers.maxpool2d import MaxPool2DLayer
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, LayerInfo, MaxPool2D

_BUILDERS = {
    Dense: DenseLayer,
    Dropout: DropoutLayer,
    Flatten: FlattenLayer,
    Conv2D: Conv2DLayer,
    MaxPool2D: MaxPool2DLayer,
}


def build_layer(info: LayerInfo) -> Layer:
    return _BUILDERS[type(info.spec)](info)


__all__ = ["Layer", "build_layer", "DenseLayer", "DropoutLayer", "FlattenLayer", "Conv2DLayer", "MaxPool2DLayer"]
