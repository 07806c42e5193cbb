"""Execute a notebook with a real Jupyter kernel: this test run's Python (the project's venv), whatever
kernels the machine has registered. The kernel spec is written into a temporary JUPYTER_PATH, which
Jupyter searches first, so a fresh clone needs only ``make test`` (ipykernel comes with the test extra)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def kernel_path(folder: Path) -> Path:
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "backprop-lab (tests)",
                "language": "python",
                "env": {"TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg"},
            }
        )
    )
    return folder


def execute(path: Path, cwd: Path, jupyter: Path, timeout: int = 600):
    """The notebook at ``path`` run top to bottom in ``cwd``; returns it with its outputs."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["JUPYTER_PATH"] = str(kernel_path(jupyter))
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(jupyter / "runtime"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def outputs(nb) -> list[dict]:
    """Every output of every code cell: {"text": ..., "html": ..., "svg": ..., "png": ...} (absent keys: none)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            data = out.get("data", {})
            found.append(
                {
                    "text": out.get("text", "") + data.get("text/plain", ""),
                    "html": data.get("text/html", ""),
                    "svg": data.get("image/svg+xml", ""),
                    "png": data.get("image/png", ""),
                    "latex": data.get("text/latex", ""),
                    "type": out.get("output_type"),
                }
            )
    return found
