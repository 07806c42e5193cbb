"""Grading with error carried forward, on random networks and seeds: the key copied gets full marks, one early
slip gives one wrong and the later quantities correct from an earlier error, a later slip loses only its own
quantity, rounding as the sheet says never costs a mark, a copied classmate is flagged, and every bad answer
file gets its one-line message while the class is still graded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.answers import write

import backprop_lab as bl
from backprop_lab.classroom.exercises import asked, round_sig, start_env, step
from backprop_lab.maths.expr import evaluate


def by_hand(setting, key, slip=None, change=None):
    """A student working the sheet in order, rounding each answer as the sheet says and going on from the
    rounded value; ``change`` alters the answer to ``slip`` (a mistake), independently of the grader's code.
    In the key's layout; each step goes on from the weights the student's step before left."""
    d = setting.derivation()
    worked = step(setting, key.x, key.y, key.weights, "")
    env = start_env(setting, d, key)
    names = {id(line): q.name for line, q in zip(asked(setting, worked), key.quantities)}
    answers = {}
    for line in worked.lines:
        eq = line.equation
        env["t"] = float(line.step)
        if eq.lhs.kind == "state" and eq.lhs.name not in env:
            env[eq.lhs.name] = np.zeros_like(env[eq.lhs.name.rsplit("_", 1)[-1]])
        value = np.asarray(evaluate(eq.rhs, env), np.float64)
        name = names.get(id(line))
        if name is not None:
            if name == slip:
                value = change(value)
            value = round_sig(value, setting.digits)
            answers[name] = value
        env[eq.name] = value
    return answers


CASES = [
    ("mlp:2/act=sigmoid/out=sigmoid", "half_squared_error", "sgd", 1, 11),
    ("mlp:3/act=relu/out=sigmoid", "mse", "sgd", 2, 12),
    ("mlp:2/act=tanh/out=sigmoid", "half_squared_error", "momentum", 2, 13),
]


@pytest.mark.parametrize("model, loss, optimizer, rows, seed", CASES)
def test_error_carried_forward(tmp_path, model, loss, optimizer, rows, seed):
    ex = bl.exercise(out=tmp_path / "ex", model=model, loss=loss, optimizer=optimizer, rows=rows, count=5, seed=seed)
    s = ex.setting
    keys = [sheet.key for sheet in ex.sheets]
    names = [q.name for q in keys[0].quantities]
    answers = tmp_path / "answers"
    answers.mkdir()
    # s1 copies its key; s2 works by hand with rounding; s3 slips early (A[1]); s4 slips late; s5 copies s1
    write(answers / "s1.csv", {q.name: q.rounded for q in keys[0].quantities}, s.digits)
    write(answers / "s2.csv", by_hand(s, keys[1]), s.digits)
    write(answers / "s3.csv", by_hand(s, keys[2], "A[1]", lambda v: v + 0.05), s.digits)
    late = "dW[1]"
    write(answers / "s4.csv", by_hand(s, keys[3], late, lambda v: v * 3), s.digits)
    write(answers / "s5.csv", {q.name: q.rounded for q in keys[0].quantities}, s.digits)
    report = bl.grade(tmp_path / "ex", answers, out=tmp_path / "graded")
    g = {x.student.id: x for x in report.students}
    full = g["s1"].out_of
    assert g["s1"].total == full and g["s2"].total == full
    assert all(m.status == "correct" for m in g["s2"].marks)  # rounding as the sheet says costs nothing
    s3 = [m.status for m in g["s3"].marks]
    assert s3.count("wrong") == 1 and g["s3"].mark("A[1]").status == "wrong"
    after = s3[names.index("A[1]") + 1 :]
    assert "carried" in after and set(after) <= {"carried", "correct"}
    assert g["s3"].mark("A[2]").status == "carried" and g["s3"].total == full - 1
    s4 = {m.quantity: m.status for m in g["s4"].marks}
    assert s4[late] == "wrong" and g["s4"].total == full - 1
    assert all(s4[n] == "correct" for n in names[: names.index(late)])
    assert g["s4"].mark(late).mistake == "no known mistake reproduces it"
    assert g["s5"].closer_to == "s1" and g["s1"].closer_to is None and g["s2"].closer_to is None
    # with no credit for carried answers, the early slip costs its later quantities too
    scheme = tmp_path / "scheme.toml"
    scheme.write_text("[points]\ndefault = 1\nL = 3\n[credit]\ncarried = 0.0\n")
    strict = {x.student.id: x for x in bl.grade(tmp_path / "ex", answers, scheme=scheme).students}
    assert strict["s1"].out_of == full + 2
    assert strict["s3"].total == strict["s3"].out_of - sum(
        m.out_of for m in strict["s3"].marks if m.status != "correct"
    )
    assert strict["s3"].total < strict["s3"].out_of - 1
    csv_text = (tmp_path / "graded" / "gradebook.csv").read_text()
    assert csv_text.splitlines()[0].startswith("id,name,Z[1],") and csv_text.splitlines()[0].endswith("total,flag")
    assert (tmp_path / "graded" / "feedback" / "s3.html").is_file() and (tmp_path / "graded" / "summary.png").is_file()


@pytest.mark.parametrize(
    "slip, change, mistake",
    [
        ("δ[2]", lambda v: -v, "wrong sign"),
        ("dW[2]", lambda v: v.T if v.shape[0] == v.shape[1] else v, "transposed"),
        ("δ[1]", None, "missing activation derivative"),
        ("L", None, "missing 1/m"),
    ],
)
def test_the_first_wrong_quantity_is_diagnosed(tmp_path, slip, change, mistake):
    ex = bl.exercise(out=tmp_path / "ex", rows=2, count=1, seed=4)
    s, key = ex.setting, ex.sheets[0].key
    if mistake == "missing activation derivative":
        honest = by_hand(s, key)
        a1 = honest["A[1]"]
        change = lambda v: v / (a1 * (1 - a1))  # noqa: E731 - δ[1] without σ'(Z[1]) = A[1](1 - A[1])
    if mistake == "missing 1/m":
        change = lambda v: v * 2  # noqa: E731 - two rows, the mean not taken
    answers = tmp_path / "answers"
    answers.mkdir()
    write(answers / "s1.csv", by_hand(s, key, slip, change), s.digits)
    grade = bl.grade(tmp_path / "ex", answers).students[0]
    assert grade.mark(slip).status == "wrong" and grade.mark(slip).mistake == mistake


def test_a_columns_key_copied_or_worked_by_hand_gets_full_marks(tmp_path):
    ex = bl.exercise(out=tmp_path / "ex", layout="columns", rows=2, count=3, seed=21)
    s, keys = ex.setting, [sheet.key for sheet in ex.sheets]
    assert keys[0].quantity("Z[1]").shape == (2, 2) and keys[0].quantity("db[1]").shape == (2, 1)  # units x m
    answers = tmp_path / "answers"
    answers.mkdir()
    write(answers / "s1.csv", {q.name: q.rounded for q in keys[0].quantities}, s.digits)
    write(answers / "s2.csv", by_hand(s, keys[1]), s.digits)
    # s3 writes dW[2] as the rows layout has it (its transpose): wrong, and named
    rows_dw2 = {**by_hand(s, keys[2]), "dW[2]": by_hand(s, keys[2])["dW[2]"].T}
    write(answers / "s3.csv", rows_dw2, s.digits)
    g = {x.student.id: x for x in bl.grade(tmp_path / "ex", answers).students}
    assert g["s1"].total == g["s1"].out_of and g["s2"].total == g["s2"].out_of
    assert all(m.status == "correct" for m in g["s2"].marks)
    assert g["s3"].mark("dW[2]").status == "wrong" and g["s3"].mark("dW[2]").mistake == "transposed"
    assert g["s3"].total == g["s3"].out_of - 1


def test_a_step_1_slip_carries_into_step_2(tmp_path):
    ex = bl.exercise(out=tmp_path / "ex", steps=2, rows=2, count=1, seed=22)
    s, key = ex.setting, ex.sheets[0].key
    names = [q.name for q in key.quantities]
    assert len(names) == 2 * 15 and "W[2] after step 1" in names and "Z[2] (step 2)" in names
    answers = tmp_path / "answers"
    answers.mkdir()
    write(answers / "s1.csv", by_hand(s, key, "W[2] after step 1", lambda v: v + 0.05), s.digits)
    grade = bl.grade(tmp_path / "ex", answers).students[0]
    status = {m.quantity: m.status for m in grade.marks}
    assert [n for n, v in status.items() if v == "wrong"] == ["W[2] after step 1"]
    assert all(status[n] == "correct" for n in names[: names.index("W[2] after step 1")])
    # step 2 starts from the student's own W[2]: what reads it is carried, the first layer's forward pass is not
    assert status["Z[1] (step 2)"] == status["A[1] (step 2)"] == "correct"
    for name in ("Z[2] (step 2)", "A[2] (step 2)", "L (step 2)", "δ[1] (step 2)", "W[2] after step 2"):
        assert status[name] == "carried", name
    assert grade.total == grade.out_of - 1
    # the key as a version 1 reader wrote it (rows, one step) still grades: the fields it lacks are the defaults
    one = bl.exercise(out=tmp_path / "one", count=1, seed=22)
    doc = json.loads((tmp_path / "one" / "keys.json").read_text())
    doc["version"] = 1
    del doc["exercise"]["layout"], doc["exercise"]["steps"]
    for q in doc["students"][0]["quantities"]:
        del q["step"]
    (tmp_path / "one" / "keys.json").write_text(json.dumps(doc))
    write(answers / "s1.csv", {q.name: q.rounded for q in one.sheets[0].key.quantities}, s.digits)
    again = bl.grade(tmp_path / "one", answers).students[0]
    assert again.total == again.out_of == 15


def test_a_mistake_is_named_whether_the_earlier_answers_were_worked_or_copied_from_the_key(tmp_path):
    """With the earlier answers copied at the sheet's rounding, the value recomputed from them can be further
    from the key than the tolerance of a small entry; the mistake is still the one named (it was once 'no
    known mistake' for a sign flipped on a δ[2] with an entry of 0.004)."""
    ex = bl.exercise(out=tmp_path / "ex", count=24, seed=2026)
    s = ex.setting
    answers = tmp_path / "answers"
    answers.mkdir()
    for sheet in ex.sheets:
        copied = {q.name: q.rounded for q in sheet.key.quantities}
        copied["δ[2]"] = -copied["δ[2]"]
        write(answers / f"{sheet.key.student.id}.csv", copied, s.digits)
    report = bl.grade(tmp_path / "ex", answers)
    said = {g.student.id: (g.first_wrong.quantity, g.first_wrong.mistake) for g in report.students}
    assert set(said.values()) == {("δ[2]", "wrong sign")}, said
    totals = report.totals()  # what the terminal shows: one short row a student
    assert len(totals.rows) == 24 and all(row[7] == "δ[2]: wrong sign" for row in totals.rows)
    n = len(report.quantities)
    assert all(sum(int(c) for c in row[3:7]) == n and float(row[2]) == n - 1 for row in totals.rows)
