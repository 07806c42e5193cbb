"""Every layer type, activation and loss against central finite differences (float64), bar 1e-6."""

import numpy as np
import pytest

from backprop_lab.analysis.gradient_check import TOLERANCE, gradcheck
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec


def _data(shape, n=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)), np.arange(n) % classes


def _check(spec, x, y, loss, l2=0.0, init="glorot_uniform"):
    rows = gradcheck(spec, x, y, TrainConfig(loss=loss, l2=l2, init=init), max_entries=25)
    assert {r.key for r in rows} == set(spec.param_shapes())
    worst = max(rows, key=lambda r: r.rel_error)
    assert worst.rel_error < TOLERANCE, f"{worst.key}: {worst.rel_error:.2e}"
    return rows


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "linear", "softmax"])
@pytest.mark.parametrize(
    "loss,out",
    [
        ("categorical_crossentropy", "softmax"),
        ("mse", "softmax"),
        ("mse", "linear"),
        ("mse", "sigmoid"),
        ("categorical_crossentropy", "softmax"),
    ],
)
def test_mlp_every_activation_and_loss(act, loss, out):
    x, y = _data((5,))
    spec = ModelSpec((5,), (Dense(7, act), Dense(4, "tanh"), Dense(3, out)))
    _check(spec, x, y, loss)


def test_binary_crossentropy_with_sigmoid_head():
    x, y = _data((5,), classes=2)
    _check(ModelSpec((5,), (Dense(6, "relu"), Dense(1, "sigmoid"))), x, y, "binary_crossentropy")


def test_l2_penalty_enters_loss_and_gradient():
    x, y = _data((5,))
    spec = ModelSpec((5,), (Dense(6, "tanh"), Dense(3, "softmax")))
    _check(spec, x, y, "categorical_crossentropy", l2=0.05)


def test_dropout_with_fixed_mask():
    x, y = _data((5,))
    spec = ModelSpec((5,), (Dense(8, "sigmoid"), Dropout(0.4), Dense(3, "softmax")))
    _check(spec, x, y, "categorical_crossentropy")


@pytest.mark.parametrize("padding,stride", [("valid", 1), ("same", 1), ("same", 2), ("valid", 2)])
def test_conv_pool_flatten(padding, stride):
    x, y = _data((7, 7, 2), n=3)
    spec = ModelSpec((7, 7, 2), (Conv2D(3, 3, stride, padding, "tanh"), MaxPool2D(2), Flatten(), Dense(3, "softmax")))
    _check(spec, x, y, "categorical_crossentropy")


def test_overlapping_pool_and_relu_conv():
    x, y = _data((8, 8, 1), n=3)
    spec = ModelSpec((8, 8, 1), (Conv2D(2, 3, 1, "same", "relu"), MaxPool2D(3, 2), Flatten(), Dense(3, "softmax")))
    _check(spec, x, y, "categorical_crossentropy", init="he_normal")


def test_gradcheck_detects_a_wrong_backward(monkeypatch):
    """The check itself can fail: break tanh's derivative and it must notice."""
    from backprop_lab.numerics import activations

    monkeypatch.setattr(activations.Tanh, "backward", lambda self, z, a, da: da * (1 - a))
    x, y = _data((5,))
    rows = gradcheck(ModelSpec((5,), (Dense(4, "tanh"), Dense(3, "softmax"))), x, y, TrainConfig(init="glorot_uniform"))
    assert not all(r.passed for r in rows)
