"""The non-overlapping max-pool fast path equals the strided-window path exactly, forward and
backward, ties included (the gradient goes to the first maximum in row-major order)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from backprop_lab.engines.scratch.layers.maxpool2d import MaxPool2DLayer
from backprop_lab.spec.model import LayerInfo, MaxPool2D


def window_reference(x, p):
    n, h, w, c = x.shape
    oh, ow = (h - p) // p + 1, (w - p) // p + 1
    win = sliding_window_view(x, (p, p), axis=(1, 2))[:, : (oh - 1) * p + 1 : p, : (ow - 1) * p + 1 : p]
    arg = win.reshape(n, oh, ow, c, p * p).argmax(-1)
    return ("window", x.shape, arg)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ties", [False, True])
def test_fast_path_equals_the_window_path(dtype, ties):
    rng = np.random.default_rng(1)
    layer = None
    for _ in range(60):
        n, h, w, c = (
            int(v)
            for v in rng.integers(1, 4, 1).tolist() + rng.integers(2, 12, 2).tolist() + rng.integers(1, 4, 1).tolist()
        )
        p = int(rng.integers(2, 4))
        if p > min(h, w):
            continue
        layer = MaxPool2DLayer(
            LayerInfo("pool", MaxPool2D(p, p), (h, w, c), ((h - p) // p + 1, (w - p) // p + 1, c), {})
        )
        x = (rng.integers(0, 3, (n, h, w, c)) if ties else rng.standard_normal((n, h, w, c))).astype(dtype)
        out, cache = layer.forward({}, x, False, None)
        assert cache[0] == "fast"
        reference = window_reference(x, p)
        d = rng.standard_normal(out.shape).astype(dtype)
        dx, _ = layer.backward({}, cache, d)
        dref, _ = layer.backward({}, reference, d)
        assert np.array_equal(dx, dref)
        assert np.array_equal(
            out,
            np.take_along_axis(
                sliding_window_view(x, (p, p), axis=(1, 2))[
                    :, : (out.shape[1] - 1) * p + 1 : p, : (out.shape[2] - 1) * p + 1 : p
                ].reshape(*out.shape, p * p),
                reference[2][..., None],
                -1,
            )[..., 0],
        )
    assert layer is not None
