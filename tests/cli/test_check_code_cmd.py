"""``bplab check-code`` (cli/check_code_cmd.py) as a user runs it: exit codes, --json, a folder's CSV and a
missing file."""

import json
from pathlib import Path

from helpers.cli import bplab

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "learner"


def test_cli_exit_codes_json_and_a_folder_csv(tmp_path):
    ok = bplab(
        "check-code", EXAMPLES / "course_two_layer.py", "--model", "mlp:128", "--data", "digits", "--json", timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "correct"
    assert json.loads(ok.stdout)["sizes"].startswith("inputs 64 and outputs 10 from digits, hidden 128")
    (tmp_path / "subs").mkdir()
    for f in EXAMPLES.glob("*.py"):
        (tmp_path / "subs" / f.name).write_text(f.read_text())
    (tmp_path / "subs" / "garbage.py").write_text("def (:")
    folder = bplab("check-code", tmp_path / "subs", "--model", "mlp:128", "--out", tmp_path / "r.csv", timeout=120)
    assert folder.returncode == 1, folder.stderr
    assert "derivative: dZ1 leaves out" in folder.stdout and "Traceback" not in folder.stderr
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert (
        rows[0] == "file,verdict,first wrong tensor,where,cause" and len(rows) == len(list(EXAMPLES.glob("*.py"))) + 2
    )
    assert any(r.startswith("garbage.py,error,") for r in rows)
    assert any(r.startswith("course_two_layer.py,correct,") for r in rows)
    missing = bplab("check-code", tmp_path / "nope.py", "--model", "mlp:128", timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "no such file" in missing.stderr
