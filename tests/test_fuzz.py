"""Random and mutated bytes fed to every reader and loader of user files (IDX, CSV, CIFAR-10 archives
and batches, model descriptions in JSON, TOML and shorthand, run folders, weight files, .keras
files): each call either returns a result or raises the project's error (BplabError or a subclass),
nothing else. Mutations start from a valid file and flip, cut, insert or truncate bytes.

``BPLAB_FUZZ_SCALE=20 pytest tests/test_fuzz.py`` runs 20 times as many examples (a deeper search);
the regression tests at the end name the inputs that crashed a reader before it was fixed."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers.files import cifar_batch, idx_bytes, write_cifar_archive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.core.errors import BplabError, DataError, SpecError
from backprop_lab.datasets.cifar import read_cifar10
from backprop_lab.datasets.csvdata import read_csv
from backprop_lab.datasets.idx import read_idx, read_idx_pair
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.portable import load_model
from backprop_lab.runs.record import Run, load_run, load_weights, save_run
from backprop_lab.spec.model import ModelSpec, parse_model

SCALE = int(os.environ.get("BPLAB_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def mutated(draw, original: bytes, edits: int = 4):
    """The original with a few bytes flipped, a piece cut or inserted, or the rest cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, edits))):
        if not data:
            break
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def loads_or_refuses(fn, *args):
    """The contract: a result, or BplabError. Anything else propagates and fails the test."""
    try:
        return fn(*args)
    except BplabError:
        return None


def in_file(data: bytes, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="bplab-fuzz-")) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- IDX ------------------------------------------------------------------------------------------
IDX_IMAGES = idx_bytes(np.arange(4 * 3 * 3).reshape(4, 3, 3) % 256)
IDX_LABELS = idx_bytes(np.arange(4) % 2)


@fuzz(80)
@given(
    st.one_of(
        st.binary(max_size=64),
        mutated(IDX_IMAGES),
        mutated(IDX_IMAGES[:16], edits=2),
        mutated(gzip.compress(IDX_IMAGES)),
    )
)
def test_idx_reader(data):
    loads_or_refuses(read_idx, in_file(data, "x-idx3-ubyte"))


@fuzz(40)
@given(mutated(IDX_IMAGES), mutated(IDX_LABELS))
def test_idx_image_and_label_pair(images, labels):
    folder = Path(tempfile.mkdtemp(prefix="bplab-fuzz-"))
    (folder / "i").write_bytes(images)
    (folder / "l").write_bytes(labels)
    loads_or_refuses(read_idx_pair, folder / "i", folder / "l")


# --- CSV ------------------------------------------------------------------------------------------
CSV = b"label,a,b,c,d\n0,1,2,3,4\n1,3,4,5,6\n0,5,6,7,8\n1,7,8,9,0\n2,1,1,1,1\n2,0,0,0,0\n"
CELLS = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "255",
        "-1",
        "0.5",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "1e30",
        "",
        " ",
        "a",
        '"3"',
        "0x1",
        "1_0",
        "\u0663",
        "\x00",
    ]
)


@fuzz(80)
@given(
    st.one_of(
        st.binary(max_size=64),
        mutated(CSV),
        st.text(max_size=60).map(str.encode),
        st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=1, max_size=6).map(
            lambda rows: "\n".join(",".join(r) for r in rows).encode()
        ),
    )
)
def test_csv_reader(data):
    result = loads_or_refuses(read_csv, in_file(data, "x.csv"))
    if result is not None:
        x, y = result
        assert np.isfinite(x).all() and (y >= 0).all() and len(x) == len(y)


@fuzz(40)
@given(
    st.lists(st.lists(CELLS, min_size=2, max_size=4), min_size=1, max_size=12).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode()
    )
)
def test_csv_data_set_with_its_split(data):
    """The whole ``csv:`` path: reader, stratified split, classes, scaling."""
    path = in_file(data, "x.csv")
    loads_or_refuses(load_dataset, f"csv:{path}")


# --- CIFAR-10 ------------------------------------------------------------------------------------
BATCH = cifar_batch(2, 0)
BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
PICKLED = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(-5, 300), max_size=4),
    st.builds(
        lambda shape, dtype: np.zeros(shape, dtype),
        st.sampled_from([(2, 3072), (2, 10), (3072,), (0, 3072)]),
        st.sampled_from(["u1", "f4", "i8", "U1"]),
    ),
)


@fuzz(60)
@given(
    st.one_of(
        st.binary(max_size=64),
        mutated(BATCH),
        st.dictionaries(st.sampled_from([b"data", b"labels", "data", b"x"]), PICKLED, max_size=3).map(
            lambda d: pickle.dumps(d, protocol=2)
        ),
    )
)
def test_cifar_batch_files(data):
    folder = Path(tempfile.mkdtemp(prefix="bplab-fuzz-"))
    for i, name in enumerate(BATCH_NAMES):
        (folder / name).write_bytes(data if i in (0, 5) else BATCH)
    loads_or_refuses(read_cifar10, folder)


def _archive(compressed: bool) -> bytes:
    path = Path(tempfile.mkdtemp(prefix="bplab-fuzz-")) / "cifar-10-python.tar.gz"
    write_cifar_archive(path, n=2)
    return path.read_bytes() if compressed else gzip.decompress(path.read_bytes())


@fuzz(40)
@given(st.one_of(mutated(_archive(True)), mutated(_archive(False)), st.binary(max_size=64)))
def test_cifar_archive(data):
    loads_or_refuses(read_cifar10, in_file(data, "cifar-10-python.tar.gz"))


# --- model descriptions ---------------------------------------------------------------------------
SPEC_DOC = {
    "layers": [
        {"kind": "conv2d", "filters": 2, "kernel": 3, "padding": "same"},
        {"kind": "maxpool2d"},
        {"kind": "flatten"},
        {"kind": "dropout", "rate": 0.5},
        {"kind": "dense", "units": "classes", "activation": "softmax"},
    ]
}
SPEC_JSON = json.dumps(SPEC_DOC).encode()
SPEC_TOML = (
    b'[[layers]]\nkind = "conv2d"\nfilters = 2\npadding = "same"\n[[layers]]\nkind = "maxpool2d"\n'
    b'[[layers]]\nkind = "flatten"\n[[layers]]\nkind = "dense"\nunits = "classes"\nactivation = "softmax"\n'
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.sampled_from([2**70, -(2**70), 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["dense", "conv2d", "maxpool2d", "flatten", "dropout", "classes", "relu", "same", "valid", ""]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "type",
                    "units",
                    "filters",
                    "kernel",
                    "stride",
                    "padding",
                    "activation",
                    "pool",
                    "rate",
                    "trainable",
                    "layers",
                    "input_shape",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
LAYER = st.fixed_dictionaries(
    {"kind": st.sampled_from(["dense", "conv2d", "maxpool2d", "flatten", "dropout"])},
    optional={
        k: SCALARS
        for k in ["units", "filters", "kernel", "stride", "padding", "activation", "pool", "rate", "trainable"]
    },
)


@fuzz(60)
@given(st.one_of(st.binary(max_size=64), mutated(SPEC_JSON)))
def test_spec_json_bytes(data):
    loads_or_refuses(parse_model, str(in_file(data, "m.json")), (6, 6, 1), 3)


@fuzz(60)
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries({"layers": st.lists(LAYER, max_size=4)}, optional={"input_shape": JSON_VALUES}),
    )
)
def test_spec_json_documents(doc):
    loads_or_refuses(parse_model, str(in_file(json.dumps(doc).encode(), "m.json")), (6, 6, 1), 3)
    loads_or_refuses(ModelSpec.from_dict, doc, 3)


@fuzz(60)
@given(st.one_of(st.binary(max_size=64), mutated(SPEC_TOML)))
def test_spec_toml(data):
    loads_or_refuses(parse_model, str(in_file(data, "m.toml")), (6, 6, 1), 3)


SHORTHAND = st.from_regex(r"(mlp|cnn):[0-9,\-x. ]{0,8}(/[a-z]{1,7}=[0-9a-z.\-]{0,5}){0,3}", fullmatch=True)


@fuzz(100)
@given(st.one_of(st.text(max_size=30), SHORTHAND), st.sampled_from([((8, 8, 1), 10), ((5,), 2), ((4, 4, 3), 1)]))
def test_spec_shorthand(text, data):
    if text.strip().lower().endswith((".json", ".toml")):
        return
    loads_or_refuses(parse_model, text, *data)


# --- run folders, weight files, .keras files ------------------------------------------------------
def _run_folder() -> Path:
    spec = parse_model("mlp:4", (8, 8, 1), 10)
    rng = np.random.default_rng(0)
    weights = {k: rng.normal(size=s).astype("f4") for k, s in spec.param_shapes().items()}
    run = Run(
        "scratch",
        "digits",
        spec,
        TrainConfig(epochs=1),
        [str(i) for i in range(10)],
        weights,
    )
    return save_run(run, Path(tempfile.mkdtemp(prefix="bplab-fuzz-")) / "run")


RUN = _run_folder()
RUN_FILES = {p.name: p.read_bytes() for p in RUN.iterdir()}
SPEC = load_run(RUN).spec


def _copy_run(**replaced: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bplab-fuzz-")) / "run"
    folder.mkdir()
    for name, data in {**RUN_FILES, **replaced}.items():
        (folder / name).write_bytes(data)
    return folder


@fuzz(60)
@given(st.sampled_from(["model.json", "history.json", "metrics.json"]), st.data())
def test_run_folder_with_a_damaged_json_file(name, data):
    damaged = data.draw(st.one_of(mutated(RUN_FILES[name]), st.binary(max_size=32)))
    folder = _copy_run(**{name: damaged})
    loads_or_refuses(load_run, folder)
    loads_or_refuses(load_model, folder)


def _set_path(doc, path: list, value):
    """A copy of ``doc`` with the value at ``path`` (keys/indices, followed as far as they go) replaced."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    doc = json.loads(json.dumps(doc))
    key = sorted(doc)[path[0] % len(doc)] if isinstance(doc, dict) else path[0] % len(doc)
    doc[key] = _set_path(doc[key], path[1:], value)
    return doc


@fuzz(80)
@given(st.lists(st.integers(0, 50), max_size=5), JSON_VALUES)
def test_run_folder_with_a_wrong_field_in_model_json(path, value):
    doc = _set_path(json.loads(RUN_FILES["model.json"]), path, value)
    loads_or_refuses(load_run, _copy_run(**{"model.json": json.dumps(doc).encode()}))


@fuzz(60)
@given(
    st.one_of(
        mutated(RUN_FILES["weights.npz"]), mutated(RUN_FILES["weights.npz"][:200], edits=2), st.binary(max_size=64)
    )
)
def test_run_folder_with_damaged_weights(data):
    loads_or_refuses(load_run, _copy_run(**{"weights.npz": data}))


def _npz(arrays: dict, compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


ARRAYS = st.sampled_from(
    [
        np.zeros((64, 4), "f4"),
        np.zeros(4, "f4"),
        np.zeros((4, 10), "f8"),
        np.zeros(10, "i4"),
        np.array([np.nan], "f4"),
        np.zeros((2, 2), "f4"),
        np.zeros((0,), "f4"),
        np.array("text"),
        np.zeros(10, "f2"),
        np.zeros((4, 10), "f4", order="F"),
        np.zeros(10, ">f4"),
    ]
)


@fuzz(60)
@given(st.dictionaries(st.sampled_from(list(SPEC.param_shapes()) + ["x", "dense_0/kernel.npy"]), ARRAYS), st.booleans())
def test_weight_files_with_any_keys_shapes_and_dtypes(arrays, compressed):
    loads_or_refuses(load_weights, in_file(_npz(arrays, compressed), "weights.npz"), SPEC)


@fuzz(40)
@given(
    st.sampled_from(list(SPEC.param_shapes())),
    st.sampled_from([b"(64, 4)", b"(4,)", b"(4, 10)", b"(10,)"]),
    st.one_of(
        st.integers(0, 2**62).map(lambda n: f"({n},)".encode()),
        st.tuples(st.integers(0, 2**31), st.integers(0, 2**31)).map(lambda t: f"({t[0]}, {t[1]})".encode()),
    ),
)
def test_weight_files_whose_headers_lie_about_the_shape(key, old, new):
    """A header promising a huge array must not make the loader allocate it."""
    with zipfile.ZipFile(io.BytesIO(RUN_FILES["weights.npz"])) as z:
        members = {n: z.read(n) for n in z.namelist()}
    member = members[f"{key}.npy"]
    if old in member[:128]:
        header = member[:128].replace(old, new, 1)
        member = header + member[128:] if len(header) == 128 else member
    members[f"{key}.npy"] = member
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    loads_or_refuses(load_weights, in_file(buffer.getvalue(), "weights.npz"), SPEC)


# .keras: Keras's own loader behind ours; importing TensorFlow takes seconds, so few examples.
@pytest.fixture(scope="module")
def keras_file() -> bytes:
    pytest.importorskip("keras")
    from backprop_lab.runs.portable import export_keras

    path = Path(tempfile.mkdtemp(prefix="bplab-fuzz-")) / "m.keras"
    export_keras(load_run(RUN), path)
    return path.read_bytes()


def test_keras_files(keras_file):
    @fuzz(15)
    @given(st.one_of(mutated(keras_file, edits=2), st.binary(max_size=64).map(lambda b: b"PK\x03\x04" + b)))
    def check(data):
        loads_or_refuses(load_model, in_file(data, "m.keras"))

    assert load_model(in_file(keras_file, "m.keras")).spec == SPEC
    check()


# --- regressions: inputs that crashed a reader or loader before they were fixed ---------------------
@pytest.mark.parametrize(
    "text, says",
    [
        ("mlp:", "no widths"),
        ("cnn:", "no widths"),
        ("cnn:4/kernel=nan", "kernel"),
        ("cnn:4/kernel=inf", "kernel"),
        ("cnn:4/kernel=2.5", "kernel"),
        ("mlp:100000,100000,100000", "parameters"),
    ],
)
def test_regression_shorthand(text, says):
    with pytest.raises(SpecError, match=says):
        parse_model(text, (8, 8, 1), 10)


@pytest.mark.parametrize(
    "content, says",
    [
        ('{"layers": 5}', "'layers' must be a list"),
        ('{"input_shape": 64, "layers": []}', "input_shape must be a list"),
        ("[" * 100_000, "cannot parse"),
        ('{"layers": [{"kind": "dense", "units": 4, "trainable": "no"}]}', "trainable"),
        ("", "cannot parse"),
    ],
)
def test_regression_spec_files(content, says):
    with pytest.raises(SpecError, match=says):
        parse_model(str(in_file(content.encode(), "m.json")), (64,), 10)
    with pytest.raises(SpecError):
        ModelSpec.from_json(content if content.startswith("[") else '{"input_shape": 5, "layers": 5}')


@pytest.mark.parametrize(
    "name, content, says",
    [
        (
            "model.json",
            '{"format": "backprop-lab-run/1", "spec": {"input_shape": [64], "layers": [{"kind": "dense", '
            '"units": 10}]}, "config": [1], "class_names": []}',
            "'config' must be a table",
        ),
        ("model.json", "[" * 100_000, "not valid JSON"),
        ("history.json", '{"epochs": 3}', "history.json"),
        ("history.json", '{"stop": [1], "step_loss": [], "epochs": []}', "history.json"),
        ("metrics.json", "\x89PNG", "metrics.json"),
    ],
)
def test_regression_run_folders(name, content, says):
    with pytest.raises(BplabError, match=says):
        load_run(_copy_run(**{name: content.encode()}))


def test_regression_a_weight_header_promising_terabytes_is_refused_without_allocating():
    member = zipfile.ZipFile(io.BytesIO(RUN_FILES["weights.npz"])).read("dense_0/kernel.npy")
    header = member[:128].replace(b"(64, 4)", b"(10000000000000,)", 1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in zipfile.ZipFile(io.BytesIO(RUN_FILES["weights.npz"])).namelist():
            z.writestr(
                name,
                header + member[128:]
                if name == "dense_0/kernel.npy"
                else zipfile.ZipFile(io.BytesIO(RUN_FILES["weights.npz"])).read(name),
            )
    with pytest.raises(BplabError, match=r"dense_0/kernel has shape \(10000000000000,\)"):
        load_weights(in_file(buffer.getvalue(), "weights.npz"), SPEC)


@pytest.mark.parametrize(
    "content, says",
    [
        (b"0,nan,1\n1,2,3\n", "not a finite number"),
        (b"0,1e400,1\n1,2,3\n", "not a finite number"),
        (b"1e300,1,1\n0,2,3\n", "label"),
        (b"5000000,1,1\n0,2,3\n", "label"),
    ],
)
def test_regression_csv_values(content, says):
    with pytest.raises(DataError, match=says):
        read_csv(in_file(content, "x.csv"))


@pytest.mark.parametrize("labels", [0, np.zeros((2, 3072), np.uint8)], ids=["a number", "a matrix"])
def test_regression_cifar_labels_that_are_not_a_list(tmp_path, labels):
    for name in BATCH_NAMES:
        data = {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels} if name == "test_batch" else None
        (tmp_path / name).write_bytes(pickle.dumps(data, protocol=2) if data else BATCH)
    with pytest.raises(DataError, match="test_batch: expected a list of labels"):
        read_cifar10(tmp_path)


def test_regression_an_idx_header_whose_size_overflows_64_bits(tmp_path):
    """65536**4 bytes wrapped to 0 in NumPy's int64 product and matched an empty body."""
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4)
    with pytest.raises(DataError, match="promises"):
        read_idx(path)


@pytest.mark.parametrize(
    "images, labels, says",
    [
        (np.zeros((0, 3, 3)), np.zeros(0), "no images"),
        (np.zeros((2, 3, 3)), np.array([0.5, 1.0], ">f4"), "must be integers"),
        (np.array([[[np.nan]], [[0.0]]], ">f4"), np.array([0, 1]), "NaN"),
    ],
    ids=["no images", "float labels", "nan pixels"],
)
def test_regression_idx_pairs(tmp_path, images, labels, says):
    def write(path, arr):
        arr = np.asarray(arr)
        code = {"u1": 0x08, ">f4": 0x0D}.get(arr.dtype.str.replace("|", ""), 0x08)
        arr = arr.astype("u1") if code == 0x08 else arr
        path.write_bytes(
            bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
        )
        return path

    with pytest.raises(DataError, match=says):
        read_idx_pair(write(tmp_path / "i", images), write(tmp_path / "l", labels))
