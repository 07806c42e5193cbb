"""Known mistakes, each declared once as a hypothesis that is tested numerically: a mutation of the correct
expression that reproduces a learner's numbers names their mistake; nothing is matched as text.

Matrix-form derivations (``check-derivation``): each ``MatrixMistake`` turns the correct right-hand side (a
tree of ``classroom.derivation.matrix_reader`` nodes) into the wrong ones a learner writes. The checker
evaluates every candidate on the same random values as the learner's line and names the first that matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backprop_lab.classroom.derivation.matrix_reader import Node, Ref


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
        return node[1].kind in ("m", "lambda")
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


def _no_l2(node: Node) -> list[Node]:
    return [node[1]] if node[0] == "add" and _is_l2(node[2]) else []


def _other_l2(node: Node) -> list[Node]:
    if node[0] != "add" or not _is_l2(node[2]):
        return []
    w = next(c for c in _flat(node[2]) if c[0] == "ref" and c[1].kind == "W")
    lam, m = ("ref", Ref("lambda")), ("ref", Ref("m"))
    return [("add", node[1], ("mm", lam, w)), ("add", node[1], ("mm", ("div", lam, m), w))]


def _times(factor: Node) -> Callable[[Node], list[Node]]:
    return lambda root: [("mm", factor, root)]


M = ("ref", Ref("m"))


@dataclass(frozen=True)
class MatrixMistake:
    code: str
    says: str  # what the checker tells the learner
    mutate: Callable[[Node], list[Node]]  # the correct right-hand side -> the wrong ones
    everywhere: bool = True  # apply at every node of the tree (False: at the root only)


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
    MatrixMistake("missing-l2", "the L2 term 2λW is missing", _no_l2),
    MatrixMistake("other-form-l2", "the L2 term has another form (λW or (λ/m)W; this cost λ‖W‖² gives 2λW)", _other_l2),
)


def candidates(correct: Node) -> list[tuple[MatrixMistake, Node]]:
    """Every wrong right-hand side the declared mistakes make from the correct one, with its mistake."""
    out = []
    for mistake in MATRIX_MISTAKES:
        trees = _walk(correct, mistake.mutate) if mistake.everywhere else mistake.mutate(correct)
        out += [(mistake, t) for t in trees]
    return out
