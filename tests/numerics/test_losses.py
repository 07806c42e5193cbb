"""Loss values equal Keras 3's in every regime, saturated outputs included (float64, 1e-6 relative).

Keras 3 computes softmax + categorical cross-entropy and sigmoid + binary cross-entropy from the
logits; the clipped-probability formula differs by orders of magnitude once outputs saturate, so
the check below can fail (it is asserted that the clipped formula is far off in these cases)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_lab.engines.registry import get_engine
from backprop_lab.engines.scratch.model import ScratchModel
from backprop_lab.numerics.losses import get_loss
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model
from backprop_lab.training import targets

pytest.importorskip("tensorflow")

CONV = {
    "layers": [
        {"kind": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "linear"},
        {"kind": "flatten"},
        {"kind": "dense", "units": "classes", "activation": "softmax"},
    ]
}


def saturated_weights(spec, scale, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, scale, shape) for k, shape in spec.param_shapes().items()}


@pytest.mark.parametrize(
    "model, loss, classes, shape, scale",
    [
        ("mlp:16,8", "categorical_crossentropy", 5, (6,), 8.0),
        ("mlp:16/act=tanh/out=sigmoid", "binary_crossentropy", 2, (6,), 8.0),
        ("mlp:16/act=sigmoid", "mse", 5, (6,), 8.0),
        ("mlp:12/out=sigmoid", "mse", 2, (6,), 8.0),
        ("conv.json", "categorical_crossentropy", 4, (6, 6, 1), 0.5),
    ],
)
@pytest.mark.parametrize("engine", ["tape", "fit"])
def test_scratch_loss_equals_keras_loss_on_saturated_outputs(model, loss, classes, shape, scale, engine, tmp_path):
    if model == "conv.json":
        model = tmp_path / "conv.json"
        model.write_text(json.dumps(CONV))
    spec = parse_model(str(model), shape, classes)
    config = TrainConfig(loss=loss, dtype="float64", l2=1e-3)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, (32, *shape))
    y = rng.integers(0, classes, 32)
    for seed in range(3):
        w = saturated_weights(spec, scale, seed)
        ours, grads = get_engine("scratch").gradients(spec, w, x, y, config)
        theirs, keras_grads = get_engine(engine).gradients(spec, w, x, y, config)
        assert ours == pytest.approx(theirs, rel=1e-6), f"seed {seed}"
        for key in grads:
            assert np.allclose(grads[key], keras_grads[key], rtol=1e-6, atol=1e-9)
    if loss != "mse":  # the outputs really saturate: the clipped-probability formula is far from Keras here
        model_ = ScratchModel(spec)
        out, _ = model_.forward(w, x)
        clipped = get_loss(loss).value(out, targets(spec, y, "float64"))
        assert abs(clipped - (ours - 1e-3 * sum((w[k] ** 2).sum() for k in model_.kernel_keys))) > 0.01 * abs(clipped)
