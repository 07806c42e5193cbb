"""The scratch model (engines/scratch/model.py): the spec's layers in order, its loss and its gradients."""

from __future__ import annotations

import numpy as np
from helpers.numeric import numeric_gradient

from backprop_lab.engines.scratch.model import ScratchModel
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.numerics.losses import get_loss
from backprop_lab.spec.model import Dense, Dropout, ModelSpec

SPEC = ModelSpec((5,), (Dense(4, "tanh"), Dropout(0.5), Dense(3, "softmax")))


def data(rows=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 5)), np.eye(3)[rng.integers(0, 3, rows)]


def test_backward_is_the_derivative_of_the_loss_l2_included():
    model, loss = ScratchModel(SPEC), get_loss("categorical_crossentropy")
    weights = init_weights(SPEC.param_shapes(), "glorot_uniform", 0, "float64")
    weights["dense_0/bias"] = np.linspace(-0.5, 0.5, 4)
    x, t = data()
    out, caches = model.forward(weights, x)  # not training: dropout is the identity
    grads = model.backward(weights, caches, out, t, loss, l2=0.01)
    assert list(grads) == model.trainable_keys == ["dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"]

    def value():
        out, caches = model.forward(weights, x)
        return model.loss_value(weights, caches, out, t, loss, l2=0.01)

    for key in grads:
        np.testing.assert_allclose(grads[key], numeric_gradient(value, weights[key]), rtol=1e-6, atol=1e-9, err_msg=key)


def test_a_frozen_layer_gets_no_gradient_and_its_weights_need_none():
    spec = ModelSpec((5,), (Dense(4, "tanh", trainable=False), Dense(3, "softmax")))
    model = ScratchModel(spec)
    weights = init_weights(spec.param_shapes(), "glorot_uniform", 1, "float64")
    x, t = data()
    out, caches = model.forward(weights, x)
    grads = model.backward(weights, caches, out, t, get_loss("categorical_crossentropy"), l2=0.1)
    assert list(grads) == model.trainable_keys == ["dense_1/kernel", "dense_1/bias"]
    assert model.kernel_keys == ["dense_1/kernel"]  # the L2 penalty is on trainable kernels only


def test_predict_in_batches_is_the_forward_pass_of_the_whole_input():
    model = ScratchModel(SPEC)
    weights = init_weights(SPEC.param_shapes(), "glorot_uniform", 2, "float64")
    x, _ = data(rows=11)
    whole = model.forward(weights, x)[0]
    batched = model.predict(weights, x, batch_size=4)
    assert batched.shape == (11, 3) and np.allclose(batched.sum(axis=1), 1)
    np.testing.assert_allclose(batched, whole, rtol=1e-12)


def test_training_applies_dropout_from_the_generator_and_inference_does_not():
    model = ScratchModel(SPEC)
    weights = init_weights(SPEC.param_shapes(), "glorot_uniform", 3, "float64")
    x, _ = data(rows=20)
    plain = model.forward(weights, x)[0]
    a = model.forward(weights, x, True, np.random.default_rng(1))[0]
    b = model.forward(weights, x, True, np.random.default_rng(1))[0]
    assert np.array_equal(a, b) and not np.allclose(a, plain)
