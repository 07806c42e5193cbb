"""How a learner writes (letters, differential, index style, product sign), so that messages and the
correct chain come back in their own notation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from backprop_lab.classroom.derivation.graph import Node, NodePath, Pair

SUPERSCRIPTS, SUBSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹", "₀₁₂₃₄₅₆₇₈₉"
SCRIPT_STYLES = {"sup": str.maketrans("0123456789", SUPERSCRIPTS), "sub": str.maketrans("0123456789", SUBSCRIPTS)}

_PLAIN_LETTERS = {"\\omega": "ω", "\\Omega": "Ω"}
_PLAIN_DIFFS = {"\\partial": "∂", "\\delta": "δ"}
_DEFAULT_LETTERS = {"C": "C", "a": "a", "z": "z", "W": "W", "b": "b"}


def _unwrap(text: str) -> str:
    """``\\mathcal{L}`` -> ``L``, ``\\omega`` -> ``ω``, ``\\mathrm{d}`` -> ``d``: for plain messages."""
    m = re.fullmatch(r"\\[A-Za-z]+\{(.*)\}", text)
    inner = m.group(1).strip() if m else text
    return _PLAIN_LETTERS.get(inner, _PLAIN_DIFFS.get(inner, inner))


@dataclass
class Notation:
    latex: bool = False
    diff: str | None = None  # d, ∂, δ, \partial, \delta, \mathrm{d}
    frac: bool = False  # \frac{...}{...} rather than N/D
    product: str | None = None  # " * ", " \cdot ", " " (juxtaposition), ...
    letters: dict[str, str] = field(default_factory=dict)  # kind -> letter as written (w, \omega, c, \mathcal{L})
    index: tuple[str, str] | None = None  # ("[", "]"), ("^{[", "]}"), ("_", ""), ("", "") ...

    def letter(self, kind: str, plain: bool = False) -> str:
        text = self.letters.get(kind, _DEFAULT_LETTERS[kind])
        return _unwrap(text) if plain else text

    def node(self, n: Node) -> str:
        """The symbol in plain text, in the learner's letters: a[3], ω[2], C."""
        return self.letter(n.kind, plain=True) + ("" if n.layer is None else f"[{n.layer}]")

    def factor(self, pair: Pair) -> str:
        """A factor in plain text: dC/da[3], ∂c/∂ω[2]."""
        d = _unwrap(self.diff or "d")
        return f"{d}{self.node(pair[0])}/{d}{self.node(pair[1])}"

    def path(self, p: NodePath) -> str:
        return " → ".join(self.node(n) for n in p)

    # the learner's full notation, LaTeX or plain
    def _symbol(self, n: Node) -> str:
        if n.layer is None:
            return self.letter(n.kind)
        pre, post = self.index or (("^{[", "]}") if self.latex else ("[", "]"))
        number = str(n.layer)
        if pre in SCRIPT_STYLES:  # W², a₃
            return self.letter(n.kind) + number.translate(SCRIPT_STYLES[pre])
        if pre in ("^", "_") and len(number) > 1:
            pre, post = pre + "{", "}"
        return self.letter(n.kind) + pre + number + post

    def _factor_tex(self, pair: Pair) -> str:
        d = self.diff or ("\\partial" if self.latex else "d")
        sep = " " if re.fullmatch(r"\\[A-Za-z]+", d) else ""
        num, den = (f"{d}{sep}{self._symbol(n)}" for n in pair)
        if self.latex and self.frac:
            return f"\\frac{{{num}}}{{{den}}}"
        return f"{num}/{den}"

    def equation(self, lhs: Pair, paths: list[NodePath]) -> str:
        """``lhs = sum over paths of the product of their factors``, as the learner would write it."""
        product = self.product or (" \\cdot " if self.latex else " * ")
        terms = [product.join(self._factor_tex((p[k], p[k + 1])) for k in range(len(p) - 1)) for p in paths]
        return f"{self._factor_tex(lhs)} = {' + '.join(terms) if terms else '0'}"
