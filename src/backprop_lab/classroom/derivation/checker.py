"""The check of chain-rule lines against the graph, and the verdicts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backprop_lab.classroom.derivation.graph import COST, ChainGraph, Node, NodePath, Pair, chain_graph, join_words
from backprop_lab.classroom.derivation.notation import Notation
from backprop_lab.classroom.derivation.parser import Equation, parse_derivation
from backprop_lab.maths.equations import Derivation

CODES = {
    "unknown-layer": "a symbol with a layer number this model does not have",
    "no-path": "the left-hand side is zero: its numerator does not depend on its denominator",
    "not-an-edge": "a factor dN/dD where N is not computed directly from D in this model",
    "chain-broken": "a factor's denominator is not the next factor's numerator",
    "lhs-mismatch": "the chain does not start at the left-hand side's numerator or end at its denominator",
    "nonexistent-path": "a term whose chain runs over a path the model's graph does not have",
    "duplicate-path": "the same path counted in two terms",
    "missing-path": "a path of the graph from the numerator to the denominator with no term in the sum",
    "off-by-one": "layer numbers one too high or too low (in a term, or throughout the equation)",
}


@dataclass(frozen=True)
class Issue:
    code: str  # one of CODES
    message: str
    term: int | None = None  # the term of the sum (1-based); None: the whole equation

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "term": self.term}


@dataclass
class Verdict:
    line: int
    text: str
    issues: list[Issue]
    expected: str | None  # the correct chain in the learner's notation (None: the left-hand side does not exist)

    @property
    def correct(self) -> bool:
        return not self.issues

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "text": self.text,
            "correct": self.correct,
            "issues": [i.to_dict() for i in self.issues],
            "expected": self.expected,
        }


@dataclass
class CheckReport:
    model: str
    layers: int
    verdicts: list[Verdict]

    @property
    def correct(self) -> bool:
        return all(v.correct for v in self.verdicts)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "layers": self.layers,
            "correct": self.correct,
            "equations": [v.to_dict() for v in self.verdicts],
        }

    def __repr__(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        return f"CheckReport({self.model}: {good} of {len(self.verdicts)} equations correct)"

    def _repr_html_(self) -> str:
        from backprop_lab.viz.display import check_html

        return check_html(self)

    def text(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        L = self.layers
        lines = [
            f"{self.model}: {L} layer{'s' if L > 1 else ''} with weights (a[0] is the input, a[{L}] the output); "
            f"{good} of {len(self.verdicts)} equation{'s' if len(self.verdicts) > 1 else ''} correct"
        ]
        for v in self.verdicts:
            lines.append(f"line {v.line}: {'correct' if v.correct else 'wrong'}: {v.text}")
            lines += [f"  {i.code}: {i.message}" for i in v.issues]
            if not v.correct:
                lines.append(
                    f"  correct chain: {v.expected}"
                    if v.expected
                    else "  correct chain: none (the left-hand side is not a symbol of this model)"
                )
        return "\n".join(lines)


def _is_chain(term: list[Pair]) -> bool:
    return all(a[1] == b[0] for a, b in zip(term, term[1:]))


def _term_issues(term: list[Pair], lhs: Pair, graph: ChainGraph, say: Notation, tag: int | None) -> list[Issue]:
    pre = f"term {tag}: " if tag else ""
    out = [
        Issue("not-an-edge", f"{pre}{say.factor((n, d))}: {graph.why_not(n, d, say.node)}", tag)
        for n, d in term
        if n in graph and d in graph and not graph.is_edge(n, d)
    ]

    def missing(top: Node, bottom: Node) -> str:
        """' (missing: the factors)' where exactly one path of the graph joins top to bottom."""
        gap = graph.paths(top, bottom) if top in graph and bottom in graph and top != bottom else []
        return (
            f" (missing: {' * '.join(say.factor(pair) for pair in zip(gap[0], gap[0][1:]))})" if len(gap) == 1 else ""
        )

    for a, b in zip(term, term[1:]):
        if a[1] != b[0]:
            out.append(
                Issue(
                    "chain-broken",
                    f"{pre}the chain breaks between {say.factor(a)} and {say.factor(b)}: "
                    f"{say.node(a[1])} is not {say.node(b[0])}{missing(a[1], b[0])}",
                    tag,
                )
            )
    if term[0][0] != lhs[0]:  # a chain begun too low: the factors from the numerator down to its start are missing
        out.append(
            Issue(
                "lhs-mismatch",
                f"{pre}the chain starts at {say.node(term[0][0])}, but the left-hand side "
                f"differentiates {say.node(lhs[0])}{missing(lhs[0], term[0][0])}",
                tag,
            )
        )
    if term[-1][1] != lhs[1]:  # stopped short: the factors from its end down to the denominator are missing
        out.append(
            Issue(
                "lhs-mismatch",
                f"{pre}the chain ends at {say.node(term[-1][1])}, but the left-hand side "
                f"is with respect to {say.node(lhs[1])}{missing(term[-1][1], lhs[1])}",
                tag,
            )
        )
    return out


def _off_by_one(term: list[Pair], paths: list[NodePath], say: Notation, tag: int | None) -> Issue | None:
    """The layer numbers of a term one away from those of a true path (all in the same direction)."""
    for p in paths:
        if len(p) - 1 != len(term):
            continue
        pairs = [(n, p[k]) for k, (n, _) in enumerate(term)] + [(d, p[k + 1]) for k, (_, d) in enumerate(term)]
        if any(mine.kind != true.kind for mine, true in pairs):
            continue
        shifts = {true.layer - mine.layer for mine, true in pairs if mine.layer is not None}
        if len(shifts - {0}) != 1 or not shifts - {0} <= {1, -1}:
            continue
        changed = list(dict.fromkeys((mine, true) for mine, true in pairs if mine != true))
        pre = f"term {tag}: " if tag else ""
        way = "low" if shifts - {0} == {1} else "high"
        if 0 not in shifts:
            body = " * ".join(say.factor((p[k], p[k + 1])) for k in range(len(p) - 1))
            return Issue(
                "off-by-one", f"{pre}every layer number in this term is one too {way}: it should read {body}", tag
            )
        mine, true = join_words([say.node(m) for m, _ in changed]), join_words([say.node(t) for _, t in changed])
        return Issue(
            "off-by-one",
            f"{pre}{mine} {'is' if len(changed) == 1 else 'are'} one layer too {way}: "
            f"{'it' if len(changed) == 1 else 'they'} should be {true}",
            tag,
        )
    return None


def _issues(lhs: Pair, terms: list[list[Pair]], graph: ChainGraph, say: Notation, hints: bool = True) -> list[Issue]:
    issues: list[Issue] = []
    nodes = list(dict.fromkeys([*lhs, *(n for t in terms for pair in t for n in pair)]))
    unknown: dict[str, list[Node]] = {}  # one issue per reason
    for n in nodes:
        if n not in graph:
            unknown.setdefault(graph.why_unknown(n), []).append(n)
    issues += [
        Issue(
            "unknown-layer",
            f"{join_words([say.node(n) for n in group])} {'does' if len(group) == 1 else 'do'} not exist: {why}",
        )
        for why, group in unknown.items()
    ]
    known = lhs[0] in graph and lhs[1] in graph
    paths = graph.paths(*lhs) if known else []
    if known and not paths and terms:
        issues.append(
            Issue(
                "no-path",
                f"{say.node(lhs[0])} does not depend on {say.node(lhs[1])}: {say.factor(lhs)} is 0 and has no chain",
            )
        )
    valid: dict[NodePath, int] = {}
    wrong = 0
    for tag, written in enumerate(terms, 1):
        # a chain written from the parameter up to the cost is the same product, read the other way
        term = written[::-1] if not _is_chain(written) and _is_chain(written[::-1]) else written
        label = tag if len(terms) > 1 else None
        pre = f"term {tag}: " if label else ""
        found = _term_issues(term, lhs, graph, say, label)
        path = (lhs[0],) + tuple(d for _, d in term)
        if found and all(i.code == "not-an-edge" for i in found):  # a chain with the right ends, over false edges
            found.append(
                Issue(
                    "nonexistent-path",
                    f"{pre}this term runs over {say.path(path)}, which is not a path of this network",
                    label,
                )
            )
        if not found and path in valid:
            found.append(
                Issue(
                    "duplicate-path",
                    f"term {tag}: the path {say.path(path)} is counted twice (terms {valid[path]} and {tag})",
                    label,
                )
            )
        elif not found:
            valid[path] = tag
        if found:
            wrong += 1
            off = _off_by_one(term, paths, say, label) if hints else None
            issues += ([off] if off else []) + found
    missing = [p for p in paths if p not in valid]
    if len(missing) > wrong:
        issues += [
            Issue("missing-path", f"the right-hand side has no term for the path {say.path(p)}") for p in missing
        ]
    return issues


def check_equation(eq: Equation, graph: ChainGraph) -> Verdict:
    L, say = graph.layers, eq.notation
    lhs = (eq.lhs.num.resolve(L), eq.lhs.den.resolve(L))
    terms = [[(f.num.resolve(L), f.den.resolve(L)) for f in term] for term in eq.terms]
    issues = _issues(lhs, terms, graph, say)
    if issues:  # the whole equation one layer off?
        for by in (1, -1):
            moved = (lhs[0].shifted(by), lhs[1].shifted(by))
            moved_terms = [[(n.shifted(by), d.shifted(by)) for n, d in t] for t in terms]
            if not _issues(moved, moved_terms, graph, say, hints=False):
                issues = [
                    Issue(
                        "off-by-one",
                        f"every layer number is one too {'low' if by > 0 else 'high'}: with "
                        f"{by:+d} throughout, this is the correct chain for {say.factor(moved)} "
                        f"({say.node(Node('a', 0))} is the input, layer 1 the first with "
                        f"weights, {say.node(Node('a', L))} the output)",
                    )
                ] + [i for i in issues if i.code != "off-by-one"]
                break
    known = lhs[0] in graph and lhs[1] in graph
    expected = say.equation(lhs, graph.paths(*lhs)) if known else None
    return Verdict(eq.line, eq.text, issues, expected)


def check_derivation(
    text: str, derivation: Derivation, model: str = "model", source: str = "derivation"
) -> CheckReport:
    """Parse ``text`` (BplabError on a line that does not parse) and check every equation against the
    graph of ``derivation``."""
    graph = chain_graph(derivation)
    verdicts = [check_equation(eq, graph) for eq in parse_derivation(text, source)]
    return CheckReport(model, graph.layers, verdicts)


def correct_chains(derivation: Derivation, latex: bool = False) -> list[str]:
    """The correct chain of every weight and bias, from the output layer down, one equation each."""
    graph = chain_graph(derivation)
    notation = Notation(latex=latex, diff="\\partial" if latex else "d", frac=latex)
    out = []
    for l in range(graph.layers, 0, -1):
        for kind in ("W", "b"):
            lhs = (COST, Node(kind, l))
            out.append(notation.equation(lhs, graph.paths(*lhs)))
    return out


def typical_mistakes(derivation: Derivation) -> list[str]:
    """Wrong chains of the kinds learners write, made from this model's correct ones (plain notation): the
    output layer's chain with every index but the parameter's one too low, a factor that skips a layer, and a
    factor left out. For a report's "common mistakes" box; the checker then says what is wrong with each."""
    chains = correct_chains(derivation)
    L = chain_graph(derivation).layers
    out_w = chains[0]  # dC/dW[L] = dC/da[L] * da[L]/dz[L] * dz[L]/dW[L]
    lhs, rhs = out_w.split(" = ")
    factors = rhs.split(" * ")
    lowered = " * ".join(re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) - 1}]", f) for f in factors[:-1])
    last = re.sub(r"dz\[(\d+)\]", lambda m: f"dz[{int(m.group(1)) - 1}]", factors[-1])
    mistakes = [f"{lhs} = {lowered} * {last}" if L > 1 else None, f"{lhs} = {' * '.join(factors[:1] + factors[2:])}"]
    if L > 1:
        w_below = next(c for c in chains if c.startswith(f"dC/dW[{L - 1}]"))
        mistakes.append(w_below.replace(f"dz[{L}]/da[{L - 1}] * da[{L - 1}]/dz[{L - 1}]", f"dz[{L}]/dz[{L - 1}]"))
    return [m for m in mistakes if m]
