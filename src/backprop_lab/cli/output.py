"""What every command prints through: the console (tables stay readable when piped) and JSON."""

from __future__ import annotations

import json
import sys

from rich.console import Console

from backprop_lab.core.files import jsonable

out = Console(width=None if sys.stdout.isatty() else 150)


def emit_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=jsonable))
