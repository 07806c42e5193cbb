"""A corpus of mistakes real users make, each run through the real ``bplab`` command in a
subprocess. Every case must give exit code 2 and exactly one non-empty line on stderr, starting
with "error: " and naming the thing (option, file or layer) and the problem, no traceback, and
leave every file that existed before the command byte for byte unchanged (each case's folder also
holds an earlier run folder and an earlier output file that must survive untouched).

Most cases fail before any training and without importing TensorFlow: data and model mistakes go
through `bplab summary` / `bplab data info`, often on a small CSV pair (no scikit-learn needed)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import pickle
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers.cli import bplab
from helpers.files import IDX_NAMES, cifar_batch, idx_bytes, write_cifar_archive, write_csv, write_idx_set

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PAIR = "csv:train.csv,test.csv"  # 8x8 images, 10 classes: digits-like, loads in milliseconds
FLAT = "csv:flat.csv,flat_test.csv"  # 5 features per row: not an image


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    prepare: Callable[[Path], None]
    says: tuple[str, ...]  # the error line holds each (case-insensitive): the thing, then the problem


def case(id, args, prepare=None, *says):
    return Case(id, tuple(args.split()) if isinstance(args, str) else tuple(args), prepare or (lambda d: None), says)


# --- file makers ------------------------------------------------------------------------------------
def text(name: str, content: str | bytes):
    def make(d: Path):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode())

    return make


def both(*makers):
    def make(d: Path):
        for m in makers:
            m(d)

    return make


def pair(d: Path):
    rng = np.random.default_rng(0)
    write_csv(d / "train.csv", np.arange(60) % 10, rng.integers(0, 17, (60, 64)))
    write_csv(d / "test.csv", np.arange(20) % 10, rng.integers(0, 17, (20, 64)))


def flat(d: Path):
    write_csv(d / "flat.csv", np.arange(40) % 2, np.ones((40, 5)))
    write_csv(d / "flat_test.csv", np.arange(10) % 2, np.ones((10, 5)))


def spec(name: str, content):
    body = content if isinstance(content, (str, bytes)) else json.dumps(content)
    return both(pair, text(name, body))


def idx(mutate=lambda paths: None, gz=False):
    def make(d: Path):
        mutate(write_idx_set(d / "mnist", gz=gz))

    return make


def cut(name: str, keep: int):
    return idx(lambda p: p[name].write_bytes(p[name].read_bytes()[:keep]))


def cifar_folder(mutate):
    """The extracted batches, one of them changed."""

    def make(d: Path):
        folder = d / "cifar" / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
            (folder / name).write_bytes(cifar_batch(10, i))
        mutate(folder)

    return make


def cifar_archive(members: dict[str, bytes] | None = None, raw: bytes | None = None):
    def make(d: Path):
        (d / "cifar").mkdir()
        path = d / "cifar" / "cifar-10-python.tar.gz"
        if raw is not None:
            path.write_bytes(raw)
            return
        with tarfile.open(path, "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    return make


def cifar_truncated(d: Path):
    (d / "cifar").mkdir()
    path = write_cifar_archive(d / "cifar" / "cifar-10-python.tar.gz")
    path.write_bytes(path.read_bytes()[:300])


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@functools.lru_cache(maxsize=1)
def base_run() -> Path:
    """A complete run folder of `mlp:8` on the CSV pair (8x8 images, 10 classes), written by the
    library's own ``save_run`` once per process (no training: the cases never get that far) and
    copied into the cases that need it."""
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.runs.record import Run, save_run
    from backprop_lab.spec.model import parse_model

    spec = parse_model("mlp:8", (8, 8, 1), 10)
    run = Run("scratch", PAIR, spec, TrainConfig(epochs=1), [str(i) for i in range(10)], dict(GOOD))
    return save_run(run, Path(tempfile.mkdtemp(prefix="bplab-run-")) / "run")


def run(mutate=lambda r: None, name="run"):
    def make(d: Path):
        shutil.copytree(base_run(), d / name)
        mutate(d / name)

    return make


def npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = {
    "dense_0/kernel": np.ones((64, 8), "f4"),
    "dense_0/bias": np.ones(8, "f4"),
    "dense_1/kernel": np.ones((8, 10), "f4"),
    "dense_1/bias": np.ones(10, "f4"),
}


def weights(**changes):
    arrays = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return lambda r: (r / "weights.npz").write_bytes(npz(arrays))


def model_json(edit):
    def mutate(r: Path):
        doc = json.loads((r / "model.json").read_text())
        (r / "model.json").write_text(json.dumps(edit(doc)))

    return mutate


def truncate(name: str, keep: int):
    return lambda r: (r / name).write_bytes((r / name).read_bytes()[:keep])


def nonempty(folder: str):
    return text(f"{folder}/keep.txt", "precious results")


# --- the corpus --------------------------------------------------------------------------------------
T = "train --data digits --epochs 1 "
CASES = [
    # options
    case("unknown optimizer", T + "--optimizer adagrad", None, "--optimizer", "adagrad"),
    case("unknown loss", T + "--loss hinge", None, "--loss", "hinge"),
    case("unknown init", T + "--init orthogonal", None, "--init", "orthogonal"),
    case("unknown engine", T + "--engine jax", None, "--engine", "jax"),
    case("unknown decay", T + "--decay linear", None, "--decay", "linear"),
    case("unknown dtype", T + "--dtype float16", None, "--dtype", "float16"),
    case("negative lr", T + "--lr -0.1", None, "--lr", "positive"),
    case("nan lr", T + "--lr nan", None, "--lr", "finite"),
    case("negative l2", T + "--l2 -1", None, "--l2", "positive"),
    case("inf l2", T + "--l2 inf", None, "--l2", "finite"),
    case("alpha above one", T + "--alpha 1.5", None, "--alpha", "[0, 1]"),
    case("momentum one", T + "--optimizer momentum --momentum 1", None, "--momentum", "[0, 1)"),
    case("nan val split", T + "--val-split nan", None, "--val-split", "[0, 1)"),
    case("val split one", T + "--val-split 1.0", None, "--val-split", "[0, 1)"),
    case("zero epochs", "train --data digits --epochs 0", None, "--epochs", "at least 1"),
    case("epochs not a number", "train --data digits --epochs five", None, "--epochs", "valid integer"),
    case("batch size zero", T + "--batch-size 0", None, "--batch-size", "positive"),
    case("batch size text", T + "--batch-size abc", None, "--batch-size", "'abc'"),
    case(
        "negative seed",
        f"train --data {PAIR} --model mlp:4 --epochs 1 --seed -1 --out new",
        pair,
        "--seed",
        "non-negative",
    ),
    case("checkpoint every zero", T + "--checkpoint-every 0", None, "--checkpoint-every", "at least"),
    case("unknown option", T + "--learning-rate 0.1", None, "--learning-rate", "no such option"),
    case("option without its value", "train --data digits --lr", None, "--lr", "requires an argument"),
    case("summary without a model", "summary --data digits", None, "model", "missing"),
    case(
        "bce with a 10-class softmax",
        f"train --data {PAIR} --model mlp:8 --epochs 1 --loss binary_crossentropy",
        pair,
        "binary_crossentropy",
        "softmax",
    ),
    case("unknown data set", "summary mlp:8 --data mnist-50k", None, "mnist-50k", "unknown data set"),
    case("compare one engine", "compare --engines scratch --data digits", None, "--engines", "two engines"),
    case("compare engine twice", "compare --engines scratch,scratch --data digits", None, "--engines", "twice"),
    case("compare unknown engine", "compare --engines scratch,torch --data digits", None, "--engines", "torch"),
    case("compare eager without tape", "compare --engines scratch,fit --eager --data digits", None, "--eager", "tape"),
    case("compare zero seeds", f"compare --engines scratch,tape --seeds 0 --data {PAIR}", pair, "--seeds", "at least"),
    case("draw unknown format", "draw --data digits --format gif --out pics", None, "--format", "gif"),
    case("gradcheck zero batch", f"gradcheck --data {PAIR} --batch 0", pair, "--batch", "0"),
    case("resume a folder that is not a run", "train --resume empty", text("empty/.keep", ""), "empty", "not"),
    case("resume with other options", "train --resume run --lr 0.1", run(), "--resume", "--lr"),
    # where results go
    case(
        "train out is a file",
        f"train --data {PAIR} --model mlp:4 --epochs 1 --out a.txt",
        both(pair, text("a.txt", "x")),
        "a.txt",
        "not a folder",
    ),
    case(
        "train out holds files",
        f"train --data {PAIR} --model mlp:4 --epochs 1 --out out",
        both(pair, nonempty("out")),
        "out",
        "--force",
    ),
    case(
        "train over an earlier run",
        f"train --data {PAIR} --model mlp:4 --epochs 1 --out run",
        both(pair, run()),
        "run",
        "--force",
    ),
    case(
        "compare out holds files",
        f"compare --engines scratch,tape --data {PAIR} --model mlp:4 --out out",
        both(pair, nonempty("out")),
        "out",
        "--force",
    ),
    case(
        "draw out holds files",
        f"draw --data {PAIR} --model mlp:4 --out out",
        both(pair, nonempty("out")),
        "out",
        "--force",
    ),
    case(
        "transfer out holds files",
        "transfer --from run --classes 3,8 --out out",
        both(pair, run(), nonempty("out")),
        "out",
        "--force",
    ),
    case(
        "export over an existing file",
        "export run --keras x.keras",
        both(run(), text("x.keras", "mine")),
        "x.keras",
        "--force",
    ),
    # model shorthand
    case("mlp without widths", f"summary mlp: --data {PAIR}", pair, "mlp:", "width"),
    case("cnn without widths", f"summary cnn: --data {PAIR}", pair, "cnn:", "width"),
    case("zero width", f"summary mlp:0 --data {PAIR}", pair, "units", "positive"),
    case("negative width", f"summary mlp:-3 --data {PAIR}", pair, "units", "positive"),
    case("width with letters", f"summary mlp:12x --data {PAIR}", pair, "12x", "not an integer"),
    case("empty width in a list", f"summary mlp:8,,4 --data {PAIR}", pair, "mlp:8,,4", "empty width"),
    case("unknown shorthand option", f"summary mlp:8/foo=1 --data {PAIR}", pair, "foo", "unknown option"),
    case("option without a value", f"summary mlp:8/dropout --data {PAIR}", pair, "dropout", "key=value"),
    case("dropout above one", f"summary mlp:8/dropout=1.5 --data {PAIR}", pair, "dropout", "[0, 1)"),
    case("dropout not a number", f"summary mlp:8/dropout=lots --data {PAIR}", pair, "dropout", "number"),
    case("unknown activation", f"summary mlp:8/act=swish --data {PAIR}", pair, "swish", "unknown activation"),
    case("unknown padding", f"summary cnn:4/pad=full --data {PAIR}", pair, "padding", "full"),
    case("kernel not a whole number", f"summary cnn:4/kernel=2.5 --data {PAIR}", pair, "kernel", "integer"),
    case("kernel nan", f"summary cnn:4/kernel=nan --data {PAIR}", pair, "kernel", "integer"),
    case("unknown shorthand kind", f"summary rnn:8 --data {PAIR}", pair, "rnn:8", "expected mlp:"),
    case("cnn too deep for 8x8 images", f"summary cnn:4,4,4,4 --data {PAIR}", pair, "maxpool2d", "zero size"),
    case("cnn on a flat csv", f"summary cnn:4 --data {FLAT}", flat, "conv2d", "flat input"),
    case(
        "cnn on a 4-row csv",
        "summary cnn:4 --data csv:s.csv",
        text("s.csv", "1,2,3\n2,5,6\n1,2,3\n2,2,2\n"),
        "s.csv",
        "too few rows",
    ),
    case(
        "mlp on a 4-row csv",
        "summary mlp:4 --data csv:s.csv",
        text("s.csv", "1,2,3\n2,5,6\n1,2,3\n2,2,2\n"),
        "s.csv",
        "too few rows",
    ),
    # model spec files
    case("spec file missing", f"summary nope.json --data {PAIR}", pair, "nope.json", "not found"),
    case(
        "spec unknown extension",
        f"summary model.yaml --data {PAIR}",
        spec("model.yaml", "layers: []"),
        "model.yaml",
        "expected",
    ),
    case(
        "spec unknown kind",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": [{"kind": "lstm", "units": 4}]}),
        "layer 0",
        "lstm",
    ),
    case(
        "spec unknown key",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": [{"kind": "dense", "unitz": 4}]}),
        "layer 0",
        "unitz",
    ),
    case(
        "spec zero units",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": [{"kind": "flatten"}, {"kind": "dense", "units": 0}]}),
        "dense_0",
        "positive",
    ),
    case(
        "spec negative filters",
        f"summary m.toml --data {PAIR}",
        spec("m.toml", '[[layers]]\nkind = "conv2d"\nfilters = -8\n'),
        "conv2d_0",
        "positive",
    ),
    case(
        "spec units as text",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": [{"kind": "flatten"}, {"kind": "dense", "units": "ten"}]}),
        "dense_0",
        "'ten'",
    ),
    case(
        "spec dense on images",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": [{"kind": "dense", "units": 4}]}),
        "dense_0",
        "flat input",
    ),
    case(
        "spec conv on flat input",
        f"summary m.json --data {FLAT}",
        both(flat, text("m.json", '{"layers": [{"kind": "conv2d", "filters": 4}]}')),
        "conv2d_0",
        "flat input",
    ),
    case(
        "spec no layers",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"layers": []}),
        "m.json",
        "at least one layer",
    ),
    case("spec layers not a list", f"summary m.json --data {PAIR}", spec("m.json", {"layers": 5}), "layers", "list"),
    case(
        "spec input shape not a list",
        f"summary m.json --data {PAIR}",
        spec("m.json", {"input_shape": 64, "layers": [{"kind": "flatten"}]}),
        "input_shape",
        "64",
    ),
    case("spec is a list", f"summary m.json --data {PAIR}", spec("m.json", [1, 2]), "m.json", "table"),
    case(
        "spec broken json", f"summary m.json --data {PAIR}", spec("m.json", '{"layers": [}'), "m.json", "cannot parse"
    ),
    case(
        "spec deeply nested json",
        f"summary m.json --data {PAIR}",
        spec("m.json", "[" * 100_000),
        "m.json",
        "cannot parse",
    ),
    case("spec empty json", f"summary m.json --data {PAIR}", spec("m.json", ""), "m.json", "cannot parse"),
    case("spec binary file", f"summary m.json --data {PAIR}", spec("m.json", PNG), "m.json", "cannot parse"),
    case(
        "spec broken toml",
        f"summary m.toml --data {PAIR}",
        spec("m.toml", "[[layers]\nkind="),
        "m.toml",
        "cannot parse",
    ),
    case("spec empty toml", f"summary m.toml --data {PAIR}", spec("m.toml", ""), "m.toml", "layers"),
    # IDX files
    case(
        "idx files missing",
        "summary mlp:8 --data mnist --data-dir empty",
        text("empty/.keep", ""),
        "train-images",
        "not found",
    ),
    case(
        "idx wrong magic",
        "data info mnist --data-dir mnist",
        idx(lambda p: p[IDX_NAMES[0]].write_bytes(b"\x12\x34\x08\x03" + b"\0" * 40)),
        IDX_NAMES[0],
        "not an IDX file",
    ),
    case("idx header cut", "data info mnist --data-dir mnist", cut(IDX_NAMES[0], 7), IDX_NAMES[0], "truncated"),
    case("idx body cut", "data info mnist --data-dir mnist", cut(IDX_NAMES[0], 500), IDX_NAMES[0], "bytes"),
    case("idx empty file", "data info mnist --data-dir mnist", cut(IDX_NAMES[1], 0), IDX_NAMES[1], "empty"),
    case(
        "idx counts disagree",
        "data info mnist --data-dir mnist",
        idx(lambda p: p[IDX_NAMES[1]].write_bytes(idx_bytes(np.arange(59) % 10))),
        IDX_NAMES[1],
        "59 labels",
    ),
    case(
        "idx labels out of range",
        "data info mnist --data-dir mnist",
        idx(lambda p: p[IDX_NAMES[1]].write_bytes(idx_bytes(np.full(60, 12)))),
        IDX_NAMES[1],
        "labels outside",
    ),
    case(
        "idx labels as images",
        "data info mnist --data-dir mnist",
        idx(lambda p: p[IDX_NAMES[1]].write_bytes(idx_bytes(np.zeros((60, 2, 2))))),
        IDX_NAMES[1],
        "vector of labels",
    ),
    case(
        "idx gzip corrupt",
        "data info mnist --data-dir mnist",
        idx(lambda p: p[IDX_NAMES[2]].write_bytes(p[IDX_NAMES[2]].read_bytes()[:2000]), gz=True),
        IDX_NAMES[2],
        "gzip",
    ),
    # CSV files
    case("csv missing", "summary mlp:8 --data csv:none.csv", None, "none.csv", "not found"),
    case("csv is a folder", "summary mlp:8 --data csv:dir.csv", text("dir.csv/x", ""), "dir.csv", "not found"),
    case("csv three files", "summary mlp:8 --data csv:a.csv,b.csv,c.csv", None, "csv:a.csv,b.csv,c.csv", "expected"),
    case("csv empty", "summary mlp:8 --data csv:e.csv", text("e.csv", ""), "e.csv", "no data rows"),
    case("csv header only", "summary mlp:8 --data csv:h.csv", text("h.csv", "label,p1,p2\n"), "h.csv", "no data rows"),
    case("csv ragged rows", "summary mlp:8 --data csv:r.csv", text("r.csv", "1,2,3\n0,1\n1,2,3\n"), "r.csv", "columns"),
    case("csv text cells", "summary mlp:8 --data csv:t.csv", text("t.csv", "1,2,3\n0,a,b\n1,2,3\n"), "t.csv", "'a'"),
    case("csv binary file", "summary mlp:8 --data csv:b.csv", text("b.csv", PNG), "b.csv", "not a text"),
    case(
        "csv negative labels",
        "summary mlp:4 --data csv:n.csv",
        lambda d: write_csv(d / "n.csv", np.arange(12) % 2 - 1, np.ones((12, 3))),
        "n.csv",
        "non-negative integers",
    ),
    case(
        "csv fractional labels",
        "summary mlp:4 --data csv:f.csv",
        text("f.csv", "0.5,1,2\n1,2,3\n0,1,1\n"),
        "f.csv",
        "integers",
    ),
    case(
        "csv pixel beyond float32",
        "summary mlp:4 --data csv:o.csv",
        text("o.csv", "0,1,2\n1,1e300,3\n0,1,1\n"),
        "o.csv",
        "'1e300' in data row 2 is too large",
    ),
    case(
        "csv test width differs",
        "summary mlp:4 --data csv:a.csv,b.csv",
        lambda d: (
            write_csv(d / "a.csv", np.arange(12) % 2, np.ones((12, 3))),
            write_csv(d / "b.csv", np.arange(6) % 2, np.ones((6, 4))),
        ),
        "b.csv",
        "features per row",
    ),
    # CIFAR-10 files
    case(
        "cifar not a tar",
        "data info cifar10 --data-dir cifar",
        cifar_archive(raw=b"not a tar file at all"),
        "cifar-10-python.tar.gz",
        "not a tar archive",
    ),
    case(
        "cifar archive is gzipped text",
        "data info cifar10 --data-dir cifar",
        cifar_archive(raw=gzip.compress(b"not a tar, only text " * 50)),
        "cifar-10-python.tar.gz",
        "not a tar archive",
    ),
    case(
        "cifar archive empty",
        "data info cifar10 --data-dir cifar",
        cifar_archive(raw=b""),
        "cifar-10-python.tar.gz",
        "not a tar archive",
    ),
    case(
        "cifar archive truncated",
        "data info cifar10 --data-dir cifar",
        cifar_truncated,
        "cifar-10-python.tar.gz",
        "truncated",
    ),
    case(
        "cifar archive without test batch",
        "data info cifar10 --data-dir cifar",
        cifar_archive({f"data_batch_{i}": cifar_batch(2, i) for i in range(1, 6)}),
        "cifar-10-python.tar.gz",
        "test_batch",
    ),
    case(
        "cifar batch not a pickle",
        "data info cifar10 --data-dir cifar",
        cifar_folder(lambda f: (f / "data_batch_3").write_bytes(b"hello")),
        "data_batch_3",
        "not a CIFAR-10 batch",
    ),
    case(
        "cifar batch of wrong width",
        "data info cifar10 --data-dir cifar",
        cifar_folder(
            lambda f: (f / "test_batch").write_bytes(
                pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
            )
        ),
        "test_batch",
        "3072",
    ),
    case(
        "cifar labels out of range",
        "data info cifar10 --data-dir cifar",
        cifar_folder(
            lambda f: (f / "test_batch").write_bytes(
                pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, protocol=2)
            )
        ),
        "cifar",
        "labels outside",
    ),
    case(
        "cifar batch runs code",
        "data info cifar10 --data-dir cifar",
        cifar_folder(lambda f: (f / "data_batch_1").write_bytes(pickle.dumps(_Evil()))),
        "data_batch_1",
        "refusing",
    ),
    # run folders, weight files and .keras files
    case("evaluate missing folder", "evaluate gone", None, "gone", "not found"),
    case(
        "evaluate folder without model.json",
        "evaluate run",
        run(lambda r: (r / "model.json").unlink()),
        "model.json",
        "not found",
    ),
    case(
        "evaluate model.json not json",
        "evaluate run",
        run(lambda r: (r / "model.json").write_text("{oops")),
        "model.json",
        "not valid JSON",
    ),
    case(
        "evaluate model.json binary",
        "evaluate run",
        run(lambda r: (r / "model.json").write_bytes(PNG)),
        "model.json",
        "not valid JSON",
    ),
    case(
        "evaluate model.json of another tool",
        "evaluate run",
        run(lambda r: (r / "model.json").write_text('{"a": 1}')),
        "model.json",
        "not a backprop-lab model file",
    ),
    case(
        "evaluate model.json without spec",
        "evaluate run",
        run(model_json(lambda d: {k: v for k, v in d.items() if k != "spec"})),
        "model.json",
        "spec",
    ),
    case(
        "evaluate model.json config not a table",
        "evaluate run",
        run(model_json(lambda d: {**d, "config": [1]})),
        "model.json",
        "config",
    ),
    case(
        "evaluate model.json bad config value",
        "evaluate run",
        run(model_json(lambda d: {**d, "config": {**d["config"], "optimizer": "adagrad"}})),
        "model.json",
        "adagrad",
    ),
    case(
        "evaluate model.json optimizer a table",
        "evaluate run",
        run(model_json(lambda d: {**d, "config": {**d["config"], "optimizer": {"name": "adam"}}})),
        "model.json",
        "--optimizer: must be a name",
    ),
    case(
        "evaluate model.json epochs a string",
        "evaluate run",
        run(model_json(lambda d: {**d, "config": {**d["config"], "epochs": "3"}})),
        "model.json",
        "--epochs: must be a whole number",
    ),
    case(
        "evaluate model.json beta_1 missing a value",
        "evaluate run",
        run(model_json(lambda d: {**d, "config": {**d["config"], "beta_1": None}})),
        "model.json",
        "--beta-1: must be a finite number",
    ),
    case(
        "evaluate model.json too few class names",
        "evaluate run",
        run(model_json(lambda d: {**d, "class_names": d["class_names"][:3]})),
        "model.json",
        "'class_names' has 3 names, the model has 10 outputs",
    ),
    case(
        "evaluate model.json class name a number",
        "evaluate run",
        run(model_json(lambda d: {**d, "class_names": [7, *d["class_names"][1:]]})),
        "model.json",
        "'class_names' entry 0 must be a name",
    ),
    case(
        "evaluate model with no weights",
        "evaluate run",
        run(
            both(
                model_json(lambda d: {**d, "spec": {"input_shape": [8, 8, 1], "layers": [{"kind": "flatten"}]}}),
                lambda r: (r / "weights.npz").write_bytes(npz({})),
            )
        ),
        "model.json",
        "no weights",
    ),
    case(
        "evaluate history.json broken",
        "evaluate run",
        run(lambda r: (r / "history.json").write_text('{"epochs": 3}')),
        "history.json",
        "unreadable",
    ),
    case(
        "evaluate metrics.json binary",
        "evaluate run",
        run(lambda r: (r / "metrics.json").write_bytes(PNG)),
        "metrics.json",
        "not valid JSON",
    ),
    case(
        "evaluate weights missing",
        "evaluate run",
        run(lambda r: (r / "weights.npz").unlink()),
        "weights.npz",
        "not found",
    ),
    case("evaluate weights truncated", "evaluate run", run(truncate("weights.npz", 300)), "weights.npz", "not a valid"),
    case(
        "evaluate weights not a zip",
        "evaluate run",
        run(lambda r: (r / "weights.npz").write_text("weights")),
        "weights.npz",
        "not a zip",
    ),
    case(
        "evaluate pickled weights",
        "evaluate run",
        run(weights(**{"dense_0/kernel": np.array([object()], dtype=object)})),
        "weights.npz",
        "pickled",
    ),
    case(
        "evaluate weights of wrong shape",
        "evaluate run",
        run(weights(**{"dense_0/kernel": np.ones((3, 3), "f4")})),
        "dense_0/kernel",
        "shape",
    ),
    case("evaluate weight missing", "evaluate run", run(weights(**{"dense_1/bias": None})), "dense_1/bias", "missing"),
    case(
        "evaluate weight of integers",
        "evaluate run",
        run(weights(**{"dense_1/bias": np.ones(10, "i4")})),
        "dense_1/bias",
        "dtype",
    ),
    case(
        "evaluate weight with nan",
        "evaluate run",
        run(weights(**{"dense_1/bias": np.full(10, np.nan, "f4")})),
        "dense_1/bias",
        "nan",
    ),
    case("evaluate on data of another shape", f"evaluate run --data {FLAT}", both(run(), flat), "run", "expects input"),
    case("evaluate without the run's data", "evaluate run", run(), "train.csv", "not found"),
    case(
        "evaluate fake keras file",
        "evaluate fake.keras --data digits",
        text("fake.keras", "just text"),
        "fake.keras",
        "zip",
    ),
    case("export missing run", "export gone --keras x.keras", None, "gone", "not found"),
    case(
        "export fake keras file",
        "export fake.keras --keras x.keras",
        text("fake.keras", "just text"),
        "fake.keras",
        "zip",
    ),
    case("transfer from a missing run", "transfer --from gone --classes 3,8", None, "gone", "not found"),
    case(
        "transfer from a folder without model.json",
        "transfer --from run --classes 3,8",
        run(lambda r: (r / "model.json").unlink()),
        "model.json",
        "not found",
    ),
    case(
        "transfer from truncated weights",
        "transfer --from run --classes 3,8",
        run(truncate("weights.npz", 300)),
        "weights.npz",
        "not a valid",
    ),
    case(
        "transfer from a fake keras file",
        "transfer --from fake.keras --classes 3,8",
        text("fake.keras", "PK nope"),
        "fake.keras",
        "zip",
    ),
    case("transfer one class", "transfer --from run --classes 3", both(pair, run()), "--classes", "two classes"),
    case("transfer unknown class", "transfer --from run --classes 3,cat", both(pair, run()), "cat", "neither"),
    case("transfer same class twice", "transfer --from run --classes 3,3", both(pair, run()), "--classes", "differ"),
    # sweep and study files
    case(
        "sweep unknown key",
        "sweep s.toml",
        text("s.toml", 'data = "digits"\nlearning = 1\n[grid]\nlr = [0.1]\n'),
        "learning",
        "unknown",
    ),
    case("sweep broken toml", "sweep s.toml", text("s.toml", "[grid\n"), "s.toml", "toml"),
    case("sweep grid without values", "sweep --grid optimizer --data digits", None, "--grid", "KEY="),
    case("sweep grid unknown key", "sweep --grid optimiser=sgd --data digits", None, "optimiser", "unknown"),
    case("sweep nothing to vary", "sweep --data digits", None, "sweep", "nothing to vary"),
    case("sweep unknown preset", "sweep --preset height", None, "height", "preset"),
    case(
        "sweep out holds other files",
        f"sweep --grid lr=0.1,0.2 --data {PAIR} --model mlp:4 --epochs 1 --out out",
        both(pair, nonempty("out")),
        "out",
        "--force",
    ),
    case("study out is a file", "study --out report.html", None, "report.html", "not a folder"),
    case("sweep zero jobs", "sweep --grid lr=0.1 --jobs 0 --data digits --out sw", None, "--jobs", "at least"),
    case("blend alpha out of range", "blend --alphas 0,2 --data digits", None, "--alphas", "[0, 1]"),
    case(
        "study unknown key",
        "study st.toml",
        text("st.toml", 'data = "digits"\nepoch = 2\n[presets.quick]\n'),
        "epoch",
        "unknown",
    ),
    case("study unknown preset", "study --preset medium", None, "medium", "preset"),
    case("study file missing", "study none.toml", None, "none.toml", "not found"),
    # found by hunting for tracebacks (2026-12-03): each of these once printed one
    case(
        "train out under a file",
        "train --data digits --model mlp:4 --epochs 1 --out afile/sub",
        text("afile", "x"),
        "afile/sub",
        "afile is a file",
    ),
    case(
        "draw out under a file",
        "draw --model mlp:4 --data digits --out afile/sub",
        text("afile", "x"),
        "afile/sub",
        "afile is a file",
    ),
    case(
        "sweep out under a file",
        "sweep --grid lr=0.1 --data digits --model mlp:4 --epochs 1 --out afile/sub",
        text("afile", "x"),
        "afile/sub",
        "afile is a file",
    ),
    case(
        "spec activation is a list",
        "summary act.json --data digits",
        text("act.json", '{"layers": [{"kind": "dense", "units": 4, "activation": ["relu"]}]}'),
        "dense_0",
        "unknown activation",
    ),
    case("derive negative seed", "derive --seed -1 --input 0.05,0.10 --target 0.01,0.99", None, "--seed", "at least 0"),
    case(
        "derive weight too large",
        "derive --input 0.05,0.10 --target 0.01,0.99 --weights w.json",
        text(
            "w.json",
            '{"dense_0/kernel": [[0.15, 0.25], [0.2, 0.3]], "dense_0/bias": [1' + "0" * 330 + ", 0.35], "
            '"dense_1/kernel": [[0.4, 0.5], [0.45, 0.55]], "dense_1/bias": [0.6, 0.6]}',
        ),
        "dense_0/bias",
        "too large",
    ),
    case(
        "derive input row too short for the weights",
        "derive --input 0.05 --target 0.01,0.99 --weights w.json",
        text(
            "w.json",
            '{"dense_0/kernel": [[0.15, 0.25], [0.2, 0.3]], "dense_0/bias": [0.35, 0.35], '
            '"dense_1/kernel": [[0.4, 0.5], [0.45, 0.55]], "dense_1/bias": [0.6, 0.6]}',
        ),
        "dense_0/kernel",
        "each --input row",
    ),
    case(
        "derive weight written as a table",
        "derive --input 0.05,0.10 --target 0.01,0.99 --weights w.json",
        text(
            "w.json",
            '{"dense_0/kernel": [[0.15, 0.25], [0.2, 0.3]], "dense_0/bias": {"a": 1}, '
            '"dense_1/kernel": [[0.4, 0.5], [0.45, 0.55]], "dense_1/bias": [0.6, 0.6]}',
        ),
        "dense_0/bias",
        "is a table",
    ),
    case(
        "derivation layer number of 5000 digits",
        "check-derivation d.txt --model mlp:4",
        text("d.txt", "dC/dW[" + "9" * 5000 + "] = dC/da[2]\n"),
        "line 1",
        "at most 6 digits",
    ),
    case(
        "derivation with a NUL byte",
        "check-derivation d.txt --model mlp:4",
        text("d.txt", b"dC/dW[2] = dC/da[2] \x00 da[2]/dz[2]\n"),
        "U+0000",
        "invisible",
    ),
    case(
        "spec key with a line break",
        "summary k.json --data digits",
        text("k.json", '{"layers": [{"kind": "flatten", "a\\nb": 1}]}'),
        "a\\nb",
        "unknown setting",
    ),
    case(
        "study section not a table",
        "study st.toml",
        text("st.toml", 'network = "x"\n[presets.quick]\n'),
        "network",
        "table",
    ),
    case(
        "study preset not a table",
        "study st.toml",
        text("st.toml", '[presets]\nquick = "x"\n'),
        "presets.quick",
        "table",
    ),
    case(
        "study alphas not numbers",
        "study st.toml",
        text("st.toml", '[blend]\nalphas = ["x", 2]\n[presets.quick]\n'),
        "alphas",
        "numbers",
    ),
    case(
        "study experiment presets not names",
        "study st.toml",
        text("st.toml", '[experiments]\npresets = [["width"]]\n[presets.quick]\n'),
        "presets",
        "names",
    ),
    case(
        "study timing repeats huge",
        "study st.toml",
        text("st.toml", "[transfer]\ntiming_repeats = 99999999999\n[presets.quick]\n"),
        "timing_repeats",
        "more than 100",
    ),
    case("sweep grid not a table", "sweep s.toml --data digits", text("s.toml", "grid = 5\n"), "[grid]", "table"),
    case(
        "sweep seed not a number",
        "sweep s.toml --data digits",
        text("s.toml", 'seed = "a"\n[grid]\nlr = [0.1]\n'),
        "seed",
        "whole number",
    ),
    case(
        "sweep data_dir not a path",
        "sweep s.toml --data digits",
        text("s.toml", "data_dir = 5\n[grid]\nlr = [0.1]\n"),
        "data_dir",
        "string",
    ),
    case(
        "sweep seeds absurd",
        "sweep --grid lr=0.1 --seeds 99999999999 --data digits --out sw",
        None,
        "seeds",
        "at most 1000",
    ),
]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "cache" not in p.relative_to(root).parts
    }


def earlier_work(d: Path):
    """What a user already has in the folder: an earlier run and an earlier output file."""
    shutil.copytree(base_run(), d / "runs" / "earlier")
    (d / "report.html").write_text("<p>last week's report</p>")


def test_the_corpus_is_large_and_every_case_is_named_once():
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(len(c.says) == 2 for c in CASES), [c.id for c in CASES if len(c.says) != 2]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_user_mistake_gives_one_line_and_changes_nothing(case: Case, tmp_path: Path):
    earlier_work(tmp_path)
    case.prepare(tmp_path)
    before = snapshot(tmp_path)
    result = bplab(
        *case.args, cwd=tmp_path, timeout=300, env_extra={"BPLAB_OFFLINE": "1", "BPLAB_CACHE": str(tmp_path / "cache")}
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in case.says:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in {lines[0]!r}"
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that existed was changed"
    assert before.keys() <= after.keys(), "a file that existed was removed"
