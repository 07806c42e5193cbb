"""Transfer learning and fine-tuning on a two-class task.

Head-only transfer keeps the trained base frozen and trains a new Dense(1, sigmoid) head with binary
cross-entropy. The base is frozen, so its output on every image never changes: it is computed ONCE (one
forward pass of the frozen layers over the two-class train, validation and test images, by the engine's
``predict``, in the run's dtype) and the head is trained on those cached features, through the one training
loop, until its training loss stops improving (:class:`HeadBudget`: a tolerance, a patience and a maximum,
stated and recorded). Training the head on cached features is the same computation as training the whole
network with the base frozen for the same epochs (same batches, same updates; the frozen base only repeats
its forward pass), at the cost of a logistic regression.

Fine-tuning then starts from the network with that trained head, unfreezes every layer and trains on the
images at a lower learning rate for its own stated epochs. The baseline trains the same network from fresh
initial weights on the same two classes for as many epochs over the images as head plus fine-tune took:
the head phase counts as ONE epoch over the images (its one pass of them through the frozen base; its
epochs over the cached features touch no image), fine-tuning as its own epochs. ``scratch_epochs`` names
another budget; ``TransferResult.scratch_epochs_rule`` says which was used.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder, write_json
from backprop_lab.datasets.registry import BatchPlan, Dataset, load_dataset, subset_classes
from backprop_lab.engines.registry import get_engine
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import classification_report
from backprop_lab.runs.portable import load_model
from backprop_lab.runs.record import Run, RunMetrics, save_run
from backprop_lab.runs.workflow import Setup, train_run
from backprop_lab.spec.model import Dense, ModelSpec, replace_head, unfreeze
from backprop_lab.training import Callback, EpochRecord, Loop

HEAD_IMAGE_PASSES = 1  # what the head phase counts for in the from-scratch budget: its one pass of the images


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


@dataclass(frozen=True)
class HeadBudget:
    """How the head is trained on the cached features: until ``patience`` epochs in a row bring the training
    loss (binary cross-entropy, mean over the epoch's batches, as Keras reports it) no lower than ``tol`` below
    its best so far (Keras's ``EarlyStopping(monitor="loss", min_delta=tol, patience=patience)``), and for at
    most ``max_epochs`` epochs. ``lr`` None: the run's learning rate; ``batch_size`` "run": the run's batches
    (so an epoch over the features takes as many steps as an epoch over the images), None: full batch."""

    max_epochs: int = 500
    patience: int = 5
    tol: float = 1e-3
    lr: float | None = None
    batch_size: int | str | None = "run"

    def __post_init__(self) -> None:
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise BplabError(f"head max_epochs: must be a positive integer, got {self.max_epochs!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise BplabError(f"head patience: must be a positive integer, got {self.patience!r}")
        if not (isinstance(self.tol, (int, float)) and math.isfinite(self.tol) and self.tol >= 0):
            raise BplabError(f"head tol: must be a finite number >= 0, got {self.tol!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise BplabError(f"head lr: must be positive, got {self.lr!r}")
        b = self.batch_size
        if not (b is None or b == "run" or (isinstance(b, int) and not isinstance(b, bool) and b >= 1)):
            raise BplabError(f"head batch_size: 'run', None (full batch) or a positive integer, got {b!r}")

    def rule(self) -> str:
        return (
            f"stop when {self.patience} epochs in a row bring the training loss no lower than {self.tol:g} below "
            f"its best so far, after at most {self.max_epochs} epochs"
        )


@dataclass
class HeadTraining:
    """What the head-only phase actually used."""

    epochs: int  # epochs over the cached features (each: every two-class training example once)
    steps: int  # optimizer steps of the head
    steps_per_epoch: int
    batch_size: int | None  # None: full batch
    lr: float
    optimizer: str
    stop_reason: str  # "converged" (the budget's rule), "max_epochs" or "diverged"
    rule: str  # the stopping rule, in words
    budget: dict  # HeadBudget as given
    feature_shape: list[int]  # what the frozen base hands the head, per example
    extract_seconds: float  # the one forward pass of the frozen base over train (+ validation) + test images
    train_seconds: float  # head training on the cached features, evaluation included
    train_loss: list[float]  # per epoch
    test_acc: list[float]  # per epoch

    @property
    def converged(self) -> bool:
        return self.stop_reason == "converged"


@dataclass
class Variant:
    name: str
    run: Run
    trainable: int
    frozen: int
    seconds: float  # wall time to produce this variant from the base: fine-tuning includes the head phase before it
    slug: str = ""  # folder name of its run
    epochs: int = 0  # epochs of this variant's own training stage
    epochs_over: str = "images"  # what those epochs pass over: "images" or "cached features"
    steps: int = 0  # optimizer steps of its own stage
    own_seconds: float = 0.0  # wall time of its own stage only (head: feature extraction + head training)

    @property
    def accuracy(self) -> float:
        return self.run.test.accuracy


@dataclass
class TransferResult:
    classes: list[str]
    variants: list[Variant] = field(default_factory=list)
    base_unchanged: bool | None = None
    finetune_changed_base: bool | None = None
    head: HeadTraining | None = None
    finetune_epochs: int | None = None  # None: no fine-tuning
    finetune_lr: float | None = None
    finetune_started_from_head: bool | None = None  # its first weights were the trained head-only network's
    scratch_epochs: int = 0
    scratch_epochs_rule: str = ""
    head_image_passes: int = HEAD_IMAGE_PASSES
    warmup_seconds: float = 0.0  # untimed one-off costs paid before any variant's clock starts (numba compiling)
    timing_repeats: int = 1  # head and fine-tune times: the fastest of this many identical runs

    def variant(self, slug: str) -> Variant | None:
        return next((v for v in self.variants if v.slug == slug), None)

    def save(self, folder: Path) -> Path:
        """transfer.json, and one run folder (with its confusion heatmap) per variant."""
        from backprop_lab.viz.plots import save_confusion_heatmap

        folder = Path(folder)
        make_folder(folder)
        write_json(folder / "transfer.json", self.to_dict())
        for i, v in enumerate(self.variants):
            run_folder = save_run(v.run, folder / f"{i + 1}_{v.slug}", force=True)
            save_confusion_heatmap(v.run.test, run_folder / "confusion.png", v.name)
        return folder

    def to_dict(self) -> dict:
        return {
            "classes": self.classes,
            "base_bit_identical_after_head_only": self.base_unchanged,
            "finetune_changed_base": self.finetune_changed_base,
            "head_training": asdict(self.head) | {"converged": self.head.converged} if self.head else None,
            "finetune_epochs": self.finetune_epochs,
            "finetune_lr": self.finetune_lr,
            "finetune_started_from_head": self.finetune_started_from_head,
            "head_image_passes": self.head_image_passes,
            "scratch_epochs": self.scratch_epochs,
            "scratch_epochs_rule": self.scratch_epochs_rule,
            "warmup_seconds_not_counted": self.warmup_seconds,
            "timing_repeats": self.timing_repeats,
            "variants": [
                {
                    "name": v.name,
                    "slug": v.slug,
                    "trainable": v.trainable,
                    "frozen": v.frozen,
                    "test_acc": v.accuracy,
                    "epochs": v.epochs,
                    "epochs_over": v.epochs_over,
                    "steps": v.steps,
                    "seconds": v.seconds,
                    "own_seconds": v.own_seconds,
                    "confusion_matrix": v.run.test.confusion_matrix,
                }
                for v in self.variants
            ],
        }


def _timed(setup: Setup, engine: str, weights, callbacks) -> tuple[Run, float]:
    begin = time.perf_counter()
    run = train_run(setup, engine, callbacks, weights=weights)
    return run, time.perf_counter() - begin


class _Converged(Exception):
    """Raised by :class:`_EarlyStop` to end the head's training loop at an epoch end (every engine, ``fit``'s
    own loop included, stops on it with the weights of that epoch)."""


class _EarlyStop(Callback):
    """Keras's EarlyStopping(monitor="loss", mode="min", min_delta=tol, patience=patience), on the loop's epochs."""

    def __init__(self, tol: float, patience: int):
        self.tol, self.patience = tol, patience
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, record: EpochRecord) -> None:
        if record.train_loss < self.best - self.tol:
            self.best, self.wait = record.train_loss, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            raise _Converged(record.epoch)


def base_features(spec: ModelSpec, weights, engine: str, x: np.ndarray, dtype: str) -> np.ndarray:
    """The frozen base's output (every layer but the last) for ``x``, by ``engine``'s predict, in ``dtype``."""
    if len(spec.layers) == 1:  # no base: the head reads the inputs
        return np.asarray(x, dtype=dtype)
    base = spec.with_layers(list(spec.layers[:-1]))
    return np.asarray(
        get_engine(engine).predict(base, {k: weights[k] for k in base.param_shapes()}, x, dtype), dtype=dtype
    )


def _warm_up(engine: str, frozen_spec: ModelSpec, start: dict, two: Dataset, config: TrainConfig) -> float:
    """One forward and one backward pass on two examples before any clock starts, so that no variant's wall
    time holds the engine's one-off start-up (the scratch engine's numba kernels are compiled or loaded on
    first use). Returns its seconds."""
    begin = time.perf_counter()
    x, y = two.x_train[:2], two.y_train[:2]
    eng = get_engine(engine)
    base_features(frozen_spec, start, engine, x, config.dtype)
    eng.gradients(unfreeze(frozen_spec), start, x, y, config)
    return time.perf_counter() - begin


def _train_head(
    two: Dataset, frozen_spec: ModelSpec, start: dict, engine: str, config: TrainConfig, budget: HeadBudget, callbacks
) -> tuple[Run, HeadTraining, float]:
    """Head-only transfer: features once, then the head alone on them until the budget's rule stops it.
    Returns the whole frozen network as a run (its history is the head's, over the features)."""
    dtype = config.dtype
    begin = time.perf_counter()
    f_train, f_val, f_test = (
        base_features(frozen_spec, start, engine, x, dtype) if x is not None else None
        for x in (two.x_train, two.x_val, two.x_test)
    )
    extracted = time.perf_counter()
    head_info = frozen_spec.infos[-1]
    head_spec = ModelSpec(f_train.shape[1:], (frozen_spec.layers[-1],))
    own_name = head_spec.infos[-1].name  # the head alone is the first layer of its kind
    rename = {f"{own_name}/{k}": f"{head_info.name}/{k}" for k in head_info.params}
    head_start = {k: start[full] for k, full in rename.items()}
    batch = config.batch_size if budget.batch_size == "run" else budget.batch_size
    head_config = replace(config, epochs=budget.max_epochs, batch_size=batch, lr=budget.lr or config.learning_rate)
    features = Dataset(
        f"{two.name} (features of the frozen base)",
        f_train,
        two.y_train,
        f_test,
        two.y_test,
        two.class_names,
        two.source,
        f_val,
        two.y_val,
    )
    plan = BatchPlan(len(features.x_train), head_config.batch_size, head_config.seed)
    eng = get_engine(engine)
    state = eng.start(head_spec, head_start, head_config)
    callbacks = list(callbacks)
    loop = Loop(head_spec, features, plan, head_config, [*callbacks, _EarlyStop(budget.tol, budget.patience)])
    try:
        history = loop.run(state)
        reason = "diverged" if history.stop is not None else "max_epochs"
    except _Converged:
        history, reason = loop.history, "converged"
        for cb in callbacks:  # the loop ends its callbacks only when it ends by itself
            cb.on_train_end(history)
    trained = {k: np.array(v, copy=True) for k, v in state.weights().items()}
    weights = {k: v for k, v in start.items() if k not in rename.values()} | {rename[k]: v for k, v in trained.items()}
    probs = eng.predict(head_spec, trained, f_test, dtype)  # = the whole frozen network on the test images
    metrics = RunMetrics(test=classification_report(probs, two.y_test, two.class_names))
    end = time.perf_counter()
    record = HeadTraining(
        len(history.epochs),
        len(history.step_loss),
        plan.steps_per_epoch,
        head_config.batch_size,
        head_config.learning_rate,
        head_config.optimizer,
        reason,
        budget.rule(),
        asdict(budget),
        list(f_train.shape[1:]),
        extracted - begin,
        end - extracted,
        [e.train_loss for e in history.epochs],
        [e.test_acc for e in history.epochs],
    )
    run = Run(
        engine,
        two.name,
        frozen_spec,
        head_config,
        two.class_names,
        weights,
        history,
        metrics,
        {
            "transfer_stage": {
                "stage": "head only",
                "history_over": "cached features of the frozen base",
                **asdict(record),
            }
        },
    )
    return run, record, end - begin


def transfer(
    base: Run,
    dataset: Dataset,
    classes: list[int],
    engine: str,
    config: TrainConfig,
    finetune: bool = False,
    finetune_lr: float | None = None,
    finetune_epochs: int | None = None,
    callbacks_for=lambda name: [],
    *,
    head: HeadBudget | None = None,
    scratch_epochs: int | None = None,
    timing_repeats: int = 1,
) -> TransferResult:
    """Head-only transfer (trained to convergence on cached features, ``head``), then optionally fine-tuning
    (``finetune_epochs``, default ``config.epochs``, at ``finetune_lr``, default a tenth of the run's), and the
    same network from scratch (``scratch_epochs``, default: 1 for the head phase + the fine-tuning epochs).

    ``timing_repeats`` > 1 runs the head and fine-tuning stages that many times and keeps the fastest wall
    time of each (the runs are deterministic: every repeat trains the same weights; the first is kept). Stages
    of a second or less are otherwise timed mostly by whatever else the machine was doing at that moment."""
    if tuple(dataset.input_shape) != tuple(base.spec.input_shape):
        raise BplabError(
            f"the model expects input {base.spec.input_shape} but {dataset.name} has {dataset.input_shape}"
        )
    if isinstance(timing_repeats, bool) or not isinstance(timing_repeats, int) or timing_repeats < 1:
        raise BplabError(f"timing repeats: must be a positive integer, got {timing_repeats!r}")
    if scratch_epochs is not None and (
        isinstance(scratch_epochs, bool) or not isinstance(scratch_epochs, int) or scratch_epochs < 1
    ):
        raise BplabError(f"scratch epochs: must be a positive integer, got {scratch_epochs!r}")
    head = head or HeadBudget()
    two = subset_classes(dataset, classes)
    config = replace(config, loss="binary_crossentropy")
    plan = BatchPlan(len(two.x_train), config.batch_size, config.seed)
    frozen_spec = replace_head(base.spec, Dense(1, "sigmoid"), freeze_base=True)
    head_name = frozen_spec.infos[-1].name
    head_init = init_weights(
        {k: s for k, s in frozen_spec.param_shapes().items() if k.startswith(head_name + "/")},
        "glorot_uniform",
        config.seed,
        config.dtype,
    )
    base_keys = [k for k in frozen_spec.param_shapes() if not k.startswith(head_name + "/")]
    original = {k: np.array(base.weights[k], copy=True) for k in base_keys}
    start = {k: np.asarray(base.weights[k], dtype=config.dtype) for k in base_keys} | head_init
    result = TransferResult([dataset.class_names[c] for c in classes])
    result.warmup_seconds = _warm_up(engine, frozen_spec, start, two, config)

    head_run, result.head, seconds = _train_head(
        two, frozen_spec, start, engine, config, head, callbacks_for("head only")
    )
    for _ in range(timing_repeats - 1):
        seconds = min(seconds, _train_head(two, frozen_spec, start, engine, config, head, [])[2])
    result.timing_repeats = timing_repeats
    result.variants.append(
        Variant(
            "head only (base frozen)",
            head_run,
            *frozen_spec.count_params(),
            seconds,
            "head_only",
            result.head.epochs,
            "cached features",
            result.head.steps,
            seconds,
        )
    )
    result.base_unchanged = all(
        np.array_equal(head_run.weights[k], np.asarray(original[k], dtype=config.dtype))
        and np.array_equal(base.weights[k], original[k])
        for k in base_keys
    )

    if finetune:
        ft_config = replace(
            config, lr=finetune_lr or config.learning_rate / 10, epochs=finetune_epochs or config.epochs
        )
        result.finetune_epochs, result.finetune_lr = ft_config.epochs, ft_config.learning_rate
        open_spec = unfreeze(frozen_spec)
        ft_start = {k: np.array(v, copy=True) for k, v in head_run.weights.items()}
        ft_run, ft_seconds = _timed(
            Setup(two, open_spec, ft_config, plan), engine, ft_start, callbacks_for("fine-tune")
        )
        for _ in range(timing_repeats - 1):
            again = {k: np.array(v, copy=True) for k, v in head_run.weights.items()}
            ft_seconds = min(ft_seconds, _timed(Setup(two, open_spec, ft_config, plan), engine, again, [])[1])
        result.finetune_started_from_head = all(np.array_equal(ft_start[k], v) for k, v in head_run.weights.items())
        result.variants.append(
            Variant(
                f"head, then fine-tune all (lr {ft_config.learning_rate:g})",
                ft_run,
                *open_spec.count_params(),
                seconds + ft_seconds,
                "finetune",
                ft_config.epochs,
                "images",
                len(ft_run.history.step_loss),
                ft_seconds,
            )
        )
        result.finetune_changed_base = any(not np.array_equal(ft_run.weights[k], start[k]) for k in base_keys)

    ft_part = f" + {result.finetune_epochs} fine-tuning" if finetune else ""
    if scratch_epochs is None:
        result.scratch_epochs = HEAD_IMAGE_PASSES + (result.finetune_epochs or 0)
        result.scratch_epochs_rule = (
            f"as many epochs over the images as head{' + fine-tune' if finetune else ''}: "
            f"{HEAD_IMAGE_PASSES} for the head phase (its one pass of the images through the "
            f"frozen base; its {result.head.epochs} epochs over the cached features are "
            f"not counted){ft_part}"
        )
    else:
        result.scratch_epochs = scratch_epochs
        result.scratch_epochs_rule = (
            f"{scratch_epochs}, as given (head: {HEAD_IMAGE_PASSES} pass of the images, "
            f"{result.head.epochs} epochs over the cached features{ft_part})"
        )
    scratch_spec = unfreeze(frozen_spec)
    fresh = init_weights(scratch_spec.param_shapes(), config.init, config.seed, config.dtype)
    scratch_config = replace(config, epochs=result.scratch_epochs)
    scratch_run, s_seconds = _timed(
        Setup(two, scratch_spec, scratch_config, plan), engine, fresh, callbacks_for("from scratch")
    )
    result.variants.append(
        Variant(
            f"same network from scratch ({result.scratch_epochs} epochs)",
            scratch_run,
            *scratch_spec.count_params(),
            s_seconds,
            "from_scratch",
            result.scratch_epochs,
            "images",
            len(scratch_run.history.step_loss),
            s_seconds,
        )
    )
    return result


def transfer_from(
    base_path: Path,
    classes: str,
    engine: str,
    config: TrainConfig,
    data: str | None = None,
    data_dir: Path | None = None,
    finetune: bool = False,
    finetune_lr: float | None = None,
    finetune_epochs: int | None = None,
    callbacks_for=lambda name: [],
    *,
    head: HeadBudget | None = None,
    scratch_epochs: int | None = None,
) -> TransferResult:
    """``transfer`` from a saved run folder or .keras file, on ``data`` (default: the base's data set)."""

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
    return transfer(
        base,
        dataset,
        picked,
        engine,
        config,
        finetune,
        finetune_lr,
        finetune_epochs,
        callbacks_for,
        head=head,
        scratch_epochs=scratch_epochs,
    )
