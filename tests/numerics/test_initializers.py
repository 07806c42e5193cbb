import math

import numpy as np
import pytest

from backprop_lab.numerics.initializers import TRUNC_STD_CORRECTION, compute_fans, init_weights, initialize


def test_fans_follow_keras_for_dense_and_hwio_kernels():
    assert compute_fans((784, 256)) == (784, 256)
    assert compute_fans((3, 3, 32, 64)) == (288, 576)


@pytest.mark.parametrize(
    "name, shape, expected_std, bound",
    [
        ("he_normal", (400, 300), math.sqrt(2 / 400), 2 * math.sqrt(2 / 400) / TRUNC_STD_CORRECTION),
        ("glorot_normal", (400, 300), math.sqrt(2 / 700), 2 * math.sqrt(2 / 700) / TRUNC_STD_CORRECTION),
        ("he_uniform", (400, 300), math.sqrt(2 / 400), math.sqrt(6 / 400)),
        ("glorot_uniform", (400, 300), math.sqrt(2 / 700), math.sqrt(6 / 700)),
        ("he_normal", (3, 3, 16, 32), math.sqrt(2 / 144), 2 * math.sqrt(2 / 144) / TRUNC_STD_CORRECTION),
        ("small_normal", (400, 300), 0.01, None),
    ],
)
def test_distribution_matches_the_formula(name, shape, expected_std, bound):
    w = initialize(name, np.random.default_rng(0), shape)
    assert w.dtype == np.float32 and w.shape == shape
    assert abs(w.mean()) < 0.05 * expected_std + 1e-4
    assert w.std() == pytest.approx(expected_std, rel=0.03)
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_keras_initializers_have_the_same_statistics():
    keras = pytest.importorskip("keras")
    for name in ("he_normal", "glorot_uniform", "glorot_normal", "he_uniform"):
        ours = initialize(name, np.random.default_rng(1), (500, 400))
        theirs = np.asarray(keras.initializers.get(name)(shape=(500, 400), dtype="float32"))
        assert ours.std() == pytest.approx(theirs.std(), rel=0.03), name
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.05), name


def test_init_weights_is_seeded_and_biases_are_zero():
    shapes = {"dense_0/kernel": (4, 3), "dense_0/bias": (3,)}
    a = init_weights(shapes, "he_normal", 5)
    b = init_weights(shapes, "he_normal", 5)
    assert np.array_equal(a["dense_0/kernel"], b["dense_0/kernel"])
    assert not np.array_equal(a["dense_0/kernel"], init_weights(shapes, "he_normal", 6)["dense_0/kernel"])
    assert not a["dense_0/bias"].any()
    assert not init_weights(shapes, "zeros", 0)["dense_0/kernel"].any()
