"""Personalised backpropagation exercises: one training step of a small network, set with numbers a person
can work by hand, a sheet per student (question only, and the worked solution), and a key.

Every number of a key comes from ``maths/worked.py`` (the same worked example ``bplab derive`` writes), so a
key and ``derive`` agree by construction; the tests check both against TensorFlow autograd.

The key format (``keys.json``, ``format = "bplab-exercise-keys"``, ``version = 2``) is documented in
docs/exercises.md: the exercise (model, loss, optimizer, hyper-parameters, layout, steps, rounding and
tolerance), then per student the given values and every asked quantity at full precision and as rounded on
the sheet, its values flat in row-major order with its shape in the sheet's layout.

The layout (``rows``: Z = A W + b, or ``columns``: Z = W A + b, every matrix transposed) is the derivation's
(``maths/layout.py``, what ``derive --layout`` writes); several steps are the worked example's steps written
out in full (``worked_example(written=...)``).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write, make_folder
from backprop_lab.maths.equations import Derivation, derive, update_equations
from backprop_lab.maths.expr import MATH_FONT_CSS, MathMLPrinter, Sym, TexPrinter, TextPrinter, evaluate, symbols
from backprop_lab.maths.layout import check_layout
from backprop_lab.maths.rules import activation_rule
from backprop_lab.maths.worked import WorkedExample, worked_example
from backprop_lab.options.config import TrainConfig
from backprop_lab.options.registry import EXERCISE_MAX_STEPS, WORKED_MODEL
from backprop_lab.spec.model import ModelSpec, parse_model

FORMAT = "bplab-exercise-keys"
VERSION = 2  # 2: the exercise's layout and steps, each quantity's step
READS = (1, 2)  # a version 1 key is a rows-layout exercise of one step
# what --ask names -> the worked example's sections
ASK = {
    "forward": ("forward",),
    "loss": ("loss",),
    "deltas": ("output delta", "backward"),
    "gradients": ("gradients",),
    "update": ("update",),
}
TOLERANCE_UNITS = 2  # an answer is correct within this many units of its last significant digit
MAX_TRIES = 4000  # candidate sheets per student before giving up


# --- numbers as the sheet rounds and compares them ------------------------------------------------------


def round_sig(values: Any, digits: int) -> np.ndarray:
    """Each value to ``digits`` significant figures (as the sheet asks the student to write it)."""
    a = np.asarray(values, dtype=np.float64)
    return np.vectorize(lambda v: float(f"{v:.{digits}g}"), otypes=[np.float64])(a) if a.size else a


def unit(values: Any, digits: int) -> np.ndarray:
    """One unit of the ``digits``-th significant figure of each value (0 for 0)."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    with np.errstate(divide="ignore"):
        exp = np.floor(np.log10(np.where(a > 0, a, 1.0))) - digits + 1
    return np.where(a > 0, 10.0**exp, 0.0)


def within(answer: Any, reference: Any, digits: int, units: float = TOLERANCE_UNITS) -> bool:
    """Every entry of ``answer`` within ``units`` units of the ``digits``-th significant figure of the larger
    of the two (so rounding as the sheet says, and carrying rounded values on, stays within it)."""
    a, r = np.asarray(answer, np.float64), np.asarray(reference, np.float64)
    if a.shape != r.shape:
        return False
    scale = unit(np.maximum(np.abs(a), np.abs(r)), digits)
    return bool(np.all(np.abs(a - r) <= units * scale + 1e-12))


def tolerance_text(digits: int, units: float = TOLERANCE_UNITS) -> str:
    return (
        f"Give every value to {digits} significant figures. An answer counts as correct when each of its values "
        f"is within {units:g} units of the {_ordinal(digits)} significant figure."
    )


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def fmt(v: float, digits: int) -> str:
    return f"{v:.{digits}g}"


# --- the exercise shared by a class ----------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What every sheet of a class shares: the network, the step and what is asked."""

    model: str = WORKED_MODEL
    inputs: int = 2
    outputs: int = 2
    rows: int = 1
    loss: str = "half_squared_error"
    optimizer: str = "sgd"
    lr: float | None = 0.5
    momentum: float = 0.9
    fixed_biases: bool = False
    ask: tuple[str, ...] = tuple(ASK)
    digits: int = 4
    decimals: int = 2
    names: str = "layered"
    seed: int = 0
    layout: str = "rows"  # rows (Z = A W + b) or columns (Z = W A + b): the sheet's equations and the key's tensors
    steps: int = 1  # training steps asked, each from the weights the one before left

    def spec(self) -> ModelSpec:
        return parse_model(self.model, (self.inputs,), self.outputs)

    def derivation(self) -> Derivation:
        return derive(self.spec(), self.config(), self.layout)

    def config(self) -> TrainConfig:
        return TrainConfig(
            optimizer=self.optimizer, lr=self.lr, loss=self.loss, momentum=self.momentum, dtype="float64"
        )

    def sections(self) -> tuple[str, ...]:
        return tuple(s for a in self.ask for s in ASK[a])

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "rows": self.rows,
            "loss": self.loss,
            "optimizer": self.optimizer,
            "lr": self.config().learning_rate,
            "momentum": self.momentum,
            "fixed_biases": self.fixed_biases,
            "ask": list(self.ask),
            "digits": self.digits,
            "tolerance": {"units": TOLERANCE_UNITS, "rule": tolerance_text(self.digits)},
            "decimals": self.decimals,
            "names": self.names,
            "seed": self.seed,
            "layout": self.layout,
            "steps": self.steps,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Setting:
        keys = {
            "model",
            "inputs",
            "outputs",
            "rows",
            "loss",
            "optimizer",
            "lr",
            "momentum",
            "fixed_biases",
            "digits",
            "decimals",
            "names",
            "seed",
            "layout",
            "steps",
        }
        return cls(**{k: doc[k] for k in keys if k in doc}, ask=tuple(doc.get("ask", ASK)))


def check_ask(ask: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    items = [a.strip() for a in (ask.split(",") if isinstance(ask, str) else ask) if a.strip()]
    bad = [a for a in items if a not in ASK]
    if bad or not items:
        raise BplabError(f"--ask: unknown {', '.join(bad) or '(nothing asked)'}; choose from {', '.join(ASK)}")
    return tuple(a for a in ASK if a in items)  # in the order of the step


@dataclass
class Student:
    id: str
    name: str = ""
    roster: dict[str, str] = field(default_factory=dict)  # the roster's other columns, kept for the gradebook

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass
class Quantity:
    """One asked value of a key: its name as the sheet prints it, its equation, full and rounded values."""

    name: str  # Z[1], A[1], L, δ[2], dW[2], W[2] after the step
    symbol: str  # the derivation's symbol (Z1, loss, delta2, dW2, W2)
    section: str
    shape: tuple[int, ...]
    value: np.ndarray
    rounded: np.ndarray
    equation: str  # with symbols
    step: int = 1  # the training step it belongs to

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "symbol": self.symbol,
            "section": self.section,
            "step": self.step,
            "shape": list(self.shape),
            "value": [float(v) for v in self.value.ravel()],
            "rounded": [float(v) for v in self.rounded.ravel()],
            "equation": self.equation,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Quantity:
        shape = tuple(int(n) for n in doc["shape"])
        return cls(
            doc["name"],
            doc["symbol"],
            doc["section"],
            shape,
            np.array(doc["value"], np.float64).reshape(shape),
            np.array(doc["rounded"], np.float64).reshape(shape),
            doc["equation"],
            int(doc.get("step", 1)),
        )


@dataclass
class Key:
    """One student's exercise: the given values and the answer to every asked quantity."""

    student: Student
    x: np.ndarray
    y: np.ndarray
    weights: dict[str, np.ndarray]
    quantities: list[Quantity]

    def quantity(self, name: str) -> Quantity:
        return next(q for q in self.quantities if q.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.student.id,
            "name": self.student.name,
            "roster": self.student.roster,
            "given": {
                "X": self.x.tolist(),
                "Y": self.y.tolist(),
                "weights": {k: np.asarray(v).tolist() for k, v in self.weights.items()},
            },
            "quantities": [q.to_dict() for q in self.quantities],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Key:
        g = doc["given"]
        return cls(
            Student(str(doc["id"]), doc.get("name", ""), dict(doc.get("roster", {}))),
            np.array(g["X"], np.float64),
            np.array(g["Y"], np.float64),
            {k: np.array(v, np.float64) for k, v in g["weights"].items()},
            [Quantity.from_dict(q) for q in doc["quantities"]],
        )


@dataclass
class ClassKeys:
    """Every key of a class (``keys.json``)."""

    setting: Setting
    keys: list[Key]

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "exercise": self.setting.to_dict(),
            "students": [k.to_dict() for k in self.keys],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> ClassKeys:
        """``keys.json``, a student's ``key.json``, or an exercise folder holding ``keys.json``."""
        path = Path(path)
        if path.is_dir():
            path = path / "keys.json"
        if not path.is_file():
            raise BplabError(f"{path}: keys file not found (give the exercise folder or its keys.json)")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BplabError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BplabError(f"{path}: not a bplab exercise key (format must be {FORMAT!r})")
        if doc.get("version") not in READS:
            raise BplabError(
                f"{path}: key version {doc.get('version')!r}; this bplab reads versions "
                + " and ".join(str(v) for v in READS)
            )
        try:
            setting = Setting.from_dict(doc["exercise"])
            keys = [Key.from_dict(s) for s in doc["students"]]
            setting.spec()
            check_layout(setting.layout)
        except (KeyError, TypeError, ValueError, BplabError) as exc:
            raise BplabError(f"{path}: a key field is missing or malformed ({exc})") from None
        if not keys:
            raise BplabError(f"{path}: holds no student's key")
        return cls(setting, keys)


# --- computing a step and its quantities ----------------------------------------------------------------


def step_suffix(section: str, step: int, steps: int) -> str:
    """What a quantity's name adds to its symbol: an updated value says after which step (``after the step``
    in an exercise of one step), a value of a later step its step (``Z[1] (step 2)``); step 1's are bare."""
    if section == "update":
        return " after the step" if steps == 1 else f" after step {step}"
    return "" if step == 1 else f" (step {step})"


def quantity_name(line_eq, step: int = 1, steps: int = 1) -> str:
    lhs = line_eq.lhs
    name = TextPrinter()(lhs)
    if lhs.kind == "state":  # one per parameter: v[2] of W[2], v[2] of b[2]
        param = lhs.name.rsplit("_", 1)[-1]  # v_W2 -> W2
        name = f"{lhs.base}[{lhs.layer}] of {param.rstrip('0123456789')}[{lhs.layer}]"
    return name + step_suffix(line_eq.section, step, steps)


def step(
    setting: Setting,
    x: np.ndarray,
    y: np.ndarray,
    weights: dict[str, np.ndarray],
    title: str,
    printed: bool = True,
) -> WorkedExample:
    """The worked example of the exercise's steps, each written out, in its layout (what ``bplab derive
    --layout`` computes for the same numbers); ``x``, ``y`` and ``weights`` in the weights files' layout.
    ``printed=False``: the values only (a candidate sheet, checked before it is kept)."""
    return worked_example(
        setting.spec(),
        setting.config(),
        weights,
        x,
        y,
        setting.steps,
        setting.fixed_biases,
        setting.digits,
        10**6,
        None,
        title,
        setting.layout,
        written=setting.steps,
        printed=printed,
    )


def asked(setting: Setting, worked: WorkedExample) -> list:
    """The lines of the worked example that the sheet asks for (A[0] = X is given)."""
    sections = setting.sections()
    return [line for line in worked.lines if line.section in sections and line.equation.name != "A0"]


def quantities(setting: Setting, worked: WorkedExample) -> list[Quantity]:
    out = []
    for line in asked(setting, worked):
        value = np.asarray(line.value, np.float64)
        if value.ndim == 0:
            value = value.reshape(())
        out.append(
            Quantity(
                quantity_name(line.equation, line.step, setting.steps),
                line.equation.name,
                line.section,
                value.shape,
                value,
                round_sig(value, setting.digits),
                line.text[0],
                line.step,
            )
        )
    return out


def start_env(setting: Setting, derivation: Derivation, key: Key) -> dict[str, Any]:
    """The values a step starts from: the given ones, the hyper-parameters, the optimizer's (zero) state."""
    env = derivation.env(key.weights, key.x, key.y)
    config = setting.config()
    env.update(
        {e.lhs.name: evaluate(e.rhs, {}) for e in update_equations(config) if e.op == "=" and not symbols(e.rhs)}
    )
    env["t"] = 1.0
    return env


# --- choosing numbers a person can work with --------------------------------------------------------------


def _grid(rng: np.random.Generator, shape: tuple, decimals: int, low: float, high: float, zero: bool) -> np.ndarray:
    scale = 10**decimals
    lo, hi = round(low * scale), round(high * scale)
    choices = np.array([k for k in range(lo, hi + 1) if zero or k != 0], np.float64) / scale
    return rng.choice(choices, size=shape)


def _targets(rng: np.random.Generator, spec: ModelSpec, setting: Setting) -> np.ndarray:
    shape = (setting.rows, setting.outputs)
    last = spec.output_activation
    if last == "softmax":
        return np.eye(setting.outputs)[rng.integers(0, setting.outputs, setting.rows)]
    if last == "sigmoid" or setting.loss == "binary_crossentropy":
        margin = 10**-setting.decimals
        return _grid(rng, shape, setting.decimals, margin, 1 - margin, False)
    if last == "relu":
        return _grid(rng, shape, setting.decimals, 0, 1, True)
    return _grid(rng, shape, setting.decimals, -0.9 if last == "tanh" else -1, 0.9 if last == "tanh" else 1, True)


def degenerate(setting: Setting, derivation: Derivation, worked: WorkedExample, qs: list[Quantity]) -> str | None:
    """Why these numbers make a poor exercise (None when they make a good one), in any of its steps."""
    for k in range(1, worked.written + 1):
        values = {line.equation.name: np.asarray(line.value) for line in worked.lines if line.step == k}
        where = "" if k == 1 else f" (step {k})"
        for layer in derivation.layers:
            z = values[layer.z.name]
            if layer.activation == "relu" and np.min(np.abs(z)) < 0.05:
                return f"a ReLU input near 0 in Z[{layer.l}]{where}"
            if layer.activation in ("sigmoid", "tanh") and np.max(np.abs(z)) > (
                3.0 if layer.activation == "sigmoid" else 2.0
            ):
                return f"a saturated {layer.activation} in Z[{layer.l}]{where}"
        out = values[derivation.layers[-1].a.name]
        out = out.T if derivation.layout == "columns" else out  # one row per example
        if out.shape[-1] > 1 and np.min(np.abs(np.diff(np.sort(out, axis=-1), axis=-1))) < 0.02:
            return f"two outputs nearly equal{where}"
    for q in qs:
        v = q.value.ravel()
        nonzero = v[v != 0]
        if nonzero.size and np.min(np.abs(nonzero)) < 1e-3 * np.max(np.abs(nonzero)):
            return f"a tiny value in {q.name}"
        if q.step > 1:  # its last digit already depends on how the student rounded the step before's weights
            continue
        scaled = np.abs(nonzero) / unit(nonzero, setting.digits)
        if np.any(np.abs(scaled - np.floor(scaled) - 0.5) < 0.02):
            return f"a value of {q.name} close to a rounding boundary"
    return None


def distinct(a: list[Quantity], b: list[Quantity], digits: int) -> bool:
    """No answer to one sheet can be within tolerance of the other's (every quantity apart by twice it)."""
    return all(not within(p.value, q.value, digits, 2 * TOLERANCE_UNITS) for p, q in zip(a, b))


def student_rng(seed: int, student: Student) -> np.random.Generator:
    digest = hashlib.sha256(student.id.encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def make_key(
    setting: Setting,
    student: Student,
    others: list[Key],
    given_x: np.ndarray | None = None,
    given_y: np.ndarray | None = None,
    given_w: dict[str, np.ndarray] | None = None,
) -> tuple[Key, WorkedExample]:
    """A key for ``student``: random numbers on the grid (where not given) that avoid the degenerate cases and
    keep every answer apart from every other student's."""
    spec, derivation = setting.spec(), setting.derivation()
    rng = student_rng(setting.seed, student)
    everything_given = given_x is not None and given_y is not None and given_w is not None
    why = "no candidate"
    for _ in range(1 if everything_given else MAX_TRIES):
        x = (
            given_x
            if given_x is not None
            else _grid(rng, (setting.rows, setting.inputs), setting.decimals, 0, 1, False)
        )
        y = given_y if given_y is not None else _targets(rng, spec, setting)
        w = given_w or {
            f"{info.name}/{part}": _grid(rng, tuple(shape), setting.decimals, -1, 1, False)
            for info in spec.infos
            for part, shape in info.params.items()
        }
        if not everything_given:  # the values only, until a candidate is kept: printing is most of the time
            candidate = step(setting, x, y, w, "", printed=False)
            qs = quantities(setting, candidate)
            why = degenerate(setting, derivation, candidate, qs)
            clash = None if why else next((o for o in others if not distinct(qs, o.quantities, setting.digits)), None)
            if why is None and clash is not None:
                why = f"too close to {clash.student.id}'s sheet"
            if why is not None:
                continue
        worked = step(setting, x, y, w, f"Solution: {student.label}")
        return Key(student, x, y, w, quantities(setting, worked)), worked
    raise BplabError(
        f"could not set a hand-friendly sheet for {student.id} in {MAX_TRIES} tries (last: {why}); "
        f"give fewer fixed values, more --decimals, fewer --steps or --rows, or fewer students"
    )


# --- the sheets -----------------------------------------------------------------------------------------


def _shape_text(shape: tuple[int, ...]) -> str:
    return "a number" if not shape else "×".join(str(n) for n in shape)


def flat_names(spec: ModelSpec) -> list[tuple[str, str, int, int]]:
    """The classic numbering w1, w2, ...: layer by layer, each unit's incoming weights in turn
    (w1 = input 1 -> unit 1, w2 = input 2 -> unit 1, ...). (name, kernel key, i, j) in the (in, out) layout."""
    out, n = [], 0
    for info in spec.infos:
        if "kernel" not in info.params:
            continue
        rows, cols = info.params["kernel"]
        for j in range(cols):
            for i in range(rows):
                n += 1
                out.append((f"w{n}", f"{info.name}/kernel", i, j))
    return out


@dataclass
class Sheet:
    """One student's sheet, its worked solution and its key."""

    setting: Setting
    key: Key
    worked: WorkedExample

    @property
    def student(self) -> Student:
        return self.key.student

    def _given(self) -> list[tuple[Sym, np.ndarray]]:
        """X, Y and every weight and bias as the sheet prints them: in its layout (the derivation's values)."""
        d = self.setting.derivation()
        env = d.env(self.key.weights, self.key.x, self.key.y)
        items = [(Sym("X", "X"), env["X"]), (Sym("Y", "Y"), env["Y"])]
        for layer in d.layers:
            items += [(layer.w, env[layer.w.name]), (layer.b, env[layer.b.name])]
        return items

    def _intro(self) -> list[str]:
        s, config = self.setting, self.setting.config()
        loss_line = next(line for line in self.worked.lines if line.section == "loss")
        rule = [e.text for e in update_equations(config) if e.op != "="]
        acts = [i.spec.activation for i in s.spec().infos if "kernel" in i.params]
        layers = " → ".join(
            [f"{s.inputs} inputs"]
            + [f"{i.output_shape[0]} {a}" for i, a in zip([i for i in s.spec().infos if "kernel" in i.params], acts)]
        )
        examples = f"{s.rows} example{'s' if s.rows > 1 else ''}"
        if s.layout == "columns":
            lines = [
                f"Network: {layers} ({s.model}); {examples}, one per column of X.",
                "Notation (examples as columns): Z[l] = W[l] A[l-1] + b[l], A[l] = g(Z[l]), A[0] = X; W[l] has "
                "one row per unit of layer l and one column per input, b[l] is a column; every matrix has one "
                "column per example.",
            ]
        else:
            lines = [
                f"Network: {layers} ({s.model}); {examples}, one per row of X.",
                "Notation (batch rows): Z[l] = A[l-1] W[l] + b[l], A[l] = g(Z[l]), A[0] = X; W[l] has one row "
                "per input of layer l and one column per unit.",
            ]
        lines += [
            f"Loss: {loss_line.text[0]}.",
            f"Optimizer: {s.optimizer}, learning rate η = {config.learning_rate:g}"
            + (f"; update of each weight and bias: {'; '.join(rule)}" if rule else "")
            + (" (the biases are kept fixed)." if s.fixed_biases else "."),
        ]
        if s.steps > 1:
            lines.append(
                f"Take {s.steps} training steps on the same batch, each from the weights and biases the step "
                "before left. A value of step k > 1 is named with its step, as Z[1] (step 2); an updated "
                "value with the step that made it, as W[1] after step 1."
            )
        return lines

    def _questions(self) -> list[tuple[str, list[Quantity]]]:
        """The quantities in the order of the steps, in runs of one section each."""
        groups: list[tuple[str, list[Quantity]]] = []
        for q in self.key.quantities:
            title = self.worked.heading(q.step, q.section)
            if groups and groups[-1][0] == title:
                groups[-1][1].append(q)
            else:
                groups.append((title, [q]))
        return groups

    def _suffix(self, q: Quantity) -> str:
        return step_suffix(q.section, q.step, self.setting.steps)

    def to_markdown(self) -> str:
        s = self.setting
        out = [f"# Backpropagation exercise: {self.student.label}", ""]
        out += [f"- {line}" for line in self._intro()] + ["", "## Given", ""]
        for sym, value in self._given():
            out.append(f"- `{TextPrinter()(sym)} = {TextPrinter({sym.name: value}, 12)(sym)}`")
        if s.names == "flat":
            out += ["", "The weights as the classic example numbers them:", ""]
            out.append(", ".join(f"{n} = {self.key.weights[k][i, j]:g}" for n, k, i, j in flat_names(s.spec())))
        out += ["", "## Questions", "", tolerance_text(s.digits), ""]
        n = 0
        for title, qs in self._questions():
            out.append(f"**{title}**")
            out.append("")
            for q in qs:
                n += 1
                out.append(f"{n}. `{q.name}` ({_shape_text(q.shape)})")
            out.append("")
        out += [
            "Write your answers in `answers.csv`: one row per quantity, its name as printed here, then its values "
            "in row-major order (row by row). A later answer computed correctly from your own earlier answers "
            "earns credit.",
            "",
        ]
        return "\n".join(out)

    def html_body(self) -> str:
        s = self.setting
        parts = [f"<h1>Backpropagation exercise: {html.escape(self.student.label)}</h1><ul>"]
        parts += [f"<li>{html.escape(line)}</li>" for line in self._intro()] + ["</ul><h2>Given</h2>"]
        for sym, value in self._given():
            p = MathMLPrinter({sym.name: value}, 12)
            parts.append(f'<math display="block"><mrow>{MathMLPrinter()(sym)}<mo>=</mo>{p(sym)}</mrow></math>')
        if s.names == "flat":
            parts.append(
                "<p>The weights as the classic example numbers them: "
                + html.escape(", ".join(f"{n} = {self.key.weights[k][i, j]:g}" for n, k, i, j in flat_names(s.spec())))
                + "</p>"
            )
        parts.append(f"<h2>Questions</h2><p>{html.escape(tolerance_text(s.digits))}</p>")
        d = {line.equation.name: line.equation for line in self.worked.lines}
        n = 0
        for title, qs in self._questions():
            parts.append(f'<h3>{html.escape(title)}</h3><ol start="{n + 1}">')
            for q in qs:
                n += 1
                lhs = MathMLPrinter()(d[q.symbol].lhs)
                after = html.escape(self._suffix(q))
                parts.append(f"<li><math>{lhs}</math>{after} ({_shape_text(q.shape)}): __________</li>")
            parts.append("</ol>")
        parts.append(
            "<p>Write your answers in <code>answers.csv</code>: one row per quantity, its name as printed "
            "there, then its values row by row. A later answer computed correctly from your own earlier answers "
            "earns credit.</p>"
        )
        return "".join(parts)

    def to_html(self) -> str:
        return page(f"Exercise: {self.student.label}", [self.html_body()])

    def latex_body(self) -> str:
        s = self.setting
        out = [f"\\section*{{Backpropagation exercise: {_tex_escape(self.student.label)}}}", r"\begin{itemize}"]
        out += [f"\\item {_tex_escape(line)}" for line in self._intro()] + [r"\end{itemize}", r"\subsection*{Given}"]
        out.append(r"\begin{align*}")
        given = self._given()
        out.append(" \\\\\n".join(f"{TexPrinter()(sym)} &= {TexPrinter({sym.name: v}, 12)(sym)}" for sym, v in given))
        out += [
            r"\end{align*}",
            r"\subsection*{Questions}",
            _tex_escape(tolerance_text(s.digits)),
            r"\begin{enumerate}",
        ]
        d = {line.equation.name: line.equation for line in self.worked.lines}
        for q in self.key.quantities:
            out.append(f"\\item ${TexPrinter()(d[q.symbol].lhs)}${self._suffix(q)} ({_shape_text(q.shape)})")
        out.append(r"\end{enumerate}")
        return "\n".join(out)

    def to_latex(self) -> str:
        return latex_document([self.latex_body()])

    def answer_template(self) -> str:
        return "quantity,values\n" + "".join(f"{_csv_cell(q.name)},\n" for q in self.key.quantities)

    def key_text(self) -> str:
        """The key as the teacher reads it: each quantity as rounded on the sheet."""
        return "\n".join(
            f"{q.name} = {' '.join(fmt(v, self.setting.digits) for v in q.rounded.ravel())}"
            for q in self.key.quantities
        )


def _csv_cell(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(a, b)
    for a, b in (("→", r"$\to$"), ("η", r"$\eta$"), ("δ", r"$\delta$"), ("σ", r"$\sigma$"), ("⊙", r"$\odot$")):
        text = text.replace(a, b)
    for a, b in (("ᵀ", r"$^T$"), ("×", r"$\times$"), ("←", r"$\leftarrow$"), ("λ", r"$\lambda$")):
        text = text.replace(a, b)
    return text


def page(title: str, sections: list[str]) -> str:
    """A printable HTML page of sections, a page break between them."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        + html.escape(title)
        + "</title><style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "math[display=block]{margin:.5em 0;font-size:1.1em}section{break-after:page;page-break-after:always}"
        "section:last-child{break-after:auto;page-break-after:auto}h3{font-size:1em;margin:.8em 0 .2em}"
        "li{margin:.3em 0}"
        + MATH_FONT_CSS
        + "</style></head><body>"
        + "".join(f"<section>{s}</section>" for s in sections)
        + "</body></html>\n"
    )


def latex_document(bodies: list[str]) -> str:
    return "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage{amsmath,amssymb}",
            r"\usepackage[margin=2cm]{geometry}",
            r"\begin{document}",
            "\n\\newpage\n".join(bodies),
            r"\end{document}",
            "",
        ]
    )


@dataclass
class ExerciseSet:
    """The sheets of a class (``bplab exercise``), shown in a notebook as the class file."""

    setting: Setting
    sheets: list[Sheet]
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def keys(self) -> ClassKeys:
        return ClassKeys(self.setting, [s.key for s in self.sheets])

    def class_html(self) -> str:
        return page("Backpropagation exercise: every sheet", [s.html_body() for s in self.sheets])

    def _repr_html_(self) -> str:
        return (
            f"<style>{MATH_FONT_CSS}</style>"
            + "".join(f"<section>{s.html_body()}</section><hr>" for s in self.sheets[:3])
            + (f"<p>… and {len(self.sheets) - 3} more sheets</p>" if len(self.sheets) > 3 else "")
        )

    def __repr__(self) -> str:
        return f"ExerciseSet({len(self.sheets)} sheets, {self.setting.model}, folder={self.folder})"

    def files(self, solutions: bool) -> dict[str, str]:
        """Every file of the exercise folder by relative path (no dates, no paths inside)."""
        files = {
            "keys.json": self.keys.to_json(),
            "class.html": self.class_html(),
            "class.tex": latex_document([s.latex_body() for s in self.sheets]),
        }
        for sheet in self.sheets:
            sid = sheet.student.id
            files[f"sheets/{sid}/sheet.md"] = sheet.to_markdown()
            files[f"sheets/{sid}/sheet.html"] = sheet.to_html()
            files[f"sheets/{sid}/sheet.tex"] = sheet.to_latex()
            files[f"sheets/{sid}/answers.csv"] = sheet.answer_template()
            files[f"keys/{sid}.txt"] = sheet.key_text() + "\n"
            if solutions:
                files[f"solutions/{sid}/solution.md"] = sheet.worked.to_markdown()
                files[f"solutions/{sid}/solution.html"] = sheet.worked.to_html()
                files[f"solutions/{sid}/solution.tex"] = sheet.worked.to_latex()
        return files

    def write(self, folder: Path, solutions: bool) -> None:
        for rel, text in self.files(solutions).items():
            path = Path(folder) / rel
            make_folder(path.parent)
            atomic_write(path, text.encode("utf-8"), sync=False)
        self.folder = Path(folder)


def read_roster(path: Path) -> list[Student]:
    """A CSV roster: an ``id`` column, optionally ``name``; other columns are kept for the gradebook."""

    path = Path(path)
    if not path.is_file():
        raise BplabError(f"--students {path}: file not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = rows[0].keys() if rows else []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BplabError(f"--students {path}: not a readable CSV file ({exc})") from None
    if "id" not in header:
        raise BplabError(f"--students {path}: needs an 'id' column (found {', '.join(header) or 'no header'})")
    students, seen = [], set()
    for n, row in enumerate(rows, start=2):
        sid = (row.get("id") or "").strip()
        if not sid or not all(c.isalnum() or c in "-_." for c in sid):
            raise BplabError(f"--students {path}: line {n}: id {sid!r} must be letters, digits, '-', '_' or '.'")
        if sid in seen:
            raise BplabError(f"--students {path}: line {n}: id {sid!r} appears twice")
        seen.add(sid)
        extra = {k: (v or "") for k, v in row.items() if k not in ("id", "name") and k is not None}
        students.append(Student(sid, (row.get("name") or "").strip(), extra))
    if not students:
        raise BplabError(f"--students {path}: no students listed")
    return students


def make_exercises(
    setting: Setting,
    students: list[Student],
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    weights: dict[str, np.ndarray] | None = None,
) -> ExerciseSet:
    if setting.digits < 2 or setting.digits > 12:
        raise BplabError(f"--digits: between 2 and 12 significant figures, got {setting.digits}")
    if setting.decimals < 1 or setting.decimals > 3:
        raise BplabError(f"--decimals: 1, 2 or 3, got {setting.decimals}")
    if setting.steps < 1 or setting.steps > EXERCISE_MAX_STEPS:
        raise BplabError(f"--steps: 1 to {EXERCISE_MAX_STEPS} training steps, got {setting.steps}")
    check_layout(setting.layout)
    keys: list[Key] = []
    sheets = []
    for student in students:
        key, worked = make_key(setting, student, keys, x, y, weights)
        keys.append(key)
        sheets.append(Sheet(setting, key, worked))
    notes = []
    if x is not None and y is not None and weights is not None and len(students) > 1:
        notes.append("every number is given: all students have the same sheet")
    return ExerciseSet(setting, sheets, None, notes)


def activation_derivative(derivation: Derivation, layer_no: int):
    """g'(Z[l]) of layer ``layer_no`` as an expression of Z[l] and A[l] (None for softmax)."""
    layer = next(x for x in derivation.layers if x.l == layer_no)
    rule = activation_rule(layer.activation)
    return None if rule.derivative is None else rule.derivative(layer.z, layer.a)
