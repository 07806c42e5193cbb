"""The app's commands: the root's help lists them, and `--help` works for the root, every command and every
sub-command, found by walking the Typer app (so commands added later are covered without editing this file): exit 0, no traceback, and
every command (leaf) shows an example. Each runs as the real command in a subprocess."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from helpers.cli import bplab

from backprop_lab.cli import app


def walk(command, path: tuple[str, ...] = ()):
    """(path, command, is_group) for the command and everything under it. A group is recognised
    by its sub-command mapping, not by class: Typer 0.29 ships its own copy of click, whose Group
    is not ``click.Group``."""
    subs = getattr(command, "commands", None)
    group = isinstance(subs, dict)
    yield path, command, group
    for name in sorted(subs or {}):
        yield from walk(subs[name], path + (name,))


ENTRIES = [(path, group) for path, _, group in walk(typer.main.get_command(app))]
LEAVES = [path for path, group in ENTRIES if not group]


def test_help_lists_every_command():
    result = bplab("--help")
    assert result.returncode == 0
    for command in ("summary", "data", "train", "gradcheck", "compare"):
        assert command in result.stdout


def test_the_walk_finds_commands_and_sub_commands():
    assert len(LEAVES) >= 9
    assert any(len(path) > 1 for path in LEAVES), "sub-commands (e.g. of `bplab data`) are walked into"
    assert ENTRIES[0] == ((), True)  # the root is a group


@pytest.mark.parametrize("path, group", ENTRIES, ids=["bplab " + " ".join(p) if p else "bplab" for p, _ in ENTRIES])
def test_help(path, group):
    result = bplab(*path, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Usage:" in result.stdout
    if not group:
        assert "Example" in result.stdout, f"`bplab {' '.join(path)} --help` shows no example"


ROOT = Path(__file__).resolve().parents[2]
MAKES = {"--out", "--keras", ">", "--weights-out", "--script"}  # what follows these an example writes
USER_DATA = {"--data-dir"}  # the user's own data folder, named as an example of one


def help_examples() -> list[list[str]]:
    """Every `Example: bplab ...` of every command's --help, split as a shell would (`A && B` is two)."""
    examples = []
    for _, command, group in walk(typer.main.get_command(app)):
        if group:
            continue
        for text in re.findall(r"Example: (bplab .*?)(?:\n\n|\Z)", command.help or "", flags=re.S):
            for part in " ".join(text.split()).split("&&"):
                examples.append(shlex.split(part.strip())[1:])
    return examples


def looks_like_a_path(arg: str) -> bool:
    return "/" in arg and ":" not in arg or bool(re.search(r"\.(json|toml|txt|csv|keras|npz|py)$", arg))


def test_every_help_example_names_a_file_that_exists_or_that_an_example_makes():
    examples = help_examples()
    made = {args[i + 1] for args in examples for i, a in enumerate(args[:-1]) if a in MAKES}
    assert "runs/mnist" in made and "chains.txt" in made  # the walk reads the examples' outputs
    for args in examples:
        for i, arg in enumerate(args):
            before = args[i - 1] if i else ""
            if before in MAKES | USER_DATA or not looks_like_a_path(arg):
                continue
            assert (ROOT / arg).exists() or arg in made, f"`bplab {' '.join(args)}` names {arg}: no such file"


def test_the_help_example_check_catches_a_missing_file():
    assert looks_like_a_path("mazur.json") and not (ROOT / "mazur.json").exists()
    assert not looks_like_a_path("mlp:2/act=sigmoid/out=sigmoid") and not looks_like_a_path("0.05,0.10")
