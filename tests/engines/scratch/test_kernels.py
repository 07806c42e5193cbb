"""The compiled fast paths of the scratch layers (``scratch/kernels.py``: fused bias + ReLU, ReLU',
col2im image by image, max-pool with a one-byte argmax, softmax and the cross-entropy from its
log-sum-exp) give the same numbers as the NumPy paths
they replace, bit for bit, and agree with the plain reference definitions of ``derive/ops.py``:
odd sizes, every stride / padding combination, ties in max-pool, float32 and float64. Without numba
the layer tests still check the NumPy paths against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.layers.conv2d import (
    Conv2DLayer,
)
from backprop_lab.engines.scratch.layers.dense import DenseLayer
from backprop_lab.engines.scratch.layers.maxpool2d import MaxPool2DLayer
from backprop_lab.engines.scratch.model import ScratchModel
from backprop_lab.maths import ops
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss
from backprop_lab.spec.model import Conv2D, Dense, Flatten, LayerInfo, MaxPool2D, ModelSpec

needs_numba = pytest.mark.skipif(kernels.col2im is None, reason="numba is not installed (or BPLAB_NO_NUMBA is set)")
COMPILED = (
    "bias_relu",
    "relu_backward",
    "relu_backward_sum",
    "col2im",
    "maxpool_forward",
    "maxpool_backward",
    "maxpool_relu_backward",
    "bias_relu_maxpool",
    "softmax_shift",
    "softmax_scale",
    "crossentropy_sum",
)


@pytest.fixture
def numpy_paths(monkeypatch):
    """A function that runs its argument with every compiled kernel switched off (the NumPy paths)."""

    def run(fn, *args):
        with monkeypatch.context() as m:
            for name in COMPILED:
                m.setattr(kernels, name, None)
            return fn(*args)

    return run


def conv_layer(h, w, c, f, k, s, padding, activation):
    if padding == "same":
        oh, ow = -(-h // s), -(-w // s)
    else:
        oh, ow = (h - k) // s + 1, (w - k) // s + 1
    return Conv2DLayer(
        LayerInfo(
            "conv", Conv2D(f, k, s, padding, activation), (h, w, c), (oh, ow, f), {"kernel": (k, k, c, f), "bias": (f,)}
        )
    )


def conv_step(layer, params, x, d):
    out, cache = layer.forward(params, x, True, None)
    dx, grads = layer.backward(params, cache, d)
    return out, dx, grads


CONV_CASES = [  # (n, h, w, c, f, k, s, padding)
    (2, 7, 9, 1, 3, 3, 1, "valid"),
    (2, 7, 9, 3, 4, 3, 2, "valid"),
    (1, 8, 5, 2, 5, 3, 3, "valid"),
    (3, 6, 7, 5, 2, 2, 2, "valid"),
    (2, 5, 5, 1, 3, 1, 1, "valid"),
    (2, 9, 6, 3, 4, 5, 2, "valid"),
    (2, 7, 9, 3, 4, 3, 1, "same"),
    (2, 7, 9, 1, 3, 3, 2, "same"),
    (1, 8, 5, 2, 5, 4, 3, "same"),
    (2, 6, 6, 5, 3, 2, 1, "same"),
    (1, 5, 4, 3, 2, 5, 2, "same"),
    (2, 9, 8, 2, 3, 2, 3, "valid"),
    (1, 8, 7, 2, 3, 2, 3, "same"),  # gaps between patches
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_compiled_equals_numpy_and_the_reference(case, activation, dtype, numpy_paths):
    n, h, w, c, f, k, s, padding = case
    rng = np.random.default_rng(sum(case[:7]))
    layer = conv_layer(h, w, c, f, k, s, padding, activation)
    params = {"kernel": rng.standard_normal((k, k, c, f)).astype(dtype), "bias": rng.standard_normal(f).astype(dtype)}
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    d = rng.standard_normal((n, *layer.info.output_shape)).astype(dtype)
    fast = conv_step(layer, params, x, d)
    slow = numpy_paths(conv_step, layer, params, x, d)
    assert fast[0].dtype == np.dtype(dtype) and fast[1].dtype == np.dtype(dtype) and fast[1].shape == x.shape
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    for key in params:
        assert np.array_equal(fast[2][key], slow[2][key])
    # against the plain definitions (float64, sum by sum)
    x64, w64, d64 = x.astype(float), params["kernel"].astype(float), d.astype(float)
    z = ops.conv2d(x64, w64, s, padding) + params["bias"].astype(float)
    g = {"relu": d64 * (z > 0), "tanh": d64 * (1 - np.tanh(z) ** 2), "linear": d64}[activation]
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(fast[1], ops.conv2d_dx(g, w64, (h, w, c), s, padding), rtol=tol, atol=tol)
    np.testing.assert_allclose(fast[2]["kernel"], ops.conv2d_dw(x64, g, k, s, padding), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_relu_compiled_equals_numpy(dtype, numpy_paths):
    rng = np.random.default_rng(3)
    layer = DenseLayer(LayerInfo("dense", Dense(7, "relu"), (5,), (7,), {"kernel": (5, 7), "bias": (7,)}))
    params = {"kernel": rng.standard_normal((5, 7)).astype(dtype), "bias": rng.standard_normal(7).astype(dtype)}
    x = rng.standard_normal((11, 5)).astype(dtype)
    d = rng.standard_normal((11, 7)).astype(dtype)
    d[0, 0] = -0.0
    fast = conv_step(layer, params, x, d)
    slow = numpy_paths(conv_step, layer, params, x, d)
    for a, b in zip(fast[:2], slow[:2]):
        assert a.dtype == np.dtype(dtype) and np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))
    assert all(np.array_equal(fast[2][k], slow[2][k]) for k in params)


@needs_numba
def test_relu_derivative_keeps_nan_and_the_sign_of_zero():
    a = np.array([1.0, 0.0, 2.0, 0.0, 3.0], dtype=np.float32)
    da = np.array([np.nan, np.nan, -1.0, -1.0, -0.0], dtype=np.float32)
    out = np.empty_like(da)
    kernels.relu_backward(da, a, out, np.float32(1), np.float32(0))
    expected = da * (a > 0)
    assert np.array_equal(out, expected, equal_nan=True) and np.array_equal(np.signbit(out), np.signbit(expected))


POOL_CASES = [  # (n, h, w, c, pool, step)
    (2, 8, 8, 3, 2, 2),
    (2, 7, 9, 2, 2, 2),
    (1, 9, 7, 3, 3, 3),
    (2, 11, 10, 4, 3, 3),
    (1, 9, 11, 2, 2, 3),
    (2, 10, 7, 1, 3, 4),
    (1, 4, 4, 5, 1, 1),
    (1, 5, 6, 2, 1, 2),
    (3, 6, 6, 32, 2, 2),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_compiled_equals_numpy_and_the_reference(case, ties, dtype, numpy_paths):
    n, h, w, c, p, s = case
    rng = np.random.default_rng(sum(case))
    oh, ow = (h - p) // s + 1, (w - p) // s + 1
    layer = MaxPool2DLayer(LayerInfo("pool", MaxPool2D(p, s), (h, w, c), (oh, ow, c), {}))
    x = (rng.integers(0, 3, (n, h, w, c)) if ties else rng.standard_normal((n, h, w, c))).astype(dtype)
    d = rng.standard_normal((n, oh, ow, c)).astype(dtype)
    fast = conv_step(layer, {}, x, d)
    slow = numpy_paths(conv_step, layer, {}, x, d)
    assert fast[1].dtype == np.dtype(dtype)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    assert np.array_equal(fast[0], ops.maxpool(x, p, s))
    assert np.array_equal(fast[1], ops.maxpool_back(d, x, p, s))


@needs_numba
def test_maxpool_routes_nan_as_argmax_does():
    x = np.array([1.0, np.nan, 3.0, np.nan], dtype=np.float32).reshape(1, 2, 2, 1)
    out = np.empty((1, 1, 1, 1), dtype=np.float32)
    arg = np.empty(out.shape, dtype=np.uint8)
    kernels.maxpool_forward(x, 2, 2, out, arg)
    assert np.isnan(out[0, 0, 0, 0]) and arg[0, 0, 0, 0] == np.argmax(x.reshape(-1)) == 1


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p, s", [(2, 2), (3, 3), (2, 3)])
def test_bias_relu_and_pool_in_one_pass_equal_the_two_kernels(p, s, dtype):
    """Ties at 0 (dead units), NaN (kept by the ReLU, taken by the pool), -0.0, a cropped edge."""
    rng = np.random.default_rng(p * 10 + s)
    z = rng.standard_normal((3, 9, 8, 5)).astype(dtype)
    z[0] = -1.0
    z[1, 0, 1, 2] = np.nan
    z[2, :2, :2] = -0.0
    bias = rng.standard_normal(5).astype(dtype)
    bias[3] = 0
    oh, ow = (9 - p) // s + 1, (8 - p) // s + 1
    out, arg = np.empty((3, oh, ow, 5), dtype), np.empty((3, oh, ow, 5), np.uint8)
    kernels.bias_relu_maxpool(z.copy(), bias, z.dtype.type(0), p, s, out, arg)
    a = z.copy().reshape(-1, 5)
    kernels.bias_relu(a, bias, z.dtype.type(0))
    out2, arg2 = np.empty_like(out), np.empty_like(arg)
    kernels.maxpool_forward(a.reshape(z.shape), p, s, out2, arg2)
    assert np.array_equal(out, out2, equal_nan=True) and np.array_equal(arg, arg2)
    assert np.array_equal(np.signbit(out), np.signbit(out2)) and np.isnan(out[1]).any()


RELU_POOL_CASES = [  # (input shape, pool, stride): covered, cropped edges, gaps between windows, overlapping windows
    ((12, 12, 2), 2, 2),
    ((11, 9, 1), 2, 2),
    ((13, 13, 3), 2, 3),
    ((12, 12, 2), 3, 2),
    ((10, 10, 1), 3, 3),
]


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", RELU_POOL_CASES)
def test_pool_after_relu_backward_in_one_pass_equals_the_two_steps(case, dtype, numpy_paths, monkeypatch):
    """The fused pass gives dL/dZ of the ReLU layer exactly as the pool's backward followed by ReLU' does, the
    sign of every zero included: dead units, windows of zeros (ties at 0), negative gradients."""
    shape, p, s = case
    rng = np.random.default_rng(len(shape) + p * 10 + s)
    conv = conv_layer(*shape, 4, 3, 1, "valid", "relu")
    h, w = shape[0] - 2, shape[1] - 2
    oh, ow = (h - p) // s + 1, (w - p) // s + 1
    pool = MaxPool2DLayer(LayerInfo("pool", MaxPool2D(p, s), (h, w, 4), (oh, ow, 4), {}))
    params = {"kernel": rng.standard_normal((3, 3, shape[2], 4)).astype(dtype), "bias": np.full(4, -0.5, dtype)}
    x = rng.standard_normal((3, *shape)).astype(dtype)
    x[0] = 0  # every unit of the first image dead: windows of zeros
    a, conv_cache = conv.forward(params, x, True, None)
    assert (a == 0).mean() > 0.3
    out, pool_cache = pool.forward({}, a, True, None)
    d = rng.standard_normal(out.shape).astype(dtype)
    fused = pool.backward_through_relu(pool_cache, d)
    if s < p:  # overlapping windows take the NumPy window path: nothing to fuse
        assert fused is None
        return
    two = conv.activation_backward(conv_cache[1], a, pool.backward({}, pool_cache, d)[0])
    slow = numpy_paths(
        lambda: conv.activation_backward(
            conv_cache[1], a, pool.backward({}, numpy_paths(pool.forward, {}, a, True, None)[1], d)[0]
        )
    )
    for other in (two, slow):
        assert fused.dtype == other.dtype and np.array_equal(fused, other)
        assert np.array_equal(np.signbit(fused), np.signbit(other))


@needs_numba
@pytest.mark.parametrize("case", RELU_POOL_CASES)
def test_a_network_with_relu_then_pool_has_the_same_gradients_fused_or_not(case, numpy_paths, monkeypatch):
    shape, p, s = case
    spec = ModelSpec(
        shape,
        (
            Conv2D(4, 3, 1, "valid", "relu"),
            MaxPool2D(p, s),
            Conv2D(3, 1, 1, "valid", "relu"),
            MaxPool2D(1, 1),
            Flatten(),
            Dense(5, "softmax"),
        ),
    )
    rng = np.random.default_rng(7)
    weights = init_weights(spec.param_shapes(), "glorot_uniform", 1, "float32")
    for key in weights:
        if key.endswith("/bias"):  # not the zeros of the initialiser: the fused passes add them
            weights[key] = rng.normal(0, 0.3, weights[key].shape).astype("float32")
    x = rng.standard_normal((4, *shape)).astype("float32")
    t = np.eye(5, dtype="float32")[rng.integers(0, 5, 4)]
    model, loss = ScratchModel(spec), get_loss("categorical_crossentropy")

    def grads():
        out, caches = model.forward(weights, x, True, None)
        return model.backward(weights, caches, out, t, loss)

    fused = grads()
    out, caches = model.forward(weights, x, True, None)
    if s >= p:  # the first pool took the conv's bias and ReLU: no Z or A was kept
        assert caches[0][1] is None and caches[0][2] is None
    with monkeypatch.context() as m:
        m.setattr(kernels, "bias_relu_maxpool", None)  # forward in two passes, backward fused
        backward_only = grads()
        m.setattr(kernels, "maxpool_relu_backward", None)  # neither
        two = grads()
    slow = numpy_paths(grads)
    assert list(fused) == list(backward_only) == list(two) == list(slow)
    for k in fused:
        for other in (backward_only, two, slow):
            assert np.array_equal(fused[k], other[k]), k
    assert np.array_equal(out, numpy_paths(model.forward, weights, x, True, None)[0])


CROP_CASES = [  # (input shape, conv (filters, kernel, stride, padding, activation), pool (size, stride)), the pool not tiling
    ((13, 13, 1), (4, 3, 1, "valid", "relu"), (2, 2)),  # 11 x 11 -> the pool reads 10 x 10
    ((12, 9, 2), (3, 3, 1, "valid", "relu"), (3, 3)),  # 10 x 7 -> 9 x 6
    ((11, 10, 3), (4, 3, 2, "same", "relu"), (2, 2)),  # stride 2, 'same': 6 x 5 -> 6 x 4
    ((10, 11, 1), (2, 2, 1, "valid", "tanh"), (3, 2)),  # overlapping windows, no fused pass: 9 x 10 -> 9 x 9
    ((12, 12, 2), (3, 3, 1, "valid", "sigmoid"), (2, 3)),  # gaps between windows: 10 x 10 -> 8 x 8
    ((9, 9, 2), (3, 5, 1, "same", "relu"), (4, 2)),  # 9 x 9 -> 8 x 8
]


@pytest.mark.parametrize("case", CROP_CASES)
@pytest.mark.parametrize("compiled", [True, False])
def test_a_convolution_computes_only_what_the_pool_after_it_reads(case, compiled, numpy_paths):
    """Cropped to the rows and columns the pool reads, the network's output and every gradient are those of the
    whole convolution (float64: the sums lose only zero terms), and the cropping really happens."""
    shape, conv, (p, s) = case
    spec = ModelSpec(shape, (Conv2D(*conv), MaxPool2D(p, s), Flatten(), Dense(3, "relu"), Dense(4, "softmax")))
    rng = np.random.default_rng(3)
    weights = init_weights(spec.param_shapes(), "glorot_uniform", 2, "float64")
    for key in weights:
        if key.endswith("/bias"):
            weights[key] = rng.normal(0, 0.3, weights[key].shape)
    x = rng.standard_normal((3, *shape))
    t = np.eye(4)[rng.integers(0, 4, 3)]
    loss = get_loss("categorical_crossentropy")
    cropped, whole = ScratchModel(spec), ScratchModel(spec)
    whole._conv_before_pool = whole._conv_into_pool = set()  # the convolution computed whole, then pooled

    def run(model):
        out, caches = model.forward(weights, x, True, None)
        return out, caches, model.backward(weights, caches, out, t, loss)

    (out, caches, grads), (out_whole, caches_whole, grads_whole) = (
        (run(cropped), run(whole)) if compiled else (numpy_paths(run, cropped), numpy_paths(run, whole))
    )
    oh, ow = spec.infos[0].output_shape[:2]
    rows = len(x) * MaxPool2D(p, s).extent(oh) * MaxPool2D(p, s).extent(ow)
    assert rows < len(x) * oh * ow  # the case crops
    assert caches[0][3].shape[0] == rows and caches_whole[0][3].shape[0] == len(x) * oh * ow
    np.testing.assert_allclose(out, out_whole, rtol=1e-12, atol=1e-15)
    assert list(grads) == list(grads_whole)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads_whole[k], rtol=1e-10, atol=1e-14, err_msg=k)


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pairwise_sum_adds_in_numpys_order(dtype):
    """Every length across the three regimes (under 8, up to 128, split in halves), signed zeros, and values
    whose sum depends on the order: the compiled sum is np.sum's number."""
    rng = np.random.default_rng(11)
    zero = np.dtype(dtype).type(0)
    for n in [*range(0, 140), 255, 256, 257, 300, 1000, 1031, 4097]:
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 7, n)).astype(dtype)
        assert kernels._pairwise_sum(a, 0, n, zero) + zero == np.sum(a), n
        if n > 3:  # a slice of a larger array
            assert kernels._pairwise_sum(a, 2, n - 3, zero) + zero == np.sum(a[2 : n - 1]), n
    negative_zeros = np.full(9, -0.0, dtype)
    assert not np.signbit(zero + kernels._pairwise_sum(negative_zeros, 0, 9, zero)) and not np.signbit(
        np.sum(negative_zeros)
    )


def softmax_layer(k, features=4):
    return DenseLayer(LayerInfo("out", Dense(k, "softmax"), (features,), (k,), {"kernel": (features, k), "bias": (k,)}))


def softmax_loss(layer, params, x, y):
    model = ScratchModel.__new__(ScratchModel)  # only loss_value's own state: the last layer and the kernels
    model.layers, model.output_activation, model.kernel_keys = [layer], "softmax", []
    with np.errstate(all="ignore"):  # the rows with NaN and inf
        out, cache = layer.forward(params, x, True, None)
        return out, cache, model.loss_value(params, [cache], out, y, get_loss("categorical_crossentropy"))


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_crossentropy_compiled_equal_numpy(dtype, numpy_paths):
    """Random batch sizes and class counts (one class, ties, huge and tiny logits, a row with NaN, one with
    inf, soft targets): the probabilities, the kept log-sum-exp and the loss value are the NumPy path's, bit for bit."""
    rng = np.random.default_rng(5)
    for trial in range(40):
        rows, k = int(rng.integers(1, 300)), int(rng.integers(1, 41))
        layer = softmax_layer(k)
        params = {"kernel": rng.standard_normal((4, k)).astype(dtype), "bias": rng.standard_normal(k).astype(dtype)}
        x = (rng.standard_normal((rows, 4)) * 10.0 ** rng.integers(-3, 3)).astype(dtype)
        if trial % 4 == 1:
            x[:, :] = np.round(x)  # ties in the maximum
            params["kernel"][:] = np.round(params["kernel"])
            params["bias"][:] = 0
        y = np.eye(k, dtype=dtype)[rng.integers(0, k, rows)]
        if trial % 3 == 2:
            y = rng.dirichlet(np.ones(k), rows).astype(dtype)
        if trial % 5 == 3 and rows > 2:
            x[0, 0], x[1, 1] = np.nan, np.inf
        fast = softmax_loss(layer, params, x, y)
        slow = numpy_paths(softmax_loss, layer, params, x, y)
        assert fast[1][3] is not None and slow[1][3] is None  # the compiled path kept the log-sum-exp; NumPy's did not
        assert fast[0].dtype == np.dtype(dtype) and np.array_equal(fast[0], slow[0], equal_nan=True), trial
        assert np.array_equal(fast[1][1], slow[1][1], equal_nan=True)
        assert fast[2] == slow[2] or (np.isnan(fast[2]) and np.isnan(slow[2])), (trial, fast[2], slow[2])
        if not np.isnan(x).any():
            z = fast[1][1].astype(float)  # and the definition: mean_i sum_k y (logsumexp - z)
            lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) + z.max(
                axis=1, keepdims=True
            )
            want = float((y * (lse - z)).sum(axis=1).mean())
            assert np.isclose(fast[2], want, rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-5), trial


@needs_numba
def test_crossentropy_from_targets_of_another_dtype_takes_the_numpy_path():
    rng = np.random.default_rng(2)
    layer = softmax_layer(6)
    params = {"kernel": rng.standard_normal((4, 6)).astype("float32"), "bias": np.zeros(6, "float32")}
    x = rng.standard_normal((9, 4)).astype("float32")
    y = np.eye(6)[rng.integers(0, 6, 9)]  # float64 targets: NumPy promotes, and so must the value
    _, cache, value = softmax_loss(layer, params, x, y)
    assert value == get_loss("categorical_crossentropy").value_from_logits(cache[1], y)


CACHED_STEP = """
import numpy as np
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss
from backprop_lab.engines.scratch import kernels
from backprop_lab.engines.scratch.model import ScratchModel
from backprop_lab.spec.model import parse_model
assert kernels.crossentropy_sum is not None
rng = np.random.default_rng(0)
for text, rows in (("mlp:8", 300), ("cnn:2,3", 5)):  # more than 128 rows: the sums' halving
    spec = parse_model(text, (12, 12, 1), 3)
    w = init_weights(spec.param_shapes(), "glorot_uniform", 0, "float32")
    model, loss = ScratchModel(spec), get_loss("categorical_crossentropy")
    x = rng.random((rows, 12, 12, 1), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, rows)]
    out, caches = model.forward(w, x, True, None)
    print(model.loss_value(w, caches, out, y, loss), sorted(model.backward(w, caches, out, y, loss)))
"""


@needs_numba
def test_the_compiled_kernels_load_back_from_numbas_cache(tmp_path):
    """Each kernel is compiled with cache=True: a second process loads it from the cache (a recursive
    kernel once crashed the process there) and computes the same numbers as the first."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", CACHED_STEP], capture_output=True, text=True, env=env, timeout=600)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    assert any(tmp_path.rglob("*.nbi")) and runs[0].stdout == runs[1].stdout and runs[0].stdout.count("kernel") >= 2


def _compiled_as_run_on_an_avx2_host() -> bool:
    import os

    import llvmlite.binding as llvm

    if (
        any(
            os.environ.get(name)
            for name in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NUMBA_DISABLE_JIT", "NUMBA_BOUNDSCHECK")
        )
        or os.environ.get("NUMBA_OPT", "3") != "3"
    ):
        return False  # compiled for another CPU, not compiled, or compiled other than as the package runs it
    return bool(llvm.get_host_cpu_features().get("avx2"))


@needs_numba
@pytest.mark.skipif(
    kernels.col2im is None or not _compiled_as_run_on_an_avx2_host(), reason="needs numba and an AVX2 CPU"
)
def test_adams_kernel_is_vectorised_full_width():
    """Adam's fused loop is bound by float32 sqrt and division; on an AVX2 CPU LLVM must do them 8 at a
    time (ymm). A loop-carried int flag once made it choose 4 (xmm), which halved its speed; this reads
    the compiled code, not a clock."""
    import re

    import numba

    # compiled afresh with the kernel's own options: a kernel loaded from numba's cache has no assembly to read
    options = {k: v for k, v in kernels.adam_update_keep.targetoptions.items() if k != "nopython"}  # njit's own
    kernel = numba.njit(**options)(kernels.adam_update_keep.py_func)
    w, g, m, v, old = (np.full(64, 0.5, np.float32) for _ in range(5))
    f = np.float32
    assert kernel(w, g, m, v, old, f(0.1), f(0.001), f(0.001), f(1e-7))
    asm = kernel.inspect_asm(kernel.signatures[0])
    widths = {(op, reg) for op, reg in re.findall(r"\b(vsqrtps|vdivps)\s+[^\n]*?%([xyz]mm)", asm)}
    assert ("vsqrtps", "ymm") in widths and ("vdivps", "ymm") in widths, sorted(widths)


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, units", [(1, 1), (3, 7), (128, 256), (1000, 3), (2, 600)])
def test_relu_derivative_and_bias_sum_in_one_pass_equal_numpys(rows, units, dtype):
    """kernels.relu_backward_sum: dZ = dA * [A > 0] and db = dZ.sum(axis=0), bit for bit NumPy's (its sum over
    axis 0 starts from +0 and adds row after row: a column of -0.0 sums to +0.0), NaN, inf and -0.0 included."""
    rng = np.random.default_rng(rows * 1000 + units)
    da = (rng.standard_normal((rows, units)) * 10.0 ** rng.integers(-4, 4, (rows, units))).astype(dtype)
    a = np.where(rng.random((rows, units)) < 0.5, 0.0, rng.random((rows, units))).astype(dtype)
    da[:, 0] = -0.0
    if rows > 2 and units > 2:
        da[1, 1], da[2, 2], a[1, 1], a[2, 2] = np.nan, np.inf, 1.0, 1.0
    out, db = np.empty_like(da), np.empty(units, dtype=dtype)
    kernels.relu_backward_sum(da, a, out, db, np.dtype(dtype).type(1), np.dtype(dtype).type(0))
    with np.errstate(invalid="ignore"):
        expected = da * (a > 0)
        expected_db = expected.sum(axis=0)
    assert np.array_equal(out.view(f"u{out.itemsize}"), expected.view(f"u{out.itemsize}"))
    assert np.array_equal(db.view(f"u{db.itemsize}"), expected_db.view(f"u{db.itemsize}"))


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape, s", [((3, 9, 8, 5), 2), ((2, 8, 8, 32), 2), ((2, 11, 7, 3), 3), ((1, 2, 2, 1), 2)])
def test_the_2x2_pool_kernels_equal_the_general_ones(shape, s, relu, dtype):
    """Forward (with and without the bias and ReLU) and backward of the 2 x 2 kernels against the general kernels
    run with p = 2, bit for bit: ties, NaN in several offsets, -0.0, infinities, windows with gaps between them.
    (The bias is never NaN here: NaN + NaN may keep either NaN, see _maxpool2_take.)"""
    rng = np.random.default_rng(len(shape) * 7 + s)
    z = rng.integers(-2, 3, shape).astype(dtype)  # many ties
    z[0, 0, :2] = np.nan
    z[-1, -1] = -0.0
    z.reshape(-1)[5::17] = np.inf
    z.reshape(-1)[7::19] = -np.inf
    bias = rng.standard_normal(shape[3]).astype(dtype) if relu else np.zeros(1, dtype)
    oh, ow = (shape[1] - 2) // s + 1, (shape[2] - 2) // s + 1
    f = z.dtype.type
    d = rng.standard_normal((shape[0], oh, ow, shape[3])).astype(dtype)
    d.reshape(-1)[3::11] = np.nan
    outs = []
    for take, route in (
        (kernels._maxpool2_take, kernels._maxpool2_route),
        (lambda *a: kernels._maxpool_take(*a[:2], 2, *a[2:]), lambda *a: kernels._maxpool_route(*a[:3], 2, *a[3:])),
    ):
        out, arg = np.full(d.shape, 7, dtype), np.full(d.shape, 9, np.uint8)
        take(z, bias, s, out, arg, f(0), relu)
        dx = np.full(shape, 5, dtype)
        route(d, arg, out, s, dx, f(1), f(0), relu)
        outs.append((out, arg, dx))
    (o1, a1, x1), (o2, a2, x2) = outs
    assert np.array_equal(o1.view(f"u{o1.itemsize}"), o2.view(f"u{o2.itemsize}"))
    assert np.array_equal(a1, a2) and np.array_equal(x1.view(f"u{x1.itemsize}"), x2.view(f"u{x2.itemsize}"))
