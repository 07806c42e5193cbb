"""Checking a learner's own NumPy forward and backward propagation, tensor by tensor (``bplab check-code``).

1. The file (``.py`` or ``.ipynb``) is read and only its imports, definitions and constant assignments
   are kept; what is skipped (training code, data loading, prints) is listed.
2. The forward and backward functions are found by name, and their parameters mapped by name to the
   network's symbols (``X``, ``y_true``, ``W1``, ``b1``, ``Z1``, ``A1``, ``parameters``, ``cache``, ...).
3. They run in a child process (``sandbox.py``) on small random inputs whose sizes are pairwise distinct,
   in the row layout and, if that fails, the column layout, with a batch above every width and a batch of
   one. Every local is recorded with the line that assigned it. The backward function gets the correct
   forward values, so a forward bug and a backward bug are told apart.
4. Each recorded tensor the learner named (``Z1``, ``dZ2``, ``grads["dW1"]``) is compared with the
   correct value (the rules below, in the row layout). A wrong tensor whose own rule, applied to the
   learner's wrong inputs, gives the learner's value is wrong only because of them ("depends"); the
   others are blamed, the earliest first, and matched against the known mistakes of ``mistakes.py``.

The deltas may be the sums over the batch (``dZ2 = A2 - Y`` with 1/m in ``dW``) or the mean's
(``dZ2 = (A2 - Y) / m``): the scale is read from the first delta and the gradients must be those of the
batch-mean loss either way.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
import time
import types
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from backprop_lab.classroom.choices import L2_FORMS, check_l2_form, choose_loss, l2_factor
from backprop_lab.classroom.mistakes import CODE_MISTAKES
from backprop_lab.classroom.sandbox import Call, Outcome, run_calls
from backprop_lab.core.errors import BplabError
from backprop_lab.results.code_check import CodeCheck, TensorCheck
from backprop_lab.spec.model import Dense, Flatten, parse_model

INPUTS = {"x", "a0", "inputs", "input", "features", "xbatch", "xb"}
TARGETS = {"y", "ytrue", "t", "targets", "target", "labels", "label", "ybatch", "yb", "yonehot", "onehot"}
OUTPUTS = {"al", "yhat", "ypred", "output", "outputs", "probs", "probabilities", "predictions", "preds", "ahat", "out"}
PARAMS = {"parameters", "params", "weights", "model", "net", "network", "theta"}
CACHES = {"cache", "caches", "forwardcache", "fwdcache", "activations", "store"}
BATCH = {"m", "nsamples", "batchsize", "nexamples", "n"}
LAMBDAS = {"lambd", "lam", "lambda", "l2", "reg", "reglambda", "l2lambda", "alpha", "lmbda"}
ACTS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
    "softmax": (lambda z: _softmax(z), None),
}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- reading the learner's file -----------------------------------------------------------------


@dataclass
class Program:
    """What may run of a learner's file: the source with everything else blanked (line numbers kept)."""

    source: str
    skipped: list[str]
    functions: dict[str, ast.FunctionDef]
    cells: list[int] | None = None  # a notebook: the first line of each code cell

    def where(self, line: int | None) -> str:
        if line is None:
            return "?"
        if self.cells is None:
            return f"line {line}"
        cell = max(i for i, start in enumerate(self.cells) if start <= line)
        return f"cell {cell + 1}, line {line - self.cells[cell] + 1}"


def read_text(path: Path) -> tuple[str, list[int] | None]:
    """A ``.py`` file's text, or a notebook's code cells joined (magics and shell lines blanked)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BplabError(f"{path}: cannot read it as UTF-8 text ({exc.__class__.__name__})") from None
    if path.suffix.lower() != ".ipynb":
        return raw, None
    try:
        cells = [c for c in json.loads(raw)["cells"] if c.get("cell_type") == "code"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    except (ValueError, KeyError, TypeError):
        raise BplabError(f"{path}: not a Jupyter notebook (no readable 'cells')") from None
    lines: list[str] = []
    starts: list[int] = []
    for src in sources:
        starts.append(len(lines) + 1)
        lines += ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()] + [""]
    return "\n".join(lines), starts


def _constant(node: ast.AST, known: set[str]) -> bool:
    """An expression of literals, known constants and imported modules' attributes (``np.float64``)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_constant(e, known) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _constant(k, known) for k in node.keys) and all(
            _constant(v, known) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _constant(node.operand, known)
    if isinstance(node, ast.BinOp):
        return _constant(node.left, known) and _constant(node.right, known)
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.Attribute):
        return _constant(node.value, known)
    return False


def read_program(text: str, label: str, cells: list[int] | None = None) -> Program:
    """Keeps imports, function and class definitions and constant assignments; lists the rest as skipped."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        where = Program("", [], {}, cells).where(exc.lineno)
        raise BplabError(f"{label}: cannot be parsed as Python ({where}: {exc.msg})") from None
    lines = text.splitlines()
    known: set[str] = set()
    skipped: list[str] = []
    functions: dict[str, ast.FunctionDef] = {}
    program = Program("", skipped, functions, cells)
    for stmt in tree.body:
        keep = False
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            keep = True
            known |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            keep = True
            known.add(stmt.name)
            if isinstance(stmt, ast.FunctionDef):
                functions[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and _constant(stmt.value, known):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = [n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            keep = all(isinstance(t, (ast.Name, ast.Tuple)) for t in targets)
            if keep:
                known |= {n.id for n in names}
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        if not keep:
            first = lines[stmt.lineno - 1].strip()
            skipped.append(f"{program.where(stmt.lineno)}: {first[:60]}{'...' if len(first) > 60 else ''}")
            for i in range(stmt.lineno - 1, stmt.end_lineno or stmt.lineno):
                lines[i] = ""
    program.source = "\n".join(lines)
    return program


def _calls(fn: ast.FunctionDef) -> set[str]:
    return {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def find_function(program: Program, word: str, name: str | None, label: str) -> ast.FunctionDef:
    """The function named ``name``, else the one function whose name contains ``word`` that no other calls."""
    if name:
        if name not in program.functions:
            raise BplabError(f"{label}: no function {name!r} (it defines {', '.join(program.functions) or 'none'})")
        return program.functions[name]
    found = {n: f for n, f in program.functions.items() if word in n.lower()}
    called = set().union(*(_calls(f) for f in found.values())) if found else set()
    top = [n for n in found if n not in called]
    if len(top) == 1:
        return found[top[0]]
    if not found:
        raise BplabError(
            f"{label}: no function whose name contains {word!r} (it defines {', '.join(program.functions) or 'none'});"
            f" name yours, or give --{word} NAME"
        )
    raise BplabError(f"{label}: several {word} functions ({', '.join(top)}); choose one with --{word} NAME")


# --- names ------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[\s_\[\]\(\)'\"]", "", name).lower()


def symbol_of(name: str, L: int, first: int = 1) -> str | None:
    """The network symbol a learner's name stands for (``dL_dW1`` -> ``dW1``, ``y_hat`` -> ``A2``), or None.
    ``first`` is the number of the learner's first layer: 0 where they name it ``W0``, ``b0`` (``dW0`` is then
    the symbol ``dW1``, and ``A0`` the first layer's output, not the input)."""
    n = _norm(name)
    if n in INPUTS and not (first == 0 and n == "a0"):
        return "A0"
    if n in OUTPUTS:
        return f"A{L}"
    if n in ("zl", "zout"):
        return f"Z{L}"
    if n in ("dzl", "dzout", "deltal", "deltaout", "outputdelta"):
        return f"dZ{L}"
    m = re.fullmatch(r"(z|a|w|b)(\d+)", n)
    if m:
        sym = {"z": "Z", "a": "A", "w": "W", "b": "b"}[m[1]] + m[2]
    elif m := re.fullmatch(r"d(?:l|j|c|e|loss|cost)?d?(z|a|w|b)(\d+)", n):
        sym = {"z": "dZ", "a": "dA", "w": "dW", "b": "db"}[m[1]] + m[2]
    elif m := re.fullmatch(r"(?:delta|error|err)(\d+)", n):
        sym = f"dZ{m[1]}"
    else:
        return None
    base = sym.rstrip("0123456789")
    l = int(re.search(r"\d+$", sym)[0]) + 1 - first
    sym = f"{base}{l}"
    ok = (0 <= l <= L) if base == "A" else (1 <= l < L) if base == "dA" else (1 <= l <= L)
    return sym if ok else None


def _kind(sym: str) -> tuple[str, int]:
    m = re.fullmatch(r"([a-zA-Z]+)(\d+)", sym)
    return m[1], int(m[2])


# --- the network and its correct values ---------------------------------------------------------------


@dataclass
class Net:
    """A learner's MLP as the check sees it: sizes n0..nL, activations of layers 1..L, loss, L2."""

    sizes: list[int]
    acts: list[str]
    loss: str
    l2: float
    l2_form: str
    data: str = ""  # the data set the input and output sizes were taken from ("" when chosen here)
    nudged: list[str] = field(default_factory=list)  # hidden widths moved off a size another tensor has
    first: int = 1  # the number the learner gives the first layer (W1, or W0)

    @property
    def L(self) -> int:
        return len(self.acts)

    def act(self, l: int) -> str:
        return self.acts[l - 1]


@dataclass(frozen=True)
class DataSizes:
    """The sizes ``--data`` gives the check: the data set's features per example and its classes."""

    name: str
    features: int
    classes: int


def _distinct(widths: list[int], taken: set[int]) -> tuple[list[int], list[str]]:
    """The hidden widths, each moved up to the next size no other tensor has (and what moved)."""
    out, moved = [], []
    for w in widths:
        new = w
        while new in taken:
            new += 1
        if new != w:
            moved.append(f"{w} -> {new}")
        out.append(new)
        taken.add(new)
    return out, moved


def make_net(model: str, loss: str | None, l2: float, l2_form: str, data: DataSizes | None = None) -> Net:
    """The network the check runs. Without ``data`` every size is chosen small and pairwise distinct;
    with it the inputs and outputs are the data set's and the hidden widths the model's (moved where
    one equals another size, so that a transposition still shows)."""
    if not model.strip().startswith("mlp:") and not model.strip().lower().endswith((".json", ".toml")):
        raise BplabError(f"model {model!r}: check-code covers MLPs (mlp:W1,W2,... with /act= and /out=)")
    spec = parse_model(model, (data.features,) if data else (6,), data.classes if data else 3)
    dense = [layer for layer in spec.layers if not isinstance(layer, Flatten)]
    if not dense or not all(isinstance(layer, Dense) for layer in dense):
        raise BplabError(f"model {model!r}: check-code covers MLPs (mlp:W1,W2,... with /act= and /out=)")
    acts = [layer.activation for layer in dense]
    if any(a not in ACTS for a in acts) or "softmax" in acts[:-1]:
        raise BplabError(f"model {model!r}: activations must be relu, sigmoid, tanh or linear (softmax at the output)")
    K = {"sigmoid": 1}.get(acts[-1], 3)
    loss = choose_loss(loss, acts[-1])
    check_l2_form(l2_form)
    if not (l2 >= 0 and np.isfinite(l2)):
        raise BplabError(f"--l2 {l2}: must be a finite number >= 0")
    if data is not None:
        K = 1 if acts[-1] == "sigmoid" and data.classes <= 2 else dense[-1].units  # binary: one unit
        hidden, moved = _distinct([layer.units for layer in dense[:-1]], {data.features, K})
        return Net([data.features, *hidden, K], acts, loss, l2, l2_form, data.name, moved)
    pool = [n for n in (7, 5, 9, 4, 11, 10, 8, 12, 14, 15, 16, 17) if n not in (6, K)]
    hidden = len(acts) - 1
    if hidden > len(pool):
        raise BplabError(f"model {model!r}: check-code takes at most {len(pool)} hidden layers")
    return Net([6, *pool[:hidden], K], acts, loss, l2, l2_form)


class Values:
    """The correct rule of every symbol (row layout), applied to values from ``get``: the correct
    values when ``get`` is this object's own, the learner-consistent ones when it is the learner's."""

    def __init__(self, net: Net, base: dict[str, np.ndarray], s: float, get=None):
        self.net, self.base, self.s = net, base, s
        self.m = base["A0"].shape[0]
        self.cache: dict[str, np.ndarray] = {}
        self.getter = get

    def get(self, sym: str) -> np.ndarray:
        if self.getter is not None:
            v = self.getter(sym)
            if v is not None:
                return v
        if sym in self.base:
            return self.base[sym]
        if sym not in self.cache:
            self.cache[sym] = self.local(sym)
        return self.cache[sym]

    # the rules, each a line of the derivation in the row layout
    def g(self, name: str, z):
        return ACTS[name][0](z)

    def dg(self, name: str, z):
        if name == "softmax":
            a = _softmax(z)
            return a * (1 - a)
        return ACTS[name][1](z)

    def act(self, l: int) -> str:
        return self.net.act(l)

    @property
    def l2(self) -> float:
        return self.net.l2

    @property
    def l2_form(self) -> str:
        return self.net.l2_form

    @property
    def cross_entropy(self) -> bool:
        return "crossentropy" in self.net.loss

    def l2_grad(self, l: int, form: str | None = None) -> np.ndarray:
        lam, W, m = self.net.l2, self.get(f"W{l}"), self.m
        return l2_factor(form or self.net.l2_form, m) * lam * W

    def data_grad(self, l: int) -> np.ndarray:
        return self.get(f"A{l - 1}").T @ self.get(f"dZ{l}") / self.s

    def local(self, sym: str) -> np.ndarray:
        kind, l = _kind(sym)
        L, m = self.net.L, self.m
        if kind == "Z":
            return self.get(f"A{l - 1}") @ self.get(f"W{l}") + self.get(f"b{l}").reshape(1, -1)
        if kind == "A":
            return self.g(self.act(l), self.get(f"Z{l}"))
        if kind == "dZ" and l == L:
            a, y = self.get(f"A{L}"), self.base["Y"]
            if self.cross_entropy:
                return self.s * (a - y) / m
            k = {"mse": 2 / a.shape[1], "squared_error": 2.0, "half_squared_error": 1.0}[self.net.loss]
            return self.s * k * (a - y) / m * self.dg(self.act(L), self.get(f"Z{L}"))
        if kind == "dA":
            return self.get(f"dZ{l + 1}") @ self.get(f"W{l + 1}").T
        if kind == "dZ":
            return self.get(f"dA{l}") * self.dg(self.act(l), self.get(f"Z{l}"))
        if kind == "dW":
            return self.data_grad(l) + (self.l2_grad(l) if self.net.l2 else 0)
        if kind == "db":
            return self.get(f"dZ{l}").sum(axis=0) / self.s
        raise KeyError(sym)


def make_inputs(net: Net, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    base = {"A0": rng.normal(size=(m, net.sizes[0]))}
    for l in range(1, net.L + 1):
        base[f"W{l}"] = rng.normal(size=(net.sizes[l - 1], net.sizes[l])) * np.sqrt(2 / net.sizes[l - 1])
        base[f"b{l}"] = rng.uniform(-0.5, 0.5, size=(net.sizes[l],))
    K = net.sizes[-1]
    labels = rng.permutation(np.arange(m) % max(K, 2))
    base["labels"] = labels
    base["Y"] = labels.reshape(-1, 1).astype(float) if K == 1 else np.eye(K)[labels]
    if net.loss in ("mse", "squared_error", "half_squared_error") and K > 1:
        base["Y"] = rng.uniform(0.1, 0.9, size=(m, K))
    return base


# --- mapping parameters and return values ------------------------------------------------------------------


def _layout(value: np.ndarray, sym: str, cols: bool) -> np.ndarray:
    """A row-layout value as the learner's layout holds it: biases (1, n) or (n, 1), the rest transposed in columns."""
    if sym.startswith("b"):
        return value.reshape(-1, 1) if cols else value.reshape(1, -1)
    return value.T if cols and value.ndim == 2 else value


def _to_rows(value: Any, cols: bool) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 2 and cols:
        return value.T
    return value


def map_arguments(
    fn: ast.FunctionDef, net: Net, values: Values, cols: bool, labels: bool, label: str
) -> dict[str, Any]:
    """The arguments of a learner's function by its parameter names (correct values, the learner's layout)."""
    L = net.L
    y = values.base["labels"] if labels else values.base["Y"]
    args: dict[str, Any] = {}
    params = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    n_defaults = len(fn.args.defaults)
    with_default = {
        a.arg for a in (fn.args.posonlyargs + fn.args.args)[len(fn.args.posonlyargs + fn.args.args) - n_defaults :]
    }
    with_default |= {a.arg for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None}
    shift = 1 - net.first  # the learner's number of a layer is l - shift
    everything = {f"{k}{l - shift}": values.get(f"{k}{l}") for l in range(1, L + 1) for k in ("W", "b", "Z", "A")}
    for p in params:
        n = _norm(p.arg)
        sym = symbol_of(p.arg, L, net.first)
        if n in TARGETS:
            args[p.arg] = _layout(y, "Y", cols) if y.ndim == 2 else y
        elif sym and sym[0] in "WbZA" and not sym.startswith("d"):
            args[p.arg] = _layout(values.get(sym), sym, cols)
        elif n in PARAMS:
            args[p.arg] = {k: _layout(v, k, cols) for k, v in everything.items() if k[0] in "Wb"}
        elif n in CACHES:
            args[p.arg] = {k: _layout(v, k, cols) for k, v in {"A0": values.get("A0"), **everything}.items()}
            if shift:  # "A0" is a layer's output in 0-based names; the input is "X"
                args[p.arg]["X"] = _layout(values.get("A0"), "A0", cols)
        elif n in BATCH:
            args[p.arg] = values.m
        elif n in LAMBDAS:
            args[p.arg] = net.l2
        elif p.arg in with_default or p.arg in ("self",):
            continue
        else:
            raise BplabError(
                f"{label}: {fn.name}'s parameter {p.arg!r} cannot be mapped; name it as the network's tensors "
                f"(X, y_true, W1, b1, Z1, A1, ..., up to layer {L}) or pass the dicts parameters / cache"
            )
    return args


def forward_symbols(net: Net, values: Values, cols: bool) -> dict[str, np.ndarray]:
    """The input and every layer's W, b, Z and A, correct, as the learner's layout holds them."""
    out = {"A0": _layout(values.get("A0"), "A0", cols)}
    for l in range(1, net.L + 1):
        out |= {f"{k}{l}": _layout(values.get(f"{k}{l}"), f"{k}{l}", cols) for k in ("W", "b", "Z", "A")}
    return out


def identify(leaf: np.ndarray, known: dict[str, np.ndarray]) -> str | None:
    """Which tensor of the forward pass a cache's array is: the one it equals, else the nearest of its shape."""
    fits = [s for s, v in known.items() if _fits(leaf, v)]
    if not fits:
        return None
    distance = {s: float(np.abs(leaf.reshape(known[s].shape) - known[s]).max(initial=0.0)) for s in fits}
    return min(fits, key=lambda s: (distance[s], s[0] != "Z"))


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    return [a for v in value for a in _arrays(v)] if isinstance(value, (list, tuple)) else []


def _scoped(value: Any, known: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The tensors a part of a cache can hold: one layer's (A_prev, W, b, Z, A) where the part holds
    exactly one layer's weights (the weights pass through a forward function unchanged), else all."""
    layers = {
        int(s[1:])
        for s in known
        if s[0] == "W"
        for a in _arrays(value)
        if a.shape == known[s].shape and np.array_equal(a, known[s])
    }
    if len(layers) != 1:
        return known
    l = layers.pop()
    return {s: v for s, v in known.items() if s in (f"A{l - 1}", f"W{l}", f"b{l}", f"Z{l}", f"A{l}")}


def cache_leaves(value: Any, known: dict[str, np.ndarray], path: str = "") -> list[tuple[str, str, np.ndarray]]:
    """(path, symbol, array) of each array in a list-or-tuple cache (``caches[0][1]`` is Z1 in the
    deeplearning.ai course's ``((A_prev, W, b), Z)`` per layer): a layer's part is told by its weights, and
    each array in it by its shape (by its value where two of its tensors have the same shape)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        sym = identify(value, known)
        return [(path, sym, value)] if sym else []
    if isinstance(value, (list, tuple)):
        scope = _scoped(value, known)
        return [leaf for i, v in enumerate(value) for leaf in cache_leaves(v, scope, f"{path}[{i}]")]
    return []


def correct_cache(value: Any, known: dict[str, np.ndarray]) -> Any:
    """The learner's list-or-tuple cache with each array replaced by the correct value of the tensor it
    holds, so their backward function is fed correct forward values in the structure it expects."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        sym = identify(value, known)
        return known[sym].reshape(value.shape).copy() if sym else value.copy()
    if isinstance(value, (list, tuple)):
        scope = _scoped(value, known)
        return type(value)(correct_cache(v, scope) for v in value)
    return value


def late_caches(fwd: ast.FunctionDef, bwd: ast.FunctionDef, label: str, known: dict[str, np.ndarray]):
    """The backward call's ``late`` arguments: where the forward function returned its cache as a list or a
    tuple (not a dict), the backward's cache parameters get that structure with correct values."""
    wanted = [a.arg for a in bwd.args.args + bwd.args.kwonlyargs if _norm(a.arg) in CACHES]
    names = _returned_names(fwd) or []

    def late(returns: dict[str, Any]) -> dict[str, Any]:
        got = returns.get(label)
        items = list(got) if isinstance(got, tuple) else [got]
        if len(names) == len(items):
            items = [v for n, v in zip(names, items) if n is None or _norm(n) in CACHES]
        lists = [v for v in items if isinstance(v, (list, tuple)) and cache_leaves(v, known)]
        return {p: correct_cache(lists[0], known) for p in wanted} if wanted and len(lists) == 1 else {}

    return late


def _returned_names(fn: ast.FunctionDef) -> list[str | None] | None:
    """The names of the last ``return``'s values (None for an expression), or None for no return statement."""
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
    if not returns:
        return None
    value = returns[-1].value
    elts = value.elts if isinstance(value, ast.Tuple) else [value]
    return [e.id if isinstance(e, ast.Name) else None for e in elts]


def returned_symbols(
    fn, outcome: Outcome, net: Net, values: Values, cols: bool, kinds: tuple[str, ...], label: str
) -> dict[str, tuple[str, Any]]:
    """symbol -> (the learner's name, value) for what a call returned: by the return's names, a dict's keys, or shape."""
    got = outcome.returned
    names = _returned_names(fn) or []
    items = list(got) if isinstance(got, tuple) else [got]
    if len(names) != len(items):
        names = [None] * len(items)
    found: dict[str, tuple[str, Any]] = {}
    unnamed = []
    for i, (name, value) in enumerate(zip(names, items)):
        if isinstance(value, dict):
            for k, v in value.items():
                sym = symbol_of(k, net.L, net.first)
                if sym and isinstance(v, np.ndarray):
                    found.setdefault(sym, (f'{name or "returned dict"}["{k}"]', v))
            continue
        if isinstance(value, (list, tuple)) and "Z" in kinds:  # a course-style cache: its Z and A, by shape
            for path, sym, v in cache_leaves(value, forward_symbols(net, values, cols)):
                if sym[0] in "ZA" and sym != "A0":
                    found.setdefault(sym, (f"{name or f'return value {i + 1}'}{path}", v))
            continue
        sym = symbol_of(name, net.L, net.first) if name else None
        if sym:
            found.setdefault(sym, (name, value))
        elif isinstance(value, np.ndarray):
            unnamed.append((i, name, value))
    wanted = [f"{k}{l}" for l in range(1, net.L + 1) for k in kinds]
    for i, name, value in unnamed:
        shaped = [s for s in wanted if _fits(value, _layout(values.get(s), s, cols))]
        fits = [s for s in shaped if s not in found]
        if shaped and not fits:
            continue  # a tensor already returned by name (as the cache's entry)
        if f"A{net.L}" in fits:  # an unnamed array of the output's shape that a forward function returns
            fits = [f"A{net.L}"]
        if len(fits) != 1:
            raise BplabError(
                f"{label}: cannot tell what {fn.name}'s return value {i + 1} is; return named variables "
                f"(return dW1, db1, dW2, db2)"
            )
        found[fits[0]] = (name or f"return value {i + 1}", value)
    return found


def _fits(value: np.ndarray, expected: np.ndarray) -> bool:
    return value.shape == expected.shape or (_vector(value) and _vector(expected) and value.size == expected.size)


def _vector(v: np.ndarray) -> bool:
    return v.ndim <= 2 and max(v.shape, default=1) == v.size


# --- comparing -------------------------------------------------------------------------------------------

ROWS, COLS = "rows (one example per row)", "columns (one example per column)"
INPUTS_OF = {
    "Z": lambda l, L: [f"A{l - 1}", f"W{l}", f"b{l}"],
    "A": lambda l, L: [f"Z{l}"],
    "dZ": lambda l, L: [f"A{l}"] if l == L else [f"dA{l}", f"Z{l}"],
    "dA": lambda l, L: [f"dZ{l + 1}", f"W{l + 1}"],
    "dW": lambda l, L: [f"A{l - 1}", f"dZ{l}"],
    "db": lambda l, L: [f"dZ{l}"],
}


def compare(value: Any, correct: np.ndarray) -> tuple[bool, float | None, str]:
    """(equal to tolerance, max |difference|, the shape): biases (n,), (1, n) and (n, 1) count as the same."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False, None, type(value).__name__
    shape = str(tuple(a.shape))
    if a.shape != correct.shape:
        if not (_vector(a) and _vector(correct) and a.size == correct.size):
            return False, None, f"{shape}, expected {tuple(correct.shape)}"
        a = a.reshape(correct.shape)
    rtol = 1e-4 if np.asarray(value).dtype == np.float32 else 1e-7
    scale = max(float(np.abs(correct).max(initial=0.0)), 1e-3)
    diff = float(np.abs(a - correct).max(initial=0.0)) if np.all(np.isfinite(a)) else float("inf")
    return diff <= rtol * scale + 1e-12, diff, shape


@dataclass
class Seen:
    """A tensor the learner named, in the row layout."""

    name: str
    symbol: str
    line: int | None
    order: int
    value: Any


def seen_tensors(outcome: Outcome, returned: dict, net: Net, cols: bool, skip=frozenset()) -> list[Seen]:
    out = []
    for r in outcome.records.values():
        sym = symbol_of(r.key, net.L, net.first)
        if sym and sym not in skip and isinstance(r.value, np.ndarray) and not sym.startswith(("W", "b")):
            out.append(Seen(r.name, sym, r.line, r.order, _to_rows(r.value, cols)))
    names, symbols = {s.name for s in out}, {s.symbol for s in out}
    for sym, (name, value) in returned.items():
        if name in names or sym in skip:
            continue
        kind, l = _kind(sym)
        if kind in ("Z", "A"):  # a forward value seen only in a returned cache: in the network's order, first
            if sym in symbols:
                continue
            order = -(10**6) + 2 * l + (kind == "A")
        else:
            order = 10**9
        out.append(Seen(name, sym, None, order, _to_rows(value, cols)))
    return sorted(out, key=lambda s: s.order)


def _target(sym: str, L: int) -> str:
    kind, l = _kind(sym)
    return {"A": "AL", "dZ": "dZL"}.get(kind, kind) if l == L else kind


def _from_delta(ctx: Values, l: int, kind: str, delta: np.ndarray) -> np.ndarray:
    """dW or db of layer l computed from a delta (the rules of ``Values.local``)."""
    if kind == "dW":
        return ctx.get(f"A{l - 1}").T @ delta / ctx.s + (ctx.l2_grad(l) if ctx.l2 else 0)
    return delta.sum(axis=0) / ctx.s


def imply_deltas(seen: list[Seen], learner: dict[str, Any], net: Net, base: dict, s: float) -> dict[str, Any]:
    """The deltas the learner did not name, read back from their dW and db, output layer first: the correct
    rule on their own inputs, or a known mistake's value, whichever gives every dW and db of that layer
    they computed. Each is added to ``learner`` (so later tensors are judged against it: wrong only because
    of it is "depends"); returned: delta -> the mistake that makes it (None: the rule on the learner's inputs)."""
    grads = {t.symbol: t for t in seen}
    implied: dict[str, Any] = {}
    for l in range(net.L, 0, -1):
        delta_sym = f"dZ{l}"
        targets = [grads[f"{k}{l}"] for k in ("dW", "db") if f"{k}{l}" in grads]
        if delta_sym in learner or not targets:
            continue
        ctx = Values(net, base, s, learner.get)
        ctx.sym = delta_sym
        hypotheses = [None] + [m for m in CODE_MISTAKES if _target(delta_sym, net.L) in m.targets]
        for mistake in hypotheses:
            try:
                with np.errstate(all="ignore"):
                    delta = ctx.local(delta_sym) if mistake is None else mistake.value(ctx, l)
                    if delta is None:
                        continue
                    fits = all(
                        compare(t.value, np.asarray(_from_delta(ctx, l, _kind(t.symbol)[0], delta), dtype=float))[0]
                        for t in targets
                    )
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError):
                continue
            if fits:
                learner[delta_sym], implied[delta_sym] = delta, (delta, mistake)
                break
    return implied


def judge(
    seen: list[Seen],
    correct: Values,
    consistent: Values,
    function: str,
    program: Program,
    implied: dict[str, Any] | None = None,
) -> list[TensorCheck]:
    """Each seen tensor: ok, wrong only through wrong inputs ("depends"), or wrong itself, with its known cause.
    ``implied``: the unnamed deltas found wrong (``imply_deltas``); each is blamed in the first of its layer's
    dW and db, and what uses it depends on it."""
    L = correct.net.L
    first = correct.net.first
    implied = implied or {}
    checks: list[TensorCheck] = []
    wrong: dict[str, str] = {
        d: f"the delta of layer {_kind(d)[1] + first - 1} (unnamed)"
        for d, (value, mistake) in implied.items()
        if mistake is not None or not compare(value, correct.get(d))[0]
    }
    blamed: set[str] = set()
    for t in seen:
        ok, diff, shape = compare(t.value, correct.get(t.symbol))
        where = program.where(t.line) if t.line else "returned"
        check = TensorCheck(function, t.name, t.symbol, where, "ok", diff, shape)
        if not ok:
            kind, l = _kind(t.symbol)
            upstream = [wrong[s] for s in INPUTS_OF[kind](l, L) if s in wrong] or list(wrong.values())
            try:
                same_rule = compare(t.value, consistent.local(t.symbol))[0]
            except (ValueError, TypeError):
                same_rule = False
            delta = f"dZ{l}"
            mistake = implied[delta][1] if delta in implied else None
            if same_rule and kind in ("dW", "db") and mistake is not None and delta not in blamed:
                blamed.add(delta)
                name = f"the delta of layer {l + first - 1} (unnamed; in {t.name})"
                check.status, check.cause = "wrong", _says(mistake, name, consistent, l)
            elif same_rule and wrong:
                check.status, check.cause = (
                    "depends",
                    "wrong only because it uses " + ", ".join(dict.fromkeys(upstream)),
                )
            else:
                check.status, check.cause = "wrong", _cause(t, consistent, l)
            wrong[t.symbol] = t.name
        checks.append(check)
    return checks


def _cause(t: Seen, ctx: Values, l: int) -> str:
    target = _target(t.symbol, ctx.net.L)
    ctx.sym = t.symbol
    for mistake in CODE_MISTAKES:
        if target not in mistake.targets:
            continue
        try:
            with np.errstate(all="ignore"):
                value = mistake.value(ctx, l)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError):
            continue
        if value is not None and compare(t.value, np.asarray(value, dtype=float))[0]:
            return _says(mistake, t.name, ctx, l)
    delta = f"dZ{l}"
    if target in ("dW", "db") and ctx.getter is not None and ctx.getter(delta) is None:
        return _unnamed_delta_cause(t, ctx, l, target)
    return "wrong, no known cause"


def _unnamed_delta_cause(t: Seen, ctx: Values, l: int, target: str) -> str:
    """A gradient whose delta the learner did not name: the delta's mistakes, carried into dW or db."""
    ctx.sym = f"dZ{l}"
    for mistake in CODE_MISTAKES:
        if _target(ctx.sym, ctx.net.L) not in mistake.targets:
            continue
        try:
            with np.errstate(all="ignore"):
                delta = mistake.value(ctx, l)
                if delta is None:
                    continue
                value = (
                    ctx.get(f"A{l - 1}").T @ delta / ctx.s + (ctx.l2_grad(l) if ctx.l2 else 0)
                    if target == "dW"
                    else delta.sum(axis=0) / ctx.s
                )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError):
            continue
        if compare(t.value, np.asarray(value, dtype=float))[0]:
            return _says(mistake, f"the delta of layer {l + ctx.net.first - 1} (unnamed; in {t.name})", ctx, l)
    return "wrong, no known cause"


def _says(mistake, name: str, ctx: Values, l: int) -> str:
    """A mistake's message in the learner's names (their layer numbers; ``X`` for the input when they count from 0)."""
    shift = 1 - ctx.net.first
    text = mistake.says.format(
        name=name, l=l - shift, prev=l - 1 - shift, act=ctx.act(l), m=ctx.m, l2_form=L2_FORMS[ctx.net.l2_form]
    )
    return text.replace("A-1", "X")


# --- the check -------------------------------------------------------------------------------------------------


def _uses_labels(fns) -> bool:
    text = "\n".join(ast.unparse(f) for f in fns)
    return bool(re.search(r"\[\s*(np\.)?(arange|range)\(|\beye\(|one_?hot", text))


def _failure(fn: ast.FunctionDef, outcome: Outcome, program: Program) -> str:
    line = outcome.error_line
    stmt = program.source.splitlines()[line - 1].strip() if line else ""
    error = outcome.error if len(outcome.error or "") < 140 else outcome.error[:137] + "..."
    hint = f" ({outcome.error_hint})" if outcome.error_hint else ""
    return f"{fn.name}, {program.where(line)}: {stmt}: {error}{hint}" if line else f"{fn.name}: {error}{hint}"


def check_program(
    program: Program,
    label: str,
    model: str,
    net: Net,
    forward: str | None = None,
    backward: str | None = None,
    timeout: float = 10.0,
    memory_mb: int = 2048,
) -> CodeCheck:
    """Runs and judges a learner's forward and backward functions (see the module's docstring)."""
    start = time.perf_counter()
    fwd = find_function(program, "forward", forward, label)
    bwd = find_function(program, "backward", backward, label)
    if net.first == 1 and counts_from_zero(program.source):
        net = replace(net, first=0)
    rng = np.random.default_rng(0)
    M = max(net.sizes) + 2  # a batch above every width, so no shape can stand for another
    bases = {"M": make_inputs(net, M, rng), "1": make_inputs(net, 1, rng)}
    labels = net.sizes[-1] > 1 and "crossentropy" in net.loss and _uses_labels([fwd, bwd])
    calls = []
    for size, base in bases.items():
        values = Values(net, base, 1.0)
        for layout, cols in (("rows", False), ("cols", True)):
            group = f"{layout} {size}"
            cond = {"unless_clean": "rows M"} if group == "cols M" else {}
            cond = {"only_if_clean": f"{layout} M"} if size == "1" else cond
            known = forward_symbols(net, values, cols)
            late = late_caches(fwd, bwd, f"{group} {fwd.name}", known)
            for fn in (fwd, bwd):
                args = map_arguments(fn, net, values, cols, labels, label)
                calls.append(Call(f"{group} {fn.name}", fn.name, args, group, **cond, late=late if fn is bwd else None))
    failed, outcomes, stopped = run_calls(program.source, calls, timeout, memory_mb)
    if net.first == 1 and any(re.fullmatch(r"KeyError: '(d?[WbZA])0'", o.error or "") for o in outcomes):
        # the learner's dicts count layers from 0 ("W" + str(l) for l in range(L)): check again so
        return check_program(program, label, model, replace(net, first=0), forward, backward, timeout, memory_mb)
    by_label = {o.label: o for o in outcomes}
    result = CodeCheck(label, model, "correct", "", fwd.name, bwd.name, skipped=program.skipped)
    result.sizes = describe_sizes(net, M)
    if net.first == 0:
        result.notes.append("layers counted from 0, as in your names: W0, b0 are the first layer's")
    result.notes += [f"not run: {f}" for f in failed]

    def ran(group: str, fns) -> bool:
        return all(
            (o := by_label.get(f"{group} {fn.name}")) is not None and o.error is None and o.returned is not None
            for fn in fns
        )

    cols = not ran("rows M", (fwd, bwd)) and (
        ran("cols M", (fwd, bwd)) or (not ran("rows M", [fwd]) and ran("cols M", [fwd]))
    )
    result.layout = COLS if cols else ROWS
    layout = "cols" if cols else "rows"
    judged: list[TensorCheck] = []
    for size in ("M", "1"):
        if size == "1":
            judged, result.tensors = result.tensors, []
        if _judge_size(result, program, net, fwd, bwd, bases[size], by_label, f"{layout} {size}", cols, stopped, label):
            if size == "1":
                result.message += " (with a batch of 1 example)"
            break
    else:
        result.tensors = judged  # the big batch's tensors: the batch of one agreed
        named = sum(t.status == "ok" for t in result.tensors)
        result.message = f"correct: the {named} tensors named in {fwd.name} and {bwd.name} match, and the gradients returned are right"
    if result.verdict == "failing" and not net.data and re.search(r"\b(Value|Index)Error\b", result.message):
        result.notes.append(
            "the functions ran at the sizes above: if they hard-code a data set's (784 pixels, 10 classes), "
            "check them with --data NAME"
        )
    result.seconds = time.perf_counter() - start
    return result


def describe_sizes(net: Net, batch: int) -> str:
    """The sizes the check ran at, as the report says them."""
    hidden = ", ".join(map(str, net.sizes[1:-1])) or "none"
    if net.data:
        moved = f" (moved off another tensor's size: {', '.join(net.nudged)})" if net.nudged else ""
        return (
            f"inputs {net.sizes[0]} and outputs {net.sizes[-1]} from {net.data}, hidden {hidden} from the "
            f"model{moved}; batches of {batch} and 1"
        )
    return (
        f"inputs {net.sizes[0]}, hidden {hidden}, outputs {net.sizes[-1]} (chosen pairwise distinct; --data NAME "
        f"takes the data set's); batches of {batch} and 1"
    )


def counts_from_zero(source: str) -> bool:
    """Whether the learner numbers layers from 0: a name or a dict key ``W0``, ``b0``, ``dW0``, ``db0``."""
    tree = ast.parse(source)
    words = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    words += [a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args]
    words += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return any(re.fullmatch(r"d?[Wb]0", w) for w in words)


def _stopped(result: CodeCheck, fn_name: str, stopped, program: Program) -> None:
    if stopped.label.endswith(fn_name):
        where = f", last line run: {program.where(stopped.line)}" if stopped.line else ""
        hint = " (an endless loop?)" if "within" in stopped.reason else ""
        result.verdict, result.message = "failing", f"{fn_name} {stopped.reason}{hint}{where}"
    else:
        result.verdict, result.message = "failing", f"{stopped.label}: {stopped.reason}"


def _judge_size(result, program, net, fwd, bwd, base, by_label, group, cols, stopped, label) -> bool:
    """Fills ``result`` from one batch size's calls; True when the verdict is not "correct"."""
    for fn in (fwd, bwd):
        outcome = by_label.get(f"{group} {fn.name}")
        if outcome is None:
            if stopped is not None:
                _stopped(result, fn.name, stopped, program)
                return True
            continue
        if outcome.error:
            result.verdict, result.message = "failing", _failure(fn, outcome, program)
            return True
        if outcome.returned is None:
            result.verdict = "failing"
            result.message = f"{fn.name} returns None (no return statement, or a bare return)"
            return True
    fo, bo = by_label.get(f"{group} {fwd.name}"), by_label.get(f"{group} {bwd.name}")
    if fo is None or bo is None:
        return False
    L, m = net.L, base["A0"].shape[0]
    mean = Values(net, base, 1.0)
    f_ret = returned_symbols(fwd, fo, net, mean, cols, ("Z", "A"), label)
    b_ret = returned_symbols(bwd, bo, net, mean, cols, ("dW", "db"), label)
    if f"A{L}" not in f_ret:
        result.verdict = "failing"
        result.message = (
            f"{fwd.name} returns {', '.join(n or '?' for n in _returned_names(fwd) or [])} but not the output "
            f"A{L + net.first - 1} (name it A{L + net.first - 1}, AL or y_hat)"
        )
        return True
    missing = [f"{k}{l + net.first - 1}" for l in range(1, L + 1) for k in ("dW", "db") if f"{k}{l}" not in b_ret]
    if missing:
        count = len(bo.returned) if isinstance(bo.returned, tuple) else 1
        names = ", ".join(n or "?" for n in _returned_names(bwd) or [])
        result.verdict = "failing"
        result.message = (
            f"{bwd.name} returns {count} value{'s' * (count != 1)} ({names}): "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
        )
        return True
    seen_f = seen_tensors(fo, f_ret, net, cols)
    seen_b = seen_tensors(bo, b_ret, net, cols, skip={f"{k}{l}" for l in range(L + 1) for k in ("Z", "A")})
    s = 1.0
    deltas = [t for t in seen_b if _kind(t.symbol)[0] in ("dZ", "dA")]
    if deltas and m > 1:
        first = deltas[0]
        as_sum = Values(net, base, float(m)).get(first.symbol)
        if not compare(first.value, mean.get(first.symbol))[0] and (
            compare(first.value, as_sum)[0] or compare(first.value, -as_sum)[0]  # a sign mistake keeps the scale
        ):
            s = float(m)
        result.delta_scale = (
            f"sums over the batch (read from {first.name}; the 1/m then belongs in dW and db)"
            if s > 1
            else f"the batch-mean loss's (read from {first.name}: it carries the 1/m)"
        )
    elif m > 1:
        result.delta_scale = "none named (only the gradients are compared)"
    correct = Values(net, base, s)
    learner_f = {t.symbol: t.value for t in seen_f}
    learner_b = {t.symbol: t.value for t in seen_b}
    implied = imply_deltas(seen_b, learner_b, net, base, s)
    checks = judge(seen_f, correct, Values(net, base, s, learner_f.get), fwd.name, program)
    checks += judge(seen_b, correct, Values(net, base, s, learner_b.get), bwd.name, program, implied)
    result.tensors = checks
    mutated = [
        f"{fn.name}, {program.where(line)}: changes its argument {arg} in place"
        for fn, o in ((fwd, fo), (bwd, bo))
        for arg, line in o.mutated
    ]
    result.notes += mutated
    blamed = [t for t in checks if t.status == "wrong"]
    if blamed:
        first = result.first_wrong = blamed[0]
        diff = "" if first.difference is None else f"; max difference {first.difference:.1e}"
        shape = f"; shape {first.shape}" if "expected" in first.shape else ""
        result.verdict = "wrong"
        result.message = f"{first.function}, {first.where}: {first.name} is wrong: {first.cause}{diff}{shape}"
        if len(blamed) > 1:
            result.notes.append("also wrong on its own: " + ", ".join(f"{t.name} ({t.where})" for t in blamed[1:]))
        return True
    if mutated:
        result.verdict, result.message = "failing", mutated[0] + " (the caller's array changes: work on a copy)"
        return True
    return False


def check_source(
    text: str,
    label: str,
    model: str,
    loss: str | None = None,
    l2: float = 0.0,
    l2_form: str = "keras",
    forward: str | None = None,
    backward: str | None = None,
    timeout: float = 10.0,
    cells: list[int] | None = None,
    data: DataSizes | None = None,
) -> CodeCheck:
    """Checks a learner's source text (a file's, a notebook's joined cells, or functions' own)."""
    net = make_net(model, loss, l2, l2_form, data)
    program = read_program(text, label, cells)
    return check_program(program, label, model, net, forward, backward, timeout)


def check_file(path: Path, model: str, **options) -> CodeCheck:
    text, cells = read_text(path)
    return check_source(text, str(path), model, cells=cells, **options)


def source_of_functions(functions) -> str:
    """The source of functions defined in a notebook or a module, with the helpers, modules and constants
    they use from their namespace, as a module the child can run."""
    parts: list[str] = []
    header: list[str] = []
    done: set[str] = set()
    todo = list(functions)
    while todo:
        fn = todo.pop(0)
        if not isinstance(fn, types.FunctionType):
            raise BplabError(f"functions: {fn!r} is not a Python function")
        if fn.__name__ in done:
            continue
        done.add(fn.__name__)
        try:
            parts.append(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError):
            raise BplabError(
                f"function {fn.__name__!r}: its source cannot be read (define it in a file or a cell)"
            ) from None
        for name in fn.__code__.co_names:
            value = fn.__globals__.get(name)
            if isinstance(value, types.FunctionType) and name not in done:
                todo.append(value)
            elif isinstance(value, types.ModuleType):
                header.append(f"import {value.__name__} as {name}")
            elif isinstance(value, (int, float, str, bool, tuple)) and name not in done:
                done.add(name)
                header.append(f"{name} = {value!r}")
    return "\n".join(dict.fromkeys(header)) + "\n\n\n" + "\n\n".join(parts)
