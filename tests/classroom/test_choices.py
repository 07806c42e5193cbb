"""The loss and L2 form a check is about: every loss fits exactly the outputs it can follow, and each L2
form's dW factor is the derivative of its penalty."""

import numpy as np
import pytest

from backprop_lab.classroom.choices import L2_FORMS, check_l2_form, choose_loss, default_loss, l2_factor, loss_fits
from backprop_lab.core.errors import BplabError
from backprop_lab.core.names import LOSSES

OUTPUTS = ("softmax", "sigmoid", "linear", "relu", "tanh")


@pytest.mark.parametrize("output", OUTPUTS)
def test_without_loss_the_outputs_default_is_meant_and_it_fits(output):
    loss = choose_loss(None, output)
    assert loss == default_loss(output) and loss_fits(loss, output)


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_loss_that_cannot_follow_the_output_is_one_error_naming_both(output):
    for loss in LOSSES:
        if loss_fits(loss, output):
            assert choose_loss(loss, output) == loss
        else:
            with pytest.raises(BplabError, match=f"--loss {loss}: .*{output}"):
                choose_loss(loss, output)
    with pytest.raises(BplabError, match="--loss"):
        choose_loss("hinge", output)


def test_each_l2_forms_factor_is_the_derivative_of_its_penalty():
    rng = np.random.default_rng(0)
    w, lam, m, eps = rng.normal(size=(3, 4)), 0.3, 7, 1e-6
    penalties = {
        "keras": lambda w: lam * np.sum(w**2),
        "half": lambda w: 0.5 * lam * np.sum(w**2),
        "half-mean": lambda w: lam / (2 * m) * np.sum(w**2),
        "mean": lambda w: lam / m * np.sum(w**2),
    }
    assert set(penalties) == set(L2_FORMS)
    for form, penalty in penalties.items():
        e = np.zeros_like(w)
        e[1, 2] = eps
        numeric = (penalty(w + e) - penalty(w - e)) / (2 * eps)
        assert np.isclose(numeric, l2_factor(form, m) * lam * w[1, 2], rtol=1e-6), form
        assert check_l2_form(form) == form
    with pytest.raises(BplabError, match="--l2-form"):
        check_l2_form("quarter")
