"""What a check is about beside the model: the loss (``--loss``) and the L2 penalty's form (``--l2-form``),
validated once for ``check-code`` and ``check-derivation``.

The loss names are the options registry's (``core.names.LOSSES``); a softmax output takes the categorical
cross-entropy and only it, the binary cross-entropy needs a sigmoid output, and without ``--loss`` the output's
cross-entropy is meant (mse for a linear, relu or tanh output). The L2 forms are the penalties courses write;
each gives dW the term ``factor * λ * W``.
"""

from __future__ import annotations

from backprop_lab.core.errors import BplabError
from backprop_lab.core.names import LOSSES, Registry

L2_FORMS = {  # the form's name -> the penalty it adds to the cost
    "keras": "λ Σ W² (Keras)",
    "half": "½ λ Σ W²",
    "half-mean": "λ/(2m) Σ W²",
    "mean": "λ/m Σ W²",
}
L2_GRADIENTS = {  # the form's name -> its term of dW, as a line writes it
    "keras": "2 λ W",
    "half": "λ W",
    "half-mean": "(λ/m) W",
    "mean": "(2λ/m) W",
}
L2_FORM_NAMES = Registry("L2 form", tuple(L2_FORMS))


def l2_factor(form: str, m: float) -> float:
    """The factor of λ W in dW under the penalty ``form`` on a batch of ``m`` examples."""
    return {"keras": 2.0, "half": 1.0, "half-mean": 1.0 / m, "mean": 2.0 / m}[form]


def check_l2_form(form: str) -> str:
    """``form`` if it is one of ``L2_FORMS``; else a BplabError naming ``--l2-form`` and the choices."""
    return L2_FORM_NAMES.check(form, "--l2-form")


def default_loss(output: str) -> str:
    """The loss meant without ``--loss``: the output's cross-entropy, mse for any other output."""
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(output, "mse")


def loss_fits(loss: str, output: str) -> bool:
    """Whether ``loss`` can follow an output activation ``output``."""
    if output == "softmax":
        return loss == "categorical_crossentropy"
    if loss == "binary_crossentropy":
        return output == "sigmoid"
    return loss != "categorical_crossentropy"


def choose_loss(loss: str | None, output: str) -> str:
    """The loss a check uses: ``loss``, validated against the registry and the model's ``output`` activation,
    or the output's default. A BplabError names ``--loss`` and what is wrong."""
    if loss is None:
        return default_loss(output)
    LOSSES.check(loss, "--loss")
    if not loss_fits(loss, output):
        if output == "softmax":
            need = "a softmax output takes categorical_crossentropy"
        else:
            need = f"needs a {'softmax' if loss == 'categorical_crossentropy' else 'sigmoid'} output"
        raise BplabError(f"--loss {loss}: {need}; the model's output is {output}")
    return loss
