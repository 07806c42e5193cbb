"""TensorFlow's start-up lines (absl's pre-InitializeLog warning, the oneDNN notice) do not land in our output."""

from helpers.cli import bplab

# TensorFlow prints the first on every CPU; the oneDNN notice only where oneDNN is on by default
# (CPUs with AVX-512 VNNI and the like), so a check for it alone would depend on the machine.
START_UP_LINES = ("absl::InitializeLog", "oneDNN custom operations")


def test_a_tensorflow_engine_prints_no_start_up_lines(tmp_path):
    result = bplab(
        "train",
        "--engine",
        "tape",
        "--data",
        "digits",
        "--model",
        "mlp:8",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        tmp_path / "run",
        env_extra={"TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert result.returncode == 0, result.stderr
    for line in START_UP_LINES:
        assert line not in result.stderr and line not in result.stdout


def test_they_can_be_asked_for(tmp_path):
    result = bplab(
        "train",
        "--engine",
        "tape",
        "--data",
        "digits",
        "--model",
        "mlp:8",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        tmp_path / "run",
        env_extra={"BPLAB_TF_LOGS": "1", "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert any(line in result.stderr for line in START_UP_LINES), result.stderr  # the check above is not vacuous
