"""Worked examples: every equation of one training step written three ways, in the order a
textbook works it: with symbols, with the numbers substituted, and its result.

Everything comes from the derivation (``equations.py``) and the optimizer's declared rule
(``rules.py``): the update of each parameter is the rule with W replaced by W[l]; nothing here
states a rule of its own. Values too large to write out (more entries than ``max_entries``) keep
their symbol, with a note.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backprop_lab.core.display import Displayable
from backprop_lab.maths.equations import SECTION_TITLES, Derivation, Equation, derive, rule_updates, update_equations
from backprop_lab.maths.expr import (
    MATH_FONT_CSS,
    MathMLPrinter,
    Sym,
    TexPrinter,
    TextPrinter,
    evaluate,
    substitute,
    symbols,
)
from backprop_lab.options.config import TrainConfig
from backprop_lab.spec.model import ModelSpec

ORDER = ("forward", "loss", "output delta", "backward", "gradients", "update")


@dataclass
class Line:
    section: str
    equation: Equation
    tex: tuple[str, str, str]  # symbols, numbers substituted, result
    text: tuple[str, str, str]
    mathml: tuple[str, str, str]
    value: Any
    step: int = 1  # the optimizer step this line belongs to (1 unless more steps are written out)


@dataclass
class WorkedExample(Displayable):
    title: str
    lines: list[Line]
    losses: list[float]  # before the first step, then after each step
    weights: dict[str, np.ndarray]  # after the last step
    notes: list[str] = field(default_factory=list)
    digits: int = 9  # significant digits of every number printed, the losses included
    layout: str = "rows"  # rows (Z = A W + b) or columns (Z = W A + b)

    @property
    def loss_before(self) -> float:
        return self.losses[0]

    def by_section(self) -> dict[str, list[Line]]:
        """The lines of the first step by section (the step every worked example writes out)."""
        return {s: lines for step, s, lines in self.parts() if step == 1}

    @property
    def written(self) -> int:
        """How many steps are written out in full (1 unless ``worked_example(written=...)`` asked for more)."""
        return max((x.step for x in self.lines), default=1)

    def parts(self) -> list[tuple[int, str, list[Line]]]:
        """(step, section, lines) in the order of the steps, each step in the order of ``ORDER``."""
        return [
            (step, s, lines)
            for step in range(1, self.written + 1)
            for s in ORDER
            if (lines := [x for x in self.lines if x.step == step and x.section == s])
        ]

    def heading(self, step: int, section: str) -> str:
        """A section's title, with its step when more than one step is written out."""
        return SECTION_TITLES[section] if self.written == 1 else f"Step {step}: {SECTION_TITLES[section]}"

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        out += [f"> {n}" for n in self.notes] + ([""] if self.notes else [])
        for step, section, lines in self.parts():
            out += [f"## {self.heading(step, section)}", ""]
            for line in lines:
                sym, num, res = line.text
                out.append(f"- `{sym}`")
                if num not in (res, TextPrinter()(line.equation.rhs)):
                    out.append(f"  `= {num}`")
                out.append(f"  `= {res}`")
            out.append("")
        out += self._losses_md()
        return "\n".join(out)

    def _losses_md(self) -> list[str]:
        rows = ["## Loss after each step", "", "| step | loss |", "|---:|---:|"]
        rows += [f"| {i} | {v:.{self.digits}g} |" for i, v in enumerate(self.losses)]
        return rows + [""]

    def latex_body(self) -> str:
        """The example as a LaTeX fragment (no preamble: amsmath's ``align*``, to paste into slides or a
        document): one ``align*`` block per equation, every line aligned at its ``&=`` (or ``&\\leftarrow``)."""
        body = [f"\\emph{{{tex_text(n)}}}\\\\" for n in self.notes]
        for step, section, lines in self.parts():
            body.append(f"\\section*{{{self.heading(step, section)}}}")
            for line in lines:
                body += ["\\begin{align*}", " \\\\\n".join(aligned_tex(line)), "\\end{align*}"]
        body.append("\\section*{Loss after each step}")
        body += [f"step {i}: ${v:.{self.digits}g}$\\\\" for i, v in enumerate(self.losses)]
        return "\n".join(body) + "\n"

    def to_latex(self) -> str:
        """A whole document: the preamble, the title and ``latex_body``."""
        return "\n".join(
            [
                r"\documentclass{article}",
                r"\usepackage{amsmath,amssymb}",
                r"\usepackage[margin=1.5cm,landscape]{geometry}",
                r"\begin{document}",
                f"\\section*{{{tex_text(self.title)}}}",
                self.latex_body(),
                r"\end{document}",
                "",
            ]
        )

    def mathml_body(self, heading: str = "h2") -> str:
        """The example as HTML with MathML blocks (no page around it), for a report."""
        parts = [f"<p><em>{html.escape(n)}</em></p>" for n in self.notes]
        for step, section, lines in self.parts():
            parts.append(f"<{heading}>{html.escape(self.heading(step, section))}</{heading}>")
            for line in lines:
                rows = "".join(
                    f'<mtr><mtd style="{_LEFT_CELL}">{left}</mtd><mtd style="{_RIGHT_CELL}">{right}</mtd></mtr>'
                    for left, right in aligned_mathml(line)
                )
                parts.append(f'<math display="block"><mtable columnalign="right left">{rows}</mtable></math>')
        parts.append(
            f"<{heading}>Loss after each step</{heading}><table><tr><th>step</th><th>loss</th></tr>"
            + "".join(f"<tr><td>{i}</td><td>{v:.{self.digits}g}</td></tr>" for i, v in enumerate(self.losses))
            + "</table>"
        )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"WorkedExample({self.title!r}; loss {self.losses[0]:.6g} -> {self.losses[-1]:.6g})"

    def _repr_latex_(self) -> str:
        """The equations, symbols then numbers then result, as display maths (what Jupyter's LaTeX shows)."""
        return "\n".join(
            "$$\\begin{aligned}" + " \\\\ ".join(aligned_tex(x)) + "\\end{aligned}$$"
            for _, _, lines in self.parts()
            for x in lines
        )

    def to_html(self) -> str:
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
            + html.escape(self.title)
            + "</title><style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
            "math[display=block]{margin:.6em 0;padding:.15em 0;font-size:1.1em;overflow-x:auto;overflow-y:hidden;max-width:100%}"
            "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}table{border-collapse:collapse}"
            + MATH_FONT_CSS
            + "</style></head><body>"
            + f"<h1>{html.escape(self.title)}</h1>"
            + self.mathml_body()
            + "</body></html>\n"
        )


def aligned_tex(line: Line) -> list[str]:
    """The TeX lines of one worked equation, aligned at the relation: ``lhs &= rhs``, ``&= numbers`` (left out
    when it reads as the symbols or the result), ``&= result``."""
    plain = TexPrinter()
    arrow = "=" if line.equation.op == "=" else r"\leftarrow"
    _, num, res = line.tex
    rhs = plain(line.equation.rhs)
    lines = [f"{plain(line.equation.lhs)} &{arrow} {rhs}"]
    if num not in (rhs, res):
        lines.append(f"&= {num}")
    return lines + [f"&= {res}"]


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
}


# MathML Core has no columnalign: the cells are aligned by CSS, inline so that reports and notebooks keep it
_LEFT_CELL = "text-align:right;padding-right:0"
_RIGHT_CELL = "text-align:left;padding-left:0"


def aligned_mathml(line: Line) -> list[tuple[str, str]]:
    """The MathML rows of one worked equation as (left, right) cells aligned at the relation, as ``aligned_tex``."""
    plain = MathMLPrinter()
    arrow = "=" if line.equation.op == "=" else "←"
    _, num, res = line.mathml
    rhs = plain(line.equation.rhs)
    rows = [(plain(line.equation.lhs), f"<mo>{arrow}</mo>{rhs}")]
    if num not in (rhs, res):
        rows.append(("", f"<mo>=</mo>{num}"))
    return rows + [("", f"<mo>=</mo>{res}")]


def tex_text(text: str) -> str:
    """Plain text safe inside LaTeX (titles name files and losses: _, %, &, #)."""
    return re.sub(r"[\\_%&#${}]", lambda m: _TEX_SPECIAL[m.group(0)], text)


def _three(printer_cls, eq: Equation, env: dict, value: Any, digits: int, max_entries: int) -> tuple[str, str, str]:
    """The equation with symbols, with the numbers of its right-hand side filled in, and its result."""
    plain = printer_cls()
    filled = printer_cls({s.name: env[s.name] for s in symbols(eq.rhs) if s.name in env}, digits, max_entries)
    if np.size(value) > max_entries:  # not written out: its symbol and its shape
        shown = {TexPrinter: r"\ (\text{{{}}})", TextPrinter: " ({})", MathMLPrinter: "<mtext> ({})</mtext>"}[
            printer_cls
        ]
        result = plain(eq.lhs) + shown.format("×".join(str(n) for n in np.shape(value)) + " values")
    else:
        result = printer_cls({eq.lhs.name: value}, digits, max_entries)(eq.lhs)
    return _three_plain(printer_cls, eq, plain), filled(eq.rhs), result


def _three_plain(printer_cls, eq: Equation, plain) -> str:
    arrow = "=" if eq.op == "=" else {TexPrinter: r"\leftarrow", TextPrinter: "←", MathMLPrinter: "←"}[printer_cls]
    if printer_cls is MathMLPrinter:
        return f"<mrow>{plain(eq.lhs)}<mo>{arrow}</mo>{plain(eq.rhs)}</mrow>"
    return f"{plain(eq.lhs)} {arrow} {plain(eq.rhs)}"


def _parameter_updates(d: Derivation, config: TrainConfig, fixed_biases: bool) -> list[Equation]:
    """The optimizer's declared rule written for each parameter: W -> W[l], dW -> dW[l], its state -> state of W[l]."""
    generic = rule_updates(config)
    out = []
    for layer in d.layers:
        for part, sym in (("kernel", layer.w), ("bias", layer.b)):
            if part == "bias" and fixed_biases:
                continue
            base = "W" if part == "kernel" else "b"
            grad = Sym(f"d{base}{layer.l}", f"d{base}", sym.shape, layer.l, kind="grad")
            mapping: dict[str, Any] = {"W": sym, "dW": grad}
            for e in generic:
                if e.lhs.name != "W":
                    mapping[e.lhs.name] = Sym(
                        f"{e.lhs.name}_{sym.name}",
                        e.lhs.base,
                        sym.shape,
                        layer.l,
                        kind="state",
                        sub=base if e.lhs.sub == "W" else e.lhs.sub,
                    )
            for e in generic:
                out.append(Equation("update", substitute(e.lhs, mapping), substitute(e.rhs, mapping), layer.l, "←"))
    return out


def worked_example(
    spec: ModelSpec,
    config: TrainConfig,
    weights: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    steps: int = 1,
    fixed_biases: bool = False,
    digits: int = 6,
    max_entries: int = 24,
    masks: dict[str, np.ndarray] | None = None,
    title: str = "Worked example",
    layout: str = "rows",
    written: int = 1,
    printed: bool = True,
) -> WorkedExample:
    """One step written out in full (forward, loss, deltas, gradients, updates), then ``steps`` steps taken
    with the loss after each. Float64 throughout. ``layout``: the equations and their numbers in the rows
    layout (Z = A W + b, as the code runs it) or the columns layout (Z = W A + b: every matrix transposed);
    ``weights`` given and returned in the rows layout (Keras's, the weights files'). ``written``: how many of
    the first steps are written out in full (each line knows its ``step``; an exercise of several steps).
    ``printed=False``: the lines carry their values only, not their three printed forms (for a caller that tries
    many candidate numbers and prints the one it keeps)."""
    d = derive(spec, config, layout)
    notes = []
    if config.l2:
        notes.append(f"The loss includes the L2 term λ Σ‖W‖² with λ = {config.l2:g}.")
    if config.decay != "none" or config.alpha:
        notes.append(
            "The learning-rate schedule and the blended update are the training loop's; this example takes "
            "plain steps of the optimizer's rule."
        )
    if d.layout == "columns":
        notes.append(
            "Columns layout: the examples are the columns (Z = W A + b, W[l] is (out, in), b[l] a column); "
            "every matrix is the transpose of the rows layout's, the weights files' kernels transposed."
        )
    if fixed_biases:
        notes.append("The biases are kept fixed (not updated), as in the example this reproduces.")
    w = {k: np.array(v, dtype=np.float64) for k, v in weights.items()}
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    updates = _parameter_updates(d, config, fixed_biases)
    hypers = {e.lhs.name: evaluate(e.rhs, {}) for e in update_equations(config) if e.op == "=" and not symbols(e.rhs)}
    state: dict[str, Any] = {}
    losses: list[float] = []
    lines: list[Line] = []
    big = set()
    for step in range(1, steps + 1):
        env = d.env(w, x, y, masks)
        record = step <= written
        for eq in d.equations:
            if eq.section in ("forward", "loss", "output delta", "backward", "gradients"):
                value = evaluate(eq.rhs, env)
                if record:
                    lines.append(_line(eq, env, value, digits, max_entries, step, printed))
                    if np.size(value) > max_entries:
                        big.add(f"{eq.lhs.name} ({'×'.join(str(s) for s in np.shape(value))})")
                env[eq.name] = value
        losses.append(float(env["loss"]))
        env.update(hypers)
        env["t"] = float(step)
        for name, value in state.items():
            env[name] = value
        for e in updates:
            if e.lhs.name not in env:
                env[e.lhs.name] = np.zeros_like(env[_param_of(e)])
            value = evaluate(e.rhs, env)
            if record:
                lines.append(_line(e, env, value, digits, max_entries, step, printed))
            env[e.lhs.name] = value
            if e.lhs.kind == "state":
                state[e.lhs.name] = value
        for layer in d.layers:
            for part, sym in (("kernel", layer.w), ("bias", layer.b)):
                w[f"{layer.info.name}/{part}"] = np.asarray(d.to_rows(sym.name, env[sym.name], layer.info.params[part]))
    losses.append(float(d.evaluate(w, x, y, masks, sections=("forward", "loss"))["loss"]))
    if big:
        notes.append(f"Too large to write out, shown by symbol: {', '.join(sorted(big))}.")
    return WorkedExample(title, lines, losses, w, notes, digits, d.layout)


def _param_of(e: Equation) -> str:
    """The parameter an update's state belongs to (``m_W1`` -> ``W1``)."""
    return e.lhs.name.rsplit("_", 1)[-1]


def _line(eq: Equation, env: dict, value: Any, digits: int, max_entries: int, step: int = 1, printed=True) -> Line:
    if not printed:
        return Line(eq.section, eq, ("", "", ""), ("", "", ""), ("", "", ""), value, step)
    return Line(
        eq.section,
        eq,
        _three(TexPrinter, eq, env, value, digits, max_entries),
        _three(TextPrinter, eq, env, value, digits, max_entries),
        _three(MathMLPrinter, eq, env, value, digits, max_entries),
        value,
        step,
    )
