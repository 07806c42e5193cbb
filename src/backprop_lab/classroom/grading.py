"""Grading answers to the exercise sheets, with error carried forward.

Each quantity is recomputed with the same rule (the derivation's equation) from the student's OWN earlier
answers, as they wrote them. An answer is

- *correct*: within the sheet's tolerance of the key, or of the value recomputed from earlier answers that
  were all correct (so rounding intermediate values as the sheet says never costs a mark);
- *carried* (correct from an earlier error): within tolerance of the value recomputed from the student's
  earlier answers, one of which was wrong;
- *wrong* or *missing*.

The answers are read in the key's layout (rows or columns, each quantity's values row-major in its shape).
In an exercise of several steps, a step goes on from the weights the student's own previous step left, so
a slip in step 1 makes the step-2 values that rest on it correct from an earlier error.

The first wrong quantity is diagnosed with the mistake hypotheses declared below (``MISTAKES``): each predicts
the value a named mistake gives, from the same earlier answers, and is named only when it reproduces the
student's numbers. (These are declared here, not in ``classroom/mistakes.py``, which is being written on
another branch; they can move there.)
"""

from __future__ import annotations

import csv
import html
import io
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from backprop_lab.classroom.exercises import (
    ASK,
    ClassKeys,
    Key,
    Quantity,
    Setting,
    Student,
    asked,
    fmt,
    page,
    start_env,
    step,
    within,
)
from backprop_lab.core.errors import BplabError, first_line
from backprop_lab.core.files import atomic_write, make_folder
from backprop_lab.maths.equations import Derivation
from backprop_lab.maths.expr import evaluate, symbols
from backprop_lab.maths.rules import activation_rule
from backprop_lab.results.tables import Table

STATUSES = ("correct", "carried", "wrong", "missing")
STATUS_TEXT = {
    "correct": "correct",
    "carried": "correct from an earlier error",
    "wrong": "wrong",
    "missing": "missing",
}


# --- the known mistakes, as hypotheses tested numerically -----------------------------------------------


@dataclass
class Context:
    """What a hypothesis may read: the quantity, the value its rule gives from the student's earlier
    answers, the values before this line, the derivation and the line's equation."""

    quantity: Quantity
    recomputed: np.ndarray
    env: dict[str, Any]
    derivation: Derivation
    equation: Any


def _transposed(c: Context) -> np.ndarray | None:
    r = np.asarray(c.recomputed)
    if r.ndim != 2 or min(r.shape) < 2:
        return None
    return r.T.ravel().reshape(r.shape)  # the right numbers written column by column


def _sign(c: Context) -> np.ndarray | None:
    if c.quantity.section == "update":  # a step up the gradient: W + η dW
        old = np.asarray(c.env[c.equation.lhs.name])
        return 2 * old - c.recomputed
    return -np.asarray(c.recomputed)


def _missing_derivative(c: Context) -> np.ndarray | None:
    if c.quantity.section not in ("output delta", "backward"):
        return None
    if c.quantity.section == "output delta" and c.derivation.fused:
        return None
    layer = next(x for x in c.derivation.layers if x.z.name == f"Z{c.equation.lhs.layer}")
    rule = activation_rule(layer.activation)
    if rule.derivative is None or layer.activation == "linear":
        return None
    d = np.asarray(evaluate(rule.derivative(layer.z, layer.a), c.env), np.float64)
    if np.any(d == 0):
        return None
    return np.asarray(c.recomputed) / d


def _factor(k: float, sections: tuple[str, ...]) -> Callable[[Context], np.ndarray | None]:
    def predict(c: Context) -> np.ndarray | None:
        return np.asarray(c.recomputed) * k if c.quantity.section in sections else None

    return predict


def _missing_m(c: Context) -> np.ndarray | None:
    m = c.env["m"]
    if m < 2 or c.quantity.section not in ("loss", "output delta"):
        return None
    return np.asarray(c.recomputed) * m


@dataclass(frozen=True)
class Mistake:
    name: str
    explain: str
    predict: Callable[[Context], np.ndarray | None]


GRADIENT_SECTIONS = ("loss", "output delta", "backward", "gradients")
MISTAKES: tuple[Mistake, ...] = (
    Mistake("transposed", "the right numbers, written column by column (a transposed matrix)", _transposed),
    Mistake("wrong sign", "the sign is wrong (for an update: a step up the gradient, W + η dW)", _sign),
    Mistake(
        "missing activation derivative",
        "the delta lacks the factor g'(Z) of the activation's derivative",
        _missing_derivative,
    ),
    Mistake(
        "missing 1/m", "the mean over the m examples was not taken (only detectable with 2 or more rows)", _missing_m
    ),
    Mistake(
        "factor 2",
        "twice the right value (a factor 2 of the squared error's derivative)",
        _factor(2.0, GRADIENT_SECTIONS),
    ),
    Mistake("factor 1/2", "half the right value (a factor 2 dropped)", _factor(0.5, GRADIENT_SECTIONS)),
)


def diagnose(c: Context, answer: np.ndarray, digits: int) -> Mistake | None:
    for mistake in MISTAKES:
        predicted = mistake.predict(c)
        if predicted is not None and not within(predicted, c.recomputed, digits) and within(answer, predicted, digits):
            return mistake
    return None


# --- answers --------------------------------------------------------------------------------------------


@dataclass
class Answers:
    """One student's answer file: the values by quantity name (flat, row-major), and what was wrong with it."""

    id: str
    path: Path
    values: dict[str, list[float]]
    problems: list[str] = field(default_factory=list)


def _numbers(path: Path, name: str, raw: Any, problems: list[str]) -> list[float] | None:
    if isinstance(raw, str):
        items: list[Any] = [v for v in raw.replace(";", " ").replace(",", " ").split() if v]
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        items = [raw]
    elif isinstance(raw, list):
        items = list(np.asarray(raw, dtype=object).ravel()) if raw else []
    else:
        problems.append(f"{path.name}: {name}: expected numbers, got {type(raw).__name__}")
        return None
    out = []
    for item in items:
        try:
            v = float(item)
        except (TypeError, ValueError):
            problems.append(f"{path.name}: {name}: {str(item)!r} is not a number")
            return None
        if not np.isfinite(v):
            problems.append(f"{path.name}: {name}: {item!r} is not a finite number")
            return None
        out.append(v)
    return out


def read_answers(path: Path) -> Answers:
    """A CSV as the template (``quantity,values``; the values in one cell or spread over the next cells),
    or a JSON/TOML table of quantity -> values (nested lists or flat); the id is the file name or ``id``."""
    path = Path(path)
    suffix = path.suffix.lower()
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BplabError(f"{path.name}: cannot be read ({first_line(exc)})") from None
    raw: dict[str, Any] = {}
    sid = path.stem
    if suffix == ".csv":
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
        if not rows or [c.strip().lower() for c in rows[0][:2]] != ["quantity", "values"]:
            raise BplabError(f"{path.name}: expected the header 'quantity,values' (as answers.csv)")
        for r in rows[1:]:
            name = r[0].strip()
            if name.lower() == "id":
                sid = " ".join(c.strip() for c in r[1:] if c.strip())
                continue
            if name in raw:
                problems.append(f"{path.name}: {name}: given twice (the first is graded)")
                continue
            raw[name] = " ".join(c for c in r[1:])
    elif suffix in (".json", ".toml"):
        try:
            doc = json.loads(text) if suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BplabError(f"{path.name}: not valid {suffix[1:].upper()} ({first_line(exc)})") from None
        if not isinstance(doc, dict):
            raise BplabError(f"{path.name}: expected a table of quantity -> values")
        sid = str(doc.pop("id", sid))
        raw = doc.pop("answers", doc)
        if not isinstance(raw, dict):
            raise BplabError(f"{path.name}: 'answers' must be a table of quantity -> values")
    else:
        raise BplabError(f"{path.name}: answers must be .csv, .json or .toml")
    values = {}
    for name, value in raw.items():
        numbers = _numbers(path, str(name), value, problems)
        if numbers is not None:
            values[str(name)] = numbers
    return Answers(sid, path, values, problems)


# --- marks ----------------------------------------------------------------------------------------------


@dataclass
class Scheme:
    """Points per quantity (by name, or by what --ask calls its group), and the share of them that a
    correct-from-an-earlier-error answer earns."""

    default: float = 1.0
    points: dict[str, float] = field(default_factory=dict)
    carried: float = 1.0

    def of(self, q: Quantity) -> float:
        group = next(a for a, sections in ASK.items() if q.section in sections)
        return self.points.get(q.name, self.points.get(group, self.default))

    @classmethod
    def read(cls, path: Path, names: list[str]) -> Scheme:
        path = Path(path)
        if not path.is_file():
            raise BplabError(f"--scheme {path}: file not found")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BplabError(f"--scheme {path}: not valid TOML ({first_line(exc)})") from None
        points = doc.get("points", {})
        credit = doc.get("credit", {})
        unknown = [k for k in doc if k not in ("points", "credit")]
        if unknown or not isinstance(points, dict) or not isinstance(credit, dict):
            raise BplabError(f"--scheme {path}: expected [points] and [credit] tables, got {', '.join(unknown)}")
        default = points.pop("default", 1.0)
        bad = [k for k in points if k not in names and k not in ASK]
        if bad:
            raise BplabError(f"--scheme {path}: [points] names {', '.join(bad)}, not a quantity of the sheet")
        for k, v in [("default", default), *points.items(), *credit.items()]:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise BplabError(f"--scheme {path}: {k} must be a number of at least 0, got {v!r}")
        carried = credit.get("carried", 1.0)
        if carried > 1:
            raise BplabError(f"--scheme {path}: credit.carried is a share of the points, 0 to 1, got {carried}")
        return cls(float(default), {k: float(v) for k, v in points.items()}, float(carried))


# --- grading --------------------------------------------------------------------------------------------


@dataclass
class Mark:
    quantity: str
    status: str  # one of STATUSES
    points: float
    out_of: float
    expected: list[float]  # as rounded on the key
    answer: list[float] | None
    recomputed: list[float] | None  # from the student's earlier answers (where it differs from the key)
    mistake: str | None = None


@dataclass
class StudentGrade:
    student: Student
    marks: list[Mark]
    problems: list[str] = field(default_factory=list)
    closer_to: str | None = None  # another sheet whose key the answers match better

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)

    @property
    def out_of(self) -> float:
        return sum(m.out_of for m in self.marks)

    @property
    def first_wrong(self) -> Mark | None:
        return next((m for m in self.marks if m.status == "wrong"), None)

    def mark(self, quantity: str) -> Mark:
        return next(m for m in self.marks if m.quantity == quantity)

    def feedback_markdown(self, digits: int) -> str:
        out = [f"# Feedback: {self.student.label}", "", f"Total: {self.total:g} / {self.out_of:g}", ""]
        out += [f"- {p}" for p in self.problems]
        if self.closer_to:
            out.append(f"- Your answers are closer to sheet {self.closer_to}'s key than to your own.")
        out += ["", "| quantity | result | points | your answer | expected |", "|:---|:---|---:|:---|:---|"]
        for m in self.marks:
            ans = " ".join(fmt(v, digits) for v in m.answer) if m.answer is not None else "-"
            exp = " ".join(fmt(v, digits) for v in m.expected)
            if m.status == "carried" and m.recomputed is not None:
                exp += " (from your earlier answers: " + " ".join(fmt(v, digits) for v in m.recomputed) + ")"
            res = STATUS_TEXT[m.status] + (f": {m.mistake}" if m.mistake else "")
            out.append(f"| {m.quantity} | {res} | {m.points:g} / {m.out_of:g} | {ans} | {exp} |")
        return "\n".join(out) + "\n"


def grade_one(setting: Setting, key: Key, answers: Answers | None, scheme: Scheme) -> StudentGrade:
    """Every asked quantity of one sheet, each recomputed from the student's own earlier answers, in the key's
    layout; in an exercise of several steps a step goes on from the student's own updated weights."""
    digits = setting.digits
    derivation = setting.derivation()
    worked = step(setting, key.x, key.y, key.weights, "")
    env = start_env(setting, derivation, key)
    by_line = {id(line): q for line, q in zip(asked(setting, worked), key.quantities)}
    ok: dict[str, bool] = {name: True for name in env}  # every value it rests on was the student's right one
    problems = list(answers.problems) if answers else []
    given = dict(answers.values) if answers else {}
    marks: list[Mark] = []
    diagnosed = False
    missing: list[str] = []
    for line in worked.lines:
        eq = line.equation
        env["t"] = float(line.step)  # the optimizer's step count (Adam's bias correction)
        if eq.lhs.kind == "state" and eq.lhs.name not in env:
            env[eq.lhs.name] = np.zeros_like(env[eq.lhs.name.rsplit("_", 1)[-1]])
            ok[eq.lhs.name] = True
        recomputed = np.asarray(evaluate(eq.rhs, env), np.float64)
        deps_ok = all(ok.get(s.name, True) for s in symbols(eq.rhs))
        q = by_line.get(id(line))
        if q is None:
            env[eq.name], ok[eq.name] = recomputed, deps_ok
            continue
        out_of = scheme.of(q)
        raw = given.pop(q.name, None)
        answer = None
        if raw is not None and len(raw) != max(1, q.value.size):
            problems.append(f"{answers.path.name}: {q.name}: {len(raw)} values, expected {max(1, q.value.size)}")
        elif raw is not None:
            answer = np.array(raw, np.float64).reshape(q.shape)
        if answer is None:
            status = "missing"
            if answers is not None and raw is None:
                missing.append(q.name)
        elif within(answer, q.value, digits) or (deps_ok and within(answer, recomputed, digits)):
            status = "correct"
        elif within(answer, recomputed, digits):
            status = "carried"
        else:
            status = "wrong"
        mistake = None
        if status == "wrong" and not diagnosed:
            diagnosed = True
            found = diagnose(Context(q, recomputed, env, derivation, eq), answer, digits)
            if found is None and deps_ok:  # every value it rests on was right: the mistake made on the key's value
                found = diagnose(Context(q, q.value, env, derivation, eq), answer, digits)  # (a copied one's)
            mistake = found.name if found else "no known mistake reproduces it"
        points = {"correct": out_of, "carried": out_of * scheme.carried}.get(status, 0.0)
        marks.append(
            Mark(
                q.name,
                status,
                points,
                out_of,
                [float(v) for v in q.rounded.ravel()],
                None if answer is None else [float(v) for v in answer.ravel()],
                None if within(recomputed, q.value, digits) else [float(v) for v in recomputed.ravel()],
                mistake,
            )
        )
        env[eq.name] = answer if answer is not None else recomputed
        ok[eq.name] = status == "correct" or (status == "missing" and deps_ok)
    if missing:
        problems.append(f"{answers.path.name}: missing {', '.join(missing)}")
    for name in given:
        problems.append(f"{answers.path.name}: {name}: not a quantity of this sheet")
    return StudentGrade(key.student, marks, problems)


def matches(key: Key, answers: Answers, digits: int) -> int:
    """How many of the answers are within tolerance of this key (the copy check)."""
    n = 0
    for q in key.quantities:
        raw = answers.values.get(q.name)
        if raw is not None and len(raw) == max(1, q.value.size):
            n += within(np.array(raw).reshape(q.shape), q.value, digits)
    return n


@dataclass
class QuantitySummary:
    quantity: str
    counts: dict[str, int]
    mistake: str | None  # the commonest diagnosed mistake on it
    mistake_count: int


@dataclass
class GradeReport:
    """The graded class (``bplab grade``): each student's marks, the gradebook and the class summary."""

    setting: Setting
    students: list[StudentGrade]
    problems: list[str]  # file-level lines: unreadable files, unknown students, missing answer files
    quantities: list[str]
    folder: Path | None = None

    def gradebook(self) -> Table:
        """One row per student, one column per quantity and the total, the roster's columns kept."""
        extra = sorted({k for g in self.students for k in g.student.roster})
        header = ["id", "name", *extra, *self.quantities, "total", "flag"]
        rows = []
        for g in self.students:
            flag = f"closer to {g.closer_to}'s key" if g.closer_to else ""
            rows.append(
                [g.student.id, g.student.name, *[g.student.roster.get(k, "") for k in extra]]
                + [f"{m.points:g}" for m in g.marks]
                + [f"{g.total:g}", flag]
            )
        out_of = self.students[0].out_of if self.students else 0
        return Table(f"Gradebook (out of {out_of:g})", header, rows, [0, 1, *range(2, 2 + len(extra)), len(header) - 1])

    def totals(self) -> Table:
        """One short row per student (what a terminal shows): the total, how many quantities in each status,
        the first wrong one with its diagnosis, and the copy flag. Every quantity's mark is in ``gradebook``."""
        rows = []
        for g in self.students:
            counts = [sum(m.status == s for m in g.marks) for s in STATUSES]
            first = g.first_wrong
            why = f"{first.quantity}: {first.mistake}" if first and first.mistake else (first.quantity if first else "")
            flag = f"closer to {g.closer_to}'s key" if g.closer_to else ""
            rows.append([g.student.id, g.student.name, f"{g.total:g}", *map(str, counts), why, flag])
        out_of = self.students[0].out_of if self.students else 0
        return Table(
            f"Totals (out of {out_of:g}); every quantity's mark is in the gradebook",
            ["id", "name", "total", "correct", "carried forward", "wrong", "missing", "first wrong", "flag"],
            rows,
            [0, 1, 7, 8],
        )

    def to_csv(self) -> str:
        table = self.gradebook()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.header)
        writer.writerows(table.rows)
        return buf.getvalue()

    def summary(self) -> list[QuantitySummary]:
        out = []
        for i, name in enumerate(self.quantities):
            marks = [g.marks[i] for g in self.students]
            counts = {s: sum(m.status == s for m in marks) for s in STATUSES}
            named = [m.mistake for m in marks if m.mistake and m.mistake != "no known mistake reproduces it"]
            top = max(set(named), key=named.count) if named else None
            out.append(QuantitySummary(name, counts, top, named.count(top) if top else 0))
        return out

    def summary_table(self) -> Table:
        rows = [
            [s.quantity, *[str(s.counts[k]) for k in STATUSES], f"{s.mistake} ({s.mistake_count})" if s.mistake else ""]
            for s in self.summary()
        ]
        return Table(
            f"Class summary: {len(self.students)} students",
            ["quantity", "correct", "carried forward", "wrong", "missing", "commonest mistake"],
            rows,
            [0, 5],
        )

    def hardest(self) -> QuantitySummary | None:
        s = self.summary()
        return max(s, key=lambda x: (x.counts["wrong"], -self.quantities.index(x.quantity))) if s else None

    def summary_text(self) -> str:
        h = self.hardest()
        if h is None or h.counts["wrong"] == 0:
            return "No quantity was answered wrong."
        text = f"Most students got {h.quantity} wrong ({h.counts['wrong']} of {len(self.students)})"
        return text + (f", most often with the mistake '{h.mistake}'." if h.mistake else ".")

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s = self.summary()
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(s) + 2), 4), layout="constrained")
        bottom = np.zeros(len(s))
        colours = {"correct": "#2e7d32", "carried": "#9ccc65", "wrong": "#c62828", "missing": "#bdbdbd"}
        for status in STATUSES:
            n = np.array([x.counts[status] for x in s])
            ax.bar([x.quantity for x in s], n, bottom=bottom, label=STATUS_TEXT[status], color=colours[status])
            bottom += n
        ax.set_ylabel("students")
        ax.set_title("Answers per quantity")
        ax.tick_params(axis="x", rotation=60)
        ax.legend(fontsize=8)
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)

    def write(self, folder: Path) -> None:
        digits = self.setting.digits
        make_folder(folder / "feedback")
        atomic_write(folder / "gradebook.csv", self.to_csv().encode("utf-8"), sync=False)
        for g in self.students:
            md = g.feedback_markdown(digits)
            atomic_write(folder / "feedback" / f"{g.student.id}.md", md.encode("utf-8"), sync=False)
            html_text = page(f"Feedback: {g.student.label}", [_md_table_html(g, digits)])
            atomic_write(folder / "feedback" / f"{g.student.id}.html", html_text.encode("utf-8"), sync=False)
        self.plot(folder / "summary.png")
        problems = [f"- {p}" for p in self.problems + [p for g in self.students for p in g.problems]]
        summary_md = "\n".join(
            ["# Class summary", "", self.summary_text(), "", self.summary_table().to_markdown(), "", "![](summary.png)"]
            + (["", "## Problems with the answer files", "", *problems] if problems else [])
        )
        atomic_write(folder / "summary.md", (summary_md + "\n").encode("utf-8"), sync=False)
        summary_html = page(
            "Class summary",
            [
                f"<h1>Class summary</h1><p>{self.summary_text()}</p>{self.summary_table().to_html()}"
                '<img src="summary.png" alt="answers per quantity">'
            ],
        )
        atomic_write(folder / "summary.html", summary_html.encode("utf-8"), sync=False)
        self.folder = folder

    def _repr_html_(self) -> str:
        return self.gradebook().to_html() + self.summary_table().to_html()


def _md_table_html(g: StudentGrade, digits: int) -> str:

    rows = []
    for m in g.marks:
        ans = " ".join(fmt(v, digits) for v in m.answer) if m.answer is not None else "-"
        exp = " ".join(fmt(v, digits) for v in m.expected)
        if m.status == "carried" and m.recomputed is not None:
            exp += " (from your earlier answers: " + " ".join(fmt(v, digits) for v in m.recomputed) + ")"
        res = STATUS_TEXT[m.status] + (f": {m.mistake}" if m.mistake else "")
        rows.append([m.quantity, res, f"{m.points:g} / {m.out_of:g}", ans, exp])
    notes = "".join(f"<li>{html.escape(p)}</li>" for p in g.problems)
    if g.closer_to:
        notes += f"<li>Your answers are closer to sheet {html.escape(g.closer_to)}'s key than to your own.</li>"
    table = Table("", ["quantity", "result", "points", "your answer", "expected"], rows, [0, 1, 3, 4])
    return (
        f"<h1>Feedback: {html.escape(g.student.label)}</h1><p>Total: {g.total:g} / {g.out_of:g}</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + table.to_html()
    )


def answer_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BplabError(f"{path}: no such answer file or folder")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".json", ".toml"))


def grade_class(keys: ClassKeys, answers_path: Path, scheme: Scheme | None = None) -> GradeReport:
    """Grade one answer file or a folder of them against the class keys; a bad file is one line each and the
    rest of the class is still graded."""
    setting = keys.setting
    scheme = scheme or Scheme()
    by_id = {k.student.id: k for k in keys.keys}
    problems: list[str] = []
    read: dict[str, Answers] = {}
    files = answer_files(answers_path)
    if not files:
        raise BplabError(f"{answers_path}: holds no answer files (.csv, .json or .toml)")
    for f in files:
        try:
            a = read_answers(f)
        except BplabError as exc:
            problems.append(str(exc))
            continue
        if a.id not in by_id:
            problems.append(f"{f.name}: no sheet for student {a.id!r} in the keys")
            continue
        if a.id in read:
            problems.append(f"{f.name}: a second answer file for {a.id} (the first, {read[a.id].path.name}, is graded)")
            continue
        read[a.id] = a
    if not read:
        raise BplabError(f"{answers_path}: no answer file could be graded ({'; '.join(problems)})")
    one_file = Path(answers_path).is_file()
    grades = []
    for key in keys.keys:
        a = read.get(key.student.id)
        if a is None and one_file:
            continue
        g = grade_one(setting, key, a, scheme)
        if a is None:
            g.problems.append(f"{key.student.id}: no answer file")
        else:
            own = matches(key, a, setting.digits)
            best = max(
                (k for k in keys.keys if k is not key), key=lambda k: matches(k, a, setting.digits), default=None
            )
            if best is not None and matches(best, a, setting.digits) > own:
                g.closer_to = best.student.id
        grades.append(g)
    names = [q.name for q in keys.keys[0].quantities]
    return GradeReport(setting, grades, problems, names)
