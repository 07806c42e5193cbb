"""ModelSpec: the only architecture description. Every engine, picture and
equation is built from it.

A spec is a list of layer specs plus the input shape. Shapes are inferred and
validated when the spec is made, so an invalid network is refused before any
engine sees it, with a message naming the offending layer.
"""

from __future__ import annotations

import json
import math
import numbers
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union

from backprop_lab.core.errors import SpecError, first_line
from backprop_lab.core.names import ACTIVATIONS

PADDINGS = ("valid", "same")


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(ACTIVATIONS.unknown(name))


def _positive(value: Any, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def _flag(value: Any, what: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")


@dataclass(frozen=True)
class Dense:
    units: int
    activation: str = "linear"
    trainable: bool = True
    kind = "dense"

    def validate(self) -> None:
        _positive(self.units, "units")
        _check_activation(self.activation)
        _flag(self.trainable, "trainable")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 1:
            raise ValueError(f"Dense needs flat input but gets shape {shape}; add a Flatten layer first")
        return (self.units,)

    def param_shapes(self, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"kernel": (shape[0], self.units), "bias": (self.units,)}


@dataclass(frozen=True)
class Dropout:
    rate: float
    kind = "dropout"

    def validate(self) -> None:
        if not isinstance(self.rate, (int, float)) or isinstance(self.rate, bool) or not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.rate!r}")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def param_shapes(self, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {}


def _conv_length(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1


@dataclass(frozen=True)
class Conv2D:
    filters: int
    kernel: int = 3
    stride: int = 1
    padding: str = "valid"
    activation: str = "relu"
    trainable: bool = True
    kind = "conv2d"

    def validate(self) -> None:
        _positive(self.filters, "filters")
        _positive(self.kernel, "kernel")
        _positive(self.stride, "stride")
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be 'valid' or 'same', got {self.padding!r}")
        _check_activation(self.activation)
        _flag(self.trainable, "trainable")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise ValueError(f"Conv2D needs image input (H, W, C) but gets flat input of shape {shape}")
        h, w, _ = shape
        oh = _conv_length(h, self.kernel, self.stride, self.padding)
        ow = _conv_length(w, self.kernel, self.stride, self.padding)
        if oh <= 0 or ow <= 0:
            raise ValueError(f"a {self.kernel}x{self.kernel} kernel collapses input {shape} to zero size")
        return (oh, ow, self.filters)

    def param_shapes(self, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"kernel": (self.kernel, self.kernel, shape[2], self.filters), "bias": (self.filters,)}


@dataclass(frozen=True)
class MaxPool2D:
    pool: int = 2
    stride: int | None = None
    kind = "maxpool2d"

    @property
    def step(self) -> int:
        return self.stride or self.pool

    def validate(self) -> None:
        _positive(self.pool, "pool")
        if self.stride is not None:
            _positive(self.stride, "stride")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise ValueError(f"MaxPool2D needs image input (H, W, C) but gets flat input of shape {shape}")
        h, w, c = shape
        oh = _conv_length(h, self.pool, self.step, "valid")
        ow = _conv_length(w, self.pool, self.step, "valid")
        if oh <= 0 or ow <= 0:
            raise ValueError(f"a {self.pool}x{self.pool} pool collapses input {shape} to zero size")
        return (oh, ow, c)

    def extent(self, size: int) -> int:
        """How many of an input's ``size`` rows (or columns) some window reads: 'valid' pooling leaves out
        the last ``size - extent`` when the windows do not tile the input (a 2x2/2 pool of 11 rows reads 10)."""
        return (_conv_length(size, self.pool, self.step, "valid") - 1) * self.step + self.pool

    def param_shapes(self, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {}


@dataclass(frozen=True)
class Flatten:
    kind = "flatten"

    def validate(self) -> None:
        pass

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(shape),)

    def param_shapes(self, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {}


LayerSpec = Union[Dense, Dropout, Conv2D, MaxPool2D, Flatten]
MAX_PARAMS = 2**31 - 1  # 8 GiB of float32 weights: far beyond what this tool trains, refused before any allocation
LAYER_KINDS: dict[str, type] = {cls.kind: cls for cls in (Dense, Dropout, Conv2D, MaxPool2D, Flatten)}


@dataclass(frozen=True)
class LayerInfo:
    """A layer of a resolved spec: its name, spec, input/output shapes and parameter shapes."""

    name: str
    spec: LayerSpec
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: dict[str, tuple[int, ...]]

    @property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.params.values())

    @property
    def trainable(self) -> bool:
        return getattr(self.spec, "trainable", True)


@dataclass(frozen=True)
class ModelSpec:
    input_shape: tuple[int, ...]
    layers: tuple[LayerSpec, ...]
    infos: tuple[LayerInfo, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = tuple(self.input_shape)
        if not shape or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in shape):
            raise SpecError(f"input shape {shape} must be a list of positive integer sizes")
        object.__setattr__(self, "input_shape", tuple(int(d) for d in shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise SpecError("a model needs at least one layer")
        counters: dict[str, int] = {}
        shape = self.input_shape
        infos = []
        for i, layer in enumerate(self.layers):
            name = f"{layer.kind}_{counters.get(layer.kind, 0)}"
            counters[layer.kind] = counters.get(layer.kind, 0) + 1
            try:
                layer.validate()
                out = layer.output_shape(shape)
            except ValueError as exc:
                raise SpecError(f"layer {i} ({name}): {exc}") from None
            infos.append(LayerInfo(name, layer, shape, out, layer.param_shapes(shape)))
            if infos[-1].n_params > MAX_PARAMS:
                raise SpecError(f"layer {i} ({name}): {infos[-1].n_params:,} parameters; the limit is {MAX_PARAMS:,}")
            shape = out
        object.__setattr__(self, "infos", tuple(infos))
        if sum(i.n_params for i in infos) > MAX_PARAMS:
            raise SpecError(f"the model has {sum(i.n_params for i in infos):,} parameters; the limit is {MAX_PARAMS:,}")

    # --- derived facts -------------------------------------------------
    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.infos[-1].output_shape

    @property
    def output_activation(self) -> str:
        for layer in reversed(self.layers):
            if isinstance(layer, (Dense, Conv2D)):
                return layer.activation
        return "linear"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Flat weight keys (``dense_0/kernel``) to shapes, in layer order."""
        return {f"{info.name}/{k}": s for info in self.infos for k, s in info.params.items()}

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts."""
        trainable = sum(i.n_params for i in self.infos if i.trainable)
        frozen = sum(i.n_params for i in self.infos if not i.trainable)
        return trainable, frozen

    def with_layers(self, layers: list[LayerSpec]) -> "ModelSpec":
        return ModelSpec(self.input_shape, tuple(layers))

    # --- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "layers": [{"kind": layer.kind, **asdict(layer)} for layer in self.layers],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any], num_classes: int | None = None) -> "ModelSpec":
        if not isinstance(data, dict) or "input_shape" not in data or "layers" not in data:
            raise SpecError("a model spec needs 'input_shape' and 'layers'")
        if not isinstance(data["input_shape"], (list, tuple)):
            raise SpecError(f"input_shape must be a list of sizes, got {data['input_shape']!r}")
        if not isinstance(data["layers"], (list, tuple)):
            raise SpecError(f"'layers' must be a list of layer tables, got {data['layers']!r}")
        return cls(
            tuple(data["input_shape"]), tuple(_layer_from_dict(d, i, num_classes) for i, d in enumerate(data["layers"]))
        )

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise SpecError(f"model spec is not valid JSON: {first_line(exc)}") from None
        return cls.from_dict(data)


def _layer_from_dict(data: Any, index: int, num_classes: int | None) -> LayerSpec:
    if not isinstance(data, dict):
        raise SpecError(f"layer {index}: expected a table of settings, got {data!r}")
    data = dict(data)
    kind = str(data.pop("kind", data.pop("type", ""))).lower()
    if kind not in LAYER_KINDS:
        raise SpecError(f"layer {index}: unknown layer kind {kind!r} (choose from {', '.join(LAYER_KINDS)})")
    cls = LAYER_KINDS[kind]
    allowed = {f.name for f in fields(cls)}
    unknown = set(data) - allowed
    if unknown:
        raise SpecError(f"layer {index} ({kind}): unknown setting(s) {', '.join(sorted(unknown))}")
    if data.get("units") == "classes":
        if num_classes is None:
            raise SpecError(f"layer {index} ({kind}): units 'classes' needs a data set")
        data["units"] = num_classes
    try:
        return cls(**data)
    except TypeError as exc:
        raise SpecError(f"layer {index} ({kind}): {exc}") from None


# --- shorthand ---------------------------------------------------------


def _parse_options(parts: list[str], text: str) -> dict[str, str]:
    options = {}
    for part in parts:
        if "=" not in part:
            raise SpecError(f"model {text!r}: option {part!r} must look like key=value")
        key, value = part.split("=", 1)
        options[key.strip()] = value.strip()
    return options


def _parse_widths(body: str, text: str) -> list[int]:
    widths = []
    head = text.partition(":")[0]
    if not body.strip():
        raise SpecError(f"model {text!r}: no widths given after '{head}:' (e.g. {head}:128,64)")
    for item in (s.strip() for s in body.split(",")):
        if not item:
            raise SpecError(f"model {text!r}: an empty width between commas")
        try:
            widths.append(int(item))
        except ValueError:
            raise SpecError(f"model {text!r}: width {item!r} is not an integer") from None
    return widths


def _float_option(options: dict[str, str], key: str, default: float, text: str) -> float:
    try:
        return float(options.pop(key, default))
    except ValueError:
        raise SpecError(f"model {text!r}: option {key} must be a number") from None


def _int_option(options: dict[str, str], key: str, default: int, text: str) -> int:
    value = options.pop(key, default)
    try:
        return int(value)
    except ValueError:
        raise SpecError(f"model {text!r}: option {key} must be an integer, got {value!r}") from None


def parse_model(text: str, input_shape: tuple[int, ...], num_classes: int) -> ModelSpec:
    """Resolve a model description against a data set's input shape and class count.

    ``mlp:256,128,64[/act=tanh][/dropout=0.2][/out=softmax]``,
    ``cnn:32,64,64[/pad=same][/dropout=0.5]`` or a path to a ``.json``/``.toml`` spec.
    """
    text = text.strip()
    head, _, rest = text.partition(":")
    if head in ("mlp", "cnn") and _ == ":":
        body, *opt_parts = rest.split("/")
        options = _parse_options(opt_parts, text)
        widths = _parse_widths(body, text)
        dropout = _float_option(options, "dropout", 0.0, text)
        out = options.pop("out", "softmax" if num_classes > 1 else "sigmoid")
        units = num_classes if num_classes > 1 or out != "sigmoid" else 1
        layers: list[LayerSpec] = []
        if head == "mlp":
            act = options.pop("act", "relu")
            if len(input_shape) > 1:
                layers.append(Flatten())
            for w in widths:
                layers.append(Dense(w, act))
                if dropout:
                    layers.append(Dropout(dropout))
        else:
            act = options.pop("act", "relu")
            pad = options.pop("pad", "valid")
            kernel = _int_option(options, "kernel", 3, text)
            for f in widths:
                layers += [Conv2D(f, kernel, 1, pad, act), MaxPool2D(2)]
            layers.append(Flatten())
            if dropout:
                layers.append(Dropout(dropout))
        if options:
            raise SpecError(f"model {text!r}: unknown option(s) {', '.join(sorted(options))}")
        layers.append(Dense(units, out))
        return ModelSpec(input_shape, tuple(layers))
    path = Path(text)
    if path.suffix.lower() in (".json", ".toml"):
        return load_spec_file(path, input_shape, num_classes)
    raise SpecError(f"model {text!r}: expected mlp:W1,W2,..., cnn:F1,F2,... or a .json/.toml spec file")


def load_spec_file(path: Path, input_shape: tuple[int, ...], num_classes: int) -> ModelSpec:
    if not path.is_file():
        raise SpecError(f"{path}: model spec file not found")
    try:
        raw = path.read_bytes().decode("utf-8")
        data = tomllib.loads(raw) if path.suffix.lower() == ".toml" else json.loads(raw)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read model spec ({exc.strerror})") from None
    except (ValueError, RecursionError) as exc:  # JSON, TOML and UTF-8 errors; nesting too deep
        raise SpecError(f"{path}: cannot parse model spec: {first_line(exc)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a model spec must be a table with 'layers'")
    data = dict(data)
    if "layers" not in data:
        raise SpecError(f"{path}: a model spec needs 'layers' (a list of layer tables)")
    if "input_shape" in data:
        given = data["input_shape"]
        if not isinstance(given, (list, tuple)):
            raise SpecError(f"{path}: input_shape must be a list of sizes, got {given!r}")
        if tuple(given) != tuple(input_shape):
            raise SpecError(f"{path}: input_shape {tuple(given)} does not match the data ({tuple(input_shape)})")
    data["input_shape"] = list(input_shape)
    try:
        return ModelSpec.from_dict(data, num_classes)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def replace_head(spec: ModelSpec, head: LayerSpec, freeze_base: bool) -> ModelSpec:
    """The same base with a new last layer; base layers frozen if asked."""
    base = list(spec.layers[:-1])
    if freeze_base:
        base = [replace(l, trainable=False) if hasattr(l, "trainable") else l for l in base]
    return spec.with_layers(base + [head])


def unfreeze(spec: ModelSpec) -> ModelSpec:
    return spec.with_layers([replace(l, trainable=True) if hasattr(l, "trainable") else l for l in spec.layers])


# --- summary -----------------------------------------------------------

_TYPE_NAMES = {
    "dense": "Dense",
    "dropout": "Dropout",
    "conv2d": "Conv2D",
    "maxpool2d": "MaxPooling2D",
    "flatten": "Flatten",
}


def summary_rows(spec: ModelSpec) -> list[tuple[str, str, int, str]]:
    """(layer name and type, output shape, params, detail) rows, Keras style."""
    rows = []
    for info in spec.infos:
        detail = ""
        layer = info.spec
        if isinstance(layer, (Dense, Conv2D)):
            detail = layer.activation + ("" if layer.trainable else ", frozen")
        elif isinstance(layer, Dropout):
            detail = f"rate {layer.rate:g}"
        shape = "(None, " + ", ".join(str(d) for d in info.output_shape) + ")"
        rows.append((f"{info.name} ({_TYPE_NAMES[layer.kind]})", shape, info.n_params, detail))
    return rows


def summary_document(spec: ModelSpec) -> dict:
    """The summary as data: input shape, one row per layer, parameter counts."""
    trainable, frozen = spec.count_params()
    return {
        "input_shape": list(spec.input_shape),
        "layers": [dict(zip(("layer", "output_shape", "params", "detail"), row)) for row in summary_rows(spec)],
        "total": trainable + frozen,
        "trainable": trainable,
        "non_trainable": frozen,
    }
