"""``bplab derive`` (cli/derive_cmd.py): bad input is one line and exit 2."""

import pytest
from helpers.cli import bplab


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--input", "0.05,abc", "--target", "0.01,0.99"], "--input: expected numbers"),
        (["--input", "0.05,0.1", "--input", "0.2,0.3", "--target", "0.01,0.99"], "--target: 1 rows for 2 --input rows"),
        (["--input", "0.05,0.1"], "give the rows"),
        (["--input", "0.05,0.1", "--target", "1,0", "--weights", "missing.json"], "missing.json: file not found"),
        (["--input", "0.05,0.1", "--target", "1,0", "--steps", "0"], "--steps: must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    result = bplab("derive", *args, cwd=tmp_path)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
