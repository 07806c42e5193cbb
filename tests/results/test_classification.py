"""A classification report: the confusion matrix, per-class precision, recall and F1 (0 where a class is never
predicted), macro averages, binary predictions from one sigmoid unit, the JSON round trip and the tables."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.results.classification import ClassificationReport, classification_report, confusion_matrix

Y = np.array([0, 1, 1, 1, 2, 0])
PREDICTED = np.array([0, 0, 1, 1, 1, 0])
REPORT = classification_report(np.eye(3)[PREDICTED], Y, ["cat", "dog", "eel"])


def test_the_confusion_matrix_has_true_rows_and_predicted_columns():
    assert confusion_matrix(Y, PREDICTED, 3).tolist() == [[2, 0, 0], [1, 2, 0], [0, 1, 0]]
    assert REPORT.confusion_matrix == [[2, 0, 0], [1, 2, 0], [0, 1, 0]]


def test_per_class_scores_and_macro_averages_worked_by_hand():
    cat, dog, eel = REPORT.per_class
    assert (cat.name, cat.precision, cat.recall, cat.f1, cat.support) == (
        "cat",
        pytest.approx(2 / 3),
        1.0,
        pytest.approx(0.8),
        2,
    )
    assert (dog.precision, dog.recall, dog.support) == (pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert (eel.precision, eel.recall, eel.f1) == (0.0, 0.0, 0.0)  # never predicted: 0, not a division by zero
    assert REPORT.accuracy == pytest.approx(4 / 6) and REPORT.n == 6
    assert REPORT.macro.recall == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert REPORT.macro.f1 == pytest.approx((0.8 + 2 / 3 + 0) / 3)


def test_one_sigmoid_unit_is_thresholded_at_one_half():
    report = classification_report(np.array([[0.9], [0.2], [0.6], [0.4]]), np.array([1, 0, 0, 0]), ["no", "yes"])
    assert report.confusion_matrix == [[2, 1], [0, 1]] and report.per_class[1].precision == 0.5


def test_the_json_document_reads_back_and_the_tables_show_every_class():
    doc = REPORT.to_dict()
    assert doc["per_class"][0]["class"] == "cat"  # rows keyed "class", as metrics.json has them
    assert ClassificationReport.from_dict(doc) == REPORT
    rows = REPORT.table().rows
    assert [r[0] for r in rows] == ["cat", "dog", "eel", "macro average"] and rows[0][1:] == [
        "0.6667",
        "1.0000",
        "0.8000",
        "2",
    ]
    assert REPORT.confusion_table().rows[1] == ["dog", "1", "2", "0"]
    assert repr(REPORT) == "ClassificationReport(accuracy=0.6667, n=6, macro_f1=0.4889)"
