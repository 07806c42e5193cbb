"""The derivation of one network: its forward, loss, backward, gradient, chain-rule and update
equations, assembled from the rules in ``rules.py`` by walking the spec's layers.

Batch-matrix notation as the code runs it (rows are the m examples of a batch):
Z[l] = A[l-1] W[l] + b[l], A[l] = g(Z[l]), delta[l] = dL/dZ[l], dW[l] = A[l-1]^T delta[l].
With ``layout="columns"`` the same equations are rewritten (``layout.py``) as many courses write them:
Z[l] = W[l] A[l-1] + b[l], dW[l] = delta[l] A[l-1]^T, each tensor the transpose of its rows counterpart.
Layers are numbered as courses number them: A[0] is the (flattened) input and layer l, the l-th
layer with weights, has Z[l], A[l], W[l] and b[l].

Each ``Equation`` is a symbol and an expression tree. ``Derivation.evaluate`` interprets the trees in
order with NumPy, so the numbers the checks compare are those of the printed equations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_lab.maths.expr import Const, Expr, Sym, evaluate, func, substitute, to_mathml, to_tex, to_text
from backprop_lab.maths.layout import check_layout, columns_sym, columns_value, rows_value, to_columns
from backprop_lab.maths.rules import (
    HYPER_CONFIG,
    HYPER_SYMBOLS,
    activation_rule,
    l2_grad,
    l2_penalty,
    layer_rule,
    loss_rule,
    optimizer_rule,
)
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec

SECTION_TITLES = {
    "forward": "Forward pass",
    "loss": "Loss",
    "output delta": "Output delta",
    "backward": "Backward pass: the delta recursion",
    "gradients": "Weight and bias gradients",
    "chain rule": "Chain-rule product form (each layer's weights, written out from the output)",
    "update": "Update rule",
}


@dataclass
class Equation:
    section: str  # one of SECTION_TITLES
    lhs: Sym
    rhs: Expr
    layer: int | None = None
    op: str = "="  # "←" for an assignment of the update rule

    @property
    def tex(self) -> str:
        arrow = "=" if self.op == "=" else r"\leftarrow"
        return f"{to_tex(self.lhs)} {arrow} {to_tex(self.rhs)}"

    @property
    def text(self) -> str:
        return f"{to_text(self.lhs)} {self.op} {to_text(self.rhs)}"

    @property
    def mathml(self) -> str:
        op = "=" if self.op == "=" else "←"
        return f'<math display="block"><mrow>{to_mathml(self.lhs)}<mo>{op}</mo>{to_mathml(self.rhs)}</mrow></math>'

    @property
    def name(self) -> str:
        return self.lhs.name


@dataclass
class Layer:
    """A layer with weights, numbered l = 1..L: its symbols and how its input was made."""

    l: int
    info: Any
    input: Sym  # the tensor this layer reads (A[l-1], or what pooling/flatten/dropout made of it)
    z: Sym
    a: Sym
    w: Sym
    b: Sym
    between: list[tuple[Any, Sym, Sym, Sym | None]] = field(default_factory=list)  # (info, in, out, mask) from A[l-1]

    @property
    def activation(self) -> str:
        return self.info.spec.activation


@dataclass
class Derivation:
    spec: ModelSpec
    config: TrainConfig
    equations: list[Equation]
    layers: list[Layer]
    masks: dict[str, tuple[int, float, tuple]]  # mask symbol name -> (layer index, rate, shape without m)
    fused: bool  # the output delta uses Keras's from-logits form
    layout: str = "rows"  # rows (Z = A W + b) or columns (Z = W A + b): the layout of the equations and values

    def section(self, name: str) -> list[Equation]:
        return [e for e in self.equations if e.section == name]

    def grouped(self) -> dict[str, list[Equation]]:
        return {name: eqs for name in SECTION_TITLES if (eqs := self.section(name))}

    def env(
        self, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, masks: dict[str, np.ndarray] | None = None
    ) -> dict[str, Any]:
        """The starting values: weights by symbol (W1, b1, ...), X, Y, m, K, lambda, the dropout masks (0/1).
        ``weights``, ``x``, ``y`` and ``masks`` are in the rows layout (Keras's); the values are in the derivation's."""
        env: dict[str, Any] = {
            "X": x,
            "Y": y,
            "m": float(len(x)),
            "K": float(y.shape[-1]),
            "lambda": float(np.float32(self.config.l2)),
        }
        for layer in self.layers:
            env[layer.w.name] = weights[f"{layer.info.name}/kernel"]
            env[layer.b.name] = weights[f"{layer.info.name}/bias"]
        missing = [name for name in self.masks if name not in (masks or {})]
        if missing:
            raise ValueError(f"dropout masks needed for {', '.join(missing)}")
        env.update(masks or {})
        if self.layout == "columns":
            env = {k: columns_value(v) for k, v in env.items()}
        return env

    def to_rows(self, name: str, value: Any, rows_shape: tuple) -> Any:
        """A value of this derivation's layout in the rows layout (the weights files' and engines')."""
        return rows_value(value, rows_shape) if self.layout == "columns" else value

    def evaluate(
        self,
        weights: dict[str, np.ndarray],
        x: np.ndarray,
        y: np.ndarray,
        masks: dict[str, np.ndarray] | None = None,
        sections: tuple[str, ...] = ("forward", "loss", "output delta", "backward", "gradients", "chain rule"),
    ) -> dict[str, Any]:
        """Interpret the equations of ``sections`` in order; returns every value by name (Z1, A1, delta2, dW1, ...)."""
        env = self.env(weights, x, y, masks)
        for eq in self.equations:
            if eq.section in sections:
                env[eq.name] = evaluate(eq.rhs, env)
        return env

    def gradients(self, env: dict[str, Any]) -> dict[str, np.ndarray]:
        """The derived gradients by weight key (``dense_0/kernel``) from an evaluated environment."""
        out = {}
        for layer in self.layers:
            out[f"{layer.info.name}/kernel"] = self.to_rows("dW", env[f"dW{layer.l}"], layer.info.params["kernel"])
            out[f"{layer.info.name}/bias"] = self.to_rows("db", env[f"db{layer.l}"], layer.info.params["bias"])
        return out


def _sym(name: str, base: str, shape: tuple, layer: int | None = None, kind: str = "value", **kw) -> Sym:
    return Sym(name, base, tuple(shape), layer, kind=kind, **kw)


M = Sym("m", "m", kind="dim")
K = Sym("K", "K", kind="dim")
LAMBDA = Sym("lambda", "lambda", kind="hyper")
T_STEP = Sym("t", "t", kind="dim")


def derive(spec: ModelSpec, config: TrainConfig, layout: str = "rows") -> Derivation:
    """Every equation of this network, loss, L2 and optimizer, in evaluation order, in the rows layout
    (``Z = A W + b``) or the columns layout (``Z = W A + b``, each equation rewritten by ``layout.to_columns``)."""
    d = _derive_rows(spec, config)
    if check_layout(layout) == "rows":
        return d
    for eq in d.equations:
        if eq.section != "update":  # the update is element-wise, for any variable: the same in both layouts
            eq.lhs, eq.rhs = columns_sym(eq.lhs), to_columns(eq.rhs)
    for layer in d.layers:
        layer.input, layer.z, layer.a, layer.w, layer.b = (
            columns_sym(s) for s in (layer.input, layer.z, layer.a, layer.w, layer.b)
        )
    d.layout = "columns"
    return d


def _derive_rows(spec: ModelSpec, config: TrainConfig) -> Derivation:
    """The derivation in its phases: forward, loss, backward, the chain-rule products, the update."""
    fw = _forward(spec)
    loss, fused = _loss(fw, config)
    backward = _backward(fw, config, fused)
    chains = _chain_rule(fw.layers, fw.equations + backward)
    eqs = fw.equations + [loss] + backward + chains + update_equations(config)
    return Derivation(spec, config, eqs, fw.layers, fw.masks, fused)


@dataclass
class _Forward:
    """The forward phase: its equations, the layers with weights, and what follows the last of them."""

    equations: list[Equation]
    y: Sym
    output: Sym  # the network's output: A[L], or the last layer without weights after it
    layers: list[Layer]
    after_last: list[tuple[Any, Sym, Sym, Sym | None]]  # layers without weights after A[L]: (info, input, out, mask)
    masks: dict[str, tuple[int, float, tuple]]


def _forward(spec: ModelSpec) -> _Forward:
    """Z[l] = A[l-1] W[l] + b[l] and A[l] = g(Z[l]) per layer with weights, and the layers between them."""
    eqs: list[Equation] = []
    x_sym = _sym("X", "X", ("m", *spec.input_shape), kind="input")
    y_sym = _sym("Y", "Y", ("m", *spec.output_shape), kind="input")
    cur: Sym = x_sym
    layers: list[Layer] = []
    pending: list[tuple[Any, Sym, Sym, Sym | None]] = []
    masks: dict[str, tuple[int, float, tuple]] = {}
    counts: dict[str, int] = {}
    l = 0
    for info in spec.infos:
        rule = layer_rule(info.spec.kind)
        if rule.affine:
            l += 1
            if l == 1 and cur is x_sym:
                a0 = _sym("A0", "A", cur.shape, 0)
                eqs.append(Equation("forward", a0, x_sym, 0))
                cur = a0
            w = _sym(f"W{l}", "W", info.params["kernel"], l, "param")
            b = _sym(f"b{l}", "b", info.params["bias"], l, "param")
            z = _sym(f"Z{l}", "Z", ("m", *info.output_shape), l)
            a = _sym(f"A{l}", "A", ("m", *info.output_shape), l)
            params = {"kernel": w, "bias": b}
            eqs.append(
                Equation(
                    "forward", z, rule.forward(cur, params, info.spec, info.input_shape, info.output_shape, None), l
                )
            )
            eqs.append(Equation("forward", a, activation_rule(info.spec.activation).forward(z), l))
            layers.append(Layer(l, info, cur, z, a, w, b, pending))
            pending = []
            cur = a
            continue
        mask = _mask(info, l, counts, masks)
        out = _weightless_output(info, l, counts, first=l == 0 and cur is x_sym)
        eqs.append(
            Equation("forward", out, rule.forward(cur, {}, info.spec, info.input_shape, info.output_shape, mask), l)
        )
        pending.append((info, cur, out, mask))
        cur = out
    if not layers:
        raise ValueError("a derivation needs at least one layer with weights")
    return _Forward(eqs, y_sym, cur, layers, pending, masks)


def _numbered(counts: dict[str, int], key: str) -> int:
    """How many of ``key`` came before in this layer (0 for the first); counts this one."""
    n = counts.get(key, 0)
    counts[key] = n + 1
    return n


def _mask(info, l: int, counts: dict[str, int], masks: dict) -> Sym | None:
    """A dropout layer's mask M[l] (M[l]_2 for a second one in the layer), recorded in ``masks``."""
    if info.spec.kind != "dropout":
        return None
    n = _numbered(counts, f"M{l}")
    mask = _sym(
        f"M{l}" + (f"_{n}" if n else ""), "M", ("m", *info.input_shape), l, "mask", sub=str(n + 1) if n else None
    )
    masks[mask.name] = (l, info.spec.rate, tuple(info.input_shape))
    return mask


def _weightless_output(info, l: int, counts: dict[str, int], first: bool) -> Sym:
    """The output of a layer without weights between A[l] and the next layer's input (P, F or D with a tilde)."""
    if first and info.spec.kind == "flatten":
        return _sym("A0", "A", ("m", *info.output_shape), 0)  # the flattened input is A[0]
    base = {"maxpool2d": "P", "flatten": "F", "dropout": "D"}[info.spec.kind]
    n = _numbered(counts, f"{base}{l}")
    return _sym(
        f"{base}{l}" + (f"_{n}" if n else ""),
        "A" if base == "D" else base,
        ("m", *info.output_shape),
        l,
        accent="tilde" if base == "D" else None,
        sub=str(n + 1) if n else None,
    )


def _loss(fw: _Forward, config: TrainConfig) -> tuple[Equation, bool]:
    """The loss (with the L2 penalty when set); fused when it is computed from the logits (softmax with
    cross-entropy, sigmoid with binary cross-entropy, nothing after the last layer)."""
    last, loss = fw.layers[-1], loss_rule(config.loss)
    fused = loss.logits is not None and loss.logits == last.activation and fw.output is last.a and not fw.after_last
    value = loss.value_from_logits(last.z, fw.y, M, K) if fused else loss.value(fw.output, fw.y, M, K)
    if config.l2:
        value = value + l2_penalty([layer.w for layer in fw.layers], LAMBDA)
    return Equation("loss", _sym("loss", "L", (), kind="loss"), value), fused


def _backward(fw: _Forward, config: TrainConfig, fused: bool) -> list[Equation]:
    """dL/dZ[L], then each layer's gradients and the delta of the layer before, down to the first trainable."""
    eqs: list[Equation] = []
    layers, last, loss = fw.layers, fw.layers[-1], loss_rule(config.loss)
    L = last.l
    delta = {L: _sym(f"delta{L}", "delta", last.z.shape, L, "grad")}
    if fused:
        out_delta = loss.delta_from_logits(last.a, fw.y, M, K)
    else:
        g = _through(loss.grad(fw.output, fw.y, M, K), fw.after_last)
        out_delta = activation_rule(last.activation).backward(last.z, last.a, g)
    eqs.append(Equation("output delta", delta[L], out_delta, L))
    first_trainable = next((layer.l for layer in layers if layer.info.trainable), L)
    for layer in reversed(layers):
        k = layer.l
        rule = layer_rule(layer.info.spec.kind)
        back = rule.backward(
            delta[k], layer.input, {"kernel": layer.w, "bias": layer.b}, layer.info.spec, layer.info.input_shape, None
        )
        dw = back.params["kernel"] + l2_grad(layer.w, LAMBDA) if config.l2 else back.params["kernel"]
        eqs.append(Equation("gradients", _sym(f"dW{k}", "dW", layer.w.shape, k, "grad"), dw, k))
        eqs.append(Equation("gradients", _sym(f"db{k}", "db", layer.b.shape, k, "grad"), back.params["bias"], k))
        if k == 1 or k <= first_trainable:
            break
        g = _through(back.dx, layer.between)
        prev = layers[k - 2]
        delta[k - 1] = _sym(f"delta{k - 1}", "delta", prev.z.shape, k - 1, "grad")
        eqs.append(
            Equation("backward", delta[k - 1], activation_rule(prev.activation).backward(prev.z, prev.a, g), k - 1)
        )
    return eqs


def _through(g, weightless: list[tuple[Any, Sym, Sym, Sym | None]]):
    """A gradient taken back through layers without weights (pooling, flatten, dropout), last first."""
    for info, src, _, mask in reversed(weightless):
        g = layer_rule(info.spec.kind).backward(g, src, {}, info.spec, info.input_shape, mask).dx
    return g


def _chain_rule(layers: list[Layer], eqs: list[Equation]) -> list[Equation]:
    """The chain-rule product form: each dW[l] with its delta written out from the output delta."""
    by_name = {e.name: e.rhs for e in eqs}
    L = layers[-1].l
    full = {L: by_name[f"delta{L}"]}
    for k in range(L - 1, 0, -1):
        if f"delta{k}" in by_name:
            full[k] = substitute(by_name[f"delta{k}"], {f"delta{k + 1}": full[k + 1]})
    out = []
    for layer in layers:
        k = layer.l
        if f"dW{k}" in by_name and k in full:
            chain = substitute(by_name[f"dW{k}"], {f"delta{k}": full[k]})
            out.append(Equation("chain rule", _sym(f"chain_dW{k}", "dW", layer.w.shape, k, "grad"), chain, k))
    return out


def rule_updates(config: TrainConfig) -> list[Equation]:
    """The optimizer's declared rule for any variable W with gradient dW: its assignments, in order."""
    return [
        Equation("update", target, e, op="←")
        for target, e in optimizer_rule(config.optimizer).update(*_generic(config))
    ]


def _generic(config: TrainConfig):
    rule = optimizer_rule(config.optimizer)
    any_shape = ("d",)  # any variable: a tensor, so products in the rule are element-wise
    w = Sym("W", "W", any_shape, kind="param")
    g = Sym("dW", "dW", any_shape, kind="grad")
    slots = {
        s: Sym(
            f"{s}_W",
            {"velocity": "v", "m": "m", "v": "v"}[s],
            any_shape,
            kind="state",
            sub="W" if s in ("m", "v") else None,
        )
        for s in rule.slots
    }
    hypers = {h: HYPER_SYMBOLS[h] for h in rule.hypers}
    return w, g, slots, hypers, T_STEP


def update_equations(config: TrainConfig) -> list[Equation]:
    """The optimizer's update for any variable W with gradient dW, its hyper-parameters' values, the
    learning-rate schedule and the blended update: the same for every W[l] and b[l]."""
    w, _, _, hypers, _ = _generic(config)
    any_shape = w.shape
    eqs = rule_updates(config)
    for h, sym in hypers.items():
        eqs.append(Equation("update", sym, Const(float(getattr(config, HYPER_CONFIG[h])))))
    if config.decay != "none":
        steps = Sym("T", "T", kind="dim")
        power = func("floor", T_STEP / steps) if config.decay == "step" else T_STEP / steps
        eqs.append(
            Equation(
                "update",
                Sym("eta_t", "eta", sub="t", kind="hyper"),
                Const(config.learning_rate) * Const(config.decay_rate) ** power,
            )
        )
    if config.alpha:
        old = Sym("W_old", "W", any_shape, sub="old", kind="param")
        new = Sym("W_new", "W", any_shape, sub="new", kind="param")
        alpha = Sym("alpha", "alpha", kind="hyper")
        eqs.append(Equation("update", w, (1 - alpha) * new + alpha * old, op="←"))
        eqs.append(Equation("update", alpha, Const(config.alpha)))
    return eqs
