"""Models between engines and formats: a run folder (model.json + weights.npz)
or Keras's native ``.keras`` file, in and out.

A ``.keras`` file is opened with Keras's ``safe_mode`` (no code from the file
is deserialised) and accepted only if every layer is one backprop-lab supports.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import BplabError, SpecError
from backprop_lab.core.names import ACTIVATIONS
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.record import Run, load_run
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ModelSpec


def load_model(path: Path | str) -> Run:
    """A saved run folder or a ``.keras`` file."""
    path = Path(path)
    if path.suffix == ".keras":
        return import_keras(path)
    return load_run(path)


def export_keras(run: Run, path: Path) -> Path:
    from backprop_lab.engines.keras.build import build_model

    path = Path(path)
    if path.suffix != ".keras":
        raise BplabError(f"{path}: a Keras native file must end in .keras")
    if not path.parent.is_dir():
        raise BplabError(f"{path.parent}: folder not found")
    model = build_model(run.spec, run.weights, TrainConfig(dtype=str(next(iter(run.weights.values())).dtype)))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _spec_layer(layer, where: str):
    from backprop_lab.engines import keras as keras_engines  # noqa: F401 - loads TensorFlow without its start-up lines

    # isort: split
    import keras

    name = f"{where}: layer {layer.name!r} ({type(layer).__name__})"
    act = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)) and not layer.use_bias:
        raise BplabError(f"{name}: layers without a bias are not supported")
    if isinstance(layer, keras.layers.Dense):
        return Dense(layer.units, act)
    if isinstance(layer, keras.layers.Conv2D):
        k, s = layer.kernel_size, layer.strides
        if k[0] != k[1] or s[0] != s[1] or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
            raise BplabError(f"{name}: only square kernels, equal strides, no dilation or groups are supported")
        return Conv2D(layer.filters, k[0], s[0], layer.padding, act)
    if isinstance(layer, keras.layers.MaxPooling2D):
        p, s = layer.pool_size, layer.strides
        if p[0] != p[1] or s[0] != s[1] or layer.padding != "valid":
            raise BplabError(f"{name}: only square 'valid' pooling is supported")
        return MaxPool2D(p[0], None if s[0] == p[0] else s[0])
    if isinstance(layer, keras.layers.Flatten):
        return Flatten()
    if isinstance(layer, keras.layers.Dropout):
        return Dropout(float(layer.rate))
    raise BplabError(f"{name}: not supported (Dense, Conv2D, MaxPooling2D, Flatten and Dropout are)")


def import_keras(path: Path) -> Run:
    """Read a ``.keras`` file into a spec and weights; nothing from the file is executed."""
    if not path.is_file():
        raise BplabError(f"{path}: file not found")
    if not zipfile.is_zipfile(path):
        raise BplabError(f"{path}: not a .keras file (a .keras file is a zip archive)")
    from backprop_lab.engines import keras as keras_engines  # noqa: F401 - loads TensorFlow without its start-up lines

    # isort: split
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # a bad file: report it on one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BplabError(f"{path}: cannot read as a Keras model ({first[:200]})") from None
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    for l in layers:
        act = getattr(getattr(l, "activation", None), "__name__", "linear")
        if act not in ACTIVATIONS:
            raise BplabError(f"{path}: layer {l.name!r} uses activation {act!r}, which is not supported")
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):  # a model that was never built has no input shape
        shape = None
    if not isinstance(shape, tuple) or not all(isinstance(d, int) for d in shape[1:]):
        raise BplabError(f"{path}: only one input of a fixed shape is supported, the model takes {shape}")
    try:
        spec = ModelSpec(tuple(shape[1:]), tuple(_spec_layer(l, str(path)) for l in layers))
    except SpecError as exc:
        raise BplabError(f"{path}: {exc}") from None
    weights = {}
    for info, layer in zip(spec.infos, layers):
        if info.params:
            values = [np.asarray(v) for v in layer.get_weights()]
            if [v.shape for v in values] != [info.params["kernel"], info.params["bias"]]:
                raise BplabError(
                    f"{path}: layer {layer.name!r} holds weights of shapes {[v.shape for v in values]}, "
                    f"expected a kernel {info.params['kernel']} and a bias {info.params['bias']}"
                )
            weights[f"{info.name}/kernel"], weights[f"{info.name}/bias"] = values
    units = spec.output_shape[-1]
    return Run(
        "keras-file",
        "?",
        spec,
        TrainConfig(),
        [str(i) for i in range(max(units, 2))],
        weights,
        extra={"source": str(path)},
    )
