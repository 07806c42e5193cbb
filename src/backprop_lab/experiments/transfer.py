"""Transfer learning and fine-tuning on a two-class task.

Head-only transfer keeps the trained base frozen and trains a new
Dense(1, sigmoid) head with binary cross-entropy; fine-tuning then unfreezes
every layer and keeps training at a lower learning rate; the baseline trains
the same network from fresh initial weights on the same two classes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..data import BatchPlan, Dataset, subset_classes
from ..errors import BplabError
from ..fileio import write_json
from ..runs import Run, save_run
from ..numerics.initializers import init_weights
from ..spec import Dense, replace_head, unfreeze
from ..workflow import Setup, train_run


def resolve_classes(text: str, class_names: list[str]) -> list[int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) != 2:
        raise BplabError(f"--classes: expected two classes like 3,8 or Sneaker,Sandal, got {text!r}")
    lowered = [c.lower() for c in class_names]
    out = []
    for part in parts:
        if part.lower() in lowered:
            out.append(lowered.index(part.lower()))
        elif part.isdigit() and int(part) < len(class_names):
            out.append(int(part))
        else:
            raise BplabError(f"--classes: {part!r} is neither a class name ({', '.join(class_names)}) nor an index")
    if out[0] == out[1]:
        raise BplabError(f"--classes: the two classes must differ, got {text!r}")
    return out


@dataclass
class Variant:
    name: str
    run: Run
    trainable: int
    frozen: int
    seconds: float
    slug: str = ""  # folder name of its run

    @property
    def accuracy(self) -> float:
        return self.run.metrics["test"]["accuracy"]


@dataclass
class TransferResult:
    classes: list[str]
    variants: list[Variant] = field(default_factory=list)
    base_unchanged: bool | None = None
    finetune_changed_base: bool | None = None

    def save(self, folder: Path) -> Path:
        """transfer.json, and one run folder (with its confusion heatmap) per variant."""
        from ..viz.plots import save_confusion_heatmap

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "transfer.json", self.to_dict())
        for i, v in enumerate(self.variants):
            run_folder = save_run(v.run, folder / f"{i + 1}_{v.slug}", force=True)
            save_confusion_heatmap(v.run.metrics["test"], run_folder / "confusion.png", v.name)
        return folder

    def to_dict(self) -> dict:
        return {"classes": self.classes, "base_bit_identical_after_head_only": self.base_unchanged,
                "finetune_changed_base": self.finetune_changed_base,
                "variants": [{"name": v.name, "trainable": v.trainable, "frozen": v.frozen, "test_acc": v.accuracy,
                              "seconds": v.seconds, "confusion_matrix": v.run.metrics["test"]["confusion_matrix"]}
                             for v in self.variants]}


def _timed(setup: Setup, engine: str, weights, callbacks) -> tuple[Run, float]:
    begin = time.perf_counter()
    run = train_run(setup, engine, callbacks, weights=weights)
    return run, time.perf_counter() - begin


def transfer(base: Run, dataset: Dataset, classes: list[int], engine: str, config: TrainConfig,
             finetune: bool = False, finetune_lr: float | None = None, finetune_epochs: int | None = None,
             callbacks_for=lambda name: []) -> TransferResult:
    if tuple(dataset.input_shape) != tuple(base.spec.input_shape):
        raise BplabError(f"the model expects input {base.spec.input_shape} but {dataset.name} has {dataset.input_shape}")
    two = subset_classes(dataset, classes)
    config = replace(config, loss="binary_crossentropy")
    plan = BatchPlan(len(two.x_train), config.batch_size, config.seed)
    head = Dense(1, "sigmoid")
    frozen_spec = replace_head(base.spec, head, freeze_base=True)
    head_name = frozen_spec.infos[-1].name
    head_init = init_weights({k: s for k, s in frozen_spec.param_shapes().items() if k.startswith(head_name + "/")},
                             "glorot_uniform", config.seed, config.dtype)
    base_keys = [k for k in frozen_spec.param_shapes() if not k.startswith(head_name + "/")]
    start = {k: np.asarray(base.weights[k], dtype=config.dtype) for k in base_keys} | head_init
    result = TransferResult([dataset.class_names[c] for c in classes])

    head_run, seconds = _timed(Setup(two, frozen_spec, config, plan), engine, start, callbacks_for("head only"))
    result.variants.append(Variant("head only (base frozen)", head_run, *frozen_spec.count_params(), seconds, "head_only"))
    result.base_unchanged = all(np.array_equal(head_run.weights[k], start[k]) for k in base_keys)

    if finetune:
        ft_config = replace(config, lr=finetune_lr or config.learning_rate / 10, epochs=finetune_epochs or config.epochs)
        open_spec = unfreeze(frozen_spec)
        ft_run, ft_seconds = _timed(Setup(two, open_spec, ft_config, plan), engine, head_run.weights,
                                    callbacks_for("fine-tune"))
        result.variants.append(Variant(f"head, then fine-tune all (lr {ft_config.learning_rate:g})", ft_run,
                                       *open_spec.count_params(), seconds + ft_seconds, "finetune"))
        result.finetune_changed_base = any(not np.array_equal(ft_run.weights[k], start[k]) for k in base_keys)

    scratch_spec = unfreeze(frozen_spec)
    fresh = init_weights(scratch_spec.param_shapes(), config.init, config.seed, config.dtype)
    total_epochs = config.epochs + ((finetune_epochs or config.epochs) if finetune else 0)
    base_config = replace(config, epochs=total_epochs)
    scratch_run, s_seconds = _timed(Setup(two, scratch_spec, base_config, plan), engine, fresh,
                                    callbacks_for("from scratch"))
    result.variants.append(Variant(f"same network from scratch ({total_epochs} epochs)", scratch_run,
                                   *scratch_spec.count_params(), s_seconds, "from_scratch"))
    return result


def transfer_from(base_path: Path, classes: str, engine: str, config: TrainConfig, data: str | None = None,
                  data_dir: Path | None = None, finetune: bool = False, finetune_lr: float | None = None,
                  finetune_epochs: int | None = None, callbacks_for=lambda name: []) -> TransferResult:
    """``transfer`` from a saved run folder or .keras file, on ``data`` (default: the base's data set)."""
    from ..data import load_dataset
    from ..portable import load_model

    if finetune_lr is not None and not finetune_lr > 0:
        raise BplabError(f"--finetune-lr: must be positive, got {finetune_lr}")
    if finetune_epochs is not None and finetune_epochs < 1:
        raise BplabError(f"--finetune-epochs: must be at least 1, got {finetune_epochs}")
    base = load_model(base_path)
    name = data or base.dataset
    if name == "?":
        raise BplabError(f"{base_path}: the file does not say which data set it was trained on; pass --data")
    dataset = load_dataset(name, data_dir)
    picked = resolve_classes(classes, dataset.class_names)
    return transfer(base, dataset, picked, engine, config, finetune, finetune_lr, finetune_epochs, callbacks_for)
