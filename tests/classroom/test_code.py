"""bplab check-code: a corpus of learner implementations (templates with mutations applied here, and
hand-written unusual-but-correct ones), each run for real in a child process and checked for its
verdict, its first wrong tensor and the fixed word of its cause; the failing-code cases; the CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import backprop_lab as bl
from backprop_lab.classroom.code import DataSizes, Values, make_inputs, make_net

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "learner"

# Rows, positional, one hidden ReLU layer, sum-scale deltas: the course's way.
ROWS = """
import numpy as np

def relu(Z):
    return np.maximum(0, Z)

def relu_derivative(Z):
    return (Z > 0).astype(float)

def softmax(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def forward_propagation(X, W1, b1, W2, b2):
    Z1 = X @ W1 + b1
    A1 = relu(Z1)
    Z2 = A1 @ W2 + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2

def backward_propagation(X, y_true, Z1, A1, A2, W2, lambd=0.0, W1=None):
    m = X.shape[0]
    dZ2 = A2 - y_true
    dW2 = A1.T @ dZ2 / m
    db2 = np.sum(dZ2, axis=0, keepdims=True) / m
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * relu_derivative(Z1)
    dW1 = X.T @ dZ1 / m
    db1 = np.sum(dZ1, axis=0) / m
    return dW1, db1, dW2, db2
"""

# Columns, dicts (parameters, cache, grads), two hidden tanh layers, mean-scale deltas.
COLS = """
import numpy as np

def forward(X, parameters):
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = np.tanh(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = np.exp(Z3) / np.sum(np.exp(Z3), axis=0, keepdims=True)
    cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}
    return A3, cache

def backward(X, Y, parameters, cache):
    m = X.shape[1]
    grads = {}
    dZ3 = (cache["A3"] - Y) / m
    grads["dW3"] = np.dot(dZ3, cache["A2"].T)
    grads["db3"] = np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(parameters["W3"].T, dZ3)
    dZ2 = dA2 * (1 - np.power(cache["A2"], 2))
    grads["dW2"] = np.dot(dZ2, cache["A1"].T)
    grads["db2"] = np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(parameters["W2"].T, dZ2)
    dZ1 = dA1 * (1 - np.power(cache["A1"], 2))
    grads["dW1"] = np.dot(dZ1, X.T)
    grads["db1"] = np.sum(dZ1, axis=1, keepdims=True)
    return grads
"""

# Rows, a loop over three sigmoid hidden layers, dict parameters, sum-scale deltas.
DEEP = """
import numpy as np

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))

def sigmoid_derivative(a):
    return a * (1 - a)

def forward_pass(X, params):
    cache = {"A0": X}
    for l in range(1, 4):
        cache["Z" + str(l)] = cache["A" + str(l - 1)] @ params["W" + str(l)] + params["b" + str(l)]
        cache["A" + str(l)] = sigmoid(cache["Z" + str(l)])
    Z4 = cache["A3"] @ params["W4"] + params["b4"]
    e = np.exp(Z4 - Z4.max(axis=1, keepdims=True))
    A4 = e / e.sum(axis=1, keepdims=True)
    cache["Z4"], cache["A4"] = Z4, A4
    return A4, cache

def backward_pass(Y, params, cache):
    m = Y.shape[0]
    grads = {}
    delta = cache["A4"] - Y
    for l in range(4, 0, -1):
        grads["dW" + str(l)] = cache["A" + str(l - 1)].T @ delta / m
        grads["db" + str(l)] = delta.sum(axis=0) / m
        if l > 1:
            delta = (delta @ params["W" + str(l)].T) * sigmoid_derivative(cache["A" + str(l - 1)])
    return grads
"""

# Rows, binary: one hidden ReLU layer, a sigmoid output with binary cross-entropy, mean-scale deltas.
BINARY = """
import numpy as np

def sigmoid(z):
    return 1 / (1 + np.exp(-z))

def forward_prop(X, W1, b1, W2, b2):
    Z1 = X.dot(W1) + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1.dot(W2) + b2
    A2 = sigmoid(Z2)
    return Z1, A1, Z2, A2

def backward_prop(X, Y, Z1, A1, Z2, A2, W2):
    m = len(X)
    dZ2 = (A2 - Y) / m
    dW2 = A1.T.dot(dZ2)
    db2 = dZ2.sum(axis=0)
    dZ1 = dZ2.dot(W2.T) * (Z1 > 0)
    dW1 = X.T.dot(dZ1)
    db1 = dZ1.sum(axis=0)
    return dW1, db1, dW2, db2
"""

# Columns, the deeplearning.ai course's way: helpers returning caches, L_model_forward returning
# ``AL, caches`` with ``caches[l] = ((A_prev, W, b), Z)`` (a list of tuples, layers from 0), and
# L_model_backward(AL, Y, caches) returning a grads dict; ReLU hidden layers, a sigmoid output.
DLAI = """
import numpy as np


def sigmoid(Z):
    A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    A = np.maximum(0, Z)
    return A, Z


def relu_backward(dA, cache):
    Z = cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def sigmoid_backward(dA, cache):
    Z = cache
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z)
    else:
        A, activation_cache = relu(Z)
    cache = (linear_cache, activation_cache)
    return A, cache


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(A_prev, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1.0 / m * np.dot(dZ, A_prev.T)
    db = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
    else:
        dZ = sigmoid_backward(dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    current_cache = caches[L - 1]
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(
        dAL, current_cache, "sigmoid"
    )
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads["dA" + str(l + 1)], current_cache, "relu")
        grads["dA" + str(l)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads
"""

# Columns, the same course's later style: one flat tuple cache (z1, a1, W1, b1, ...) unpacked by the backward.
FLAT = """
import numpy as np


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def forward_propagation(X, parameters):
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]
    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)
    cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)
    return a3, cache


def backward_propagation(X, Y, cache):
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    gradients = {"dz3": dz3, "dW3": dW3, "db3": db3, "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
                 "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}
    return gradients
"""

# Rows, layers numbered from 0 in the learner's dicts (params["W0"], grads["dW0"]), tanh hidden layers.
ZERO = """
import numpy as np


def forward(X, params):
    L = len(params) // 2
    cache = {"X": X}
    A = X
    for l in range(L):
        Z = A @ params["W" + str(l)] + params["b" + str(l)]
        cache["Z" + str(l)] = Z
        A = np.tanh(Z) if l < L - 1 else np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
        cache["A" + str(l)] = A
    return A, cache


def backward(Y, params, cache):
    L = len(params) // 2
    m = Y.shape[0]
    grads = {}
    dZ = (cache["A" + str(L - 1)] - Y) / m
    for l in reversed(range(L)):
        A_prev = cache["A" + str(l - 1)] if l > 0 else cache["X"]
        grads["dW" + str(l)] = A_prev.T @ dZ
        grads["db" + str(l)] = dZ.sum(axis=0)
        if l > 0:
            dZ = (dZ @ params["W" + str(l)].T) * (1 - cache["A" + str(l - 1)] ** 2)
    return grads
"""

L2_ROWS = ROWS.replace("dW1 = X.T @ dZ1 / m", "dW1 = X.T @ dZ1 / m + 2 * lambd * W1").replace(
    "dW2 = A1.T @ dZ2 / m", "dW2 = A1.T @ dZ2 / m + 2 * lambd * W2"
)

MODELS = {
    "rows": "mlp:128",
    "cols": "mlp:8,4/act=tanh",
    "deep": "mlp:8,6,4/act=sigmoid",
    "binary": "mlp:8/out=sigmoid",
    "dlai": "mlp:20,7,5/out=sigmoid",
    "zero": "mlp:7/act=tanh",
    "flat": "mlp:20,3/out=sigmoid",
}
TEMPLATES = {
    "rows": ROWS,
    "cols": COLS,
    "deep": DEEP,
    "binary": BINARY,
    "l2": L2_ROWS,
    "dlai": DLAI,
    "zero": ZERO,
    "flat": FLAT,
}

# (id, template, [(old, new), ...], verdict, first wrong tensor, word of the cause)
CORPUS = [
    ("rows correct", "rows", [], "correct", None, None),
    (
        "rows mean-scale deltas",
        "rows",
        [("/ m\n", "\n"), ("dZ2 = A2 - y_true", "dZ2 = (A2 - y_true) / m")],
        "correct",
        None,
        None,
    ),
    ("rows relu'(A1) is relu'(Z1)", "rows", [("relu_derivative(Z1)", "relu_derivative(A1)")], "correct", None, None),
    (
        "rows einsum",
        "rows",
        [("dW1 = X.T @ dZ1 / m", "dW1 = np.einsum('mi,mj->ij', X, dZ1) / m")],
        "correct",
        None,
        None,
    ),
    ("rows dW1 without 1/m", "rows", [("dW1 = X.T @ dZ1 / m", "dW1 = X.T @ dZ1")], "wrong", "dW1", "1/m"),
    ("rows db2 without 1/m", "rows", [("keepdims=True) / m", "keepdims=True)")], "wrong", "db2", "1/m"),
    ("rows dW2 1/m twice", "rows", [("dW2 = A1.T @ dZ2 / m", "dW2 = A1.T @ dZ2 / m / m")], "wrong", "dW2", "1/m"),
    (
        "rows no relu derivative",
        "rows",
        [("dZ1 = dA1 * relu_derivative(Z1)", "dZ1 = dA1")],
        "wrong",
        "dZ1",
        "derivative",
    ),
    ("rows sign of output delta", "rows", [("dZ2 = A2 - y_true", "dZ2 = y_true - A2")], "wrong", "dZ2", "sign"),
    (
        "rows db2 over the wrong axis",
        "rows",
        [("np.sum(dZ2, axis=0, keepdims=True)", "np.sum(dZ2, axis=1, keepdims=True)")],
        "wrong",
        "db2",
        "axis",
    ),
    ("rows db1 not summed", "rows", [("db1 = np.sum(dZ1, axis=0) / m", "db1 = dZ1 / m")], "wrong", "db1", "axis"),
    ("rows dW2 transposed", "rows", [("dW2 = A1.T @ dZ2 / m", "dW2 = dZ2.T @ A1 / m")], "wrong", "dW2", "transpose"),
    ("rows bias left out", "rows", [("Z1 = X @ W1 + b1", "Z1 = X @ W1")], "wrong", "Z1", "bias"),
    ("rows sigmoid for relu", "rows", [("A1 = relu(Z1)", "A1 = 1 / (1 + np.exp(-Z1))")], "wrong", "A1", "activation"),
    (
        "rows softmax over examples",
        "rows",
        [
            (
                "e = np.exp(Z - Z.max(axis=1, keepdims=True))\n    return e / e.sum(axis=1, keepdims=True)",
                "e = np.exp(Z)\n    return e / e.sum(axis=0, keepdims=True)",
            )
        ],
        "wrong",
        "A2",
        "axis",
    ),
    (
        "rows unknown scaling",
        "rows",
        [("dZ1 = dA1 * relu_derivative(Z1)", "dZ1 = dA1 * relu_derivative(Z1) * 0.7")],
        "wrong",
        "dZ1",
        "no known cause",
    ),
    ("rows dA1 sign", "rows", [("dA1 = dZ2 @ W2.T", "dA1 = -(dZ2 @ W2.T)")], "wrong", "dA1", "sign"),
    ("cols correct", "cols", [], "correct", None, None),
    (
        "cols dW3 1/m twice",
        "cols",
        [('grads["dW3"] = np.dot(dZ3, cache["A2"].T)', 'grads["dW3"] = np.dot(dZ3, cache["A2"].T) / m')],
        "wrong",
        'grads["dW3"]',
        "1/m",
    ),
    (
        "cols sigmoid derivative for tanh",
        "cols",
        [('dZ2 = dA2 * (1 - np.power(cache["A2"], 2))', 'dZ2 = dA2 * cache["A2"] * (1 - cache["A2"])')],
        "wrong",
        "dZ2",
        "derivative",
    ),
    (
        "cols tanh formula on Z",
        "cols",
        [('dZ1 = dA1 * (1 - np.power(cache["A1"], 2))', 'dZ1 = dA1 * (1 - np.power(cache["Z1"], 2))')],
        "wrong",
        "dZ1",
        "derivative",
    ),
    (
        "cols db1 over the wrong axis",
        "cols",
        [('grads["db1"] = np.sum(dZ1, axis=1, keepdims=True)', 'grads["db1"] = np.sum(dZ1, axis=0, keepdims=True)')],
        "wrong",
        'grads["db1"]',
        "axis",
    ),
    ("cols dZ3 sign", "cols", [('dZ3 = (cache["A3"] - Y) / m', 'dZ3 = (Y - cache["A3"]) / m')], "wrong", "dZ3", "sign"),
    (
        "cols sum-scale deltas",
        "cols",
        [
            ('dZ3 = (cache["A3"] - Y) / m', 'dZ3 = cache["A3"] - Y'),
            ('cache["A2"].T)', 'cache["A2"].T) / m'),
            ('cache["A1"].T)', 'cache["A1"].T) / m'),
            ("X.T)", "X.T) / m"),
            ("axis=1, keepdims=True)", "axis=1, keepdims=True) / m"),
        ],
        "correct",
        None,
        None,
    ),
    ("deep correct", "deep", [], "correct", None, None),
    (
        "deep derivative at the wrong layer's A",
        "deep",
        [('sigmoid_derivative(cache["A" + str(l - 1)])', 'sigmoid_derivative(cache["Z" + str(l - 1)])')],
        "wrong",
        None,
        "derivative",
    ),
    ("deep no 1/m in dW", "deep", [(".T @ delta / m", ".T @ delta")], "wrong", 'grads["dW4"]', "1/m"),
    (
        "deep sign of every bias gradient",
        "deep",
        [("delta.sum(axis=0) / m", "-delta.sum(axis=0) / m")],
        "wrong",
        'grads["db4"]',
        "sign",
    ),
    (
        "deep relu instead of sigmoid in forward",
        "deep",
        [('cache["A" + str(l)] = sigmoid(', 'cache["A" + str(l)] = np.tanh(')],
        "wrong",
        'cache["A1"]',
        "activation",
    ),
    ("binary correct", "binary", [], "correct", None, None),
    (
        "binary extra derivative at the output",
        "binary",
        [("dZ2 = (A2 - Y) / m", "dZ2 = (A2 - Y) / m * A2 * (1 - A2)")],
        "wrong",
        "dZ2",
        "derivative",
    ),
    (
        "binary db1 without 1/m, sum-scale dZ2",
        "binary",
        [("dZ2 = (A2 - Y) / m", "dZ2 = A2 - Y"), ("dW2 = A1.T.dot(dZ2)", "dW2 = A1.T.dot(dZ2) / m")],
        "wrong",
        "db2",
        "1/m",
    ),
    ("dlai correct", "dlai", [], "correct", None, None),
    ("dlai bias left out", "dlai", [("Z = np.dot(W, A) + b", "Z = np.dot(W, A)")], "wrong", "caches[0][1]", "bias"),
    (
        "dlai no 1/m in dW",
        "dlai",
        [("dW = 1.0 / m * np.dot(dZ, A_prev.T)", "dW = np.dot(dZ, A_prev.T)")],
        "wrong",
        'grads["dW4"]',
        "1/m",
    ),
    (
        "dlai db over the wrong axis",
        "dlai",
        [("np.sum(dZ, axis=1, keepdims=True)", "np.sum(dZ, axis=0, keepdims=True)")],
        "wrong",
        'grads["db4"]',
        "axis",
    ),
    ("flat tuple cache correct", "flat", [], "correct", None, None),
    (
        "flat tuple cache dW2 1/m twice",
        "flat",
        [("dW2 = np.dot(dz2, a1.T)", "dW2 = 1.0 / m * np.dot(dz2, a1.T)")],
        "wrong",
        "dW2",
        "1/m",
    ),
    ("zero correct", "zero", [], "correct", None, None),
    ("zero db over the wrong axis", "zero", [("dZ.sum(axis=0)", "dZ.sum(axis=1)")], "wrong", 'grads["db1"]', "axis"),
    (
        "zero tanh derivative on Z",
        "zero",
        [('(1 - cache["A" + str(l - 1)] ** 2)', '(1 - cache["Z" + str(l - 1)] ** 2)')],
        "wrong",
        'grads["dW0"]',
        "derivative",
    ),
    ("l2 keras form", "l2", [], "correct", None, None),
    ("l2 half form", "l2", [("2 * lambd * W1", "lambd * W1")], "wrong", "dW1", "L2"),
    ("l2 term left out", "l2", [(" + 2 * lambd * W2", "")], "wrong", "dW2", "L2"),
]

UNUSUAL = {
    "a loop over examples": ROWS.replace(
        "dW1 = X.T @ dZ1 / m",
        "dW1 = np.zeros((X.shape[1], dZ1.shape[1]))\n    for i in range(m):\n        dW1 += np.outer(X[i], dZ1[i]) / m",
    ),
    "integer labels": ROWS.replace("dZ2 = A2 - y_true", "dZ2 = A2.copy()\n    dZ2[np.arange(m), y_true] -= 1"),
    "a relu mask changed in place on a copy": ROWS.replace(
        "dZ1 = dA1 * relu_derivative(Z1)", "dZ1 = np.array(dA1, copy=True)\n    dZ1[Z1 <= 0] = 0"
    ),
}


def _source(template: str, edits) -> str:
    text = TEMPLATES[template]
    for old, new in edits:
        assert old in text, f"{old!r} is not in the {template} template"
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(case):
    name, template, edits, verdict, first, word = case
    options = {"l2": 0.01, "model": MODELS["rows"]} if template == "l2" else {"model": MODELS[template]}
    result = bl.check_code(source=_source(template, edits), **options)
    assert result.verdict == verdict, result.text()
    if verdict == "correct":
        assert result.first_wrong is None and all(t.status == "ok" for t in result.tensors)
        assert len(result.tensors) >= 4
        return
    if first is not None:
        assert result.first_wrong.name == first, result.text()
    assert word in result.first_wrong.cause, result.text()
    assert "no known cause" not in result.first_wrong.cause or word == "no known cause"


def test_the_corpus_is_large_and_mixed():
    assert len(CORPUS) + len(UNUSUAL) >= 30
    assert {c[1] for c in CORPUS} == set(TEMPLATES)
    assert {c[5] for c in CORPUS if c[5]} >= {"1/m", "sign", "transpose", "axis", "derivative", "L2"}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_but_correct_forms_pass(name):
    result = bl.check_code(source=UNUSUAL[name], model="mlp:128")
    assert result.correct, result.text()


def test_course_caches_as_lists_of_tuples_are_fed_correct_values_in_their_structure():
    """L_model_backward unpacks ((A_prev, W, b), Z) per layer: it gets that structure, with correct values
    (a wrong forward leaves the backward's verdict alone), and the caches' Z and A are judged as the forward's."""
    broken_forward = DLAI.replace("A = np.maximum(0, Z)", "A = np.maximum(0, Z) * 1.5")
    result = bl.check_code(source=broken_forward, model=MODELS["dlai"])
    assert result.layout.startswith("columns") and result.verdict == "wrong", result.text()
    assert result.first_wrong.name == "caches[1][0][0]" and result.first_wrong.symbol == "A1"
    assert all(t.status == "ok" for t in result.tensors if t.function == "L_model_backward")
    assert sum(t.function == "L_model_backward" for t in result.tensors) == 3 * 4 - 1  # dA1..dA3, dW, db


@pytest.mark.parametrize(
    "template, old, new",
    [
        ("deep", 'delta = cache["A4"] - Y', 'delta = Y - cache["A4"]'),
        ("dlai", "dAL = -(np.divide(Y, AL)", "dAL = (np.divide(Y, AL)"),
    ],
    ids=["deep", "dlai"],
)
def test_gradients_wrong_only_through_an_unnamed_delta_depend_on_it(template, old, new):
    """The output delta is never named (a reused `delta`, or computed in a helper): its sign mistake is read
    back from dW4 and blamed there once; every later gradient is wrong only because of it."""
    result = bl.check_code(source=_source(template, [(old, new)]), model=MODELS[template])
    assert result.first_wrong.name == 'grads["dW4"]' and "sign: the delta of layer 4 (unnamed" in result.cause
    later = [t for t in result.tensors if t.function == result.backward and t.name != 'grads["dW4"]']
    assert later and all(t.status == "depends" for t in later), result.text()
    assert not any(n.startswith("also wrong") for n in result.notes)
    # a mistake repeated in every layer's own line stays blamed in each
    repeated = bl.check_code(source=DLAI.replace("    dZ[Z <= 0] = 0\n", ""), model=MODELS["dlai"])
    blamed = [t.name for t in repeated.tensors if t.status == "wrong"]
    assert blamed == ['grads["dW3"]', 'grads["dW2"]', 'grads["dW1"]'], repeated.text()
    assert all(
        "leaves out the activation's derivative relu'" in t.cause for t in repeated.tensors if t.status == "wrong"
    )


def test_layers_numbered_from_zero_are_mapped_and_said_in_the_learners_numbers():
    result = bl.check_code(source=ZERO, model=MODELS["zero"])
    assert result.correct and any("counted from 0" in n for n in result.notes), result.text()
    symbols = {t.name: t.symbol for t in result.tensors}
    assert symbols['grads["dW0"]'] == "dW1" and symbols['cache["A1"]'] == "A2" and symbols['cache["X"]'] == "A0"
    wrong = bl.check_code(source=ZERO.replace("A_prev.T @ dZ", "dZ.T @ A_prev"), model=MODELS["zero"])
    assert wrong.first_wrong.name == 'grads["dW1"]' and "transpose" in wrong.cause, wrong.text()
    assert "A0.T @ dZ1" in wrong.cause  # the learner's numbers: their layer 1 is our layer 2


def test_the_layout_and_the_delta_scale_are_read_and_said():
    rows = bl.check_code(source=ROWS, model="mlp:128")
    cols = bl.check_code(source=COLS, model=MODELS["cols"])
    assert rows.layout.startswith("rows") and cols.layout.startswith("columns")
    assert rows.delta_scale.startswith("sums") and cols.delta_scale.startswith("the batch-mean")


def test_the_reference_agrees_with_finite_differences():
    """The correct values the checker compares with are the gradient of the batch-mean loss: checked here
    against central differences of an independently written loss, for each output and loss."""
    for model, l2, form in (
        ("mlp:8,6/act=tanh", 0.03, "half-mean"),
        ("mlp:8/out=sigmoid", 0.0, "keras"),
        ("mlp:5/act=sigmoid/out=linear", 0.02, "keras"),
    ):
        net = make_net(model, None, l2, form)
        rng = np.random.default_rng(1)
        base = make_inputs(net, 9, rng)
        values = Values(net, base, 1.0)

        def loss(w, net=net, base=base, form=form, l2=l2):
            a = base["A0"]
            for l in range(1, net.L + 1):
                z = a @ w[f"W{l}"] + w[f"b{l}"]
                act = net.act(l)
                a = {"relu": np.maximum(z, 0), "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z)), "linear": z}.get(
                    act
                )
                if act == "softmax":
                    a = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            y = base["Y"]
            if net.loss == "categorical_crossentropy":
                data = -np.mean(np.sum(y * np.log(a), axis=1))
            elif net.loss == "binary_crossentropy":
                data = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
            else:
                data = np.mean((a - y) ** 2)
            m = len(y)
            k = {"keras": 1, "half": 0.5, "half-mean": 0.5 / m, "mean": 1 / m}[form]
            return data + k * l2 * sum(np.sum(w[f"W{l}"] ** 2) for l in range(1, net.L + 1))

        w = {k: v.copy() for k, v in base.items() if k[0] in "Wb"}
        for key in ("W1", "b1", f"W{net.L}"):
            numeric = np.zeros_like(w[key])
            for idx in np.ndindex(w[key].shape):
                for sign in (1, -1):
                    w[key][idx] += sign * 1e-6
                    numeric[idx] += sign * loss(w) / 2e-6
                    w[key][idx] -= sign * 1e-6
            analytic = values.get("d" + key)
            assert np.allclose(analytic.reshape(numeric.shape), numeric, atol=1e-7), (model, key)


# --- sizes from a data set (--data) -----------------------------------------------------------------

# digits: 8x8 images (64 features), 10 classes, hard-coded in the functions as a learner writes them.
DIGITS = """
import numpy as np

def forward(X, W1, b1, W2, b2):
    X = X.reshape(-1, 64)
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    A2 = E / E.sum(axis=1, keepdims=True)
    return Z1, A1, Z2, A2

def backward(X, labels, Z1, A1, A2, W2):
    m = X.shape[0]
    Y = np.zeros((m, 10))
    Y[np.arange(m), labels] = 1
    dZ2 = (A2 - Y) / m
    dW2 = A1.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return dW1, db1, dW2, db2
"""


def test_data_sizes_let_functions_that_hard_code_them_be_checked():
    small = bl.check_code(source=DIGITS, model="mlp:32")
    assert small.verdict == "failing" and "reshape" in small.message
    assert any("--data NAME" in n for n in small.notes)
    right = bl.check_code(source=DIGITS, model="mlp:32", data="digits")
    assert right.correct, right.text()
    shapes = {t.name: t.shape for t in right.tensors}
    assert shapes["dW1"] == "(64, 32)" and shapes["dW2"] == "(32, 10)" and shapes["Z1"] == "(66, 32)"
    assert "inputs 64 and outputs 10 from digits" in right.sizes and "batches of 66 and 1" in right.sizes
    # a bug is still found, and named, at the data set's sizes
    wrong = bl.check_code(
        source=DIGITS.replace("dW1 = X.T @ dZ1", "dW1 = X.T @ dZ1 * m"), model="mlp:32", data="digits"
    )
    assert wrong.first_wrong.name == "dW1" and "1/m" in wrong.cause, wrong.text()
    # and so is one that shows only with a batch of one example
    squeezed = DIGITS.replace("dZ2 = (A2 - Y) / m", "dZ2 = np.squeeze((A2 - Y) / m)")
    one = bl.check_code(source=squeezed, model="mlp:32", data="digits")
    assert one.verdict == "failing" and "with a batch of 1 example" in one.message, one.text()
    assert "dW2 = A1.T @ dZ2" in one.message


def test_data_sizes_keep_every_tensor_distinct():
    """The model's hidden widths are kept, except where one equals another size (a transposition would hide)."""
    net = make_net("mlp:64,10,128,128", None, 0.0, "keras", DataSizes("digits", 64, 10))
    assert net.sizes == [64, 65, 11, 128, 129, 10]
    assert net.nudged == ["64 -> 65", "10 -> 11", "128 -> 129"]
    binary = make_net("mlp:16/out=sigmoid", None, 0.0, "keras", DataSizes("pair", 5, 2))
    assert binary.sizes == [5, 16, 1] and binary.loss == "binary_crossentropy"
    with pytest.raises(bl.BplabError, match="unknown data set 'nosuch'"):
        bl.check_code(source=DIGITS, model="mlp:32", data="nosuch")


# --- failing code ------------------------------------------------------------------------------------


def test_an_exception_names_the_line_the_variable_and_the_shapes():
    source = ROWS.replace("dA1 = dZ2 @ W2.T", "dA1 = dZ2 @ W2")
    result = bl.check_code(source=source, model="mlp:128")
    line = source.splitlines().index("    dA1 = dZ2 @ W2") + 1
    assert result.verdict == "failing"
    assert f"line {line}: dA1 = dZ2 @ W2" in result.message
    assert "W2.T" in result.message and "cannot multiply" in result.message


def test_a_function_that_raises_on_line_12():
    source = (
        "import numpy as np\n\n\n"
        "def forward(X, W1, b1, W2, b2):\n"
        "    Z1 = X @ W1 + b1\n"
        "    A1 = np.tanh(Z1)\n"
        "    Z2 = A1 @ W2 + b2\n"
        "    return Z1, A1, Z2, np.exp(Z2) / np.exp(Z2).sum(axis=1, keepdims=True)\n\n\n"
        "def backward(X, Y, A2):\n"
        "    raise RuntimeError('not written yet')\n"
    )
    result = bl.check_code(source=source, model="mlp:8/act=tanh")
    assert result.verdict == "failing", result.text()
    assert result.message == "backward, line 12: raise RuntimeError('not written yet'): RuntimeError: not written yet"


def test_a_function_that_never_returns_is_stopped_in_time():
    source = ROWS.replace("    m = X.shape[0]\n", "    m = X.shape[0]\n    while True:\n        m = m + 1\n")
    start = time.perf_counter()
    result = bl.check_code(source=source, model="mlp:128", timeout=1.5)
    assert time.perf_counter() - start < 5
    assert result.verdict == "failing"
    assert "backward_propagation did not return within 1.5 s" in result.message
    assert "last line run: line" in result.message


def test_the_memory_limit_stops_a_huge_array_in_the_child():
    source = ROWS.replace("    m = X.shape[0]\n", "    m = X.shape[0]\n    big = np.ones((20000, 20000))\n")
    result = bl.check_code(source=source, model="mlp:128")
    assert result.verdict == "failing" and "big = np.ones((20000, 20000)): MemoryError" in result.message


def test_the_wrong_count_of_return_values():
    result = bl.check_code(source=ROWS.replace("return dW1, db1, dW2, db2", "return dW1, db1, dW2"), model="mlp:128")
    assert result.verdict == "failing"
    assert result.message == "backward_propagation returns 3 values (dW1, db1, dW2): db2 is missing"


def test_none_returned():
    result = bl.check_code(source=ROWS.replace("    return Z1, A1, Z2, A2\n", "\n"), model="mlp:128")
    assert result.verdict == "failing" and "forward_propagation returns None" in result.message


def test_a_function_that_changes_its_inputs_in_place_is_reported_and_harms_nothing():
    source = ROWS.replace("dZ1 = dA1 * relu_derivative(Z1)", "A1[A1 > 0] = 1\n    dZ1 = dA1 * A1")
    before = np.arange(3.0)
    result = bl.check_code(source=source, model="mlp:128")
    line = source.splitlines().index("    A1[A1 > 0] = 1") + 1
    assert result.verdict == "failing", result.text()
    assert f"line {line}: changes its argument A1 in place" in result.message
    assert all(t.status == "ok" for t in result.tensors)  # its values were right: the copies kept the check whole
    assert np.array_equal(before, np.arange(3.0)) and os.getpid()  # this process carries on


def test_top_level_training_code_is_skipped_and_listed():
    result = bl.check_code(EXAMPLES / "course_two_layer.py", model="mlp:128")
    assert result.correct, result.text()
    assert any("pd.read_csv" in s for s in result.skipped) and any("for epoch" in s for s in result.skipped)
    assert not any(s.split(": ", 1)[1].startswith(("def ", "import", "INPUT_SIZE =")) for s in result.skipped)


def test_a_notebook_is_read_cell_by_cell(tmp_path):
    cells = [
        ROWS.split("def forward_propagation")[0],
        "def forward_propagation" + ROWS.split("def forward_propagation")[1],
    ]
    cells[1] = cells[1].replace("dZ1 = dA1 * relu_derivative(Z1)", "dZ1 = dA1")
    nb = {
        "cells": [
            {"cell_type": "code", "source": c, "metadata": {}} for c in ["%matplotlib inline\nX = load_data()", *cells]
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "work.ipynb"
    path.write_text(json.dumps(nb))
    result = bl.check_code(path, model="mlp:128")
    assert result.first_wrong.name == "dZ1" and result.first_wrong.where.startswith("cell 3, line ")
    assert result.skipped == ["cell 1, line 2: X = load_data()"]


def test_functions_defined_in_the_session_are_checked_from_their_source(tmp_path):
    namespace: dict = {}
    path = tmp_path / "cell.py"
    path.write_text(ROWS)
    exec(compile(ROWS, str(path), "exec"), namespace)
    result = bl.check_code(
        functions=[namespace["forward_propagation"], namespace["backward_propagation"]], model="mlp:128"
    )
    assert result.correct, result.text()


@pytest.mark.parametrize(
    "source, model, message",
    [
        ("def forward(:\n", "mlp:8", "cannot be parsed as Python (line 1"),
        ("import numpy as np\ndef helper(x):\n    return x\n", "mlp:8", "no function whose name contains 'forward'"),
        (
            ROWS.replace("def forward_propagation(X, W1,", "def forward_propagation(X, weights_of_layer_one,"),
            "mlp:128",
            "parameter 'weights_of_layer_one' cannot be mapped",
        ),
        (ROWS, "cnn:8", "check-code covers MLPs"),
    ],
)
def test_bad_input_is_a_bplab_error(source, model, message):
    with pytest.raises(bl.BplabError, match=message.replace("(", r"\(")):
        bl.check_code(source=source, model=model)


# --- the command --------------------------------------------------------------------------------------


def test_the_examples_say_what_their_docstrings_say():
    expected = {
        "course_two_layer.py": ("correct", None),
        "broken_missing_1_over_m.py": ("wrong", "1/m"),
        "broken_no_derivative.py": ("wrong", "derivative"),
        "broken_transpose.py": ("failing", "W2.T"),
        "hard_coded_sizes.py": ("failing", "reshape"),  # at check-code's own sizes; correct with --data mnist-5k
    }
    checks = bl.check_code(EXAMPLES, model="mlp:128")
    got = {Path(c.file).name: c for c in checks.checks}
    assert set(got) == set(expected)
    for name, (verdict, word) in expected.items():
        assert got[name].verdict == verdict, got[name].text()
        assert word is None or word in got[name].message
    assert max(c.seconds for c in checks.checks) < 10
    with_data = bl.check_code(EXAMPLES / "hard_coded_sizes.py", model="mlp:128", data="mnist-5k")
    assert with_data.correct and "inputs 784 and outputs 10 from mnist-5k" in with_data.sizes, with_data.text()


def test_the_tutorial_runs():
    text = (Path(__file__).resolve().parents[2] / "docs" / "check-code.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/check-code.md", "exec"), {})
