"""The tree a matrix-form line is read into: ``Ref`` (which tensor of which layer) and ``Node`` tuples.
The reader (``derivation/matrix_reader.py``) builds it and the known mistakes (``mistakes.py``) mutate it; it
stands apart from both so that neither imports the other's package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ref:
    """A tensor as written: ``kind`` (Z, A, W, b, X, Y, dZ, dA, dW, db, m, K, lambda) and its layer index:
    ``("abs", 2)``, ``("l", -1)`` (l-1), ``("L", 0)`` (L), or None (X, Y, m, K, lambda)."""

    kind: str
    index: tuple[str, int] | None = None

    def layer(self, l: int | None, L: int) -> int | None:
        if self.index is None:
            return None
        base, n = self.index
        if base == "abs":
            return n
        if base == "L":
            return L + n
        if l is None:
            raise ValueError("a general [l] index outside a general line")
        return l + n

    @property
    def general(self) -> bool:
        return self.index is not None and self.index[0] == "l"


# a right-hand side: ("ref", Ref) ("num", float) ("mm", a, b) ("had", a, b) ("add", a, b) ("sub", a, b)
# ("div", a, b) ("neg", a) ("T", a) ("pow", a, float) ("sum", a, axis | None) ("fn", name, a)
# ("dfn", name, Ref | None, a): an activation's derivative (name "g": the layer's own; the Ref: g^{[l]})
Node = tuple
