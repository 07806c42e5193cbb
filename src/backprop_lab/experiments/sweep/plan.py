"""A sweep's plan: the grid over options, the model and the engine, its cells and seeds, read from a file
or the command line and validated once."""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import check_engine
from backprop_lab.options.config import MAX_SEEDS, TrainConfig, parse_batch_size
from backprop_lab.options.registry import DEFAULT_MODEL, TRAINING
from backprop_lab.spec.model import parse_model
from backprop_lab.training import check_loss_fits

# How a value becomes each key's: every training option (backprop_lab.options.registry.TRAINING) but ``seed`` (a sweep's
# seeds are its own setting), then the sweep's own keys. ``coerce`` also takes "default" for ``lr``.
OPTION_TYPES: dict[str, Callable] = {
    **{o.name: parse_batch_size if o.name == "batch_size" else o.value_type for o in TRAINING if o.name != "seed"},
    "model": str,
    "engine": str,
    "variant": str,
}
SETTINGS = ("data", "data_dir", "seeds", "seed", "baseline", "grid", "variants", "about")
DEFAULTS = {"model": DEFAULT_MODEL, "engine": "scratch"}


def normalise_key(key: str, where: str) -> str:
    name = key.replace("-", "_")
    if name not in OPTION_TYPES:
        raise BplabError(
            f"{where}: unknown key {key!r} (known: {', '.join(sorted(k.replace('_', '-') for k in OPTION_TYPES))})"
        )
    return name


def coerce(key: str, value: Any, where: str) -> Any:
    if key == "lr" and value in (None, "default"):
        return None
    try:
        if key == "batch_size":
            return parse_batch_size(value)
        if OPTION_TYPES[key] is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        result = OPTION_TYPES[key](value)
    except (TypeError, ValueError, BplabError):
        raise BplabError(f"{where}: {key.replace('_', '-')} = {value!r} is not a valid value") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise BplabError(f"{where}: {key.replace('_', '-')} = {value!r} is not a finite number")
    return result


def parse_grid_arg(text: str) -> tuple[str, list[str]]:
    """``key=v1,v2`` (use ``|`` between values that contain commas: ``model=mlp:128,64|mlp:256``)."""
    if "=" not in text:
        raise BplabError(f"--grid: expected KEY=VALUE1,VALUE2, got {text!r}")
    key, _, values = text.partition("=")
    parts = [v.strip() for v in values.split("|" if "|" in values else ",")]
    if not key.strip() or not all(parts):
        raise BplabError(f"--grid: {text!r} has an empty key or value")
    return key.strip(), parts


@dataclass
class Cell:
    name: str  # e.g. "optimizer=adam,init=he_normal"
    values: dict[str, Any]  # the grid's values for this cell
    options: dict[str, Any]  # every option of its runs

    @property
    def folder_name(self) -> str:
        return "".join(c if c.isalnum() or c in "-_.=," else "_" for c in self.name) or "base"

    def config(self, seed: int) -> TrainConfig:
        fields = {k: v for k, v in self.options.items() if k not in ("model", "engine", "variant")}
        return TrainConfig(**fields, seed=seed)


@dataclass
class SweepPlan:
    data: str
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: int = 3
    seed: int = 0
    data_dir: str | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise BplabError(f"seeds: must be at least 1, got {self.seeds}")
        if self.seeds > MAX_SEEDS:  # a sweep of that many runs per cell is a typo, not a plan
            raise BplabError(f"seeds: at most {MAX_SEEDS}, got {self.seeds}")
        for key, values in self.grid.items():
            if not values:
                raise BplabError(f"grid: {key} has no values")
            if len(set(map(str, values))) != len(values):
                raise BplabError(f"grid: {key} names a value twice")
            if key == "variant":
                for v in values:
                    if v not in self.variants:
                        raise BplabError(
                            f"grid: variant {v!r} is not defined (defined: {', '.join(self.variants) or 'none'})"
                        )

    def cells(self) -> list[Cell]:
        keys = list(self.grid)
        cells = []
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            values = dict(zip(keys, combo))
            options = {**DEFAULTS, **self.base}
            for key, value in values.items():
                options.update(self.variants[value] if key == "variant" else {key: value})
            name = (
                ",".join(
                    f"{k.replace('_', '-')}={'full' if v is None and k == 'batch_size' else v}"
                    for k, v in values.items()
                )
                or "base"
            )
            cells.append(Cell(name, values, options))
        return cells

    def baseline_cell(self, cells: list[Cell]) -> Cell:
        if self.baseline is None:
            return cells[0]
        for cell in cells:
            if cell.name == self.baseline:
                return cell
        raise BplabError(f"baseline: no cell named {self.baseline!r} (cells: {', '.join(c.name for c in cells)})")

    def validate(self) -> None:
        """Every cell's options are checked (and every model parsed) before anything trains."""

        cells = self.cells()
        self.baseline_cell(cells)
        dataset = load_dataset(self.data, self.data_dir)
        for cell in cells:
            try:
                config = cell.config(self.seed)
                check_engine(cell.options["engine"], "engine")
                spec = parse_model(cell.options["model"], dataset.input_shape, dataset.num_classes)
                check_loss_fits(spec, config.loss, dataset.num_classes)
            except BplabError as exc:
                raise BplabError(f"cell {cell.name}: {exc}") from None

    def to_dict(self) -> dict:
        return {
            "data": self.data,
            "data_dir": self.data_dir,
            "base": self.base,
            "grid": self.grid,
            "variants": self.variants,
            "seeds": self.seeds,
            "seed": self.seed,
            "baseline": self.baseline,
        }


def plan_from_document(doc: dict, where: str, data: str | None = None) -> SweepPlan:
    """A sweep from a TOML document (or a preset): settings, base options, ``[grid]``, ``[variants.NAME]``."""
    base, grid, variants = {}, {}, {}
    for key, value in doc.items():
        if key in SETTINGS:
            continue
        name = normalise_key(key, where)
        base[name] = coerce(name, value, where)
    raw_grid = doc.get("grid", {})
    if not isinstance(raw_grid, dict):
        raise BplabError(f"{where}: [grid] must be a table of KEY = [values]")
    for key, values in raw_grid.items():
        name = normalise_key(key, f"{where} [grid]")
        if not isinstance(values, list):
            raise BplabError(f"{where} [grid]: {key} must be a list of values")
        grid[name] = [values_ if name == "variant" else coerce(name, values_, f"{where} [grid]") for values_ in values]
    raw_variants = doc.get("variants", {})
    if not isinstance(raw_variants, dict):
        raise BplabError(f"{where}: [variants] must hold tables [variants.NAME]")
    for vname, options in raw_variants.items():
        if not isinstance(options, dict):
            raise BplabError(f"{where}: [variants.{vname}] must be a table of options")
        inner = f"{where} [variants.{vname}]"
        variants[vname] = {}
        for key, value in options.items():
            name = normalise_key(key, inner)
            if name == "variant":
                raise BplabError(f"{inner}: a variant cannot name another variant")
            variants[vname][name] = coerce(name, value, inner)
    seeds, seed = doc.get("seeds", 3), doc.get("seed", 0)
    for key, value in (("seeds", seeds), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BplabError(f"{where}: {key} must be a whole number, got {value!r}")
    if seed < 0:
        raise BplabError(f"{where}: seed must be at least 0, got {seed}")
    for key in ("data_dir", "baseline"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise BplabError(f"{where}: {key} must be a string, got {doc[key]!r}")
    name = data or doc.get("data")
    if not name:
        raise BplabError(f'{where}: no data set (give data = "..." or --data)')
    return SweepPlan(str(name), base, grid, variants, seeds, seed, doc.get("data_dir"), doc.get("baseline"))


def read_sweep_file(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BplabError(f"{path}: sweep file not found")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BplabError(f"{path}: not a valid TOML file ({exc})") from None
    for key, what in (
        ("grid", "[grid] must be a table of option = [values]"),
        ("variants", "[variants] must hold tables [variants.NAME]"),
    ):
        if key in doc and not isinstance(doc[key], dict):
            raise BplabError(f"{path}: {what}, got {key} = {doc[key]!r}")
    return doc


# --- running --------------------------------------------------------------
