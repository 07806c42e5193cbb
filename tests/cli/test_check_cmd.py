"""``bplab check-derivation`` (cli/check_cmd.py) on chain-rule lines, run as a real command: exit codes 0, 1
and 2, --json and the README example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.chains import MLP2, MLP4, chain, tex
from helpers.cli import bplab

README = Path(__file__).resolve().parents[2] / "README.md"


# ---------------------------------------------------------------------------------------------
# the command, as a user runs it


def write(tmp_path: Path, text: str, name: str = "derivation.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_exit_0_for_a_correct_derivation_and_1_with_the_report(tmp_path):
    good = write(tmp_path, chain(4, "W", 3) + "\n" + tex(4, 1) + "\n")
    result = bplab("check-derivation", good, "--model", MLP4, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 equations correct" in result.stdout
    bad = write(
        tmp_path,
        chain(4, "W", 3) + "\ndC/dW[2] = dC/da[4] * da[4]/dz[4] * dz[4]/da[3] * dz[3]/da[3] * dz[2]/dW[2]\n",
        "bad.txt",
    )
    result = bplab("check-derivation", bad, "--model", MLP4, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "line 2: wrong" in result.stdout and "z[3] depends on a[2], W[3] and b[3], not on a[3]" in result.stdout
    assert f"correct chain: {chain(4, 'W', 2)}" in result.stdout
    assert "Traceback" not in result.stderr


def test_cli_json(tmp_path):
    bad = write(tmp_path, "dC/dw[4] = dC/da[3] * da[3]/dz[3] * dz[3]/dw[4]\n")
    result = bplab("check-derivation", bad, "--model", MLP4, "--json", timeout=120)
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["correct"] is False and doc["layers"] == 4
    [eq] = doc["equations"]
    assert eq["line"] == 1 and "off-by-one" in [i["code"] for i in eq["issues"]]
    assert eq["expected"] == chain(4, "W", 4, w="w")


@pytest.mark.parametrize("case", ["missing file", "parse error", "unknown model", "folder"])
def test_cli_exit_2(tmp_path, case):
    path = write(tmp_path, chain(2, "W", 2) + "\n\ndC/dW[2] = dC/dq[2]\n")
    args = {
        "missing file": [tmp_path / "nope.txt", "--model", MLP2],
        "parse error": [path, "--model", MLP2],
        "unknown model": [write(tmp_path, chain(2, "W", 2), "good.txt"), "--model", "mlp:0x"],
        "folder": [tmp_path, "--model", MLP2],
    }[case]
    result = bplab("check-derivation", *args, timeout=120)
    assert result.returncode == 2, result.stdout
    if case == "parse error":  # the other lines are still judged
        assert "line 1: correct" in result.stdout and "line 3: unreadable" in result.stdout
        assert "column 16: unexpected 'q'" in result.stdout
        return
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    if case == "unknown model":
        assert "mlp:0x" in result.stderr


def test_the_readme_example_prints_what_the_readme_shows(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text.split("### Checking a hand derivation", 1)[1]
    blocks = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    derivation_file, shown = blocks[0], blocks[1]
    command, expected = shown.split("\n", 1)
    assert command.startswith("$ bplab check-derivation my-derivation.txt ")
    write(tmp_path, derivation_file, "my-derivation.txt")
    result = bplab(*command.split()[2:], cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout == expected
