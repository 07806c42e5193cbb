"""The model's computation graph in course notation: what each symbol (C, a[l], z[l], W[l], b[l]) is computed
from directly, and the paths between symbols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backprop_lab.maths.equations import Derivation
from backprop_lab.maths.graphs import dependencies


@dataclass(frozen=True)
class Node:
    kind: str  # C (the cost), a, z, W, b
    layer: int | None = None  # None for the cost

    def shifted(self, by: int) -> Node:
        return self if self.layer is None else Node(self.kind, self.layer + by)


COST = Node("C")
NodePath = tuple[Node, ...]
Pair = tuple[Node, Node]  # (numerator, denominator) of one factor


def join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class ChainGraph:
    """What each course symbol is computed from directly: ``parents[a[3]] == (z[3],)``."""

    layers: int  # L: the layers with weights are 1..L; a[L] is the output
    parents: dict[Node, tuple[Node, ...]]

    @classmethod
    def from_derivation(cls, d: Derivation) -> ChainGraph:
        deps = dependencies(d)
        course: dict[str, Node] = {"loss": COST, ("A0" if "A0" in deps else "X"): Node("a", 0)}
        for layer in d.layers:
            for sym, kind in ((layer.z, "z"), (layer.a, "a"), (layer.w, "W"), (layer.b, "b")):
                course[sym.name] = Node(kind, layer.l)

        def reads(name: str) -> list[Node]:
            """The course symbols an equation reads, looking through those without weights (D, P, F);
            the leaves X, Y and the dropout masks are not symbols of the chain rule."""
            found: list[Node] = []
            for dep in deps.get(name, []):
                if dep in course:
                    found.append(course[dep])
                elif dep in deps:
                    found += reads(dep)
            return list(dict.fromkeys(found))

        return cls(len(d.layers), {node: tuple(reads(name)) for name, node in course.items()})

    def __contains__(self, node: Node) -> bool:
        return node in self.parents

    def is_edge(self, num: Node, den: Node) -> bool:
        return den in self.parents.get(num, ())

    def paths(self, src: Node, dst: Node) -> list[NodePath]:
        """Every path src -> ... -> dst along the edges (from what is computed to what it reads)."""
        if src == dst:
            return [(src,)]
        return [(src,) + rest for p in self.parents.get(src, ()) for rest in self.paths(p, dst)]

    def why_not(self, num: Node, den: Node, say: Callable[[Node], str]) -> str:
        reads = self.parents.get(num, ())
        if not reads:
            what = "the input" if num.kind == "a" else "a parameter"
            text = f"{say(num)} is {what}: it depends on nothing in the network"
        else:
            text = f"{say(num)} depends on {join_words([say(p) for p in reads])}, not on {say(den)}"
        if self.is_edge(den, num):
            text += f" (it is the other way round: {say(den)} depends on {say(num)})"
        return text

    def why_unknown(self, node: Node) -> str:
        L = self.layers
        if node.layer is not None and node.layer < 0:
            return "layers are numbered from 0, the input"
        if node.layer == 0:
            return f"layer 0 is the input, which has only a[0]; the layers with weights are 1 to {L}"
        return f"this model has {L} layer{'s' if L > 1 else ''} with weights (1 to {L}); its output is layer {L}"


def chain_graph(derivation: Derivation) -> ChainGraph:
    return ChainGraph.from_derivation(derivation)
