"""``bplab exercise`` (cli/exercise_cmd.py) as a teacher runs it: the folder written, a second run refused,
bad --layout and --steps one line each with exit 2."""

import pytest
from helpers.cli import bplab


def test_the_command_as_a_teacher_runs_it(tmp_path):
    result = bplab("exercise", "--out", tmp_path / "exam", "--count", "3", "--seed", "7", "--solutions")
    assert result.returncode == 0, result.stderr
    assert "3 sheets written" in result.stdout
    assert (tmp_path / "exam" / "solutions" / "s2" / "solution.html").is_file()
    again = bplab("exercise", "--out", tmp_path / "exam", "--count", "3")
    assert again.returncode == 2 and again.stderr.startswith("error:") and "Traceback" not in again.stderr


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--layout", "diagonal", "--layout: expected rows"),
        ("--steps", "0", "--steps: must be at least 1, got 0"),
    ],
)
def test_a_bad_layout_or_steps_is_one_line_and_exit_2(tmp_path, option, value, message):
    result = bplab("exercise", "--out", tmp_path / "exam", option, value)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "exam").exists()
