"""Every declared rule against central finite differences and against TensorFlow autograd (float64,
random shapes, relative error < 1e-7), each optimizer's first two steps against Keras and the scratch
engine, the error naming a layer kind without a rule, and no eval or exec anywhere in src."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from backprop_lab.analysis.derivation_check import rel
from backprop_lab.maths import rules
from backprop_lab.maths.equations import update_equations
from backprop_lab.maths.expr import Sym, evaluate
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

TOL = 1e-7


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f at every entry of x."""
    g = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + eps
        up = f(x)
        x[ix] = old - eps
        down = f(x)
        x[ix] = old
        g[ix] = (up - down) / (2 * eps)
    return g


def tf_grad(f_tf, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = f_tf(v)
    return tape.gradient(value, v).numpy()


def sym(name, shape, kind="value"):
    return Sym(name, name, tuple(shape), kind=kind)


RNG = np.random.default_rng(1234)


def random_shape():
    return (int(RNG.integers(2, 6)), int(RNG.integers(2, 7)))


# --- activations -------------------------------------------------------------------------------------

TF_ACT = {
    "linear": lambda z: z,
    "relu": lambda z: __import__("tensorflow").nn.relu(z),
    "sigmoid": lambda z: __import__("tensorflow").sigmoid(z),
    "tanh": lambda z: __import__("tensorflow").tanh(z),
    "softmax": lambda z: __import__("tensorflow").nn.softmax(z),
}


@pytest.mark.parametrize("name", list(rules.ACTIVATIONS))
def test_activation_backward_matches_finite_differences_and_tensorflow(name):
    import tensorflow as tf

    rule = rules.ACTIVATIONS[name]
    shape = random_shape()
    z0, g0 = RNG.standard_normal(shape), RNG.standard_normal(shape)
    Z, A, G = sym("Z", shape), sym("A", shape), sym("G", shape)
    forward = rule.forward(Z)

    def value(z):
        return float((g0 * evaluate(forward, {"Z": z})).sum())

    derived = evaluate(rule.backward(Z, A, G), {"Z": z0, "A": evaluate(forward, {"Z": z0}), "G": g0})
    assert rel(derived, numeric_grad(value, z0.copy())) < TOL
    assert rel(derived, tf_grad(lambda v: tf.reduce_sum(g0 * TF_ACT[name](v)), z0)) < TOL
    if rule.derivative is not None:  # the element-wise derivative the checker and worked examples print
        gp = evaluate(rule.derivative(Z, A), {"Z": z0, "A": evaluate(forward, {"Z": z0})})
        assert rel(g0 * gp, derived) < TOL


# --- losses ------------------------------------------------------------------------------------------


def _targets(shape):
    y = RNG.random(shape)
    return y / y.sum(axis=1, keepdims=True)  # rows that sum to 1, as one-hot and smoothed labels do


@pytest.mark.parametrize("name", list(rules.LOSSES))
def test_loss_gradient_matches_finite_differences_and_tensorflow(name):
    rule = rules.LOSSES[name]
    shape = random_shape()
    a0 = RNG.uniform(0.05, 0.95, shape)
    y0 = _targets(shape)
    A, Y = sym("A", shape), sym("Y", shape)
    m, k = sym("m", (), "dim"), sym("K", (), "dim")
    env = {"Y": y0, "m": float(shape[0]), "K": float(shape[1])}
    value = rule.value(A, Y, m, k)
    derived = evaluate(rule.grad(A, Y, m, k), {**env, "A": a0})
    assert rel(derived, numeric_grad(lambda a: float(evaluate(value, {**env, "A": a})), a0.copy())) < TOL
    ref_value, ref = _tf_probability_loss(name, a0, y0)
    assert float(evaluate(value, {**env, "A": a0})) == pytest.approx(ref_value, rel=1e-12)
    assert rel(derived, ref) < TOL


def _tf_probability_loss(name, a0, y0):
    import tensorflow as tf

    f = {
        "categorical_crossentropy": lambda a: -tf.reduce_mean(tf.reduce_sum(y0 * tf.math.log(a), axis=-1)),
        "binary_crossentropy": lambda a: -tf.reduce_mean(y0 * tf.math.log(a) + (1 - y0) * tf.math.log(1 - a)),
        "mse": lambda a: tf.reduce_mean(tf.square(a - y0)),
        "squared_error": lambda a: tf.reduce_mean(tf.reduce_sum(tf.square(a - y0), axis=-1)),
        "half_squared_error": lambda a: tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(a - y0), axis=-1)),
    }[name]
    return float(f(tf.constant(a0))), tf_grad(f, a0)


@pytest.mark.parametrize("name", [n for n, r in rules.LOSSES.items() if r.logits])
def test_from_logits_forms_match_keras_and_their_delta_is_the_gradient(name):
    import keras

    rule = rules.LOSSES[name]
    shape = random_shape()
    z0, y0 = 3 * RNG.standard_normal(shape), _targets(shape)
    Z, A, Y = sym("Z", shape), sym("A", shape), sym("Y", shape)
    m, k = sym("m", (), "dim"), sym("K", (), "dim")
    env = {"Y": y0, "m": float(shape[0]), "K": float(shape[1])}
    value = rule.value_from_logits(Z, Y, m, k)
    keras_loss = {
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy(from_logits=True, dtype="float64"),
        "binary_crossentropy": keras.losses.BinaryCrossentropy(from_logits=True, dtype="float64"),
    }[name]
    assert float(evaluate(value, {**env, "Z": z0})) == pytest.approx(float(keras_loss(y0, z0)), rel=1e-10)
    a0 = evaluate(rules.ACTIVATIONS[rule.logits].forward(Z), {"Z": z0})
    delta = evaluate(rule.delta_from_logits(A, Y, m, k), {**env, "A": a0})
    assert rel(delta, numeric_grad(lambda z: float(evaluate(value, {**env, "Z": z})), z0.copy())) < TOL


def test_l2_gradient_matches_finite_differences():
    w0 = RNG.standard_normal((3, 4))
    W, lam = sym("W", (3, 4)), sym("lambda", (), "hyper")
    penalty, grad = rules.l2_penalty([W], lam), rules.l2_grad(W, lam)
    env = {"lambda": 0.01}
    assert (
        rel(
            evaluate(grad, {**env, "W": w0}),
            numeric_grad(lambda w: float(evaluate(penalty, {**env, "W": w})), w0.copy()),
        )
        < TOL
    )


# --- layers ------------------------------------------------------------------------------------------

LAYER_CASES = [
    ("mlp:5", (6,), 0),  # dense
    ("cnn:3", (7, 7, 2), 0),  # conv2d 3x3 valid
    ("cnn:2/pad=same", (6, 5, 3), 0),  # conv2d same padding
    ("cnn:2", (8, 8, 1), 1),  # maxpool2d after the first conv
    ("cnn:2", (8, 8, 1), 2),  # flatten
]


@pytest.mark.parametrize("model, shape, position", LAYER_CASES)
def test_layer_backward_matches_finite_differences_and_tensorflow(model, shape, position):
    import tensorflow as tf

    info = parse_model(model, shape, 3).infos[position]
    rule = rules.layer_rule(info.spec.kind)
    m = 3
    x0 = RNG.standard_normal((m, *info.input_shape))
    params0 = {k: RNG.standard_normal(s) for k, s in info.params.items()}
    g0 = RNG.standard_normal((m, *info.output_shape))
    X = sym("X", ("m", *info.input_shape))
    P = {k: sym(f"p_{k}", s, "param") for k, s in info.params.items()}
    G = sym("G", ("m", *info.output_shape))
    forward = rule.forward(X, P, info.spec, info.input_shape, info.output_shape, None)
    back = rule.backward(G, X, P, info.spec, info.input_shape, None)
    env = {"X": x0, "G": g0, **{f"p_{k}": v for k, v in params0.items()}}

    def value_of(key):
        def f(v):
            return float((g0 * evaluate(forward, {**env, key: v})).sum())

        return f

    def tf_forward(h, p):
        s = info.spec
        if s.kind == "dense":
            return h @ p["kernel"] + p["bias"]
        if s.kind == "conv2d":
            return tf.nn.conv2d(h, p["kernel"], s.stride, s.padding.upper()) + p["bias"]
        if s.kind == "maxpool2d":
            return tf.nn.max_pool2d(h, s.pool, s.step, "VALID")
        return tf.reshape(h, (h.shape[0], -1))

    assert (
        rel(
            evaluate(forward, env), tf_forward(tf.constant(x0), {k: tf.constant(v) for k, v in params0.items()}).numpy()
        )
        < 1e-12
    )
    dx = evaluate(back.dx, env)
    assert rel(dx, numeric_grad(value_of("X"), x0.copy())) < TOL
    tf_params = {k: tf.constant(v) for k, v in params0.items()}
    assert rel(dx, tf_grad(lambda v: tf.reduce_sum(g0 * tf_forward(v, tf_params)), x0)) < TOL
    for k in info.params:
        d = evaluate(back.params[k], env)
        assert rel(d, numeric_grad(value_of(f"p_{k}"), params0[k].copy())) < TOL
        assert (
            rel(
                d,
                tf_grad(
                    lambda v, k=k: tf.reduce_sum(g0 * tf_forward(tf.constant(x0), {**tf_params, k: v})), params0[k]
                ),
            )
            < TOL
        )


def test_dropout_rule_matches_finite_differences():
    info = parse_model("mlp:4/dropout=0.3", (5,), 3).infos[1]
    rule = rules.layer_rule("dropout")
    x0, g0 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    mask0 = (RNG.random((3, 4)) >= 0.3).astype(float)
    X, G, Mk = sym("X", (3, 4)), sym("G", (3, 4)), sym("M", (3, 4), "mask")
    forward = rule.forward(X, {}, info.spec, (4,), (4,), Mk)
    dx = evaluate(rule.backward(G, X, {}, info.spec, (4,), Mk).dx, {"G": g0, "M": mask0})
    assert rel(dx, numeric_grad(lambda x: float((g0 * evaluate(forward, {"X": x, "M": mask0})).sum()), x0.copy())) < TOL


# --- optimizers: the first two steps against Keras and the scratch engine --------------------------------

# hyper-parameters that float32 holds exactly: Keras rounds some of them through float32 and not others,
# so with these the comparison is of the formulas alone
H = {"lr": 2.0**-4, "momentum": 0.875, "rho": 0.875, "beta_1": 0.875, "beta_2": 1 - 2.0**-10, "epsilon": 2.0**-20}


def _keras_optimizer(name):
    import keras

    lr, mu = H["lr"], H["momentum"]
    return {
        "sgd": lambda: keras.optimizers.SGD(lr),
        "momentum": lambda: keras.optimizers.SGD(lr, momentum=mu),
        "nesterov": lambda: keras.optimizers.SGD(lr, momentum=mu, nesterov=True),
        "rmsprop": lambda: keras.optimizers.RMSprop(lr, rho=H["rho"], epsilon=H["epsilon"]),
        "adam": lambda: keras.optimizers.Adam(lr, beta_1=H["beta_1"], beta_2=H["beta_2"], epsilon=H["epsilon"]),
    }[name]()


@pytest.mark.parametrize("name", list(rules.OPTIMIZERS))
def test_optimizer_rule_matches_keras_and_the_scratch_engine_for_two_steps(name):
    import keras

    from backprop_lab.engines.scratch.optimizers import make_optimizer

    config = TrainConfig(optimizer=name, **H)
    eqs = [e for e in update_equations(config) if e.op == "←"]
    w0 = RNG.standard_normal((3, 4))
    grads = [RNG.standard_normal((3, 4)) for _ in range(2)]
    rule = rules.optimizer_rule(name)
    env = {h: float(getattr(config, rules.HYPER_CONFIG[h])) for h in rule.hypers}
    env.update({"W": w0.copy(), **{f"{s}_W": np.zeros_like(w0) for s in rule.slots}})
    var = keras.Variable(w0.copy(), dtype="float64")
    opt = _keras_optimizer(name)
    ours = make_optimizer(config)
    weights = {"w": w0.copy()}
    state = ours.build(weights)
    for t, g in enumerate(grads, start=1):
        env.update(dW=g, t=float(t))
        for eq in eqs:
            env[eq.name] = evaluate(eq.rhs, env)
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        state = ours.apply(weights, {"w": g.copy()}, state, H["lr"])
        assert rel(env["W"], np.asarray(var.numpy())) < TOL, t
        assert rel(weights["w"], env["W"]) < TOL, t


def test_a_layer_without_a_rule_is_an_error_naming_it():
    from backprop_lab.core.errors import BplabError

    with pytest.raises(BplabError, match="no derivation rule for layer kind 'lstm'"):
        rules.layer_rule("lstm")


def test_no_eval_or_exec_anywhere_in_src():
    src = Path(__file__).resolve().parents[2] / "src"
    offenders = [
        f"{p}:{i}"
        for p in src.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"(?<![\w.])(eval|exec)\(", line)
    ]
    assert not offenders, offenders
