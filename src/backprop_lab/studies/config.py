"""A study file (TOML): which sections run and with which settings.

Top-level keys apply to every section, a ``[SECTION]`` table overrides them for
that section, and ``[presets.NAME]`` holds what ``--preset NAME`` changes (its
own ``SECTION = { ... }`` entries override sections). Unknown keys are refused
with the key named. The reference study is ``reference.toml`` beside this file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import MAX_SEEDS

SECTIONS = (
    "network",
    "forward",
    "backward",
    "equations",
    "tape",
    "engines",
    "numpy33",
    "experiments",
    "cifar",
    "blend",
    "cnn",
    "saveload",
    "transfer",
)
from backprop_lab.options.registry import STUDY_PRESET, TRAINING  # noqa: E402 - the options, declared once

COMMON = {
    "data": str,
    "model": str,
    "seeds": int,
    "engine": str,
    "data_dir": str,
    **{o.name: (int, str) if o.name == "batch_size" else o.value_type for o in TRAINING},
}
EXTRA = {
    "experiments": {"presets": list},
    "blend": {"alphas": list},
    "transfer": {"classes": str, "finetune": bool, "timing_repeats": int},
}
TOP = {**COMMON, "sections": list}
POSITIVE = ("seeds", "epochs", "timing_repeats")  # counts: refused when the file is read, not sections later
MAXIMA = {"seeds": MAX_SEEDS, "timing_repeats": 100}  # beyond these a study would run for days: a typo, refused
ELEMENTS = {"sections": (str,), "presets": (str,), "alphas": (int, float)}  # what each list holds


def reference_text() -> str:
    return resources.files("backprop_lab.studies").joinpath("reference.toml").read_text()


def _check(table: dict, allowed: dict, where: str) -> dict:
    for key, value in table.items():
        if key not in allowed:
            raise BplabError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")
        kind = allowed[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (bool not in kinds and isinstance(value, bool)):
            raise BplabError(f"{where}: {key} = {value!r} has the wrong type")
        if key in POSITIVE and value < 1:
            raise BplabError(f"{where}: {key} = {value!r} must be at least 1")
        if key in MAXIMA and value > MAXIMA[key]:
            raise BplabError(f"{where}: {key} = {value!r} is more than {MAXIMA[key]}")
        if key in ELEMENTS and any(not isinstance(v, ELEMENTS[key]) or isinstance(v, bool) for v in value):
            what = "names (strings)" if ELEMENTS[key] == (str,) else "numbers"
            raise BplabError(f"{where}: {key} = {value!r} must be a list of {what}")
    return table


@dataclass
class Study:
    common: dict[str, Any]
    sections: list[str]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "reference"
    preset: str = STUDY_PRESET

    def settings(self, section: str) -> dict[str, Any]:
        """Everything one section runs with."""
        return {**self.common, **self.overrides.get(section, {})}


def load_study(
    path: Path | None = None, preset: str = STUDY_PRESET, data: str | None = None, data_dir: str | Path | None = None
) -> Study:
    where = str(path) if path else "reference study"
    if path is None:
        text = reference_text()
    else:
        path = Path(path)
        if not path.is_file():
            raise BplabError(f"{path}: study file not found")
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise BplabError(f"{path}: not a text file") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BplabError(f"{where}: not valid TOML ({exc})") from None
    presets = doc.pop("presets", {})
    if not isinstance(presets, dict):
        raise BplabError(f"{where}: [presets] must hold tables [presets.NAME]")
    tables = {k: doc.pop(k) for k in list(doc) if k in SECTIONS}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise BplabError(f"{where}: {name} = {table!r}: a section's settings go in a table [{name}]")
    for key in doc:
        if key not in TOP:
            hint = " (a section table?)" if isinstance(doc[key], dict) else ""
            raise BplabError(f"{where}: unknown key {key!r}{hint} (sections: {', '.join(SECTIONS)})")
    common = _check(doc, TOP, where)
    sections = common.pop("sections", list(SECTIONS))
    overrides = {
        name: dict(_check(table, {**COMMON, **EXTRA.get(name, {})}, f"{where} [{name}]"))
        for name, table in tables.items()
    }
    if preset not in presets:
        raise BplabError(f"--preset: {where} has no preset {preset!r} (it has {', '.join(presets) or 'none'})")
    if not isinstance(presets[preset], dict):
        raise BplabError(f"{where}: presets.{preset} = {presets[preset]!r}: a preset is a table [presets.{preset}]")
    preset_data = presets[preset].get("data")
    for key, value in presets[preset].items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise BplabError(f"{where} [presets.{preset}]: {key} must be a table of settings")
            table = dict(_check(value, {**COMMON, **EXTRA.get(key, {})}, f"{where} [presets.{preset}.{key}]"))
            if data is not None and preset_data is not None and data != preset_data:
                table.pop("classes", None)  # class names chosen for the preset's data set, not for --data's
            overrides.setdefault(key, {}).update(table)
        else:
            common.update(_check({key: value}, COMMON, f"{where} [presets.{preset}]"))
    for name in sections:
        if name not in SECTIONS:
            raise BplabError(f"{where}: unknown section {name!r} (choose from {', '.join(SECTIONS)})")
    if data_dir is not None:
        common["data_dir"] = str(data_dir)
    if data is not None:
        common["data"] = data
        for table in overrides.values():  # --data applies everywhere, except the CIFAR section's own choice
            if "data" in table and table is not overrides.get("cifar"):
                table.pop("data")
    return Study(common, list(sections), overrides, where, preset)
