"""``bplab grade`` (cli/grade_cmd.py) as a teacher runs it: every bad answer file one line on stderr while the
class is still graded, the terminal's totals and class summary, unusable keys exit 2."""

import numpy as np
from helpers.answers import write
from helpers.cli import bplab

import backprop_lab as bl


def test_every_bad_answer_file_gets_its_line_and_the_class_is_still_graded(tmp_path):
    ex = bl.exercise(out=tmp_path / "ex", count=8, seed=9)
    keys = {sheet.student.id: sheet.key for sheet in ex.sheets}
    good = {sid: {q.name: q.rounded for q in k.quantities} for sid, k in keys.items()}
    a = tmp_path / "answers"
    a.mkdir()
    write(a / "s1.csv", good["s1"], 4)
    write(a / "s2.csv", {k: v for k, v in good["s2"].items() if k != "L"}, 4)  # missing quantity
    write(a / "s3.csv", {**good["s3"], "Q[9]": np.array([1.0])}, 4)  # an extra one
    write(a / "s4.csv", {**good["s4"], "Z[1]": np.array([1.0, 2.0, 3.0])}, 4)  # wrong number of values
    (a / "s5.csv").write_text("quantity,values\nZ[1],0.1 abc\n", encoding="utf-8")  # not a number
    write(a / "zz.csv", good["s6"], 4)  # unknown student
    (a / "s7.json").write_text('{"Z[1]": [', encoding="utf-8")  # unreadable
    (a / "s8.toml").write_text('id = "s8"\n"L" = 0.1\n', encoding="utf-8")  # TOML with an id, one quantity
    result = bplab("grade", tmp_path / "ex", a, "--out", tmp_path / "graded")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    for line in (
        "s2.csv: missing L",
        "s3.csv: Q[9]: not a quantity of this sheet",
        "s4.csv: Z[1]: 3 values, expected 2",
        "s5.csv: Z[1]: 'abc' is not a number",
        "zz.csv: no sheet for student 'zz'",
        "s7.json: not valid JSON",
    ):
        assert line in err, (line, err)
    assert "Traceback" not in err
    assert "Totals (out of 15)" in result.stdout and "Class summary: 8 students" in result.stdout
    book = (tmp_path / "graded" / "gradebook.csv").read_text().splitlines()
    assert len(book) == 1 + 8  # every student of the keys has a row
    rows = {r.split(",")[0]: r for r in book[1:]}
    assert rows["s1"].split(",")[-2] == "15" and rows["s2"].split(",")[-2] == "14"
    report = bl.grade(tmp_path / "ex", a)
    assert report.students[0].student.id == "s1" and report.students[1].mark("L").status == "missing"


def test_unusable_keys_exit_2(tmp_path):
    (tmp_path / "keys.json").write_text('{"format": "something else"}')
    (tmp_path / "a.csv").write_text("quantity,values\n")
    result = bplab("grade", tmp_path / "keys.json", tmp_path / "a.csv")
    assert result.returncode == 2 and result.stderr.startswith("error:") and "not a bplab exercise key" in result.stderr
