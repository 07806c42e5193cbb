"""`--help` works for the root, every command and every sub-command (found by walking the app, so
commands added later are covered): exit 0, no traceback, and every command shows an example."""

from __future__ import annotations

import pytest
import typer

from backprop_lab.cli import app
from helpers.cli import bplab


def walk(command=None, path=()):
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from walk(sub, path + (name,))


PATHS = [(path, bool(getattr(cmd, "commands", None))) for path, cmd in walk()]


def test_the_walk_finds_every_command():
    leaves = {" ".join(p) for p, group in PATHS if not group}
    assert {"train", "compare", "sweep", "blend", "study", "data info", "transfer"} <= leaves and len(leaves) >= 12


@pytest.mark.parametrize("path, group", PATHS, ids=[" ".join(p) or "bplab" for p, _ in PATHS])
def test_help(path, group):
    result = bplab(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Usage:" in result.stdout
    if not group:
        assert "Example: bplab " + path[0] in result.stdout.replace("\n  ", " ")
