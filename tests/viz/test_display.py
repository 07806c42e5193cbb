"""Notebook renderers: each result class has one, and a run's or a report's HTML is well formed and shows its numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from backprop_lab.core import display
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import classification_report
from backprop_lab.runs.record import Run, RunMetrics
from backprop_lab.spec.model import parse_model
from backprop_lab.training.history import History, Stop
from backprop_lab.viz.display import register_renderers, run_html

REPORT = classification_report(np.eye(3)[[0, 1, 2, 2]], np.array([0, 1, 2, 1]), ["a", "b", "<c>"])


def test_every_result_class_has_its_renderer(monkeypatch):
    monkeypatch.setattr(display, "HTML", {})
    register_renderers()
    assert {"Run", "Evaluation", "ClassificationReport", "Summary", "Drawing", "StudyReport"} <= set(display.HTML)
    assert REPORT._repr_html_() == display.HTML["ClassificationReport"](REPORT)


def test_a_reports_html_is_one_element_with_its_accuracy_and_escaped_class_names():
    page = REPORT._repr_html_()
    root = ET.fromstring(page)
    text = "".join(root.itertext())
    assert "accuracy 0.7500 on 4 examples" in text and "<c>" in text and "&lt;c&gt;" in page


def test_a_runs_html_says_why_it_stopped_and_where_it_lives(tmp_path):
    spec = parse_model("mlp:2", (3,), 3)
    run = Run(
        "scratch",
        "digits",
        spec,
        TrainConfig(),
        ["a", "b", "c"],
        {},
        History([1.0], [], Stop(0, 1e9, "loss diverged")),
        RunMetrics(REPORT),
        folder=tmp_path,
    )
    text = "".join(ET.fromstring(run_html(run)).itertext())
    assert "scratch · digits" in text and "loss diverged" in text
    assert f"test accuracy 0.7500; run folder {tmp_path}" in text
