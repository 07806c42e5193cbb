"""Every rule of backpropagation, declared once, as expressions: each layer kind, activation, loss,
the L2 term and each optimizer, with the backward rule right beside the forward (micrograd's habit).

The derivation (``equations.py``), the computation graphs (``graphs.py``), the worked examples
(``worked.py``), the derivation checker (``chain.py``) and the report read these declarations;
nothing else restates a rule. The scratch engine's fast implementations are checked against them
(``tests/derive``), and these against central finite differences and TensorFlow autograd.

The activation, loss and optimizer names are declared in ``backprop_lab.core.names``; each table here
registers against its registry, so a declared name without a rule fails at import.

Notation (batch rows): ``A`` a layer's input, ``Z`` its pre-activation, ``G`` the gradient of the loss
with respect to a layer's output, ``delta`` = dL/dZ, ``m`` the rows of the batch, ``K`` the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from backprop_lab.core import names
from backprop_lab.core.errors import BplabError
from backprop_lab.maths.expr import Const, Div, Expr, Neg, Op, Scale, SumAll, SumLast, SumRows, Sym, func

# --- activations: A = g(Z); dL/dZ from dL/dA = G --------------------------------------------------------


@dataclass(frozen=True)
class ActivationRule:
    name: str
    forward: Callable[[Expr], Expr]  # Z -> A
    backward: Callable[[Expr, Expr, Expr], Expr]  # (Z, A, G) -> dL/dZ
    derivative: Callable[[Expr, Expr], Expr] | None  # (Z, A) -> g'(Z), element-wise (None: a Jacobian)
    title: str


ACTIVATIONS: dict[str, ActivationRule] = names.ACTIVATIONS.table(
    {
        r.name: r
        for r in (
            ActivationRule("linear", lambda z: z, lambda z, a, g: g, lambda z, a: Const(1.0), "identity"),
            ActivationRule(
                "relu",
                lambda z: func("relu", z),
                lambda z, a, g: g * func("step", z),
                lambda z, a: func("step", z),
                "ReLU",
            ),
            ActivationRule(
                "sigmoid",
                lambda z: func("sigmoid", z),
                lambda z, a, g: g * (a * (1 - a)),
                lambda z, a: a * (1 - a),
                "sigmoid",
            ),
            ActivationRule(
                "tanh", lambda z: func("tanh", z), lambda z, a, g: g * (1 - a * a), lambda z, a: 1 - a * a, "tanh"
            ),
            # softmax's Jacobian diag(a) - a a^T applied to each row of G
            ActivationRule(
                "softmax", lambda z: func("softmax", z), lambda z, a, g: a * (g - SumLast(g * a)), None, "softmax"
            ),
        )
    },
    "derive.rules.ACTIVATIONS",
)


# --- losses (Keras 3's formulas: mean over the batch) ----------------------------------------------------


@dataclass(frozen=True)
class LossRule:
    name: str
    title: str
    value: Callable[[Expr, Expr, Expr, Expr], Expr]  # (A, Y, m, K) -> L
    grad: Callable[[Expr, Expr, Expr, Expr], Expr]  # (A, Y, m, K) -> dL/dA
    logits: str | None = None  # the output activation whose logits Keras 3 computes this loss from
    value_from_logits: Callable[[Expr, Expr, Expr, Expr], Expr] | None = None  # (Z, Y, m, K) -> L
    delta_from_logits: Callable[[Expr, Expr, Expr, Expr], Expr] | None = None  # (A, Y, m, K) -> dL/dZ
    keras: bool = True  # the name is Keras's and the formula the installed Keras's


def _mean_rows(e: Expr, m: Expr) -> Expr:
    return Scale(Div(Const(1.0), m), SumAll(e))


LOSSES: dict[str, LossRule] = names.LOSSES.table(
    {
        r.name: r
        for r in (
            LossRule(
                "categorical_crossentropy",
                "categorical cross-entropy",
                lambda a, y, m, k: Neg(_mean_rows(y * func("log", a), m)),
                lambda a, y, m, k: Neg(y / (m * a)),
                "softmax",
                # Keras 3 takes the softmax's input: sum_k Y (logsumexp(Z) - Z); its gradient (A - Y) / m for rows of Y that sum to 1
                lambda z, y, m, k: _mean_rows(y * (func("logsumexp", z) - z), m),
                lambda a, y, m, k: (a - y) / m,
            ),
            LossRule(
                "binary_crossentropy",
                "binary cross-entropy",
                lambda a, y, m, k: Neg(_mean_rows(y * func("log", a) + (1 - y) * func("log", 1 - a), m * k)),
                lambda a, y, m, k: (a - y) / (a * (1 - a)) / (m * k),
                "sigmoid",
                lambda z, y, m, k: _mean_rows(
                    func("max0", z) - z * y + func("log", 1 + func("exp", Neg(func("abs", z)))), m * k
                ),
                lambda a, y, m, k: (a - y) / (m * k),
            ),
            LossRule(
                "mse",
                "mean squared error",
                lambda a, y, m, k: _mean_rows((a - y) * (a - y), m * k),
                lambda a, y, m, k: Scale(Div(Const(2.0), m * k), a - y),
            ),
            # Not Keras's: the squared error summed over the K outputs, averaged over the batch (as hand-written
            # NumPy networks often compute it), and half of it (the classic textbook examples' E = sum 1/2 (t - o)^2).
            LossRule(
                "squared_error",
                "squared error summed over outputs",
                lambda a, y, m, k: _mean_rows((a - y) * (a - y), m),
                lambda a, y, m, k: Scale(Div(Const(2.0), m), a - y),
                keras=False,
            ),
            LossRule(
                "half_squared_error",
                "half squared error summed over outputs",
                lambda a, y, m, k: _mean_rows(Scale(Const(0.5), (a - y) * (a - y)), m),
                lambda a, y, m, k: (a - y) / m,
                keras=False,
            ),
        )
    },
    "derive.rules.LOSSES",
)


# --- L2 -------------------------------------------------------------------------------------------------


def l2_penalty(kernels: list[Expr], lam: Expr) -> Expr:
    """lambda * sum_l ||W[l]||^2 (Keras's L2 regulariser on every kernel)."""
    total: Expr = SumAll(kernels[0] * kernels[0])
    for w in kernels[1:]:
        total = total + SumAll(w * w)
    return Scale(lam, total)


def l2_grad(w: Expr, lam: Expr) -> Expr:
    """d/dW of lambda ||W||^2."""
    return Scale(Scale(Const(2.0), lam), w)


# --- layers: forward and backward side by side -----------------------------------------------------------


@dataclass(frozen=True)
class Backward:
    """What a layer's backward rule gives: dL/d(input) (None where not defined) and dL/d(each parameter)."""

    dx: Expr | None
    params: dict[str, Expr]


class LayerRule:
    kind = ""
    affine = False  # Z = affine(input), then A = g(Z): the activation's rule applies after

    def forward(
        self, x: Expr, p: dict[str, Sym], layer: Any, in_shape: tuple, out_shape: tuple, mask: Sym | None
    ) -> Expr:
        raise NotImplementedError

    def backward(self, g: Expr, x: Expr, p: dict[str, Sym], layer: Any, in_shape: tuple, mask: Sym | None) -> Backward:
        raise NotImplementedError


class DenseRule(LayerRule):
    """Z = A W + b;  dW = A^T delta, db = 1^T delta, dA = delta W^T."""

    kind, affine = "dense", True

    def forward(self, x, p, layer, in_shape, out_shape, mask):
        return x @ p["kernel"] + p["bias"]

    def backward(self, g, x, p, layer, in_shape, mask):
        return Backward(g @ p["kernel"].T, {"kernel": x.T @ g, "bias": SumRows(g)})


def _conv_params(layer: Any) -> dict:
    return {"kernel": layer.kernel, "stride": layer.stride, "padding": layer.padding}


class Conv2DRule(LayerRule):
    """Z = conv(A, W) + b;  dW = im2col(A)^T delta, db = sum over rows and pixels, dA = col2im(delta W^T)."""

    kind, affine = "conv2d", True

    def forward(self, x, p, layer, in_shape, out_shape, mask):
        return Op("conv2d", (x, p["kernel"]), _conv_params(layer), ("m", *out_shape)) + p["bias"]

    def backward(self, g, x, p, layer, in_shape, mask):
        params = _conv_params(layer)
        dw = Op("conv2d_dw", (x, g), params, p["kernel"].shape)
        dx = Op("conv2d_dx", (g, p["kernel"]), {**params, "in_shape": tuple(in_shape)}, ("m", *in_shape))
        return Backward(dx, {"kernel": dw, "bias": SumRows(g)})


class MaxPool2DRule(LayerRule):
    """P = max over each window;  dA: each gradient goes to its window's (first) maximum."""

    kind = "maxpool2d"

    def forward(self, x, p, layer, in_shape, out_shape, mask):
        return Op("maxpool", (x,), {"pool": layer.pool, "stride": layer.step}, ("m", *out_shape))

    def backward(self, g, x, p, layer, in_shape, mask):
        return Backward(Op("maxpool_back", (g, x), {"pool": layer.pool, "stride": layer.step}, ("m", *in_shape)), {})


class FlattenRule(LayerRule):
    """F = flatten(A) in row-major order;  dA = the gradient reshaped back."""

    kind = "flatten"

    def forward(self, x, p, layer, in_shape, out_shape, mask):
        return Op("flatten", (x,), {}, ("m", *out_shape))

    def backward(self, g, x, p, layer, in_shape, mask):
        return Backward(Op("unflatten", (g,), {"in_shape": tuple(in_shape)}, ("m", *in_shape)), {})


class DropoutRule(LayerRule):
    """Inverted dropout with a 0/1 mask M: D = A ⊙ M / (1 - p);  dA = G ⊙ M / (1 - p)."""

    kind = "dropout"

    def forward(self, x, p, layer, in_shape, out_shape, mask):
        return (x * mask) / (1 - layer.rate)

    def backward(self, g, x, p, layer, in_shape, mask):
        return Backward((g * mask) / (1 - layer.rate), {})


LAYERS: dict[str, LayerRule] = {
    r.kind: r for r in (DenseRule(), Conv2DRule(), MaxPool2DRule(), FlattenRule(), DropoutRule())
}


# --- optimizers (Keras 3's update rules) ----------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerRule:
    """``update(W, g, slots, h, t)`` gives the assignments of one step, in order, for one variable."""

    name: str
    title: str
    slots: tuple[str, ...]
    hypers: tuple[str, ...]
    update: Callable[[Sym, Sym, dict[str, Sym], dict[str, Sym], Sym], list[tuple[Sym, Expr]]]


def _sgd(w, g, s, h, t):
    return [(w, w - Scale(h["eta"], g))]


def _momentum(w, g, s, h, t):
    v = s["velocity"]
    return [(v, Scale(h["mu"], v) - Scale(h["eta"], g)), (w, w + v)]


def _nesterov(w, g, s, h, t):
    v = s["velocity"]
    return [(v, Scale(h["mu"], v) - Scale(h["eta"], g)), (w, w + Scale(h["mu"], v) - Scale(h["eta"], g))]


def _rmsprop(w, g, s, h, t):
    v = s["velocity"]
    return [
        (v, Scale(h["rho"], v) + Scale(1 - h["rho"], g * g)),
        (w, w - Scale(h["eta"], g / func("sqrt", v + h["epsilon"]))),
    ]


def _adam(w, g, s, h, t):
    m, v = s["m"], s["v"]
    eta_t = h["eta"] * func("sqrt", 1 - h["beta_2"] ** t) / (1 - h["beta_1"] ** t)
    return [
        (m, m + Scale(1 - h["beta_1"], g - m)),
        (v, v + Scale(1 - h["beta_2"], g * g - v)),
        (w, w - Scale(eta_t, m / (func("sqrt", v) + h["epsilon"]))),
    ]


OPTIMIZERS: dict[str, OptimizerRule] = names.OPTIMIZERS.table(
    {
        r.name: r
        for r in (
            OptimizerRule("sgd", "gradient descent", (), ("eta",), _sgd),
            OptimizerRule("momentum", "SGD with momentum", ("velocity",), ("eta", "mu"), _momentum),
            OptimizerRule("nesterov", "SGD with Nesterov momentum", ("velocity",), ("eta", "mu"), _nesterov),
            OptimizerRule("rmsprop", "RMSprop", ("velocity",), ("eta", "rho", "epsilon"), _rmsprop),
            OptimizerRule("adam", "Adam", ("m", "v"), ("eta", "beta_1", "beta_2", "epsilon"), _adam),
        )
    },
    "derive.rules.OPTIMIZERS",
)

HYPER_SYMBOLS = {
    "eta": Sym("eta", "eta", kind="hyper"),
    "mu": Sym("mu", "mu", kind="hyper"),
    "rho": Sym("rho", "rho", kind="hyper"),
    "epsilon": Sym("epsilon", "epsilon", kind="hyper"),
    "beta_1": Sym("beta_1", "beta", sub="1", kind="hyper"),
    "beta_2": Sym("beta_2", "beta", sub="2", kind="hyper"),
}
HYPER_CONFIG = {
    "eta": "learning_rate",
    "mu": "momentum",
    "rho": "rho",
    "epsilon": "epsilon",
    "beta_1": "beta_1",
    "beta_2": "beta_2",
}  # the TrainConfig field that holds each hyper-parameter


# --- lookups that name what is missing ------------------------------------------------------------------


def _lookup(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        raise BplabError(f"no derivation rule for {what} {name!r} (rules exist for {', '.join(table)})") from None


def layer_rule(kind: str) -> LayerRule:
    return _lookup(LAYERS, kind, "layer kind")


def activation_rule(name: str) -> ActivationRule:
    return _lookup(ACTIVATIONS, name, "activation")


def loss_rule(name: str) -> LossRule:
    return _lookup(LOSSES, name, "loss")


def optimizer_rule(name: str) -> OptimizerRule:
    return _lookup(OPTIMIZERS, name, "optimizer")
