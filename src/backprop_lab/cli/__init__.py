"""The ``bplab`` command line: ``app.py`` (the commands), ``options.py`` (options declared
once), ``tables.py`` (renderers)."""

from backprop_lab.cli.app import app, main

__all__ = ["app", "main"]
