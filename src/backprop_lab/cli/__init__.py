"""The ``bplab`` command line: ``app.py`` (the commands), ``options.py`` (options declared
once), ``output.py`` (the console and JSON); each result renders its own Table."""

from backprop_lab.cli.app import app, main

__all__ = ["app", "main"]
