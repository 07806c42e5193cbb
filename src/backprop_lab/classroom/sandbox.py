"""Running a learner's functions in a child process, with every local variable recorded as it is assigned.

The child is forked (no re-import, a few milliseconds), runs with a memory limit (``RLIMIT_AS``: what the
process already maps plus ``memory_mb``) and its output thrown away; the parent waits at most ``timeout``
seconds and kills it after. These limits protect against accidents (an endless loop, a huge array), not
against malice: the learner's code runs with the user's own permissions.

A call is recorded with ``sys.settrace`` on the called function's frame only (helpers it calls run at
full speed): after each line, every local whose value changed (an array compared by content, so an
in-place ``dZ1[Z1 <= 0] = 0`` counts) is copied with the line that changed it, and each argument is
compared with what was passed, so a function that changes its inputs in place is caught at its line.
"""

from __future__ import annotations

import ast
import importlib.util
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

LEARNER_FILE = "<learner>"  # set in the child to the file the learner's module is imported from
MAX_RECORDS = 20_000  # changes recorded per call (a loop over examples stays far below)


@dataclass
class Call:
    """One call to make in the child: a function of the learner's module and its arguments by name."""

    label: str
    function: str
    kwargs: dict[str, Any]
    group: str = ""
    unless_clean: str | None = None  # skipped when this group ran without an error (a fallback)
    only_if_clean: str | None = None  # run only when this group ran without an error
    late: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # more arguments, made in the child from
    # what the earlier calls returned (by label): a cache shaped as the learner's forward function shapes it


@dataclass
class Record:
    """A local's (or a local dict's entry's) final value, the line that last changed it and when."""

    name: str  # the variable, or the dict entry as ``grads["dW1"]``
    key: str  # what maps it: the variable's name or the entry's key
    line: int
    order: int
    value: Any


@dataclass
class Outcome:
    """What a call did: its return value, its locals, or the error it raised (one line, with the learner's line)."""

    label: str
    returned: Any = None
    records: dict[str, Record] = field(default_factory=dict)
    error: str | None = None  # "ValueError: ..." when the call raised
    error_line: int | None = None
    error_hint: str | None = None  # the shapes that explain it, where they do
    mutated: list[tuple[str, int]] = field(default_factory=list)  # (argument, line) changed in place


@dataclass
class Stopped:
    """The child ran out of time (or died) during a call: its label and the last line it reached."""

    label: str
    line: int | None
    reason: str


def _freeze(value: Any) -> Any:
    """A copy that later changes cannot touch: arrays copied, dicts of arrays copied entry by entry."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (int, float, np.number, bool, str)):
        return value
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items() if isinstance(k, str) and isinstance(v, (np.ndarray, float))}
    if isinstance(value, (list, tuple)):
        return type(value)(_freeze(v) for v in value)
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)
        )
    try:
        return bool(a == b)
    except Exception:
        return False


class _Tracer:
    def __init__(self, code, args: dict[str, Any], progress):
        self.code = code
        self.records: dict[str, Record] = {}
        self.seen: dict[str, Any] = {}
        self.args = {k: _freeze(v) for k, v in args.items()}
        self.live_args = args
        self.mutated: list[tuple[str, int]] = []
        self.last_line: int | None = None
        self.order = 0
        self.progress = progress

    def _note(self, name: str, key: str, value: Any, line: int) -> None:
        if name in self.seen and _same(self.seen[name], value):
            return
        frozen = _freeze(value)
        self.seen[name] = frozen
        if len(self.records) < MAX_RECORDS:
            self.records[name] = Record(name, key, line, self.order, frozen)
            self.order += 1

    def snapshot(self, frame) -> None:
        line = self.last_line
        if line is None:  # the call's first line: the arguments as passed
            for name, value in frame.f_locals.items():
                self.seen[name] = _freeze(value)
                if isinstance(value, dict):
                    for k, v in value.items():
                        self.seen[f"{name}[{k!r}]"] = _freeze(v)
            return
        for name, value in frame.f_locals.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(k, str) and isinstance(v, np.ndarray):
                        self._note(f'{name}["{k}"]', k, v, line)
            elif isinstance(value, (np.ndarray, float, np.floating)):
                self._note(name, name, value, line)
        for arg, original in self.args.items():
            if arg in (m for m, _ in self.mutated):
                continue
            live = self.live_args[arg]
            if isinstance(original, dict):
                changed = any(not _same(original.get(k), v) for k, v in _freeze(live).items())
            else:
                changed = isinstance(live, np.ndarray) and not _same(original, live)
            if changed:
                self.mutated.append((arg, line))

    def local(self, frame, event, arg):
        if event in ("line", "return"):
            self.snapshot(frame)
            self.last_line = frame.f_lineno
            self.progress.value = frame.f_lineno
        return self.local

    def glob(self, frame, event, arg):
        return self.local if frame.f_code is self.code else None


def _shape(v: Any) -> str:
    return str(tuple(v.shape)) if hasattr(v, "shape") else type(v).__name__


def _hint(statement: str, env: dict[str, Any]) -> str | None:
    """The shapes behind a failing line: ``dZ2 (5, 10) @ W2 (128, 10) cannot multiply; W2.T (10, 128) would``."""
    try:
        tree = ast.parse(statement.strip())
    except SyntaxError:
        return None

    def operand(node):
        if isinstance(node, ast.Name) and hasattr(env.get(node.id), "shape"):
            return node.id, env[node.id]
        if isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.value, ast.Name):
            v = env.get(node.value.id)
            if hasattr(v, "shape"):
                return node.value.id + ".T", v.T
        return None

    for node in ast.walk(tree):
        pair = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            pair = operand(node.left), operand(node.right)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "dot",
            "matmul",
        ):
            if len(node.args) == 2:
                pair = operand(node.args[0]), operand(node.args[1])
        if not pair or None in pair:
            continue
        (ln, lv), (rn, rv) = pair
        if lv.ndim != 2 or rv.ndim != 2 or lv.shape[1] == rv.shape[0]:
            continue
        text = f"{ln} {_shape(lv)} @ {rn} {_shape(rv)} cannot multiply"
        flip = lambda n: n[:-2] if n.endswith(".T") else n + ".T"  # noqa: E731
        if lv.shape[1] == rv.shape[1]:
            return f"{text}; {flip(rn)} {_shape(rv.T)} would"
        if lv.shape[0] == rv.shape[0]:
            return f"{text}; {flip(ln)} {_shape(lv.T)} @ {rn} would"
        return text
    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and hasattr(env.get(n.id), "shape")})
    return ", ".join(f"{n} {_shape(env[n])}" for n in names) or None


def _run_call(namespace: dict, call: Call, progress, lines: list[str], returns: dict[str, Any]) -> Outcome:
    fn = namespace[call.function]
    outcome = Outcome(call.label)
    try:
        kwargs = {**call.kwargs, **(call.late(returns) if call.late else {})}
    except Exception as exc:  # ours: said as the call's error, never a traceback
        outcome.error = f"{type(exc).__name__}: {exc} (while preparing the arguments)"
        return outcome
    args = {k: _freeze(v) for k, v in kwargs.items()}  # copies: the learner may change them in place
    tracer = _Tracer(fn.__code__, args, progress)
    sys.settrace(tracer.glob)
    try:
        value = fn(**args)
        returns[call.label] = value
        outcome.returned = _freeze(value)
    except BaseException as exc:  # the learner's error is the verdict
        sys.settrace(None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == LEARNER_FILE]
        tb = exc.__traceback__
        env = {}
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == LEARNER_FILE:
                env = dict(tb.tb_frame.f_locals)
            tb = tb.tb_next
        message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        outcome.error = type(exc).__name__ + (f": {message}" if message else "")
        if frames:
            outcome.error_line = frames[-1].lineno
            if 0 < frames[-1].lineno <= len(lines):
                outcome.error_hint = _hint(lines[frames[-1].lineno - 1], env)
    finally:
        sys.settrace(None)
    outcome.records = tracer.records
    outcome.mutated = tracer.mutated
    return outcome


def _learner_line(exc: BaseException) -> int | None:
    """The line of the learner's module that raised (the last frame in their file)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == LEARNER_FILE]
    return frames[-1].lineno if frames else getattr(exc, "lineno", None)


def load_learner_module(source: str, folder: Path) -> tuple[dict[str, Any], list[str]]:
    """The learner's kept statements imported as a module from ``folder/learner.py``, as Python imports any
    file (the learner's line numbers stay theirs). A statement that raises (a module not installed here, a
    constant that fails) is reported, blanked and the module imported again without it."""
    global LEARNER_FILE
    lines = source.splitlines()
    statements = ast.parse(source).body
    path = folder / "learner.py"
    LEARNER_FILE = str(path)
    failed: list[str] = []
    for _ in range(len(statements) + 1):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        spec = importlib.util.spec_from_file_location("learner", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            break
        except BaseException as exc:  # the learner's module-level error: reported, and the statement left out
            line = _learner_line(exc)
            stmt = next((st for st in statements if line and st.lineno <= line <= (st.end_lineno or st.lineno)), None)
            text = str(exc).splitlines()[0][:120] if str(exc) else ""
            failed.append(f"line {stmt.lineno if stmt else line}: {type(exc).__name__}: {text}")
            if stmt is None:
                break
            lines[stmt.lineno - 1 : stmt.end_lineno] = [""] * ((stmt.end_lineno or stmt.lineno) - stmt.lineno + 1)
            statements.remove(stmt)
    return vars(module), failed


def _child(source: str, calls: list[Call], conn, progress, memory_mb: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        limit = mapped + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass
    lines = source.splitlines()
    folder = Path(tempfile.mkdtemp(prefix="bplab-learner-"))
    try:
        namespace, failed = load_learner_module(source, folder)
    finally:  # the module is compiled and loaded: its file is not needed again
        shutil.rmtree(folder, ignore_errors=True)
    conn.send(("module", failed))
    np.random.seed(0)
    clean: dict[str, bool] = {}
    returns: dict[str, Any] = {}  # what each call returned, as it returned it (for the calls' ``late``)
    for i, call in enumerate(calls):
        if (call.unless_clean and clean.get(call.unless_clean)) or (
            call.only_if_clean and not clean.get(call.only_if_clean)
        ):
            continue
        progress.value = 0
        conn.send(("start", i))
        outcome = _run_call(namespace, call, progress, lines, returns)
        clean[call.group] = clean.get(call.group, True) and outcome.error is None and outcome.returned is not None
        conn.send(("done", outcome))
    conn.send(("end", None))
    conn.close()


def run_calls(source: str, calls: list[Call], timeout: float = 10.0, memory_mb: int = 2048):
    """Runs ``calls`` on the module ``source`` in a forked child: (module errors, outcomes, stopped or None).

    ``source`` holds only what may run (imports, definitions, constants); each call's arguments are
    copied there. A call that outlives ``timeout`` (all calls together) or kills the child ends the run
    with a ``Stopped`` naming the call and the last line it reached.
    """
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    progress = ctx.Value("i", 0, lock=False)
    proc = ctx.Process(target=_child, args=(source, calls, child, progress, memory_mb), daemon=True)
    proc.start()
    child.close()
    deadline = time.monotonic() + timeout
    failed: list[str] = []
    outcomes: list[Outcome] = []
    current = None
    stopped = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not parent.poll(left):
                label = calls[current].label if current is not None else "the module"
                stopped = Stopped(label, progress.value or None, f"did not return within {timeout:g} s")
                break
            try:
                kind, payload = parent.recv()
            except (EOFError, OSError):
                label = calls[current].label if current is not None else "the module"
                code = proc.exitcode if proc.exitcode is not None else proc.join(1) or proc.exitcode
                why = "ran out of memory" if code in (-9, 1) else f"ended the process (exit {code})"
                stopped = Stopped(label, progress.value or None, why)
                break
            if kind == "module":
                failed = payload
            elif kind == "start":
                current = payload
            elif kind == "done":
                outcomes.append(payload)
            else:
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    return failed, outcomes, stopped
