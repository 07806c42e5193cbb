"""`--help` works for the root, every command and every sub-command, found by walking the Typer
app (so commands added later are covered without editing this file): exit 0, no traceback, and
every command (leaf) shows an example. Each runs as the real command in a subprocess."""

from __future__ import annotations

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
