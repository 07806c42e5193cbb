"""Section 4: the published 2-2-2 example worked with every number, and its explorer page."""

import json
import re
from pathlib import Path

import numpy as np

from backprop_lab.studies.sections.pictures import SMALL_WEIGHTS, small_worked_example

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_the_weights_shipped_with_the_package_are_the_examples_file():
    assert SMALL_WEIGHTS.read_bytes() == (EXAMPLES / "published-2-2-2.json").read_bytes()


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_section_4_works_the_2_2_2_example_as_plain_numpy_does_and_writes_its_explorer_page(tmp_path):
    example, page = small_worked_example(tmp_path)
    # an independent step, written out by hand: sigmoid layers, loss ½ Σ (a - y)², plain gradient descent lr 0.5
    w = {k: np.array(v) for k, v in json.loads(SMALL_WEIGHTS.read_text()).items()}
    x, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    a1 = _sigmoid(x @ w["dense_0/kernel"] + w["dense_0/bias"])
    a2 = _sigmoid(a1 @ w["dense_1/kernel"] + w["dense_1/bias"])
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = d2 @ w["dense_1/kernel"].T * a1 * (1 - a1)
    assert np.isclose(example.loss_before, 0.5 * np.sum((a2 - y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(example.weights["dense_1/kernel"], w["dense_1/kernel"] - 0.5 * a1.T @ d2, rtol=1e-12)
    np.testing.assert_allclose(example.weights["dense_0/kernel"], w["dense_0/kernel"] - 0.5 * x.T @ d1, rtol=1e-12)
    np.testing.assert_array_equal(example.weights["dense_0/bias"], w["dense_0/bias"])  # fixed, as published
    # every number is shown: no tensor written as a symbol for its size
    assert all("values)" not in line for line in example.to_markdown().splitlines())
    # the explorer page: one offline file (its own script; the report links to it and keeps none)
    html = page.read_text()
    assert page.parent == tmp_path and page.stat().st_size < 300_000
    assert "<script" in html and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
