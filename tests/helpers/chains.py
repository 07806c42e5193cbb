"""Chain-rule lines written independently of the checker (plain and LaTeX), and the derivations they are
checked against: shared by the tests of the checker, its parser, graph and notation, and of the command."""

from __future__ import annotations

import functools

from backprop_lab.classroom.derivation import check_derivation
from backprop_lab.maths.equations import derive
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import parse_model

DIGITS = ((8, 8, 1), 10)  # the input shape and classes of --data digits, the command's default

MLP2, MLP3, MLP4, MLP5 = "mlp:8", "mlp:8,8", "mlp:16,8,4", "mlp:8,8,8,8"  # 2 to 5 layers with weights


@functools.lru_cache(maxsize=None)
def derivation(model: str, l2: float = 0.0):
    return derive(parse_model(model, *DIGITS), TrainConfig(l2=l2))


def check_one(model: str, line: str, l2: float = 0.0):
    report = check_derivation(line, derivation(model, l2), model)
    assert len(report.verdicts) == 1
    return report.verdicts[0]


def chain(top: int, kind: str, l: int, *, d: str = "d", cost: str = "C", w: str = "W", op: str = " * ") -> str:
    """The correct plain chain dC/dW[l] for a network whose output layer is `top` (written independently
    of the checker, to test it)."""
    factors = [f"{d}{cost}/{d}a[{top}]"]
    for k in range(top, l, -1):
        factors += [f"{d}a[{k}]/{d}z[{k}]", f"{d}z[{k}]/{d}a[{k - 1}]"]
    factors += [f"{d}a[{l}]/{d}z[{l}]", f"{d}z[{l}]/{d}{w if kind == 'W' else 'b'}[{l}]"]
    return f"{d}{cost}/{d}{w if kind == 'W' else 'b'}[{l}] = " + op.join(factors)


def tex(
    top: int,
    l: int,
    *,
    diff: str = "\\partial",
    cost: str = "c",
    w: str = "\\omega",
    idx: str = "^{{[{}]}}",
    op: str = " \\cdot ",
) -> str:
    sym = lambda s, n: s + idx.format(n)  # noqa: E731
    frac = lambda n, d: f"\\frac{{{diff} {n}}}{{{diff} {d}}}"  # noqa: E731
    factors = [frac(cost, sym("a", top))]
    for k in range(top, l, -1):
        factors += [frac(sym("a", k), sym("z", k)), frac(sym("z", k), sym("a", k - 1))]
    factors += [frac(sym("a", l), sym("z", l)), frac(sym("z", l), sym(w, l))]
    return f"{frac(cost, sym(w, l))} = " + op.join(factors)
