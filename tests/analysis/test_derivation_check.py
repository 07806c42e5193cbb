"""The derivation check: on random networks the scratch engine and central finite differences agree with the
derived gradients, and a broken rule (a dropped transpose, a swapped derivative) is caught."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.networks import NETWORKS

from backprop_lab.analysis.derivation_check import TOLERANCE, check
from backprop_lab.maths import rules
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model


@pytest.mark.parametrize("model, shape, loss, l2", NETWORKS)
def test_the_scratch_engine_and_finite_differences_agree_with_the_derivation(model, shape, loss, l2):
    from backprop_lab.training import targets

    spec = parse_model(model, shape, 3)
    d = derive(spec, TrainConfig(loss=loss, l2=l2, dtype="float64", init="glorot_uniform"))
    rng = np.random.default_rng(3)
    checks = check(d, rng.standard_normal((4, *shape)), targets(spec, np.arange(4) % 3, "float64"), seed=1)
    assert len(checks) == 2 * len(d.layers)
    assert all(c.worst < TOLERANCE for c in checks), [(c.symbol, c.worst) for c in checks]


def _worst(spec, config) -> float:
    from backprop_lab.training import targets

    d = derive(spec, config)
    rng = np.random.default_rng(0)
    checks = check(d, rng.standard_normal((4, *spec.input_shape)), targets(spec, np.arange(4) % 3, "float64"))
    return max(max(c.fd_rel, c.engine_rel) for c in checks)


def test_a_dropped_transpose_is_caught(monkeypatch):
    spec = parse_model("mlp:3,3", (3,), 3)  # square kernels: a missing transpose still has the right shape
    config = TrainConfig(dtype="float64", init="glorot_uniform")
    assert _worst(spec, config) < TOLERANCE

    def no_transpose(self, g, x, p, layer, in_shape, mask):
        return rules.Backward(g @ p["kernel"], {"kernel": x.T @ g, "bias": rules.SumRows(g)})

    monkeypatch.setattr(rules.DenseRule, "backward", no_transpose)
    assert _worst(spec, config) > 1e-3


def test_a_swapped_derivative_is_caught(monkeypatch):
    spec = parse_model("mlp:5/act=sigmoid", (4,), 3)
    config = TrainConfig(dtype="float64", init="glorot_uniform")
    assert _worst(spec, config) < TOLERANCE
    tanh = rules.ACTIVATIONS["tanh"]
    monkeypatch.setitem(
        rules.ACTIVATIONS,
        "sigmoid",
        rules.ActivationRule(
            "sigmoid", rules.ACTIVATIONS["sigmoid"].forward, tanh.backward, tanh.derivative, "sigmoid"
        ),
    )
    assert _worst(spec, config) > 1e-3
