"""The speed benchmark's pieces: FLOP counting from the shapes, and one worker per kind of engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import speed  # noqa: E402

from backprop_lab.spec import parse_model  # noqa: E402


def test_epoch_flops_counts_forward_and_backward_matrix_products():
    spec = parse_model("mlp:256,128", (28, 28, 1), 10)
    n = 1000
    layers = [(784, 256), (256, 128), (128, 10)]
    forward = [2 * n * a * b for a, b in layers]
    # the first layer needs no input gradient: 2x forward; the others 3x
    assert speed.epoch_flops(spec, n) == pytest.approx(2 * forward[0] + 3 * forward[1] + 3 * forward[2])
    cnn = parse_model("cnn:4", (8, 8, 1), 10)
    conv = 2 * n * 6 * 6 * 9 * 1 * 4
    dense = 2 * n * (3 * 3 * 4) * 10
    assert speed.epoch_flops(cnn, n) == pytest.approx(2 * conv + 3 * dense)


@pytest.mark.parametrize("engine", ["scratch", "stock"])
def test_a_worker_reports_times_accuracy_and_memory(engine):
    if engine == "stock":
        pytest.importorskip("tensorflow")
    result = speed.measure({"kind": "train", "engine": engine, "data": "digits", "model": "mlp:32",
                            "batch_size": 64, "epochs": 2})
    assert len(result["epoch_s"]) == 2 and result["steady_epoch_s"] > 0 and result["first_epoch_s"] > 0
    assert 0.3 < result["test_acc"] <= 1.0 and result["peak_rss_mb"] > 10 and result["flops_per_epoch"] > 0
