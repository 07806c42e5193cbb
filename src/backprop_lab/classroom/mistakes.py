"""Known mistakes, each declared once as a hypothesis: a function that computes the value a learner gets
when they make it. A mistake is named only when its value reproduces the learner's numbers to tolerance;
a value that none reproduces is "wrong, no known cause".

Each message carries a fixed word a reader can search for: "1/m", "sign", "transpose", "axis",
"derivative", "L2", "bias", "activation".

Code mistakes (``CODE_MISTAKES``, for ``classroom/code.py``) are evaluated in the row layout (one
example per row) on the inputs the learner's own line had, through a context ``ctx`` with:
``ctx.get(sym)`` the learner's value of a symbol (``"A0"``, ``"Z1"``, ``"dZ2"``, ...; the correct one
where the learner has none), ``ctx.local(sym)`` the correct rule applied to those inputs,
``ctx.act(l)`` layer l's activation, ``ctx.g(name, x)`` / ``ctx.dg(name, x)`` an activation and its
derivative, ``ctx.m`` the batch size, ``ctx.s`` the delta scale (1, or m when deltas are sums),
``ctx.data_grad(l)`` dW's term without L2 and ``ctx.l2_grad(l, form)`` the L2 term of a form.


Matrix-form derivations (``check-derivation``): each ``MatrixMistake`` turns the correct right-hand side (a
tree of ``classroom.derivation.matrix_reader`` nodes) into the wrong ones a learner writes. The checker
evaluates every candidate on the same random values as the learner's line and names the first that matches;
where none does, the pairs of two different mistakes (``candidate_pairs``), and names both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

import numpy as np

from backprop_lab.classroom.choices import L2_FORMS, L2_GRADIENTS
from backprop_lab.classroom.matrix_tree import Node, Ref

OUTPUT_FORMS = {  # a derivative written with the activation's output a: the learner's A1 * (1 - A1)
    "sigmoid": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a**2,
    "relu": lambda a: (a > 0).astype(float),
}


@dataclass(frozen=True)
class CodeMistake:
    key: str
    targets: tuple[str, ...]  # the tensors it can produce: Z, A, AL, dZL, dZ, dA, dW, db
    says: str  # the message, with {name} (the learner's variable), {l}, {prev} (l - 1), {act}, {m}
    value: Callable[[Any, int], np.ndarray | None]  # the mutated value, or None where it does not apply


def _hidden(ctx, l: int, other: str, value) -> np.ndarray | None:
    """``value`` where layer l's activation is not ``other`` (so the mutation differs from the rule)."""
    return None if ctx.act(l) == other else value(ctx.get(f"dA{l}"), ctx.get(f"Z{l}"), ctx.get(f"A{l}"))


CODE_MISTAKES: list[CodeMistake] = [
    # --- forward -------------------------------------------------------------------------------
    CodeMistake(
        "bias-missing",
        ("Z",),
        "bias: {name} leaves out b{l} (A{prev} W{l} without + b{l})",
        lambda ctx, l: ctx.get(f"A{l - 1}") @ ctx.get(f"W{l}"),
    ),
    CodeMistake(
        "softmax-axis",
        ("AL",),
        "axis: {name} normalises the softmax over the wrong axis (over the examples, not the classes)",
        lambda ctx, l: _softmax(ctx.get(f"Z{l}"), axis=0) if ctx.act(l) == "softmax" else None,
    ),
    *[
        CodeMistake(
            f"activation-{other}",
            ("A", "AL"),
            f"activation: {{name}} applies {other}, but layer {{l}}'s activation is {{act}} (check --model)",
            (lambda o: lambda ctx, l: ctx.g(o, ctx.get(f"Z{l}")) if ctx.act(l) != o else None)(other),
        )
        for other in ("relu", "sigmoid", "tanh", "linear")
    ],
    # --- the output delta ----------------------------------------------------------------------
    CodeMistake(
        "output-sign",
        ("dZL",),
        "sign: {name} is Y - A{l}; the output delta is A{l} - Y",
        lambda ctx, l: -ctx.local(f"dZ{l}"),
    ),
    CodeMistake(
        "output-extra-derivative",
        ("dZL",),
        "derivative: {name} multiplies by the output activation's derivative; with {act} + cross-entropy it cancels (dZ{l} = A{l} - Y)",
        lambda ctx, l: (
            ctx.local(f"dZ{l}") * ctx.dg(ctx.act(l), ctx.get(f"Z{l}"))
            if ctx.act(l) in ("sigmoid", "softmax") and ctx.cross_entropy
            else None
        ),
    ),
    CodeMistake(
        "output-missing-derivative",
        ("dZL",),
        "derivative: {name} leaves out the output activation's derivative {act}'(Z{l}) (needed with a squared error)",
        lambda ctx, l: (
            ctx.local(f"dZ{l}") / ctx.dg(ctx.act(l), ctx.get(f"Z{l}"))
            if not ctx.cross_entropy and ctx.act(l) != "linear"
            else None
        ),
    ),
    CodeMistake(
        "output-factor-2",
        ("dZL",),
        "derivative: {name} is half the squared error's derivative (the factor 2 of (A - Y)² is missing, or the loss is ½ Σ (A - Y)²: check --loss)",
        lambda ctx, l: ctx.local(f"dZ{l}") / 2 if not ctx.cross_entropy else None,
    ),
    CodeMistake(
        "output-double",
        ("dZL",),
        "derivative: {name} is twice the loss's derivative (the loss is ½ Σ (A - Y)² or the mean over outputs: check --loss)",
        lambda ctx, l: ctx.local(f"dZ{l}") * 2 if not ctx.cross_entropy else None,
    ),
    CodeMistake(
        "output-1/m-twice",
        ("dZL",),
        "1/m: {name} divides by m twice",
        lambda ctx, l: ctx.local(f"dZ{l}") / ctx.m / (ctx.m if ctx.s == ctx.m else 1),
    ),
    # --- the delta recursion -------------------------------------------------------------------
    CodeMistake("dA-sign", ("dA",), "sign: {name} has the wrong sign", lambda ctx, l: -ctx.local(f"dA{l}")),
    CodeMistake(
        "delta-no-derivative",
        ("dZ",),
        "derivative: {name} leaves out the activation's derivative {act}'(Z{l})",
        lambda ctx, l: ctx.get(f"dA{l}") if ctx.act(l) != "linear" else None,
    ),
    *[
        CodeMistake(
            f"delta-{other}-derivative",
            ("dZ",),
            f"derivative: {{name}} multiplies by {other}'s derivative, but layer {{l}}'s activation is {{act}}",
            (lambda o: lambda ctx, l: _hidden(ctx, l, o, lambda da, z, a: da * ctx.dg(o, z)))(other),
        )
        for other in ("relu", "sigmoid", "tanh")
    ],
    *[
        CodeMistake(
            f"delta-{other}-derivative-of-A",
            ("dZ",),
            f"derivative: {{name}} multiplies by {other}'s derivative written with A{{l}}, but layer {{l}}'s activation is {{act}}",
            (lambda o: lambda ctx, l: _hidden(ctx, l, o, lambda da, z, a: da * OUTPUT_FORMS[o](a)))(other),
        )
        for other in ("relu", "sigmoid", "tanh")
    ],
    CodeMistake(
        "delta-derivative-at-A",
        ("dZ",),
        "derivative: {name} takes {act}'(A{l}) where {act}'(Z{l}) is meant (the derivative's argument is Z{l})",
        lambda ctx, l: ctx.get(f"dA{l}") * ctx.dg(ctx.act(l), ctx.get(f"A{l}")),
    ),
    CodeMistake(
        "delta-output-form-on-Z",
        ("dZ",),
        "derivative: {name} applies the formula written with A{l} to Z{l} (e.g. Z{l} * (1 - Z{l}))",
        lambda ctx, l: (
            ctx.get(f"dA{l}") * OUTPUT_FORMS[ctx.act(l)](ctx.get(f"Z{l}")) if ctx.act(l) in OUTPUT_FORMS else None
        ),
    ),
    CodeMistake("delta-sign", ("dZ",), "sign: {name} has the wrong sign", lambda ctx, l: -ctx.local(f"dZ{l}")),
    CodeMistake(
        "delta-1/m-again",
        ("dZ", "dA"),
        "1/m: {name} divides by m again (the output delta already carries 1/m)",
        lambda ctx, l: ctx.local(ctx.sym) / ctx.m,
    ),
    # --- gradients -----------------------------------------------------------------------------
    CodeMistake(
        "dW-transpose",
        ("dW",),
        "transpose: {name} is the transpose of the gradient (write A{prev}.T @ dZ{l} in rows, dZ{l} @ A{prev}.T in columns)",
        lambda ctx, l: ctx.local(f"dW{l}").T,
    ),
    CodeMistake(
        "dW-1/m-missing",
        ("dW",),
        "1/m: {name} is m = {m} times the gradient of the batch-mean loss; divide the sum over the examples by m",
        lambda ctx, l: ctx.data_grad(l) * ctx.m + ctx.l2_grad(l),
    ),
    CodeMistake(
        "dW-1/m-twice",
        ("dW",),
        "1/m: {name} divides by m twice (the deltas already carry 1/m)",
        lambda ctx, l: ctx.data_grad(l) / ctx.m + ctx.l2_grad(l),
    ),
    CodeMistake("dW-sign", ("dW",), "sign: {name} has the wrong sign", lambda ctx, l: -ctx.local(f"dW{l}")),
    CodeMistake(
        "dW-no-l2", ("dW",), "L2: {name} leaves out the L2 term", lambda ctx, l: ctx.data_grad(l) if ctx.l2 else None
    ),
    *[
        CodeMistake(
            f"dW-l2-{form}",
            ("dW",),
            f"L2: {{name}} matches the penalty {text}, not the chosen {{l2_form}} (--l2-form {form} if you meant it)",
            (lambda f: lambda ctx, l: ctx.data_grad(l) + ctx.l2_grad(l, f) if ctx.l2 and f != ctx.l2_form else None)(
                form
            ),
        )
        for form, text in L2_FORMS.items()
    ],
    CodeMistake(
        "db-axis",
        ("db",),
        "axis: {name} sums over the units, not the examples (sum over the batch axis)",
        lambda ctx, l: ctx.get(f"dZ{l}").sum(axis=1) / ctx.s,
    ),
    CodeMistake(
        "db-not-summed",
        ("db",),
        "axis: {name} is not summed over the examples (one row per example)",
        lambda ctx, l: ctx.get(f"dZ{l}") / ctx.s,
    ),
    CodeMistake(
        "db-1/m-missing",
        ("db",),
        "1/m: {name} is m = {m} times the gradient of the batch-mean loss; divide the sum by m",
        lambda ctx, l: ctx.local(f"db{l}") * ctx.m,
    ),
    CodeMistake(
        "db-1/m-twice",
        ("db",),
        "1/m: {name} divides by m twice (the deltas already carry 1/m)",
        lambda ctx, l: ctx.local(f"db{l}") / ctx.m,
    ),
    CodeMistake("db-sign", ("db",), "sign: {name} has the wrong sign", lambda ctx, l: -ctx.local(f"db{l}")),
]


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# Matrix-form derivations (check-derivation)


def _walk(node: Node, change: Callable[[Node], list[Node]]) -> list[Node]:
    """Every tree made by applying ``change`` at exactly one node of ``node``."""
    out = list(change(node))
    for k, child in enumerate(node):
        if isinstance(child, tuple) and child and isinstance(child[0], str) and child[0] in _NODES:
            out += [node[:k] + (new,) + node[k + 1 :] for new in _walk(child, change)]
    return out


_NODES = {"ref", "num", "mm", "had", "add", "sub", "div", "neg", "T", "pow", "sum", "fn", "dfn"}


def _is_scalar(node: Node) -> bool:
    if node[0] == "num":
        return True
    if node[0] == "ref":
        return node[1].kind in ("m", "lambda", "K")
    return node[0] in ("div", "mm", "neg") and all(_is_scalar(c) for c in node[1:] if isinstance(c, tuple))


def _swapped(node: Node) -> list[Node]:
    if node[0] == "mm" and not _is_scalar(node[1]) and not _is_scalar(node[2]):
        return [("mm", node[2], node[1])]
    return []


def _no_derivative(node: Node) -> list[Node]:
    return [node[1]] if node[0] == "had" and node[2][0] == "dfn" else []


def _derivative_at_a(node: Node) -> list[Node]:
    if node[0] == "dfn" and node[3][0] == "ref" and node[3][1].kind == "Z":
        return [("dfn", node[1], node[2], ("ref", Ref("A", node[3][1].index)))]
    return []


def _other_axis(node: Node) -> list[Node]:
    return [("sum", node[1], 1 if node[2] in (0, None) else 0)] if node[0] == "sum" else []


def _is_l2(node: Node) -> bool:
    return node[0] == "mm" and any(c[0] == "ref" and c[1].kind == "lambda" for c in _flat(node[1]) + _flat(node[2]))


def _flat(node: Node) -> list[Node]:
    return [node] + [x for c in node[1:] if isinstance(c, tuple) and c and c[0] in _NODES for x in _flat(c)]


LAMBDA = ("ref", Ref("lambda"))
M = ("ref", Ref("m"))


def l2_term(form: str, w: Node) -> Node:
    """The L2 term of dW under a penalty form (``classroom.choices.L2_FORMS``), as the reader reads
    ``choices.L2_GRADIENTS``: ``2 λ W``, ``λ W``, ``(λ/m) W``, ``(2λ/m) W``."""
    two_lambda = ("mm", ("num", 2.0), LAMBDA)
    factor = {"keras": two_lambda, "half": LAMBDA, "half-mean": ("div", LAMBDA, M), "mean": ("div", two_lambda, M)}
    return ("mm", factor[form], w)


def _l2_parts(node: Node) -> tuple[str | None, Node] | None:
    """(its form, the W) of an L2 term ``node``; None where ``node`` is no L2 term."""
    if not _is_l2(node):
        return None
    w = next((c for c in _flat(node) if c[0] == "ref" and c[1].kind == "W"), None)
    if w is None:
        return None
    return next((f for f in L2_FORMS if l2_term(f, w) == node), None), w


def _no_l2(node: Node) -> list[Node]:
    return [node[1]] if node[0] == "add" and _is_l2(node[2]) else []


def _other_l2(node: Node) -> list[Node]:
    """The data term plus the L2 term of every other penalty form."""
    if node[0] != "add" or not (parts := _l2_parts(node[2])):
        return []
    form, w = parts
    return [("add", node[1], l2_term(other, w)) for other in L2_FORMS if other != form]


def _l2_chosen(tree: Node) -> str | None:
    """The form of the first L2 term in ``tree`` (the chosen one, in a correct line)."""
    for node in _flat(tree):
        if node[0] == "add" and (parts := _l2_parts(node[2])):
            return parts[0]
    return None


def _says_no_l2(correct: Node, wrong: Node) -> str:
    form = _l2_chosen(correct)
    if form is None:
        return "the L2 term is missing"
    return f"the L2 term {L2_GRADIENTS[form]} of the chosen penalty {L2_FORMS[form]} is missing"


def _says_other_l2(correct: Node, wrong: Node) -> str:
    chosen, mine = _l2_chosen(correct), _l2_chosen(wrong)
    if chosen is None or mine is None:
        return "the L2 term has another form than the chosen penalty's"
    return (
        f"the L2 term {L2_GRADIENTS[mine]} matches the penalty {L2_FORMS[mine]}, not the chosen "
        f"{L2_FORMS[chosen]} (--l2-form {mine} if you meant it)"
    )


def _times(factor: Node) -> Callable[[Node], list[Node]]:
    """The root times ``factor``; where the root adds an L2 term, its data term only (the 1/m is the data's)."""

    def mutate(root: Node) -> list[Node]:
        if root[0] in ("T", "neg"):  # through a transpose or a sign another mistake put there
            return [(root[0], tree) for tree in mutate(root[1])]
        if root[0] == "add" and _is_l2(root[2]):
            return [("add", ("mm", factor, root[1]), root[2])]
        return [("mm", factor, root)]

    return mutate


@dataclass(frozen=True)
class MatrixMistake:
    code: str
    says: str  # what the checker tells the learner
    mutate: Callable[[Node], list[Node]]  # the correct right-hand side -> the wrong ones
    everywhere: bool = True  # apply at every node of the tree (False: at the root only)
    says_for: Callable[[Node, Node], str] | None = None  # (correct, wrong) -> the message, where it depends on them

    def trees(self, correct: Node) -> list[Node]:
        return _walk(correct, self.mutate) if self.everywhere else self.mutate(correct)


MATRIX_MISTAKES: tuple[MatrixMistake, ...] = (
    MatrixMistake("transposed", "the result is transposed (the other layout's answer)", lambda r: [("T", r)], False),
    MatrixMistake("product-order", "a matrix product in the wrong order", _swapped),
    MatrixMistake("missing-activation-derivative", "the activation's derivative g'(Z) is missing", _no_derivative),
    MatrixMistake(
        "derivative-of-wrong-tensor", "the activation's derivative is taken at A instead of Z", _derivative_at_a
    ),
    MatrixMistake("missing-1/m", "the 1/m of the batch mean is missing", _times(M), False),
    MatrixMistake("doubled-1/m", "1/m is applied twice", _times(("div", ("num", 1.0), M)), False),
    MatrixMistake("wrong-sign", "the sign is wrong", lambda r: [("neg", r)], False),
    MatrixMistake("sum-axis", "the sum runs over the wrong axis (over the units, not the examples)", _other_axis),
    MatrixMistake(
        "missing-l2", "the L2 term of the chosen penalty (--l2-form) is missing", _no_l2, says_for=_says_no_l2
    ),
    MatrixMistake(
        "other-form-l2",
        "the L2 term matches another penalty form than the chosen one (--l2-form keras, half, half-mean or mean)",
        _other_l2,
        says_for=_says_other_l2,
    ),
)
# mistakes that undo each other: a line is not said to make both
_EXCLUSIVE = {frozenset({"missing-1/m", "doubled-1/m"}), frozenset({"missing-l2", "other-form-l2"})}


def _named(mistake: MatrixMistake, correct: Node, wrong: Node) -> MatrixMistake:
    return replace(mistake, says=mistake.says_for(correct, wrong)) if mistake.says_for else mistake


def candidates(correct: Node) -> list[tuple[MatrixMistake, Node]]:
    """Every wrong right-hand side the declared mistakes make from the correct one, with its mistake (its
    message said for this line where it depends on it: which L2 form)."""
    return [(_named(m, correct, t), t) for m in MATRIX_MISTAKES for t in m.trees(correct)]


def candidate_pairs(correct: Node) -> Iterator[tuple[MatrixMistake, Node, MatrixMistake, Node]]:
    """Every wrong right-hand side made by two different declared mistakes, the second applied to what the
    first made (first, its tree, second, the tree of both): each unordered pair once (in ``MATRIX_MISTAKES``'
    order), none of two that undo each other."""
    for i, first in enumerate(MATRIX_MISTAKES):
        for once in first.trees(correct):
            named = _named(first, correct, once)
            for second in MATRIX_MISTAKES[i + 1 :]:
                if frozenset({first.code, second.code}) in _EXCLUSIVE:
                    continue
                for twice in second.trees(once):
                    yield named, once, _named(second, once, twice), twice
