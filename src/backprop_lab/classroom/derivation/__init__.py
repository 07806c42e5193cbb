"""Checks a learner's hand-written chain-rule derivation against a model's computation graph.

A derivation is one equation per line, in the notation of courses, plain text or LaTeX::

    dC/dW[2] = dC/da[3] * da[3]/dz[3] * dz[3]/da[2] * da[2]/dz[2] * dz[2]/dW[2]
    $$\\frac{\\partial c}{\\partial \\omega^{[3]}} = \\frac{\\partial c}{\\partial a^{[3]}} \\cdot ...$$

The graph is read from ``graphs.dependencies`` (the equations the code runs), seen in course
notation: a[0] is the input; layer l, the l-th layer with weights, has z[l], a[l], W[l] and b[l];
C is the cost. Symbols without weights between layers (dropout D, pooling P, flatten F, the masks,
X and Y) are collapsed into direct edges, so z[l+1] depends on a[l].

Each equation gets a ``Verdict``: correct, or ``Issue``s with a stable code (``CODES``) and a
message, and the correct chain in the learner's own notation. A product is a chain when each
factor's denominator is the next one's numerator, read from the cost down (or, the same product,
from the parameter up); ``= 0`` states that there is no path. The parser is hand-written (a
tokenizer and a recursive descent over ``sum := product ('+' product)*``); nothing is evaluated.
"""

from backprop_lab.classroom.derivation.checker import (
    CODES,
    CheckReport,
    Issue,
    Verdict,
    check_derivation,
    check_equation,
    correct_chains,
    typical_matrix_mistakes,
    typical_mistakes,
)
from backprop_lab.classroom.derivation.graph import COST, ChainGraph, Node, chain_graph
from backprop_lab.classroom.derivation.notation import Notation
from backprop_lab.classroom.derivation.parser import Equation, Factor, Var, parse_derivation
from backprop_lab.classroom.derivation.tokenizer import Token, tokenize

__all__ = [
    "CODES",
    "COST",
    "ChainGraph",
    "CheckReport",
    "Equation",
    "Factor",
    "Issue",
    "Node",
    "Notation",
    "Token",
    "Var",
    "Verdict",
    "chain_graph",
    "check_derivation",
    "check_equation",
    "correct_chains",
    "parse_derivation",
    "tokenize",
    "typical_matrix_mistakes",
    "typical_mistakes",
]
