"""The check of chain-rule lines against the graph, and the verdicts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from backprop_lab.classroom.derivation.graph import COST, ChainGraph, Node, NodePath, Pair, chain_graph, join_words
from backprop_lab.classroom.derivation.matrix import Model as MatrixModel
from backprop_lab.classroom.derivation.matrix import correct_text, judge, parse_rhs, supported
from backprop_lab.classroom.derivation.matrix_reader import MatrixLine, is_chain_line, parse_matrix_line
from backprop_lab.classroom.derivation.matrix_writer import show, tidy
from backprop_lab.classroom.derivation.notation import Notation
from backprop_lab.classroom.derivation.parser import NO_EQUATION, Equation, parse_chain_line, split_lines
from backprop_lab.classroom.derivation.tokenizer import ParseError
from backprop_lab.classroom.mistakes import MATRIX_MISTAKES, candidates
from backprop_lab.core.display import Displayable
from backprop_lab.core.errors import BplabError
from backprop_lab.maths.equations import Derivation

CODES = {
    "unknown-layer": "a symbol with a layer number this model does not have",
    "no-path": "the left-hand side is zero: its numerator does not depend on its denominator",
    "no-dependence": "a factor dN/dD where N does not depend on D in this model (it is 0); a factor is a total "
    "derivative, right whenever a path joins N to D",
    "chain-broken": "a factor's denominator is not the next factor's numerator",
    "lhs-mismatch": "the chain does not start at the left-hand side's numerator or end at its denominator",
    "nonexistent-path": "a term whose chain runs over a path the model's graph does not have",
    "duplicate-path": "the same path counted in two terms",
    "missing-path": "a path of the graph from the numerator to the denominator with no term in the sum",
    "off-by-one": "layer numbers one too high or too low (in a term, or throughout the equation)",
    # matrix-form lines (the named mistakes are declared in classroom/mistakes.py)
    "carried": "the step is right, but it uses an earlier line's wrong value",
    "scale-mismatch": "a delta at the other scale than the file's first delta line (sum over examples or mean)",
    "other-loss": "an output delta that is another loss's than the chosen one (--loss)",
    "shapes": "the shapes of a product or sum do not fit",
    "unknown-tensor": "a tensor this model does not have here",
    "wrong": "a value that differs from the truth, and no known mistake reproduces it",
} | {m.code: m.says for m in MATRIX_MISTAKES}


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
    form: str = "chain"  # chain (dC/dW[2] = ...) or matrix (dW[2] = ...)
    error: str | None = None  # why the line cannot be read ("column 7: unexpected ...")

    @property
    def correct(self) -> bool:
        return not self.issues and self.error is None

    @property
    def status(self) -> str:
        return "unreadable" if self.error else "correct" if self.correct else "wrong"

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "text": self.text,
            "form": self.form,
            "status": self.status,
            "correct": self.correct,
            "error": self.error,
            "issues": [i.to_dict() for i in self.issues],
            "expected": self.expected,
        }


@dataclass
class CheckReport(Displayable):
    model: str
    layers: int
    verdicts: list[Verdict]
    layout: str | None = None  # of the matrix-form lines: rows (Z = A W + b) or columns (Z = W A + b)
    scale: str | None = None  # of their deltas: sum (dZ = A - Y) or mean ((A - Y) / m)

    @property
    def correct(self) -> bool:
        return all(v.correct for v in self.verdicts)

    @property
    def readable(self) -> bool:
        return all(v.error is None for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """0: every line right; 1: a line is wrong; 2: a line cannot be read."""
        return 2 if not self.readable else 0 if self.correct else 1

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "layers": self.layers,
            "layout": self.layout,
            "scale": self.scale,
            "correct": self.correct,
            "equations": [v.to_dict() for v in self.verdicts],
        }

    def __repr__(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        return f"CheckReport({self.model}: {good} of {len(self.verdicts)} equations correct)"

    def text(self) -> str:
        good = sum(v.correct for v in self.verdicts)
        L = self.layers
        lines = [
            f"{self.model}: {L} layer{'s' if L > 1 else ''} with weights (a[0] is the input, a[{L}] the output); "
            f"{good} of {len(self.verdicts)} equation{'s' if len(self.verdicts) > 1 else ''} correct"
        ]
        if self.layout:
            lines.append(
                f"matrix-form lines read in the {self.layout} layout "
                f"({'Z = A W + b' if self.layout == 'rows' else 'Z = W A + b'}), deltas at the {self.scale} scale "
                f"({'dZ = A - Y' if self.scale == 'sum' else 'dZ = (A - Y) / m'}); dW and db of the batch-mean loss"
            )
        for v in self.verdicts:
            lines.append(f"line {v.line}: {v.status}: {v.text}")
            if v.error:
                lines.append(f"  {v.error}")
                continue
            lines += [f"  {i.code}: {i.message}" for i in v.issues]
            if v.form == "matrix":
                if not v.correct and v.expected:
                    lines.append(f"  correct line: {v.expected}")
            elif not v.correct:
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
        Issue("no-dependence", f"{pre}{say.factor((n, d))}: {graph.why_not(n, d, say.node)}", tag)
        for n, d in term
        if n in graph and d in graph and not graph.paths(n, d)  # a factor is a total derivative: any path will do
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
    good: list[tuple[int, list[Pair]]] = []
    wrong = 0
    for tag, written in enumerate(terms, 1):
        # a chain written from the parameter up to the cost is the same product, read the other way
        term = written[::-1] if not _is_chain(written) and _is_chain(written[::-1]) else written
        label = tag if len(terms) > 1 else None
        pre = f"term {tag}: " if label else ""
        found = _term_issues(term, lhs, graph, say, label)
        path = (lhs[0],) + tuple(d for _, d in term)
        if found and all(i.code == "no-dependence" for i in found):  # a chain with the right ends, over false edges
            found.append(
                Issue(
                    "nonexistent-path",
                    f"{pre}this term runs over {say.path(path)}, which is not a path of this network",
                    label,
                )
            )
        if found:
            wrong += 1
            off = _off_by_one(term, paths, say, label) if hints else None
            issues += ([off] if off else []) + found
        else:
            good.append((tag, term))
    # each good term covers the graph's paths through its symbols; with L2, dC/dW[l] beside a chain is the direct edge
    counted, repeats = _coverage(good, graph, partial=False)
    if repeats:
        counted_partial, repeats_partial = _coverage(good, graph, partial=True)
        if not repeats_partial:
            counted, repeats = counted_partial, repeats_partial
    for p, first, again in repeats:
        issues.append(
            Issue(
                "duplicate-path",
                f"term {again}: the path {say.path(p)} is counted twice (terms {first} and {again})",
                again if len(terms) > 1 else None,
            )
        )
    missing = [p for p in paths if p not in counted]
    if len(missing) > wrong:
        issues += [
            Issue("missing-path", f"the right-hand side has no term for the path {say.path(p)}") for p in missing
        ]
    return issues


def _coverage(
    good: list[tuple[int, list[Pair]]], graph: ChainGraph, partial: bool
) -> tuple[dict[NodePath, int], list[tuple[NodePath, int, int]]]:
    """The paths each term counts (a factor dN/dD stands for every path from N to D; ``partial``: a factor that
    is an edge stands for that edge only) and the paths counted twice (path, first term, the other term)."""
    counted: dict[NodePath, int] = {}
    repeats = []
    for tag, term in good:
        covered: list[NodePath] = [(term[0][0],)]
        for n, d in term:
            segments = [(n, d)] if partial and graph.is_edge(n, d) else graph.paths(n, d)
            covered = [p + s[1:] for p in covered for s in segments]
        reported = False
        for p in covered:
            if p in counted and not reported:
                repeats.append((p, counted[p], tag))
                reported = True
            counted.setdefault(p, tag)
    return counted, repeats


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
    text: str,
    derivation: Derivation,
    model: str = "model",
    source: str = "derivation",
    layout: str | None = None,
    l2_form: str = "keras",
) -> CheckReport:
    """Judge every line of ``text``: chain-rule lines against the graph of ``derivation``, matrix-form lines
    numerically (``matrix.py``) with the derivation's loss and, with L2, the penalty ``l2_form``; a line that
    cannot be read gets its parse error in place. BplabError only when the file has no equation at all."""
    graph = chain_graph(derivation)
    verdicts: dict[int, Verdict] = {}
    matrix_lines: list[MatrixLine] = []
    for number, raw, line, start in split_lines(text):
        chain = is_chain_line(line)
        try:
            if chain:
                verdicts[number] = check_equation(parse_chain_line(number, raw, line, start), graph)
            else:
                matrix_lines.append(parse_matrix_line(number, raw, line, start))
        except ParseError as exc:
            form = "chain" if chain else "matrix"
            verdicts[number] = Verdict(number, raw.strip(), [], None, form, f"column {exc.col}: {exc.message}")
    if not verdicts and not matrix_lines:
        raise BplabError(f"{source}: {NO_EQUATION}")
    used_layout = scale = None
    if matrix_lines:
        why = supported(derivation)
        if why:
            for ml in matrix_lines:
                verdicts[ml.line] = Verdict(ml.line, ml.text, [], None, "matrix", why)
        else:
            judged, used_layout, scale = judge(MatrixModel.of(derivation, l2_form), matrix_lines, layout)
            for ml in matrix_lines:
                mv = judged[ml.line]
                issues = [Issue(f.code, f.message) for f in mv.findings]
                verdicts[ml.line] = Verdict(ml.line, ml.text, issues, mv.expected, "matrix")
    return CheckReport(model, graph.layers, [verdicts[k] for k in sorted(verdicts)], used_layout, scale)


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
        mistakes.append(w_below.replace(f"dz[{L}]/da[{L - 1}]", f"da[{L - 1}]/dz[{L}]"))  # the factor upside down
    return [m for m in mistakes if m]


@dataclass
class TypicalMatrixMistakes:
    """Wrong matrix-form lines for a report's "common mistakes" box: ``lines`` holds (the known mistake's code,
    the wrong line), each to be judged in a file that starts with ``first``, the correct output delta, which
    fixes the layout's delta scale (so ``dW = A^T dZ`` is the missing 1/m, not a mean-scale delta's gradient)."""

    first: str
    lines: list[tuple[str, str]]

    def file(self, line: str) -> str:
        return f"{self.first}\n{line}"


def typical_matrix_mistakes(derivation: Derivation, layout: str = "rows", scale: str = "sum") -> TypicalMatrixMistakes:
    """For each known matrix-form mistake (``mistakes.MATRIX_MISTAKES``), one wrong line a learner writes: the
    mistake's mutation of one of this model's correct lines (gradients first, from the output layer down),
    written back as text. A line the judge finds right is never kept (``σ'(A)`` is no mistake for relu, whose
    derivative is the same at A); one it names by this mistake is preferred to one it finds wrong otherwise.
    No lines where matrix form is not read (a CNN)."""
    if supported(derivation):
        return TypicalMatrixMistakes("", [])
    model = MatrixModel.of(derivation)
    lines = [
        (f"{kind}[{l}]", parse_rhs(text))
        for l in range(model.L, 0, -1)
        for kind in ("dW", "db", "dZ")  # a gradient's line first: where these mistakes are most often seen
        if (text := correct_text(model, kind, l, layout, scale))
    ]
    first = f"dZ[{model.L}] = {correct_text(model, 'dZ', model.L, layout, scale)}"
    out = []
    for mistake in MATRIX_MISTAKES:
        named = other = None
        for lhs, correct in lines:
            for made_by, tree in candidates(correct):
                if made_by.code != mistake.code:
                    continue
                line = f"{lhs} = {show(tidy(tree))}"
                try:
                    parsed = [parse_matrix_line(n, text, text, 0) for n, text in ((1, first), (2, line))]
                except ParseError:
                    continue
                findings = judge(model, parsed, layout)[0][2].findings
                if findings and findings[0].code == mistake.code:
                    named = line
                    break
                if findings and other is None:
                    other = line
            if named:
                break
        if named or other:
            out.append((mistake.code, named or other))
    return TypicalMatrixMistakes(first, out)
