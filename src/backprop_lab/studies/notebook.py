"""The study as a Jupyter notebook (``bplab study --notebook``, ``bl.study(..., notebook=path)``):
one markdown cell per section (its reading, note, numbers and command) and code cells that
reproduce the section through the Python API.

The code cells are translated from each section's own ``bplab`` command (``Section.command``), so
the notebook does what the report says was done: ``bplab train --engine tape --data digits --epochs 3
--out runs/tape`` becomes ``bl.train(engine="tape", data="digits", epochs=3, out="runs/tape",
force=True)``. Only the study's public objects are read (``load_study``'s Study, the Sections
``run_study`` returns). The file is written as nbformat 4 JSON by hand: no Jupyter package is
needed to write it, only to run it.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Mapping

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder

COMMAND = re.compile(r"bplab\s+([^&;#]*)")


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def api_call(args: list[str], functions: Mapping[str, Callable]) -> str:
    """One ``bplab`` command line (without ``bplab``) as the API call that does the same; ``force=True``
    where the function has it, so a cell can be run again. ``functions``: the API function of each command
    (``api.COMMAND_FUNCTIONS``, handed down so that this module needs no import of the API above it)."""
    if args[:2] == ["data", "info"]:
        fn, rest = functions["data info"], args[2:]
    else:
        if not args or args[0] not in functions:
            raise BplabError(f"not a bplab command: {' '.join(args)!r}")
        fn, rest = functions[args[0]], args[1:]
    name = fn.__name__
    params = inspect.signature(fn).parameters
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("--"):
            key = arg[2:].replace("-", "_")
            key = {"from": "from_", "json": None}.get(key, key)
            flag = i + 1 >= len(rest) or rest[i + 1].startswith("--")
            value: Any = True if flag else _value(rest[i + 1])
            i += 1 if flag else 2
            if key is None:
                continue
            if key not in params:
                raise BplabError(f"bplab {args[0]}: no keyword {key!r} in bl.{name}")
            if key == "grid":
                keywords.setdefault("grid", []).append(value)
            else:
                keywords[key] = value
        else:
            positional.append(_value(arg))
            i += 1
    if "force" in params and "out" in keywords:
        keywords["force"] = True
    parts = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    call = f"bl.{name}({', '.join(parts)})"
    return call + ".summary()" if name == "model" else call


def code_for(section, study, functions: Mapping[str, Callable]) -> str:
    """The code cell of one section: its command(s) through the API, each result displayed."""
    calls = []
    for text in COMMAND.findall(section.command):
        args = shlex.split(text)
        if "NAME" in args:  # one command per preset (the experiments section)
            presets = study.settings(section.key).get("presets", [])
            template = api_call([("{name}" if a == "NAME" else a) for a in args], functions)
            loop = template.replace("'{name}'", "name")
            calls.append(f"for name in {list(presets)!r}:\n    display({loop})")
            continue
        calls.append(f"display({api_call(args, functions)})")
    if not calls:
        return f"# no command to reproduce this section; the report shows it as it ran\n{section.key!r}"
    return "\n".join(calls)


def _markdown(i: int, section) -> str:
    lines = [f"## {i}. {section.title}", ""]
    lines += [line for line in section.reading.split("\n") if line] + [""]
    if section.note:
        lines += [f"> {section.note}", ""]
    if section.numbers:
        lines += ["| number | value in the report |", "|---|---|"]
        lines += [
            f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in section.numbers.items()
        ]
        lines.append("")
    lines += [
        "Reproduce on the command line:",
        "",
        "```sh",
        section.command,
        "```",
        "",
        "The cell below does the same through the Python API; change an argument and run it again.",
    ]
    return "\n".join(lines)


def _cell(kind: str, source: str, index: int) -> dict:
    cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def write_study_notebook(study, report, path: Path, functions: Mapping[str, Callable]) -> Path:
    """study.ipynb for a study that ran (``report.sections``); returns its path."""
    path = Path(path)
    make_folder(path.parent)
    sources: list[tuple[str, str]] = [
        (
            "markdown",
            f"# backprop-lab study\n\nThe study of `{study.source}` (preset {study.preset}) on "
            f"{study.common.get('data')}, section by section. Each section's markdown cell holds what the "
            f"report found; the code cell under it reproduces it with `import backprop_lab as bl`. Run the "
            f"cells top to bottom (the later sections use the runs of the earlier ones, as in the report).",
        ),
        ("code", "import backprop_lab as bl\nfrom IPython.display import display"),
    ]
    for i, section in enumerate(report.sections, start=1):
        sources.append(("markdown", _markdown(i, section)))
        sources.append(("code", code_for(section, study, functions)))
    doc = {
        "cells": [_cell(kind, text, i) for i, (kind, text) in enumerate(sources)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path
