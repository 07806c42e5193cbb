"""Each optimizer against a step computed by hand, and against Keras 3 itself over several steps."""

import math

import numpy as np
import pytest

from backprop_lab.engines.scratch.optimizers import SGD, Adam, RMSprop, make_optimizer
from backprop_lab.options.config import TrainConfig
from backprop_lab.training.loop import blend, learning_rate

W0 = np.array([1.0, -2.0])
G = np.array([0.5, 0.25])


def _steps(opt, grads, lr):
    w = {"w": W0.copy()}
    state = opt.build(w)
    for g in grads:
        opt.apply(w, {"w": np.array(g)}, state, lr)
    return w["w"]


def test_sgd_by_hand():
    assert np.allclose(_steps(SGD(), [G], 0.1), [1 - 0.05, -2 - 0.025])


def test_momentum_and_nesterov_by_hand():
    # v1 = -lr g;  v2 = mu v1 - lr g
    lr, mu = 0.1, 0.9
    v1 = -lr * G
    v2 = mu * v1 - lr * G
    assert np.allclose(_steps(SGD(mu), [G, G], lr), W0 + v1 + v2)
    nesterov = W0 + (mu * v1 - lr * G) + (mu * v2 - lr * G)
    assert np.allclose(_steps(SGD(mu, nesterov=True), [G, G], lr), nesterov)


def test_rmsprop_by_hand():
    s = 0.1 * G**2  # rho = 0.9
    assert np.allclose(_steps(RMSprop(), [G], 0.01), W0 - 0.01 * G / np.sqrt(s + 1e-7))


def test_adam_first_step_by_hand():
    # t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1
    m, v = 0.1 * G, 0.001 * G**2
    alpha = 0.001 * math.sqrt(1 - 0.999) / (1 - 0.9)
    assert np.allclose(_steps(Adam(), [G], 0.001), W0 - alpha * m / (np.sqrt(v) + 1e-7))


def test_blended_update_alpha_zero_and_one():
    new, old = {"w": W0 - 0.1 * G}, {"w": W0}
    assert np.array_equal(blend(new, old, 0.0)["w"], new["w"])
    assert np.array_equal(blend(new, old, 1.0)["w"], W0)
    assert np.allclose(blend(new, old, 0.5)["w"], 0.5 * (W0 - 0.1 * G) + 0.5 * W0)


@pytest.mark.parametrize(
    "name, keras_name, kwargs",
    [
        ("sgd", "SGD", {}),
        ("momentum", "SGD", {"momentum": 0.9}),
        ("nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
        ("rmsprop", "RMSprop", {}),
        ("adam", "Adam", {}),
    ],
)
def test_same_trajectory_as_keras(name, keras_name, kwargs):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 2)) for _ in range(6)]
    config = TrainConfig(optimizer=name)
    ours = {"w": rng.standard_normal((3, 2))}
    var = keras.Variable(ours["w"].astype("float64"), dtype="float64")
    opt = getattr(keras.optimizers, keras_name)(learning_rate=config.learning_rate, **kwargs)
    mine = make_optimizer(config)
    state = mine.build(ours)
    for g in grads:
        mine.apply(ours, {"w": g.copy()}, state, config.learning_rate)
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    assert np.allclose(ours["w"], np.asarray(var), rtol=1e-6, atol=1e-9)


def test_learning_rate_schedules():
    exp = TrainConfig(lr=0.1, decay="exponential", decay_rate=0.5, decay_steps=10)
    assert learning_rate(exp, 0, 99) == 0.1
    assert learning_rate(exp, 5, 99) == pytest.approx(0.1 * 0.5**0.5)
    step = TrainConfig(lr=0.1, decay="step", decay_rate=0.5)
    assert learning_rate(step, 9, 10) == 0.1 and learning_rate(step, 10, 10) == 0.05  # one decay per epoch


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_update_is_keras_formula_bit_for_bit(dtype, compiled):
    """The buffered NumPy update and the fused compiled one do Keras's operations in Keras's order:
    exactly equal, over several steps and variables of the same shape (which share the scratch buffers)."""
    from backprop_lab.engines.scratch import kernels

    if compiled and kernels.adam_update_keep is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    shapes = {"a": (7, 5), "b": (7, 5), "c": (5,)}
    w = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    ref = {k: v.copy() for k, v in w.items()}
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v2 = {k: np.zeros_like(v) for k, v in w.items()}
    opt = Adam(compiled=compiled)
    assert opt.compiled == compiled
    state = opt.build(w)
    f = np.dtype(dtype).type
    for t in range(1, 6):
        grads = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
        opt.apply(w, grads, state, 1e-3)
        b1, b2 = f(np.float32(0.9)), f(np.float32(0.999))
        alpha = f(np.float32(1e-3)) * np.sqrt(f(1) - b2 ** f(t)) / (f(1) - b1 ** f(t))
        for k, g in grads.items():
            m[k] += (g - m[k]) * (1 - 0.9)
            v2[k] += (g * g - v2[k]) * (1 - 0.999)
            ref[k] -= (m[k] * alpha) / (np.sqrt(v2[k]) + 1e-7)
    for k in shapes:
        assert np.array_equal(w[k], ref[k]) and w[k].dtype == np.dtype(dtype), k


@pytest.mark.parametrize("name", ["adam", "sgd", "momentum", "rmsprop"])
def test_apply_keeping_is_apply_with_the_old_weights_kept_and_finiteness_told(name):
    """The engine's step: the update of ``apply`` exactly, the weights before it in ``old``, and False as soon as
    one updated weight is not finite (Adam's fused kernel does all three in one pass)."""
    rng = np.random.default_rng(5)
    shapes = {"k": (9, 4), "b": (4,)}
    w0 = {k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()} for _ in range(3)]
    opt_a, opt_b = (make_optimizer(TrainConfig(optimizer=name, lr=0.01)) for _ in range(2))
    wa, wb = ({k: v.copy() for k, v in w0.items()} for _ in range(2))
    sa, sb = opt_a.build(wa), opt_b.build(wb)
    old = {k: np.empty_like(v) for k, v in w0.items()}
    for g in grads:
        before = {k: v.copy() for k, v in wb.items()}
        opt_a.apply(wa, g, sa, 0.01)
        assert opt_b.apply_keeping(wb, g, sb, 0.01, old) is True
        for k in shapes:
            np.testing.assert_array_equal(wb[k], wa[k])
            np.testing.assert_array_equal(old[k], before[k])
    bad = {k: v.copy() for k, v in grads[0].items()}
    bad["b"][2] = np.inf
    with np.errstate(invalid="ignore"):  # inf / inf in RMSprop and Adam: NaN, which is the point
        assert opt_b.apply_keeping(wb, bad, sb, 0.01, old) is False


def test_adam_keeps_its_flat_views_only_while_the_same_arrays_come_back():
    """apply_keeping keeps each variable's flat views across steps; a weight, slot or kept-weights array replaced
    between steps (a new array in the dict) is the one updated, and the array it replaced is left alone."""
    rng = np.random.default_rng(7)
    shapes = {"k": (6, 3), "b": (3,)}
    w = {k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()} for _ in range(4)]
    kept, fresh = make_optimizer(TrainConfig(optimizer="adam")), make_optimizer(TrainConfig(optimizer="adam"))
    wk, wf = ({k: v.copy() for k, v in w.items()} for _ in range(2))
    sk, sf = kept.build(wk), fresh.build(wf)
    old_k, old_f = ({k: np.empty_like(v) for k, v in w.items()} for _ in range(2))
    replaced = []
    for step, g in enumerate(grads):
        if step == 1:
            replaced.append(wk["k"])
            wk["k"] = wk["k"].copy()
        if step == 2:
            replaced.append(sk["m"]["b"])
            sk["m"]["b"] = sk["m"]["b"].copy()
            old_k["k"] = np.empty_like(old_k["k"])
        frozen = [r.copy() for r in replaced]
        assert kept.apply_keeping(wk, g, sk, 1e-3, old_k) and fresh.apply_keeping(wf, g, sf, 1e-3, old_f)
        for k in shapes:
            assert np.array_equal(wk[k], wf[k]) and np.array_equal(old_k[k], old_f[k])
            assert np.array_equal(sk["m"][k], sf["m"][k]) and np.array_equal(sk["v"][k], sf["v"][k])
        assert all(np.array_equal(r, f) for r, f in zip(replaced, frozen))  # no longer updated
        fresh._flat = {}  # the reference takes every step as a first one
    fortran = {"k": np.asfortranarray(wk["k"]), "b": wk["b"]}  # not C-contiguous: the NumPy path takes it
    assert not fortran["k"].flags.c_contiguous
    assert kept.apply_keeping(fortran, grads[0], sk, 1e-3, old_k) and fresh.apply_keeping(wf, grads[0], sf, 1e-3, old_f)
    for k in shapes:
        assert np.array_equal(fortran[k], wf[k]) and np.array_equal(old_k[k], old_f[k])
