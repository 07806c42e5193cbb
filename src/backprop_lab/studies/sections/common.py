"""What every section shares: the :class:`Section` it returns, the :class:`Context` it runs in, the MLP
set-up and the sweep helpers of sections 7 to 9."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backprop_lab.core.files import make_folder
from backprop_lab.experiments.sweep import plan_from_document, run_sweep
from backprop_lab.options.config import TrainConfig, parse_batch_size
from backprop_lab.options.registry import TRAINING_NAMES
from backprop_lab.results.tables import Table
from backprop_lab.runs.record import load_run
from backprop_lab.runs.workflow import (
    prepare,
    sweep_folder,
)

TRAINING_KEYS = tuple(n for n in TRAINING_NAMES if n not in ("batch_size", "seed"))  # those two: see Context.config


@dataclass
class Section:
    key: str
    title: str
    reading: str = ""
    command: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file relative to the study folder, caption)
    tables: list[Table] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    math: str = ""  # MathML blocks (generated from the derivation's expression trees), shown as they are
    verdicts: list[dict] = field(default_factory=list)  # claims.Verdict.to_dict() for each claim the section tests
    paired: bool = False  # figure i belongs with table i: shown together, one experiment after another
    links: list[tuple[str, str]] = field(default_factory=list)  # (file relative to the study folder, what it is)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> "Section":
        doc = dict(doc)
        doc["tables"] = [Table(**t) for t in doc.get("tables", [])]
        doc["figures"] = [tuple(f) for f in doc.get("figures", [])]
        doc["links"] = [tuple(f) for f in doc.get("links", [])]
        return cls(**doc)


class Context:
    """What every section needs: the study folder, the settings, and the shared pieces (data, the MLP)."""

    def __init__(self, root: Path, settings: dict[str, Any], key: str, study=None):
        self.root, self.settings, self.key, self.study = Path(root), settings, key, study
        self.folder = self.root / "sections" / key
        make_folder(self.folder)

    def rel(self, path: Path) -> str:
        return str(Path(path).relative_to(self.root))

    def config(self, **overrides) -> TrainConfig:
        s = {**self.settings, **overrides}
        fields = {k: s[k] for k in TRAINING_KEYS if k in s}
        return TrainConfig(**fields, batch_size=parse_batch_size(s.get("batch_size", 128)), seed=int(s.get("seed", 0)))

    def flags(self, config: TrainConfig, skip=()) -> str:
        """The command-line options that give ``config``."""
        parts = []
        defaults = TrainConfig()
        for key in TRAINING_KEYS + ("batch_size",):
            if key in skip or (key not in ("epochs", "optimizer") and getattr(config, key) == getattr(defaults, key)):
                continue
            value = getattr(config, key)
            if key == "batch_size":
                value = "full" if value is None else value
            if value is None:
                continue
            parts.append(f"--{key.replace('_', '-')} {value}")
        return " ".join(parts)

    @property
    def data(self) -> str:
        return self.settings["data"]

    @property
    def model(self) -> str:
        return self.settings["model"]

    @property
    def seeds(self) -> int:
        return int(self.settings.get("seeds", 1))

    @property
    def data_dir(self) -> str | None:
        return self.settings.get("data_dir")


def mlp_setup(ctx: Context):
    """The data, the model spec and the config of the study's MLP."""
    return prepare(ctx.data, ctx.model, ctx.config(), ctx.data_dir)


def sweep(ctx: Context, doc: dict, name: str, title: str | None = None):
    """Runs a sweep document in the section's folder (afresh) and saves its result; returns it and its folder."""
    plan = plan_from_document(doc, name, data=ctx.data)
    folder = sweep_folder(ctx.folder / name, plan.to_dict(), force=True)
    result = run_sweep(plan, folder)
    result.save(folder, title)
    return result, folder


def sweep_base(ctx: Context) -> dict:
    """The study's settings that a sweep document takes."""
    s = ctx.settings
    keys = ("model", "optimizer", "lr", "init", "epochs", "batch_size", "loss", "l2")
    return (
        {k: s[k] for k in keys if k in s}
        | {"seeds": ctx.seeds, "seed": int(s.get("seed", 0))}
        | ({"data_dir": ctx.data_dir} if ctx.data_dir else {})
    )


def run_history(folder: str | Path, root: Path):
    """The history of a sweep's run, its folder as the sweep recorded it."""
    path = Path(folder)  # a sweep records its run folders as it was given them (relative to where it ran)
    return load_run(path if path.is_absolute() or path.is_dir() else root / path).history
