"""The numeric judge of matrix-form lines: each right-hand side is turned into a ``maths.expr`` tree, evaluated
on random values and compared with the true value of its left-hand side, computed by the model's derivation.

The values come from a stand-in of the learner's network with the same layers, activations and loss but
sizes that are pairwise distinct (inputs, each width, the classes and two batch sizes), so that a
transposition or a product in the wrong order cannot hide. A file is read in one layout (rows: ``Z = A W + b``;
columns: ``Z = W A + b``) and one delta scale (``sum``: ``dZ = A - Y``; ``mean``: ``(A - Y) / m``); ``dW`` and
``db`` are always the gradients of the batch-mean loss. Later lines are evaluated with the learner's own values
of earlier lines, so a mistake is reported once and the lines that use it are wrong because of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backprop_lab.classroom.choices import L2_GRADIENTS, default_loss, l2_factor, loss_fits
from backprop_lab.classroom.derivation.matrix_reader import MatrixLine, MatrixParser, Node, Ref, refs, tokenize_matrix
from backprop_lab.classroom.mistakes import MatrixMistake, candidate_pairs, candidates
from backprop_lab.core.names import LOSSES
from backprop_lab.maths.equations import Derivation, derive
from backprop_lab.maths.expr import (
    Add,
    Const,
    Div,
    Expr,
    MatMul,
    Neg,
    Pow,
    Sub,
    SumRows,
    Sym,
    Transpose,
    evaluate,
    func,
    is_scalar,
    shape,
)
from backprop_lab.maths.rules import loss_rule
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import Dense, ModelSpec

LAYOUTS = ("rows", "columns")
SCALES = ("sum", "mean")
BATCHES = (2, 13)
_SIZES = (5, 7, 4, 6, 9, 8, 11, 10, 12, 14, 15, 16)  # the stand-in's input and widths; classes 3 (or 1)
_LAMBDA = 0.37
_NAMES = {"Z": "Z", "A": "A", "W": "W", "b": "b", "dZ": "dZ", "dA": "dA", "dW": "dW", "db": "db"}
_DELTAS = ("dZ", "dA")


class Unjudged(Exception):
    """A line that cannot be evaluated on this model (a layer it lacks, shapes that do not fit)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Finding:
    code: str
    message: str


@dataclass
class MatrixVerdict:
    line: int
    findings: list[Finding]
    expected: str | None
    carried_from: list[int] = field(default_factory=list)


def supported(derivation: Derivation) -> str | None:
    """None when matrix-form lines can be judged on this model, else why not."""
    for info in derivation.spec.infos:
        if info.spec.kind == "flatten" and info is derivation.spec.infos[0]:
            continue
        if info.spec.kind != "dense":
            return f"matrix-form lines are read for MLPs (dense layers); this model has a {info.spec.kind} layer"
    for layer in derivation.layers:
        if layer.activation not in ("relu", "sigmoid", "tanh", "linear", "softmax"):
            return f"matrix-form lines know relu, sigmoid, tanh and softmax, not {layer.activation}"
    return None


@dataclass
class Model:
    """The stand-in network and its true values per batch size, in the rows layout at the mean scale."""

    L: int
    activations: list[str]  # of layers 1..L
    l2: bool
    sizes: dict[int, str]  # a size -> its name (n[0], n[1], ..., m)
    truth: list[dict[str, np.ndarray | float]]
    loss: str = "categorical_crossentropy"  # the loss the derivation is about (maths/rules.py's name)
    l2_form: str = "keras"  # the L2 penalty's form (classroom/choices.py's L2_FORMS)

    @classmethod
    def of(cls, derivation: Derivation, l2_form: str = "keras") -> Model:
        """The stand-in of ``derivation``'s network, with its loss (the output's default where the loss does not
        fit the output: a derivation made with the training default for a sigmoid output) and, with L2, dW
        of the penalty ``l2_form``."""
        acts = [layer.activation for layer in derivation.layers]
        L = len(acts)
        out = acts[-1]
        classes = 1 if out == "sigmoid" else 3
        widths = list(_SIZES[1:L]) + [classes]
        spec = ModelSpec((_SIZES[0],), tuple(Dense(w, a) for w, a in zip(widths, acts)))
        loss = derivation.config.loss if loss_fits(derivation.config.loss, out) else default_loss(out)
        config = TrainConfig(loss=loss, l2=_LAMBDA if derivation.config.l2 else 0.0)
        proxy = derive(spec, config)
        rng = np.random.default_rng(38)
        weights = {}
        for layer in proxy.layers:
            weights[f"{layer.info.name}/kernel"] = rng.normal(0, 0.6, layer.w.shape)
            weights[f"{layer.info.name}/bias"] = rng.normal(0, 0.3, layer.b.shape)
        truth = []
        lam = float(np.float32(_LAMBDA))  # as the derivation reads it
        for m in BATCHES:
            x = rng.normal(0, 1, (m, _SIZES[0]))
            if classes == 1:
                y = rng.integers(0, 2, (m, 1)).astype(float)
            else:
                y = np.eye(classes)[rng.integers(0, classes, m)]
            env = proxy.evaluate(weights, x, y)
            values: dict[str, np.ndarray | float] = {
                "X": x,
                "Y": y,
                "m": float(m),
                "K": float(classes),
                "lambda": lam,
                "A0": x,
            }
            for k in range(1, L + 1):
                for name in ("Z", "A", "W", "b", "dW", "db"):
                    values[f"{name}{k}"] = env[f"{name}{k}"]
                if derivation.config.l2:  # the derivation's dW has Keras's 2 λ W: the chosen form's instead
                    values[f"dW{k}"] = env[f"dW{k}"] + (l2_factor(l2_form, m) - 2.0) * lam * env[f"W{k}"]
                values[f"dZ{k}"] = env[f"delta{k}"]
                if k < L:
                    values[f"dA{k}"] = env[f"delta{k + 1}"] @ env[f"W{k + 1}"].T
            last = proxy.layers[-1]
            grad = loss_rule(loss).grad(last.a, Sym("Y", "Y"), Sym("m", "m"), Sym("K", "K"))
            values[f"dA{L}"] = evaluate(grad, env)
            truth.append(values)
        sizes = {_SIZES[0]: "n[0]", BATCHES[0]: "m"} | {w: f"n[{k}]" for k, w in enumerate(widths, 1)}
        return cls(L, acts, bool(derivation.config.l2), sizes, truth, loss, l2_form)

    def env(self, k: int, layout: str, scale: str) -> dict[str, np.ndarray | float]:
        """The true values of batch ``k`` in a layout and scale."""
        out = {}
        for name, v in self.truth[k].items():
            if isinstance(v, np.ndarray):
                if name.startswith(_DELTAS) and scale == "sum":
                    v = v * self.truth[k]["m"]
                if layout == "columns":
                    v = v.T if v.ndim == 2 else v.reshape(-1, 1)
            out[name] = v
        return out

    def shown(self, s: tuple) -> str:
        return "(" + ", ".join(self.sizes.get(d, str(d)) for d in s) + ")"


def _ref_name(ref: Ref, l: int | None, L: int) -> str:
    if ref.kind in ("X", "Y", "m", "K", "lambda"):
        return ref.kind
    layer = ref.layer(l, L)
    low = 0 if ref.kind == "A" else 1
    if layer is None or not low <= layer <= L:
        what = f"{ref.kind}[{layer}]"
        raise Unjudged(
            "unknown-layer", f"{what} does not exist: this model has layers 1 to {L} (A[0] = X is the input)"
        )
    return "X" if ref.kind == "A" and layer == 0 else f"{ref.kind}{layer}"


def _activation_derivative(act: str, z: Expr) -> Expr:
    if act == "relu":
        return func("step", z)
    if act == "sigmoid":
        s = func("sigmoid", z)
        return s * (1 - s)
    if act == "tanh":
        return 1 - func("tanh", z) ** 2
    if act == "linear":
        return z * 0 + 1
    raise Unjudged("unsupported", f"the derivative of {act} is not read in matrix form")


class Builder:
    """A reader's tree -> a ``maths.expr`` tree for one layer l (general lines), one layout and one batch."""

    def __init__(self, model: Model, layout: str, env: dict, l: int | None):
        self.model, self.layout, self.env, self.l = model, layout, env, l

    def sym(self, ref: Ref) -> Sym:
        name = _ref_name(ref, self.l, self.model.L)
        if name not in self.env:
            raise Unjudged("unknown-tensor", f"{name} has no value here")
        v = self.env[name]
        return Sym(name, name, tuple(np.shape(v)))

    def layer_of(self, node: Node) -> int | None:
        for r in refs(node):
            if r.index is not None:
                return r.layer(self.l, self.model.L)
        return None

    def __call__(self, node: Node) -> Expr:
        op = node[0]
        if op == "ref":
            return self.sym(node[1])
        if op == "num":
            return Const(node[1])
        if op in ("mm", "had", "add", "sub", "div"):
            a, b = self(node[1]), self(node[2])
            if op == "mm":
                return a * b if is_scalar(a) or is_scalar(b) else MatMul(a, b)
            return {"had": lambda: a * b, "add": lambda: Add(a, b), "sub": lambda: Sub(a, b), "div": lambda: Div(a, b)}[
                op
            ]()
        if op == "neg":
            return Neg(self(node[1]))
        if op == "T":  # a scalar's transpose (λ^T, m^T) is the scalar
            a = self(node[1])
            return a if is_scalar(a) else Transpose(a)
        if op == "pow":
            return Pow(self(node[1]), Const(node[2]))
        if op == "sum":
            examples = 0 if self.layout == "rows" else 1
            a = self(node[1])
            return SumRows(a) if (examples if node[2] is None else node[2]) == 0 else SumRows(Transpose(a))
        if op in ("fn", "dfn"):
            name = node[1]
            arg = self(node[-1])
            if name == "g":
                where = node[2].layer(self.l, self.model.L) if op == "dfn" and node[2] else self.layer_of(node[-1])
                if where is None or not 1 <= where <= self.model.L:
                    raise Unjudged("unknown-layer", "g needs a layer: g'(Z[1]) or g^{[1]'}(...)")
                name = self.model.activations[where - 1]
            if op == "dfn":
                return _activation_derivative(name, arg)
            if name == "softmax" and self.layout == "columns":
                return Transpose(func("softmax", Transpose(arg)))
            return arg if name == "linear" else func(name, arg)
        raise TypeError(op)


def value(model: Model, node: Node, layout: str, env: dict, l: int | None) -> np.ndarray:
    """The value of a right-hand side; Unjudged when its shapes do not fit (said in n[l] and m)."""
    e = Builder(model, layout, env, l)(node)
    try:
        shape(e)
    except ValueError as exc:
        sizes = model.sizes
        text = str(exc)
        for size in sorted(sizes, reverse=True):
            text = text.replace(f"({size},", f"({sizes[size]},").replace(f" {size})", f" {sizes[size]})")
            text = text.replace(f"({size})", f"({sizes[size]})").replace(f"{size} != ", f"{sizes[size]} != ")
            text = text.replace(f"!= {size}", f"!= {sizes[size]}")
        raise Unjudged("shapes", f"the shapes do not fit: {text}") from None
    with np.errstate(all="ignore"):
        return np.asarray(evaluate(e, env), dtype=float)


def close(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        if a.size != b.size or np.squeeze(a).shape != np.squeeze(b).shape:
            return False
        a, b = np.squeeze(a), np.squeeze(b)
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return bool(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=1e-7, atol=1e-9 * scale))


# ---------------------------------------------------------------------------------------------
# The correct lines, written as course notes write them (and checked against the derivation by the tests)


def correct_text(model: Model, kind: str, l: int, layout: str, scale: str) -> str | None:
    L, rows = model.L, layout == "rows"
    prev = "X" if l == 1 else f"A[{l - 1}]"
    act = model.activations[l - 1]
    gp = {"relu": "relu'", "sigmoid": "σ'", "tanh": "tanh'", "linear": "linear'"}.get(act, "g'")
    over_m = "(1/m) " if scale == "sum" else ""
    if kind == "Z":
        return f"{prev} W[{l}] + b[{l}]" if rows else f"W[{l}] {prev} + b[{l}]"
    if kind == "A":
        return f"Z[{l}]" if act == "linear" else f"{ {'sigmoid': 'σ'}.get(act, act) }(Z[{l}])"
    if kind == "dA":
        if l == L:
            return None
        return f"dZ[{l + 1}] W[{l + 1}]^T" if rows else f"W[{l + 1}]^T dZ[{l + 1}]"
    if kind == "dZ":
        if l == L:
            return output_delta_text(model.loss, act, L, scale)
        back = f"dZ[{l + 1}] W[{l + 1}]^T" if rows else f"W[{l + 1}]^T dZ[{l + 1}]"
        return f"{back} * {gp}(Z[{l}])"
    if kind == "dW":
        core = f"{over_m}{prev}^T dZ[{l}]" if rows else f"{over_m}dZ[{l}] {prev}^T"
        return core + (f" + {L2_GRADIENTS[model.l2_form]}[{l}]" if model.l2 else "")
    if kind == "db":
        return f"{over_m}sum(dZ[{l}], axis={0 if rows else 1}{'' if rows else ', keepdims=True'})"
    return None


def output_delta_text(loss: str, act: str, L: int, scale: str) -> str:
    """dZ[L] under a loss: A - Y where the loss is the output's cross-entropy (its derivative and the
    activation's cancel); else the loss's derivative (maths/rules.py) times the activation's."""
    over_m = "" if scale == "sum" else " / m"
    if loss_fits(loss, act) and loss == default_loss(act) and act in ("softmax", "sigmoid"):
        return f"A[{L}] - Y" if scale == "sum" else f"(A[{L}] - Y){over_m}"
    factor = {"mse": "(2/K) ", "squared_error": "2 ", "half_squared_error": ""}[loss]
    diff = f"{factor}(A[{L}] - Y){over_m}" if factor or over_m else f"A[{L}] - Y"
    if act == "linear":
        return diff
    gp = {"relu": "relu'", "sigmoid": "σ'", "tanh": "tanh'"}[act]
    return f"{diff} * {gp}(Z[{L}])" if factor or over_m else f"(A[{L}] - Y) * {gp}(Z[{L}])"


def parse_rhs(text: str) -> Node:
    return MatrixParser(tokenize_matrix(text)).expr()


# ---------------------------------------------------------------------------------------------
# Judging a file's matrix-form lines


@dataclass
class Instance:
    line: MatrixLine
    l: int | None  # the layer of a general line
    lhs: str  # the value's name: dW2, Z1


def instances(lines: list[MatrixLine], L: int) -> tuple[list[Instance], dict[int, Unjudged]]:
    out, bad = [], {}
    for ml in lines:
        layers = [None]
        if ml.general:
            layers = []
            for l in range(L, 0, -1):  # from the output down: the order of backpropagation
                try:
                    _ref_name(ml.lhs, l, L)
                    for r in refs(ml.rhs):
                        if r.kind != "g":
                            _ref_name(r, l, L)
                except Unjudged:
                    continue
                layers.append(l)
            if not layers:
                bad[ml.line] = Unjudged("unknown-layer", "this general line covers no layer of this model")
        for l in layers:
            try:
                out.append(Instance(ml, l, _ref_name(ml.lhs, l, L)))
            except Unjudged as exc:
                bad[ml.line] = exc
    return out, bad


def _fits(model: Model, inst: Instance, layout: str, scale: str) -> bool:
    try:
        return all(
            close(value(model, inst.line.rhs, layout, env, inst.l), env[inst.lhs])
            for env in (model.env(k, layout, scale) for k in range(len(BATCHES)))
        )
    except Unjudged:
        return False


def _computes(model: Model, inst: Instance, layout: str) -> bool:
    try:
        value(model, inst.line.rhs, layout, model.env(0, layout, "sum"), inst.l)
        return True
    except Unjudged:
        return False


def decide(model: Model, insts: list[Instance], layout: str | None) -> tuple[str, str]:
    """The file's layout (unless given) and delta scale, from its lines: the first forward or delta line that
    is right in one layout only decides the layout; the first delta line that is right decides the scale."""
    kinds = lambda inst: "".join(c for c in inst.lhs if not c.isdigit())  # noqa: E731
    if layout is None:
        fits = [(inst, {lay for lay in LAYOUTS for s in SCALES if _fits(model, inst, lay, s)}) for inst in insts]
        first = [f for i, f in fits if len(f) == 1 and kinds(i) in ("Z", "A", "dZ", "dA")]
        first = first or [f for _, f in fits if len(f) == 1]
        if not first:  # no line right in one layout only: the first that can be computed in one layout only
            first = [f for inst in insts if len(f := {lay for lay in LAYOUTS if _computes(model, inst, lay)}) == 1]
        layout = first[0].pop() if first else "rows"
    scale = None
    for inst in insts:
        uses = kinds(inst) in _DELTAS or any(r.kind in _DELTAS for r in refs(inst.line.rhs))
        if uses:
            right = [s for s in SCALES if _fits(model, inst, layout, s)]
            if len(right) == 1:
                scale = right[0]
                break
    return layout, scale or "sum"


def judge(model: Model, lines: list[MatrixLine], layout: str | None) -> tuple[dict[int, MatrixVerdict], str, str]:
    insts, bad = instances(lines, model.L)
    layout, scale = decide(model, insts, layout)
    truth = [model.env(k, layout, scale) for k in range(len(BATCHES))]
    own = [dict(env) for env in truth]
    set_by: dict[str, int] = {}  # a value's name -> the line that set it wrongly
    verdicts: dict[int, MatrixVerdict] = {}
    for inst in insts:
        ml = inst.line
        verdict = verdicts.setdefault(ml.line, MatrixVerdict(ml.line, [], None))
        kind = "".join(c for c in inst.lhs if not c.isdigit())
        layer = int(inst.lhs[len(kind) :])
        expected = correct_text(model, kind, layer, layout, scale)
        where = f"for l = {inst.l}: " if inst.l is not None else ""
        if expected and verdict.expected is None and inst.l is None:
            verdict.expected = f"{kind}[{layer}] = {expected}"
        try:
            mine = [value(model, ml.rhs, layout, env, inst.l) for env in own]
            given_truth = [value(model, ml.rhs, layout, env, inst.l) for env in truth]
        except Unjudged as exc:
            verdict.findings.append(Finding(exc.code, where + exc.message))
            set_by[inst.lhs] = ml.line
            continue
        right = [env[inst.lhs] for env in truth]
        for env, v in zip(own, mine):
            env[inst.lhs] = v
        if all(close(a, b) for a, b in zip(mine, right)):
            set_by.pop(inst.lhs, None)
            continue
        set_by[inst.lhs] = ml.line
        if all(close(a, b) for a, b in zip(given_truth, right)):
            sources = [
                s for s in {set_by.get(_ref_name(r, inst.l, model.L)) for r in refs(ml.rhs) if r.kind != "g"} if s
            ]
            verdict.carried_from = sorted(set(verdict.carried_from) | set(sources))
            verdict.findings.append(
                Finding(
                    "carried",
                    where + f"wrong because of line{'s' if len(sources) > 1 else ''} "
                    f"{', '.join(map(str, sorted(sources)))}: this step is right",
                )
            )
            continue
        verdict.findings += _name_mistake(model, inst, kind, layer, layout, scale, given_truth, where)
    for number, exc in bad.items():
        verdicts.setdefault(number, MatrixVerdict(number, [], None)).findings.append(Finding(exc.code, exc.message))
    return verdicts, layout, scale


def _matches(model: Model, tree: Node, layout: str, scale: str, given: list[np.ndarray]) -> bool:
    """Whether ``tree`` evaluates to the learner's values ``given`` (the first batch first: most fail there)."""
    try:
        for k, mine in enumerate(given):
            if not close(mine, value(model, tree, layout, model.env(k, layout, scale), None)):
                return False
    except Unjudged:
        return False
    return True


def _values(model: Model, tree: Node, layout: str, scale: str) -> list[np.ndarray]:
    return [value(model, tree, layout, model.env(k, layout, scale), None) for k in range(len(BATCHES))]


def _says(model: Model, mistake: MatrixMistake, layer: int, layout: str, given: list[np.ndarray]) -> str:
    says = mistake.says
    if mistake.code == "transposed":
        says += f" ({'columns' if layout == 'rows' else 'rows'} layout; this file is in {layout})"
    if mistake.code == "product-order":
        says += f": the result has shape {model.shown(np.shape(given[0]))}"
    if mistake.code == "derivative-of-wrong-tensor" and model.activations[layer - 1] == "sigmoid":
        says += "; σ'(A) is σ'(σ(Z)): A(1 - A) was meant"
    return says


def _other_loss(model: Model, layer: int, layout: str, scale: str, given: list[np.ndarray]) -> str | None:
    """The first other loss (of those that fit the output) whose output delta is the learner's, or None."""
    act = model.activations[-1]
    for loss in LOSSES:
        if loss != model.loss and loss_fits(loss, act):
            if _matches(model, parse_rhs(output_delta_text(loss, act, layer, scale)), layout, scale, given):
                return loss
    return None


def _name_mistake(model, inst, kind, layer, layout, scale, given, where) -> list[Finding]:
    """What is wrong with a line whose value is ``given``: a scale or loss of its own, one known mistake, two
    at once (both named), or "wrong" with the shapes or values that differ."""
    other = "mean" if scale == "sum" else "sum"
    if kind in _DELTAS:
        alt = [model.env(k, layout, other)[inst.lhs] for k in range(len(BATCHES))]
        if all(close(a, b) for a, b in zip(given, alt)):
            return [
                Finding(
                    "scale-mismatch",
                    f"{where}this delta is the {'sum over examples' if other == 'sum' else 'batch mean'}'s "
                    f"({'no /m' if other == 'sum' else 'with /m'}), but the file's first delta line fixed the "
                    f"{'sum' if scale == 'sum' else 'mean'} scale",
                )
            ]
    if kind == "dZ" and layer == model.L and (loss := _other_loss(model, layer, layout, scale, given)):
        return [
            Finding(
                "other-loss",
                f"{where}this is the output delta of the loss {loss}, not of the chosen {model.loss} "
                f"(--loss {loss} if you meant it)",
            )
        ]
    text = correct_text(model, kind, layer, layout, scale)
    if text is not None:
        correct = parse_rhs(text)
        for mistake, tree in candidates(correct):
            if _matches(model, tree, layout, scale, given):
                return [Finding(mistake.code, where + _says(model, mistake, layer, layout, given))]
        truth = [model.env(k, layout, scale)[inst.lhs] for k in range(len(BATCHES))]
        for first, once, second, twice in candidate_pairs(correct):
            if not _matches(model, twice, layout, scale, given):
                continue
            try:  # both mistakes must show (a transposed vector is the same numbers: another pair may be meant)
                between = _values(model, once, layout, scale)
            except Unjudged:
                between = None
            if between is None or not any(all(map(close, between, v)) for v in (truth, given)):
                return [
                    Finding(first.code, f"{where}mistake 1 of 2: {_says(model, first, layer, layout, given)}"),
                    Finding(second.code, f"{where}mistake 2 of 2: {_says(model, second, layer, layout, given)}"),
                ]
    shapes = model.shown(np.shape(given[0]))
    want = model.shown(np.shape(model.env(0, layout, scale)[inst.lhs]))
    if np.squeeze(given[0]).shape != np.squeeze(model.env(0, layout, scale)[inst.lhs]).shape:
        return [Finding("wrong", f"{where}the right-hand side has shape {shapes}, the left-hand side {want}")]
    return [
        Finding("wrong", f"{where}the values differ from the true {kind}[{layer}] (no known mistake reproduces them)")
    ]


def correct_lines(model: Model, layout: str, scale: str) -> list[str]:
    """The correct matrix-form backward pass, from the output layer down."""
    out = []
    for l in range(model.L, 0, -1):
        for kind in ("dZ", "dW", "db"):
            text = correct_text(model, kind, l, layout, scale)
            if text:
                out.append(f"{kind}[{l}] = {text}")
    return out
