"""Writing a matrix-form tree back as a line a learner would write (the reader's inverse): ``show`` prints
``("mm", ("T", A[1]), dZ[2])`` as ``A[1]^T dZ[2]``, and ``tidy`` first rewrites what a mutation leaves in
a form nobody writes (``m (1/m) A^T dZ`` is ``A^T dZ``; ``(A^T dZ)^T`` is ``dZ^T A``; ``-(A - Y)`` is ``Y - A``); a transpose of
a sum stays as it is (a bias broadcast over the examples would not be transposed with it).
The reader reads every printed line back to the same value (tests/classroom/derivation/test_matrix_writer.py)."""

from __future__ import annotations

from backprop_lab.classroom.matrix_tree import Node, Ref

# how tightly an operation binds: + - 1, element-wise 2, products 3, a transpose, power or call 4
_LEVEL = {"add": 1, "sub": 1, "neg": 1, "had": 2, "mm": 3, "div": 3}
_FUNC_NAMES = {"sigmoid": "σ"}


OVER_M = ("div", ("num", 1.0), ("ref", Ref("m")))


def _is_over_m(node: Node) -> bool:
    return node == OVER_M


def _scalar(node: Node) -> bool:
    return node[0] == "num" or node in (("ref", Ref("m")), ("ref", Ref("K")), ("ref", Ref("lambda")), OVER_M)


def tidy(node: Node) -> Node:
    """The same value, written as a learner would: transposes moved onto the tensors, m (1/m) cancelled,
    -(a - b) written b - a."""
    op = node[0]
    if op == "T":
        inner = tidy(node[1])
        if inner[0] == "T":
            return inner[1]
        if inner[0] == "mm":  # (a b)^T = b^T a^T, a scalar staying in front
            return tidy(("mm", ("T", inner[2]), ("T", inner[1])))
        if _scalar(inner):
            return inner
        return ("T", inner)
    if op == "mm":  # the scalars in front, m (1/m) cancelled
        factors = _factors(tidy(node[1])) + _factors(tidy(node[2]))
        scalars = [f for f in factors if _scalar(f)]
        while ("ref", Ref("m")) in scalars and OVER_M in scalars:
            scalars.remove(("ref", Ref("m")))
            scalars.remove(OVER_M)
        out = None
        scalars.sort(key=lambda f: (f[0] != "num", not _is_over_m(f)))  # 2 λ, (1/m) A: numbers first
        for f in scalars + [f for f in factors if not _scalar(f)]:
            out = f if out is None else ("mm", out, f)
        return out if out is not None else ("num", 1.0)
    if op == "neg":
        inner = tidy(node[1])
        if inner[0] == "sub":
            return ("sub", inner[2], inner[1])
        return ("neg", inner)
    if op in ("had", "add", "sub", "div"):
        return (op, tidy(node[1]), tidy(node[2]))
    if op in ("pow", "sum"):
        return (op, tidy(node[1]), node[2])
    if op in ("fn", "dfn"):
        return node[:-1] + (tidy(node[-1]),)
    return node


def _ref(ref: Ref) -> str:
    if ref.kind == "lambda":
        return "λ"
    if ref.index is None:
        return ref.kind
    base, n = ref.index
    layer = str(n) if base == "abs" else base + (f"{n:+d}" if n else "")
    return f"{ref.kind}[{layer}]"


def _level(node: Node) -> int:
    if _is_over_m(node):
        return 4
    return _LEVEL.get(node[0], 4)


def _factors(node: Node) -> list[Node]:
    if node[0] == "mm" and not _is_over_m(node):
        return _factors(node[1]) + _factors(node[2])
    return [node]


def _wrap(node: Node, least: int) -> str:
    text = show(node)
    return f"({text})" if _level(node) < least else text


def show(node: Node) -> str:
    """A right-hand side as plain text the reader reads back (tightest first: ^T, products, *, + and -)."""
    op = node[0]
    if op == "ref":
        return _ref(node[1])
    if op == "num":
        return f"{node[1]:g}"
    if _is_over_m(node):
        return "(1/m)"
    if op == "T":
        return _wrap(node[1], 4) + "^T"
    if op == "pow":
        return _wrap(node[1], 4) + f"^{node[2]:g}"
    if op == "mm":  # a product of products is written flat: matrix products are associative
        return " ".join(_wrap(f, 4) for f in _factors(node))
    if op == "div":
        return f"{_wrap(node[1], 3)} / {_wrap(node[2], 4)}"
    if op == "had":
        return f"{_wrap(node[1], 2)} * {_wrap(node[2], 3)}"
    if op in ("add", "sub"):
        return f"{_wrap(node[1], 1)} {'+' if op == 'add' else '-'} {_wrap(node[2], 2)}"
    if op == "neg":
        return "-" + _wrap(node[1], 2)
    if op == "sum":
        return f"sum({show(node[1])}" + ("" if node[2] is None else f", axis={node[2]}") + ")"
    if op == "fn":
        if node[1] == "step":
            return f"({show(node[2])} > 0)"
        return f"{_FUNC_NAMES.get(node[1], node[1])}({show(node[2])})"
    if op == "dfn":
        name = _FUNC_NAMES.get(node[1], node[1])
        if node[2] is not None:  # g^{[l]'}: that layer's activation
            return f"g^{{[{_ref(node[2]).split('[', 1)[1]}'}}({show(node[3])})"
        return f"{name}'({show(node[3])})"
    raise TypeError(op)
