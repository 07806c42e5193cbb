"""The house's structure, read from the code: layers that only point down, no circles between files, imports at
the top of files except where they defer a heavy library, and `bplab --help` free of heavy libraries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "backprop_lab"
# Top to bottom: a package imports only packages listed below it (DESIGN.md's picture).
LAYERS = [
    "cli",
    "api",
    "studies",
    "classroom",
    "experiments",
    "analysis",
    "runs",
    "results",
    "viz",
    "training",
    "engines",
    "maths",
    "numerics",
    "datasets",
    "spec",
    "options",
    "core",
]
HEAVY = {
    "tensorflow",
    "keras",
    "ray",
    "numba",
    "jax",
    "jaxlib",
    "matplotlib",
    "sklearn",
    "mlxtend",
    "tensorboardX",
    "selenium",
    "nbclient",
    "nbformat",
    "IPython",
    "scipy",
    "graphviz",
    "threadpoolctl",
}
# Our modules that wrap a heavy library: importing one inside a function defers that library.
WRAPPERS = {
    "backprop_lab.engines.keras",
    "backprop_lab.engines.scratch",
    "backprop_lab.viz.plots",
    "backprop_lab.viz.drift",
    "backprop_lab.viz.render",
    "backprop_lab.viz.drawings",
    "backprop_lab.analysis.gradient_check",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path):
    """(imported module, line, at top level?) for each import of ours or of a third-party library."""
    tree = ast.parse(path.read_text())
    inside = {
        id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(f)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, id(node) not in inside
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            known = {module_name(p) for p in SRC.rglob("*.py")}
            for a in node.names:
                full = f"{node.module}.{a.name}"
                yield (full if full in known else node.module), node.lineno, id(node) not in inside


def graph() -> dict[str, list[tuple[str, int, bool]]]:
    return {module_name(p): [(m, line, t) for m, line, t in imports(p)] for p in sorted(SRC.rglob("*.py"))}


def test_every_package_is_on_a_floor():
    packages = {layer(module_name(p)) for p in SRC.rglob("*.py")} - {"__init__"}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_imports_point_down():
    upward = []
    for mod, deps in graph().items():
        if layer(mod) == "__init__":
            continue
        for dep, line, _ in deps:
            if dep.startswith("backprop_lab.") and layer(dep) != layer(mod):
                if LAYERS.index(layer(dep)) < LAYERS.index(layer(mod)):
                    upward.append(f"{mod}:{line} -> {dep}")
    assert not upward, "\n".join(upward)


def test_no_circles_between_files():
    full = graph()
    g = {mod: {d for d, _, _ in deps if d in full} for mod, deps in full.items()}
    for mod, deps in g.items():  # importing a.b.c first runs the package a.b's __init__
        for dep in list(deps):
            package = dep.rsplit(".", 1)[0]
            if package in full and package not in ("backprop_lab", mod) and not mod.startswith(package + "."):
                deps.add(package)
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for nxt in g[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in g:
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_imports_inside_functions_only_defer_heavy_libraries():
    offenders = []
    for mod, deps in graph().items():
        for dep, line, top in deps:
            if top or dep.split(".")[0] in HEAVY or any(dep == w or dep.startswith(w + ".") for w in WRAPPERS):
                continue
            if dep == "backprop_lab":  # __version__
                continue
            offenders.append(f"{mod}:{line} imports {dep} inside a function")
    assert not offenders, f"{len(offenders)} deferred imports of light modules:\n" + "\n".join(offenders)


def test_help_imports_no_heavy_library_and_answers_quickly():
    code = (
        "import sys, time; t = time.perf_counter(); from backprop_lab.cli.app import app\n"
        "try:\n    app(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & %r)\n"
        "print(heavy, time.perf_counter() - t)" % HEAVY
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    heavy = done.stdout.strip().splitlines()[-1]
    assert heavy.startswith("[]"), heavy
    assert wall < 1.5 * 3, wall  # 1.5 s on an idle machine; the suite runs two workers at once


RESULT_KEYS = (
    "test",
    "accuracy",
    "f1",
    "precision",
    "recall",
    "support",
    "confusion_matrix",
    "per_class",
    "macro_f1",
    "val_accuracy",
    "val_loss",
    "train_acc",
    "metrics",
    "report",
)


def test_results_are_read_by_attribute_not_by_string_key():
    """A result (a run's metrics, a classification report, an evaluation) is a typed object: no
    ``metrics["test"]``, ``report["accuracy"]`` or ``.get("f1")`` in src/, loaders included (they go
    through core/records.py, which reads a dataclass's fields by name)."""
    keys = "|".join(RESULT_KEYS)
    pattern = re.compile(rf"""([\w)\]]\[\s*|\.(get|pop)\(\s*)["']({keys})["']""")  # a subscript, not a list
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, "\n".join(found)
