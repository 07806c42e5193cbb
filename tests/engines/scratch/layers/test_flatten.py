"""The scratch Flatten layer (engines/scratch/layers/flatten.py): row-major (Keras) order, and back."""

from __future__ import annotations

import numpy as np

from backprop_lab.engines.scratch.layers.flatten import FlattenLayer
from backprop_lab.spec.model import Flatten, ModelSpec


def test_flattens_each_image_row_by_row_and_backward_restores_the_shape():
    layer = FlattenLayer(ModelSpec((2, 3, 2), (Flatten(),)).infos[0])
    x = np.arange(2 * 2 * 3 * 2, dtype=np.float32).reshape(2, 2, 3, 2)
    out, cache = layer.forward({}, x, True, None)
    assert out.shape == (2, 12) and out.dtype == np.float32
    assert out[1].tolist() == x[1].reshape(-1).tolist()  # (h, w, c): the channel changes fastest
    assert out[0, :3].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0]]
    dout = np.random.default_rng(0).standard_normal((2, 12))
    dx, grads = layer.backward({}, cache, dout)
    assert grads == {} and dx.shape == x.shape
    assert np.array_equal(dx[1, 0, 1], dout[1, 2:4])  # each gradient goes back to the entry it came from
