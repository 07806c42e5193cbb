"""Random and mutated bytes fed to every reader and loader of user files: each either loads or
raises the project's error (BplabError), nothing else."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from backprop_lab.data.cifar import read_cifar10
from backprop_lab.data.csvdata import read_csv
from backprop_lab.data.idx import read_idx
from backprop_lab.errors import BplabError
from backprop_lab.runs import load_run, load_weights
from backprop_lab.spec import parse_model
from helpers.files import cifar_batch, idx_bytes, write_cifar_archive

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw, original: bytes):
    """The original with a few bytes flipped, a piece cut or inserted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at: at + draw(st.integers(1, 16))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def loads_or_refuses(fn, *args) -> None:
    try:
        fn(*args)
    except BplabError:
        pass


def in_file(data: bytes, name: str):
    folder = Path(tempfile.mkdtemp())
    path = folder / name
    path.write_bytes(data)
    return path


IDX = idx_bytes(np.arange(2 * 3 * 3).reshape(2, 3, 3) % 256)
CSV = b"label,a,b\n0,1,2\n1,3,4\n0,5,6\n1,7,8\n"
SPEC_JSON = json.dumps({"layers": [{"kind": "dense", "units": 4, "activation": "relu"},
                                   {"kind": "dense", "units": "classes", "activation": "softmax"}]}).encode()
SPEC_TOML = b'[[layers]]\nkind = "dense"\nunits = 4\n[[layers]]\nkind = "dense"\nunits = "classes"\nactivation = "softmax"\n'


@FAST
@given(st.one_of(st.binary(max_size=64), mutated(IDX)))
def test_idx_reader(data):
    loads_or_refuses(read_idx, in_file(data, "x-idx3-ubyte"))


@FAST
@given(st.one_of(st.binary(max_size=64), mutated(CSV)))
def test_csv_reader(data):
    loads_or_refuses(read_csv, in_file(data, "x.csv"))


@FAST
@given(st.one_of(st.binary(max_size=64), mutated(cifar_batch(2, 0))))
def test_cifar_batch_files(data):
    folder = Path(tempfile.mkdtemp())
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(data)
    loads_or_refuses(read_cifar10, folder)


def _archive() -> bytes:
    path = Path(tempfile.mkdtemp()) / "cifar-10-python.tar.gz"
    write_cifar_archive(path, n=2)
    return path.read_bytes()


ARCHIVE = _archive()


@settings(max_examples=30, deadline=None)
@given(mutated(ARCHIVE))
def test_cifar_archive(data):
    loads_or_refuses(read_cifar10, in_file(data, "cifar-10-python.tar.gz"))


@FAST
@given(st.one_of(st.binary(max_size=64), mutated(SPEC_JSON)))
def test_spec_json(data):
    loads_or_refuses(parse_model, str(in_file(data, "m.json")), (3, 3, 1), 2)


@FAST
@given(st.one_of(st.binary(max_size=64), mutated(SPEC_TOML)))
def test_spec_toml(data):
    loads_or_refuses(parse_model, str(in_file(data, "m.toml")), (3, 3, 1), 2)


@FAST
@given(st.one_of(st.text(max_size=30), st.from_regex(r"(mlp|cnn):[0-9,\-x]{0,8}(/[a-z]{1,7}=[0-9a-z.\-]{0,5}){0,3}",
                                                      fullmatch=True)))
def test_spec_shorthand(text):
    if text.endswith((".json", ".toml")):
        return
    loads_or_refuses(parse_model, text, (8, 8, 1), 10)


def _run_folder() -> Path:
    from backprop_lab.config import TrainConfig
    from backprop_lab.runs import save_run
    from backprop_lab.workflow import prepare, train_run

    setup = prepare("digits", "mlp:4", TrainConfig(epochs=1))
    return save_run(train_run(setup, "scratch"), Path(tempfile.mkdtemp()) / "run")


RUN = _run_folder()
MODEL_JSON = (RUN / "model.json").read_bytes()
WEIGHTS = (RUN / "weights.npz").read_bytes()


def _copy_run(model: bytes, weights: bytes) -> Path:
    folder = Path(tempfile.mkdtemp()) / "run"
    folder.mkdir()
    (folder / "model.json").write_bytes(model)
    (folder / "weights.npz").write_bytes(weights)
    return folder


@settings(max_examples=40, deadline=None)
@given(mutated(MODEL_JSON))
def test_run_folder_with_a_damaged_model_json(data):
    loads_or_refuses(load_run, _copy_run(data, WEIGHTS))


@settings(max_examples=40, deadline=None)
@given(mutated(WEIGHTS))
def test_run_folder_with_damaged_weights(data):
    loads_or_refuses(load_run, _copy_run(MODEL_JSON, data))


@FAST
@given(st.dictionaries(st.sampled_from(["dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias", "x"]),
                       st.sampled_from([np.zeros((64, 4), "f4"), np.zeros(4, "f4"), np.zeros((4, 10), "f8"),
                                        np.zeros(10, "i4"), np.array([np.nan], "f4"), np.zeros((2, 2), "f4")])))
def test_weight_files_with_any_keys_and_shapes(arrays):
    from backprop_lab.runs import load_run as _load

    spec = _load(RUN).spec
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    loads_or_refuses(load_weights, in_file(buffer.getvalue(), "weights.npz"), spec)
