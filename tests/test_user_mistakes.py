"""A corpus of mistakes real users make, run through the command's entry point: each gives exit
code 2, exactly one line on stderr that starts with "error: " and names the thing (and no
traceback), and leaves every file that existed before byte for byte unchanged.

The cases run in this process through ``backprop_lab.cli.main`` (the console script's entry
point) to keep the suite short; a few also run as real subprocesses at the end."""

from __future__ import annotations

import gzip
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from backprop_lab.cli import main
from helpers.cli import bplab
from helpers.files import IDX_NAMES, idx_bytes, write_cifar_archive, write_csv, write_idx_set

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def make_run(folder: Path) -> Path:
    """A small, complete run folder, made through the library."""
    from backprop_lab.config import TrainConfig
    from backprop_lab.runs import save_run
    from backprop_lab.workflow import prepare, train_run

    setup = prepare("digits", "mlp:8", TrainConfig(epochs=1))
    return save_run(train_run(setup, "scratch"), folder)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# Each case: (id, arguments, a function preparing files in the folder, text the error line must hold).
def _nothing(d):
    pass


def _text(name, content):
    def make(d):
        (d / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return make


def _idx(mutate):
    def make(d):
        paths = write_idx_set(d / "mnist", gz=False)
        mutate(paths)
    return make


def _truncate(name, keep):
    return _idx(lambda p: p[name].write_bytes(p[name].read_bytes()[:keep]))


def _gz_corrupt(d):
    paths = write_idx_set(d / "mnist", gz=True)
    paths[IDX_NAMES[0]].write_bytes(gzip.compress(b"x" * 5000)[:40])


def _csv(labels, pixels, header=True):
    def make(d):
        write_csv(d / "s.csv", labels, np.asarray(pixels), header)
    return make


def _run_then(mutate):
    def make(d):
        make_run(d / "run")
        mutate(d / "run")
    return make


def _weights(arrays: dict, pickle=False):
    def mutate(run):
        buf = io.BytesIO()
        np.savez(buf, **arrays) if not pickle else np.savez(buf, **{"dense_0/kernel": np.array([object()], dtype=object)})
        (run / "weights.npz").write_bytes(buf.getvalue())
    return mutate


def _nonempty_out(d):
    (d / "out").mkdir()
    (d / "out" / "keep.txt").write_text("precious")


def _cifar_bad(d):
    (d / "cifar").mkdir()
    (d / "cifar" / "cifar-10-python.tar.gz").write_bytes(b"not a tar file at all")


def _cifar_truncated(d):
    (d / "cifar").mkdir()
    path = write_cifar_archive(d / "cifar" / "cifar-10-python.tar.gz")
    path.write_bytes(path.read_bytes()[:200])


def _spec(content):
    return _text("model.json", content)


CASES = [
    # options
    ("unknown optimizer", ["train", "--data", "digits", "--optimizer", "adagrad"], _nothing, "--optimizer"),
    ("unknown loss", ["train", "--data", "digits", "--loss", "hinge"], _nothing, "--loss"),
    ("unknown init", ["train", "--data", "digits", "--init", "orthogonal"], _nothing, "--init"),
    ("unknown engine", ["train", "--data", "digits", "--engine", "jax"], _nothing, "--engine"),
    ("negative lr", ["train", "--data", "digits", "--lr", "-0.1"], _nothing, "--lr"),
    ("nan lr", ["train", "--data", "digits", "--lr", "nan"], _nothing, "--lr"),
    ("inf l2", ["train", "--data", "digits", "--l2", "inf"], _nothing, "--l2"),
    ("negative l2", ["train", "--data", "digits", "--l2", "-1"], _nothing, "--l2"),
    ("alpha above one", ["train", "--data", "digits", "--alpha", "1.5"], _nothing, "--alpha"),
    ("zero epochs", ["train", "--data", "digits", "--epochs", "0"], _nothing, "--epochs"),
    ("batch size zero", ["train", "--data", "digits", "--batch-size", "0"], _nothing, "--batch-size"),
    ("batch size text", ["train", "--data", "digits", "--batch-size", "abc"], _nothing, "--batch-size"),
    ("epochs not a number", ["train", "--data", "digits", "--epochs", "five"], _nothing, "epochs"),
    ("val split one", ["train", "--data", "digits", "--val-split", "1.0"], _nothing, "validation fraction"),
    ("bce with softmax", ["train", "--data", "digits", "--model", "mlp:8", "--loss", "binary_crossentropy"], _nothing,
     "binary_crossentropy"),
    ("checkpoint every zero", ["train", "--data", "digits", "--checkpoint-every", "0"], _nothing, "--checkpoint-every"),
    ("compare one engine", ["compare", "--engines", "scratch", "--data", "digits"], _nothing, "--engines"),
    ("compare eager without tape", ["compare", "--engines", "scratch,fit", "--eager", "--data", "digits"], _nothing,
     "--eager"),
    ("compare zero seeds", ["compare", "--engines", "scratch,tape", "--seeds", "0", "--data", "digits"], _nothing,
     "--seeds"),
    ("unknown data set", ["summary", "mlp:8", "--data", "mnist-50k"], _nothing, "mnist-50k"),
    ("draw bad format", ["draw", "--data", "digits", "--format", "gif", "--out", "pics"], _nothing, "--format"),
    ("gradcheck zero batch", ["gradcheck", "--batch", "0"], _nothing, "--batch"),
    ("out is a file", ["train", "--data", "digits", "--model", "mlp:4", "--epochs", "1", "--out", "a.txt"],
     _text("a.txt", "x"), "a.txt"),
    ("out holds files", ["train", "--data", "digits", "--model", "mlp:4", "--epochs", "1", "--out", "out"],
     _nonempty_out, "out"),
    # model descriptions
    ("empty width in a list", ["summary", "mlp:8,,4", "--data", "digits"], _nothing, "mlp"),
    ("zero width", ["summary", "mlp:0", "--data", "digits"], _nothing, "units"),
    ("negative width", ["summary", "mlp:-3", "--data", "digits"], _nothing, "units"),
    ("width with letters", ["summary", "mlp:12x", "--data", "digits"], _nothing, "12x"),
    ("unknown shorthand option", ["summary", "mlp:8/foo=1", "--data", "digits"], _nothing, "foo"),
    ("dropout above one", ["summary", "mlp:8/dropout=1.5", "--data", "digits"], _nothing, "dropout"),
    ("unknown shorthand kind", ["summary", "rnn:8", "--data", "digits"], _nothing, "rnn:8"),
    ("cnn too deep for digits", ["summary", "cnn:4,4,4,4", "--data", "digits"], _nothing, "maxpool2d"),
    ("spec file missing", ["summary", "nope.json", "--data", "digits"], _nothing, "nope.json"),
    ("spec unknown kind", ["summary", "model.json", "--data", "digits"],
     _spec('{"layers": [{"kind": "lstm", "units": 4}]}'), "lstm"),
    ("spec unknown key", ["summary", "model.json", "--data", "digits"],
     _spec('{"layers": [{"kind": "dense", "unitz": 4}]}'), "unitz"),
    ("spec negative units", ["summary", "model.json", "--data", "digits"],
     _spec('{"layers": [{"kind": "dense", "units": -4}]}'), "units"),
    ("spec broken json", ["summary", "model.json", "--data", "digits"], _spec('{"layers": [}'), "model.json"),
    ("spec empty file", ["summary", "model.json", "--data", "digits"], _spec(""), "model.json"),
    ("spec binary file", ["summary", "model.json", "--data", "digits"], _spec(PNG), "model.json"),
    ("spec broken toml", ["summary", "model.toml", "--data", "digits"], _text("model.toml", "[[layers]\nkind="),
     "model.toml"),
    ("conv on flat csv", ["summary", "cnn:4", "--data", "csv:c.csv"],
     lambda d: write_csv(d / "c.csv", np.arange(40) % 2, np.ones((40, 5))), "Conv2D"),
    # data files
    ("idx missing files", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "empty"],
     lambda d: (d / "empty").mkdir(), "train-images"),
    ("idx wrong magic", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"],
     _idx(lambda p: p[IDX_NAMES[0]].write_bytes(b"\x12\x34\x08\x03" + b"\0" * 40)), IDX_NAMES[0]),
    ("idx truncated body", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"],
     _truncate(IDX_NAMES[0], 500), IDX_NAMES[0]),
    ("idx empty file", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"], _truncate(IDX_NAMES[1], 0),
     IDX_NAMES[1]),
    ("idx counts disagree", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"],
     _idx(lambda p: p[IDX_NAMES[1]].write_bytes(idx_bytes(np.arange(59) % 10))), "mnist"),
    ("idx labels out of range", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"],
     _idx(lambda p: p[IDX_NAMES[1]].write_bytes(idx_bytes(np.full(60, 12)))), "labels"),
    ("idx gzip corrupt", ["summary", "mlp:8", "--data", "mnist", "--data-dir", "mnist"], _gz_corrupt, IDX_NAMES[0]),
    ("csv missing", ["summary", "mlp:8", "--data", "csv:none.csv"], _nothing, "none.csv"),
    ("csv empty", ["summary", "mlp:8", "--data", "csv:e.csv"], _text("e.csv", ""), "e.csv"),
    ("csv ragged rows", ["summary", "mlp:8", "--data", "csv:r.csv"], _text("r.csv", "1,2,3\n0,1\n1,2,3\n"), "r.csv"),
    ("csv text cells", ["summary", "mlp:8", "--data", "csv:t.csv"], _text("t.csv", "1,2,3\n0,a,b\n1,2,3\n"), "t.csv"),
    ("csv too few rows to split", ["summary", "mlp:4", "--data", "csv:s.csv"],
     _text("s.csv", "1,2,3\n2,5,6\n1,2,3\n2,2,2\n"), "s.csv"),
    ("csv negative labels", ["summary", "mlp:4", "--data", "csv:n.csv"], _csv(np.arange(12) % 2 - 1, np.ones((12, 3))),
     "n.csv"),
    ("csv test width differs", ["summary", "mlp:4", "--data", "csv:a.csv,b.csv"],
     lambda d: (write_csv(d / "a.csv", np.arange(12) % 2, np.ones((12, 3))),
                write_csv(d / "b.csv", np.arange(6) % 2, np.ones((6, 4)))), "b.csv"),
    ("cifar not a tar", ["summary", "mlp:8", "--data", "cifar10", "--data-dir", "cifar"], _cifar_bad,
     "cifar-10-python.tar.gz"),
    ("cifar truncated", ["summary", "mlp:8", "--data", "cifar10", "--data-dir", "cifar"], _cifar_truncated,
     "cifar-10-python.tar.gz"),
    # run folders, weight files and model files
    ("evaluate missing folder", ["evaluate", "gone"], _nothing, "gone"),
    ("evaluate no model.json", ["evaluate", "run"], _run_then(lambda r: (r / "model.json").unlink()), "model.json"),
    ("evaluate model.json not json", ["evaluate", "run"], _run_then(lambda r: (r / "model.json").write_text("{oops")),
     "model.json"),
    ("evaluate weights truncated", ["evaluate", "run"],
     _run_then(lambda r: (r / "weights.npz").write_bytes((r / "weights.npz").read_bytes()[:100])), "weights.npz"),
    ("evaluate pickled weights", ["evaluate", "run"], _run_then(_weights({}, pickle=True)), "weights.npz"),
    ("evaluate wrong shapes", ["evaluate", "run"],
     _run_then(_weights({"dense_0/kernel": np.ones((3, 3), "f4"), "dense_0/bias": np.ones(8, "f4"),
                         "dense_1/kernel": np.ones((8, 10), "f4"), "dense_1/bias": np.ones(10, "f4")})), "dense_0/kernel"),
    ("evaluate on another data set", ["evaluate", "run", "--data", "mnist-5k"], _run_then(lambda r: None), "input"),
    ("export fake keras", ["evaluate", "fake.keras", "--data", "digits"], _text("fake.keras", "just text"), "fake.keras"),
    ("export over a file", ["export", "run", "--keras", "x.keras"],
     lambda d: (make_run(d / "run"), (d / "x.keras").write_text("mine")), "x.keras"),
    ("transfer one class", ["transfer", "--from", "run", "--classes", "3"], _run_then(lambda r: None), "--classes"),
    ("transfer unknown class", ["transfer", "--from", "run", "--classes", "3,cat"], _run_then(lambda r: None), "cat"),
    ("resume not a run", ["train", "--resume", "empty"], lambda d: (d / "empty").mkdir(), "empty"),
    # sweep and study files
    ("sweep unknown key", ["sweep", "s.toml"], _text("s.toml", 'data = "digits"\nlearning = 1\n[grid]\nlr = [0.1]\n'),
     "learning"),
    ("sweep bad grid", ["sweep", "--grid", "optimizer", "--data", "digits"], _nothing, "--grid"),
    ("sweep grid unknown key", ["sweep", "--grid", "optimiser=sgd", "--data", "digits"], _nothing, "optimiser"),
    ("sweep nothing to vary", ["sweep", "--data", "digits"], _nothing, "nothing to vary"),
    ("sweep unknown preset", ["sweep", "--preset", "height"], _nothing, "height"),
    ("sweep jobs zero", ["sweep", "--grid", "lr=0.1", "--jobs", "0", "--data", "digits", "--out", "sw"], _nothing,
     "--jobs"),
    ("blend alpha out of range", ["blend", "--alphas", "0,2", "--data", "digits"], _nothing, "--alphas"),
    ("study unknown key", ["study", "st.toml"], _text("st.toml", 'data = "digits"\nepoch = 2\n[presets.quick]\n'),
     "epoch"),
    ("study unknown preset", ["study", "--preset", "medium"], _nothing, "medium"),
    ("study file missing", ["study", "none.toml"], _nothing, "none.toml"),
]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("args, prepare, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_user_mistake_gives_one_line_and_changes_nothing(args, prepare, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    prepare(tmp_path)
    before = files(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bplab", *args])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    after = files(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing that existed was changed


@pytest.mark.parametrize("name", ["unknown optimizer", "spec binary file", "cifar not a tar", "evaluate pickled weights"])
def test_the_same_mistakes_through_the_real_command(name, tmp_path):
    args, prepare, fragment = next(c[1:] for c in CASES if c[0] == name)
    prepare(tmp_path)
    before = files(tmp_path)
    result = bplab(*args, cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert {k: v for k, v in files(tmp_path).items() if k in before} == before


def test_zipfile_helper_sanity(tmp_path):
    """The pickled-weights case really holds a pickled object array (the check can fail)."""
    make_run(tmp_path / "run")
    _weights({}, pickle=True)(tmp_path / "run")
    with zipfile.ZipFile(tmp_path / "run" / "weights.npz") as z:
        assert any(name.endswith(".npy") for name in z.namelist())
    with pytest.raises(ValueError):
        np.load(tmp_path / "run" / "weights.npz", allow_pickle=False)["dense_0/kernel"]
    assert json.loads((tmp_path / "run" / "model.json").read_text())["format"]
