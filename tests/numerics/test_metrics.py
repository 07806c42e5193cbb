"""Targets and metrics from predictions: one-hot or a 0/1 column, the checks that a loss fits the output layer,
predicted labels (argmax, or a 0.5 threshold for one unit), and the loss and accuracy of a data set."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.numerics.metrics import check_loss_fits, loss_and_accuracy, predicted_labels, targets
from backprop_lab.spec.model import Conv2D, ModelSpec, parse_model

SOFTMAX3 = parse_model("mlp:4", (3,), 3)
SIGMOID1 = parse_model("mlp:4/out=sigmoid", (3,), 1)


def test_targets_are_one_hot_or_a_column_for_a_single_unit():
    one_hot = targets(SOFTMAX3, np.array([2, 0]))
    assert one_hot.dtype == np.float32 and one_hot.tolist() == [[0, 0, 1], [1, 0, 0]]
    column = targets(SIGMOID1, np.array([1, 0, 1]), "float64")
    assert column.dtype == np.float64 and column.tolist() == [[1], [0], [1]]


@pytest.mark.parametrize(
    "spec, loss, classes, message",
    [
        (SOFTMAX3, "categorical_crossentropy", 4, "the output layer has 3 units but the data has 4 classes"),
        (SIGMOID1, "binary_crossentropy", 3, "a single output unit needs exactly 2 classes, the data has 3"),
        (SIGMOID1, "categorical_crossentropy", 2, "needs a softmax output, the model ends in sigmoid"),
        (SOFTMAX3, "binary_crossentropy", 3, "needs a sigmoid output, the model ends in softmax"),
        (
            ModelSpec((4, 4, 1), (Conv2D(2, 3, 1, "same", "softmax"),)),
            "mse",
            2,
            r"\(4, 4, 2\); the last layer must be Dense",
        ),
    ],
)
def test_a_loss_that_does_not_fit_the_output_is_refused(spec, loss, classes, message):
    with pytest.raises(BplabError, match=message):
        check_loss_fits(spec, loss, classes)


def test_a_loss_that_fits_passes():
    check_loss_fits(SOFTMAX3, "categorical_crossentropy", 3)
    check_loss_fits(SOFTMAX3, "mse", 3)
    check_loss_fits(SIGMOID1, "binary_crossentropy", 2)


def test_predicted_labels_take_the_argmax_or_a_threshold_of_one_half():
    assert predicted_labels(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])).tolist() == [1, 0]
    assert predicted_labels(np.array([[0.51], [0.5], [0.2]])).tolist() == [1, 0, 0]


def test_loss_and_accuracy_of_predictions():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25]], np.float32)
    loss, accuracy = loss_and_accuracy(SOFTMAX3, "categorical_crossentropy", probs, np.array([0, 1, 2]))
    assert accuracy == pytest.approx(2 / 3)
    assert loss == pytest.approx(-np.mean(np.log([0.7, 0.8, 0.25])), rel=1e-6)
