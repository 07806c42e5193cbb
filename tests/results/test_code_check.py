"""The results of ``bplab check-code``: one file's verdict, cause, tensor table, Markdown, JSON and HTML, and a
folder's rows, counted in the caption and written as CSV."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from backprop_lab.results.code_check import CodeCheck, CodeChecks, TensorCheck

DZ2 = TensorCheck("backward", "dZ2", "dZ2", "line 12", "ok", 0.0, "(5, 10)")
DW2 = TensorCheck("backward", 'grads["dW2"]', "dW2", "line 13", "wrong", 0.25, "(10, 8)", "transposed")
DB2 = TensorCheck("backward", "db2", "db2", "line 14", "depends", None, "(1, 10) (correct: (10,))", "depends on dW2")
WRONG = CodeCheck(
    "sub/ada.py",
    "mlp:8",
    "wrong",
    "dW2 (line 13): transposed",
    layout="rows (one example per row)",
    sizes="m=5",
    first_wrong=DW2,
    tensors=[DZ2, DW2, DB2],
    skipped=["line 30: for epoch in range(10): ..."],
    notes=["a <note>"],
)
RIGHT = CodeCheck("sub/bo.py", "mlp:8", "correct", "correct", tensors=[DZ2])
FAILING = CodeCheck("sub/cy.py", "mlp:8", "failing", "backward, line 3: ValueError: shapes")


def test_a_checks_verdict_and_cause():
    assert RIGHT.correct and not WRONG.correct and not FAILING.correct
    assert WRONG.cause == "transposed" and RIGHT.cause == "" and FAILING.cause == ""
    assert WRONG.to_dict()["correct"] is False and WRONG.to_dict()["first_wrong"]["name"] == 'grads["dW2"]'


def test_the_tensor_table_says_pass_fail_and_the_difference():
    rows = WRONG.table().rows
    assert [r[3] for r in rows] == ["pass", "FAIL", "depends"]
    assert [r[4] for r in rows] == ["0.0e+00", "2.5e-01", "-"]  # no difference where the shapes differ
    assert WRONG.table().caption == "sub/ada.py: wrong"


def test_the_markdown_lists_what_was_read_skipped_and_noted():
    text = WRONG.text()
    assert text.startswith("## sub/ada.py: wrong\n\ndW2 (line 13): transposed\n")
    assert "- layout: rows (one example per row)" in text and "- sizes: m=5" in text and "- deltas" not in text
    assert "- skipped (not run): 1 statements\n  - line 30: for epoch in range(10): ..." in text
    assert '| backward | grads["dW2"] | line 13 | FAIL | 2.5e-01 | (10, 8) | transposed |' in text.splitlines()
    assert "- a <note>" in text


def test_the_html_is_escaped_and_well_formed():
    markup = WRONG._repr_html_()
    ET.fromstring(markup)
    assert "a &lt;note&gt;" in markup and "grads[&quot;dW2&quot;]" in markup


def test_a_folder_counts_its_correct_files_and_writes_one_row_each(tmp_path):
    folder = CodeChecks("sub", "mlp:8", [WRONG, RIGHT, FAILING])
    assert not folder.correct and CodeChecks("sub", "mlp:8", [RIGHT]).correct
    assert folder.table().caption == "sub: 1 of 3 correct"
    rows = list(csv.reader(io.StringIO(folder.csv())))
    assert rows[0] == ["file", "verdict", "first wrong tensor", "where", "cause"]
    assert rows[1:] == [
        ["ada.py", "wrong", 'grads["dW2"]', "line 13", "transposed"],
        ["bo.py", "correct", "", "", ""],
        ["cy.py", "failing", "", "", "backward, line 3: ValueError: shapes"],  # no cause: the message
    ]
    folder.write_csv(tmp_path / "checks.csv")
    assert (tmp_path / "checks.csv").read_bytes() == folder.csv().encode()
    assert [c["verdict"] for c in folder.to_dict()["checks"]] == ["wrong", "correct", "failing"]
