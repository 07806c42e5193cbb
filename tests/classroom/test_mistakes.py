"""Each known code mistake (classroom/mistakes.py's CODE_MISTAKES) is the mistake it names: its value, on the
checker's correct values, equals the wrong line a learner writes, computed here independently: the true
derivatives by central differences of a forward pass and losses written in this file (not the checker's
rules), activations from SciPy, and the learner's wrong line as a course writes it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from backprop_lab.classroom.code import Values, make_inputs, make_net
from backprop_lab.classroom.mistakes import CODE_MISTAKES

ACT = {"relu": lambda z: np.maximum(z, 0.0), "sigmoid": expit, "tanh": np.tanh, "linear": lambda z: z}
COURSE = {  # the derivative helpers as courses write them, in terms of their argument
    "relu": lambda x: (x > 0).astype(float),
    "sigmoid": lambda x: x * (1 - x),
    "tanh": lambda x: 1 - x**2,
}
H = 1e-6


class Reference:
    """An independent forward pass and loss, and the true derivatives by central differences."""

    def __init__(self, model: str, loss: str | None = None, l2: float = 0.0, form: str = "keras"):
        self.net = make_net(model, loss, l2, form)
        self.base = make_inputs(self.net, 9, np.random.default_rng(3))
        self.values = Values(self.net, self.base, 1.0)
        self.m = len(self.base["Y"])
        self.acts = [self.net.act(l) for l in range(1, self.net.L + 1)]

    def act(self, l: int, z: np.ndarray) -> np.ndarray:
        name = self.acts[l - 1]
        return softmax(z, axis=1) if name == "softmax" else ACT[name](z)

    def data_loss(self, a: np.ndarray, loss: str | None = None) -> float:
        y, loss = self.base["Y"], loss or self.net.loss
        if loss == "categorical_crossentropy":
            return float(-np.mean(np.sum(y * np.log(a), axis=1)))
        if loss == "binary_crossentropy":
            return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))
        if loss == "mse":
            return float(np.mean((a - y) ** 2))
        per_example = np.sum((a - y) ** 2, axis=1) * (0.5 if loss == "half_squared_error" else 1.0)
        return float(np.mean(per_example))

    def penalty(self, w: dict, form: str | None = None) -> float:
        k = {"keras": 1.0, "half": 0.5, "half-mean": 0.5 / self.m, "mean": 1.0 / self.m}[form or self.net.l2_form]
        return k * self.net.l2 * sum(float(np.sum(w[f"W{l}"] ** 2)) for l in range(1, self.net.L + 1))

    def run(self, w: dict, start: tuple[str, int, np.ndarray] | None = None) -> np.ndarray:
        """The output; ``start`` = ("Z" or "A", l, value) replaces that tensor and runs on from it."""
        a = self.base["A0"]
        for l in range(1, self.net.L + 1):
            if start and start[:2] == ("A", l - 1):
                a = start[2]
            z = a @ w[f"W{l}"] + w[f"b{l}"]
            if start and start[:2] == ("Z", l):
                z = start[2]
            a = self.act(l, z)
        return start[2] if start and start[:2] == ("A", self.net.L) else a

    def weights(self) -> dict:
        return {k: v.copy() for k, v in self.base.items() if k[0] in "Wb"}

    def objective(self, loss=None, data_scale=1.0, form=None, l2=True):
        return lambda w, start=None: (
            data_scale * self.data_loss(self.run(w, start), loss) + (self.penalty(w, form) if l2 else 0.0)
        )

    def grad(self, sym: str, f=None) -> np.ndarray:
        """d f / d sym by central differences (f: the batch-mean loss with its penalty unless given)."""
        f = f or self.objective()
        w = self.weights()
        kind, l = sym[:-1], int(sym[-1])
        if kind in ("W", "b"):
            x, call = w[sym], lambda: f(w)
        else:
            x = self.forward_value(kind, l).copy()
            call = lambda: f(w, (kind, l, x))  # noqa: E731
        out = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            keep = x[idx]
            x[idx] = keep + H
            up = call()
            x[idx] = keep - H
            out[idx] = (up - call()) / (2 * H)
            x[idx] = keep
        return out

    def forward_value(self, kind: str, l: int) -> np.ndarray:
        a = self.base["A0"]
        for k in range(1, l + 1):
            z = a @ self.base[f"W{k}"] + self.base[f"b{k}"]
            a = self.act(k, z)
        return z if kind == "Z" else a


def derivative(name: str, x: np.ndarray) -> np.ndarray:
    """An activation's derivative at x, by central differences of SciPy's / NumPy's function."""
    return (ACT[name](x + H) - ACT[name](x - H)) / (2 * H)


def case(model, l, expected, loss=None, l2=0.0, form="keras"):
    return model, l, expected, loss, l2, form


TANH2 = "mlp:7,5/act=tanh"  # two tanh hidden layers and a softmax output
RELU2 = "mlp:7,5"
BINARY = "mlp:7/out=sigmoid"

# mistake key -> (model, layer, the learner's wrong value computed independently from the Reference r)
CASES = {
    "bias-missing": case(RELU2, 2, lambda r: r.forward_value("A", 1) @ r.base["W2"]),
    "softmax-axis": case(RELU2, 3, lambda r: softmax(r.forward_value("Z", 3), axis=0)),
    **{
        f"activation-{o}": case(RELU2 if o == "tanh" else TANH2, 1, lambda r, o=o: ACT[o](r.forward_value("Z", 1)))
        for o in ("relu", "sigmoid", "tanh", "linear")
    },
    "output-sign": case(TANH2, 3, lambda r: -r.grad("Z3")),
    "output-extra-derivative": case(BINARY, 2, lambda r: r.grad("Z2") * derivative("sigmoid", r.forward_value("Z", 2))),
    "output-missing-derivative": case(BINARY, 2, lambda r: r.grad("A2"), loss="squared_error"),
    "output-factor-2": case(BINARY, 2, lambda r: r.grad("Z2", r.objective("half_squared_error")), loss="squared_error"),
    "output-double": case(BINARY, 2, lambda r: r.grad("Z2", r.objective("squared_error")), loss="half_squared_error"),
    "output-1/m-twice": case(TANH2, 3, lambda r: r.grad("Z3") / r.m),
    "dA-sign": case(TANH2, 1, lambda r: -r.grad("A1")),
    "delta-no-derivative": case(TANH2, 1, lambda r: r.grad("A1")),
    **{
        f"delta-{o}-derivative": case(
            RELU2 if o == "tanh" else TANH2,
            1,
            lambda r, o=o: r.grad("A1") * derivative(o, r.forward_value("Z", 1)),
        )
        for o in ("relu", "sigmoid", "tanh")
    },
    **{
        f"delta-{o}-derivative-of-A": case(
            RELU2 if o == "tanh" else TANH2,
            1,
            lambda r, o=o: r.grad("A1") * COURSE[o](r.forward_value("A", 1)),
        )
        for o in ("relu", "sigmoid", "tanh")
    },
    "delta-derivative-at-A": case(TANH2, 1, lambda r: r.grad("A1") * derivative("tanh", r.forward_value("A", 1))),
    "delta-output-form-on-Z": case(TANH2, 1, lambda r: r.grad("A1") * COURSE["tanh"](r.forward_value("Z", 1))),
    "delta-sign": case(TANH2, 1, lambda r: -r.grad("Z1")),
    "delta-1/m-again": case(TANH2, 1, lambda r: r.grad("Z1") / r.m),
    "dW-transpose": case(TANH2, 2, lambda r: r.grad("W2").T),
    "dW-1/m-missing": case(TANH2, 2, lambda r: r.grad("W2", r.objective(data_scale=r.m)), l2=0.03),
    "dW-1/m-twice": case(TANH2, 2, lambda r: r.grad("W2", r.objective(data_scale=1 / r.m)), l2=0.03),
    "dW-sign": case(TANH2, 2, lambda r: -r.grad("W2"), l2=0.03),
    "dW-no-l2": case(TANH2, 2, lambda r: r.grad("W2", r.objective(l2=False)), l2=0.03),
    **{
        f"dW-l2-{form}": case(
            TANH2,
            2,
            lambda r, form=form: r.grad("W2", r.objective(form=form)),
            l2=0.03,
            form="half" if form == "keras" else "keras",
        )
        for form in ("keras", "half", "half-mean", "mean")
    },
    "db-axis": case(TANH2, 2, lambda r: r.grad("Z2").sum(axis=1)),
    "db-not-summed": case(TANH2, 2, lambda r: r.grad("Z2")),
    "db-1/m-missing": case(TANH2, 2, lambda r: r.grad("b2", r.objective(data_scale=r.m))),
    "db-1/m-twice": case(TANH2, 2, lambda r: r.grad("b2", r.objective(data_scale=1 / r.m))),
    "db-sign": case(TANH2, 2, lambda r: -r.grad("b2")),
}
TARGETS = {"Z": "Z", "A": "A", "AL": "A", "dZL": "dZ", "dZ": "dZ", "dA": "dA", "dW": "dW", "db": "db"}


def test_every_code_mistake_is_checked():
    assert set(CASES) == {m.key for m in CODE_MISTAKES}


@pytest.mark.parametrize("mistake", CODE_MISTAKES, ids=[m.key for m in CODE_MISTAKES])
def test_a_mistakes_value_is_the_wrong_line_it_names(mistake):
    model, l, expected, loss, l2, form = CASES[mistake.key]
    r = Reference(model, loss, l2, form)
    ctx = r.values
    kind = TARGETS[mistake.targets[0]]
    ctx.sym = f"{kind}{l}"
    value = mistake.value(ctx, l)
    assert value is not None, f"{mistake.key} does not apply to {model} layer {l}"
    want = expected(r)
    assert np.asarray(value).shape == want.shape
    assert np.allclose(value, want, atol=1e-6, rtol=1e-5), (mistake.key, np.abs(value - want).max())
    # and it is a mistake: it differs from the true value, so the checker can tell them apart
    truth = r.forward_value(kind, l) if kind in ("Z", "A") else r.grad(f"{kind[1:]}{l}")
    assert want.shape != truth.shape or not np.allclose(want, truth, atol=1e-5), mistake.key
