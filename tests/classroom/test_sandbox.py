"""Running a learner's functions in a forked child: every local recorded with the line that last changed it
(dict entries and in-place changes included), arguments changed in place, errors with their line and shapes, a
module statement that fails left out, calls skipped or fed by earlier ones, and a call stopped in time."""

from __future__ import annotations

import time

import numpy as np

from backprop_lab.classroom.sandbox import Call, run_calls

SOURCE = """import numpy as np
import nosuchmodule

SCALE = 2.0

def step(X, W):
    Z = X @ W
    Z[Z < 0] = 0
    grads = {}
    grads["dW"] = X.T @ Z * SCALE
    W += 1
    return Z

def bad(X, W):
    Y = X @ X
    return Y

def spin(n):
    while True:
        n = n + 1
"""
X = np.array([[1.0, -2.0], [3.0, 4.0]])
W = np.eye(2)


def test_locals_are_recorded_with_the_line_that_last_changed_them():
    failed, [outcome], stopped = run_calls(SOURCE, [Call("s", "step", {"X": X, "W": W})], timeout=10)
    assert stopped is None and outcome.error is None
    assert failed == ["line 2: ModuleNotFoundError: No module named 'nosuchmodule'"]  # left out, the rest loaded
    z, dw = outcome.records["Z"], outcome.records['grads["dW"]']
    assert z.line == 8 and z.value.tolist() == [[1, 0], [3, 4]]  # changed in place on line 8
    assert dw.key == "dW" and dw.line == 10 and dw.value.tolist() == [[20, 24], [20, 32]]
    assert np.array_equal(outcome.returned, z.value)


def test_an_argument_changed_in_place_is_reported_and_the_callers_copy_is_untouched():
    _, [outcome], _ = run_calls(SOURCE, [Call("s", "step", {"X": X, "W": W})], timeout=10)
    assert outcome.mutated == [("W", 11)]
    assert np.array_equal(W, np.eye(2))


def test_an_error_names_the_learners_line_and_the_shapes_behind_it():
    _, [outcome], _ = run_calls(SOURCE, [Call("b", "bad", {"X": np.ones((2, 3)), "W": W})], timeout=10)
    assert outcome.error.startswith("ValueError: matmul") and outcome.error_line == 15
    assert outcome.error_hint == "X (2, 3) @ X (2, 3) cannot multiply; X.T (3, 2) would"


def test_calls_run_as_fallbacks_or_after_a_clean_group_and_take_earlier_results():
    bad = Call("a", "bad", {"X": np.ones((2, 3)), "W": W}, group="g")
    fallback = Call("fallback", "step", {"X": X, "W": W}, unless_clean="g")
    after = Call("after", "step", {"X": X, "W": W}, only_if_clean="g")
    _, outcomes, _ = run_calls(SOURCE, [bad, fallback, after], timeout=10)
    assert [o.label for o in outcomes] == ["a", "fallback"]  # the group failed: its fallback ran, not "after"
    fed = Call("second", "step", {"W": W}, late=lambda returned: {"X": returned["first"]})
    _, [first, second], _ = run_calls(SOURCE, [Call("first", "step", {"X": X, "W": W}), fed], timeout=10)
    assert second.error is None and second.records['grads["dW"]'].value.tolist() == [[20, 24], [24, 32]]


def test_a_call_that_never_returns_is_stopped_at_the_timeout():
    start = time.perf_counter()
    _, outcomes, stopped = run_calls(SOURCE, [Call("s", "spin", {"n": 0})], timeout=0.3)
    assert time.perf_counter() - start < 3
    assert outcomes == [] and stopped.label == "s" and stopped.reason == "did not return within 0.3 s"
    assert stopped.line in (19, 20)  # the loop's lines
