"""`make lint` is part of the suite: the tree stays clean under the ruff configuration of pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_lint_is_clean(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    stamp = tmp_path / "installed"  # newer than pyproject.toml: make installs nothing
    stamp.touch()
    test_stamp = tmp_path / "installed-test"  # the test extras (ruff) are installed too
    test_stamp.touch()
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        ["make", "-s", "lint", f"STAMP={stamp}", f"TEST_STAMP={test_stamp}", f"BIN={bin_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
