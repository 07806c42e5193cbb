"""The one way through the house: data -> spec -> initial weights -> plan ->
engine state -> the training loop -> Run record. The CLI calls these; they never
parse options.

A run with a folder is resumable: ``train.json`` (what to train) is written
first, then ``checkpoint.npz`` and ``metrics.jsonl`` as training goes, and the
run record (``model.json`` last) when it ends. ``resume_run`` continues such a
folder from its checkpoint with the same settings.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import make_folder, read_json, write_json
from backprop_lab.datasets.registry import BatchPlan, Dataset, load_dataset
from backprop_lab.engines.registry import Engine, get_engine
from backprop_lab.numerics.initializers import init_weights
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import classification_report
from backprop_lab.runs.record import Run, RunMetrics, prepare_out_dir, save_run
from backprop_lab.spec.model import ModelSpec, parse_model
from backprop_lab.training import Callback, Checkpointer, Loop, check_loss_fits, read_checkpoint
from backprop_lab.training.checkpoint import CHECKPOINT, METRICS
from backprop_lab.training.loop import EngineState
from backprop_lab.training.tensorboard import TensorBoardLogger

TRAIN_FILE = "train.json"
TRAIN_FORMAT = "backprop-lab-train/1"


@dataclass
class Setup:
    dataset: Dataset
    spec: ModelSpec
    config: TrainConfig
    plan: BatchPlan
    source: dict = field(default_factory=dict)  # how the data was asked for: data, data_dir, val_split, scale


def setup_for(dataset: Dataset, spec: ModelSpec, config: TrainConfig, source: dict | None = None) -> Setup:
    check_loss_fits(spec, config.loss, dataset.num_classes)
    return Setup(dataset, spec, config, BatchPlan(len(dataset.x_train), config.batch_size, config.seed), source or {})


def prepare(
    data: str,
    model: str,
    config: TrainConfig,
    data_dir: str | Path | None = None,
    val_split: float = 0.0,
    scale: str = "unit",
) -> Setup:
    dataset = load_dataset(data, data_dir, scale=scale, val_fraction=val_split, seed=config.seed)
    spec = parse_model(model, dataset.input_shape, dataset.num_classes)
    source = {"data": data, "data_dir": str(data_dir) if data_dir else None, "val_split": val_split, "scale": scale}
    return setup_for(dataset, spec, config, source)


def initial_weights(spec: ModelSpec, config: TrainConfig):
    return init_weights(spec.param_shapes(), config.init, config.seed, config.dtype)


def _finish(setup: Setup, engine_name: str, engine: Engine, state: EngineState, history) -> Run:
    final = {k: v.copy() for k, v in state.weights().items()}
    probs = engine.predict(setup.spec, final, setup.dataset.x_test, setup.config.dtype)
    metrics = classification_report(probs, setup.dataset.y_test, setup.dataset.class_names)
    return Run(
        engine_name,
        setup.dataset.name,
        setup.spec,
        setup.config,
        setup.dataset.class_names,
        final,
        history,
        RunMetrics(test=metrics),
    )


def train_run(
    setup: Setup,
    engine_name: str,
    callbacks: list[Callback] = (),
    weights=None,
    engine_options=None,
    checkpointer: Checkpointer | None = None,
    engine: Engine | None = None,
) -> Run:
    """Train from ``weights`` (default: the config's initialiser) through the one loop (``engine``: the
    engine already made from ``engine_name`` and ``engine_options``)."""
    engine = engine or get_engine(engine_name, **(engine_options or {}))
    start = weights if weights is not None else initial_weights(setup.spec, setup.config)
    state = engine.start(setup.spec, start, setup.config)
    loop = Loop(setup.spec, setup.dataset, setup.plan, setup.config, callbacks, checkpointer)
    history = loop.run(state)
    return _finish(setup, engine_name, engine, state, history)


def default_run_folder(engine: str, data: str) -> Path:
    """runs/TIMESTAMP-ENGINE-DATA, with the data name made safe for a folder name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in data)
    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{engine}-{safe}"


def new_run_folder(folder: Path, force: bool = False) -> Path:
    """An empty folder for new results; an existing non-empty one only with ``force``, and then
    nothing of an earlier run in it (checkpoint, metrics, model record) can be mistaken for this one."""
    folder = prepare_out_dir(Path(folder), force)
    for stale in (CHECKPOINT, METRICS, "model.json"):
        (folder / stale).unlink(missing_ok=True)
    return folder


def start_run(
    setup: Setup,
    engine_name: str,
    folder: Path,
    callbacks: list[Callback] = (),
    engine_options=None,
    checkpoint_every: int | None = None,
    tensorboard: bool = True,
) -> Run:
    """Train into a (prepared, empty) run folder that survives being killed: see ``resume_run``."""
    if not setup.source.get("data"):
        raise BplabError("a resumable run needs a set-up made by prepare() (it records where the data came from)")
    folder = Path(folder)
    checkpointer = Checkpointer(folder, checkpoint_every)  # validates checkpoint_every before anything is written
    write_json(
        folder / TRAIN_FILE,
        {
            "format": TRAIN_FORMAT,
            "engine": engine_name,
            "engine_options": engine_options or {},
            **setup.source,
            "spec": setup.spec.to_dict(),
            "config": setup.config.to_dict(),
            "checkpoint_every": checkpoint_every,
            "tensorboard": tensorboard,
        },
    )
    engine = get_engine(engine_name, **(engine_options or {}))
    logger = [TensorBoardLogger(folder, engine.uses_tensorflow)] if tensorboard else []
    run = train_run(
        setup,
        engine_name,
        [*callbacks, *logger],
        engine_options=engine_options,
        checkpointer=checkpointer,
        engine=engine,
    )
    save_run(run, folder, force=True)
    checkpointer.remove()
    return run


@dataclass
class Resumable:
    """What a run folder says about itself."""

    folder: Path
    complete: bool
    engine: str
    doc: dict


def inspect_run(folder: Path) -> Resumable:
    """What a run folder holds: complete (saved in full) or resumable. Clears a checkpoint left beside a
    complete run by a kill between saving it and removing the checkpoint."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BplabError(f"{folder}: run folder not found")
    path = folder / TRAIN_FILE
    if not path.is_file():
        if (folder / "model.json").is_file():
            return Resumable(folder, True, "?", {})
        raise BplabError(f"{path}: not found; {folder} is not a run folder written by 'bplab train --out'")
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != TRAIN_FORMAT:
        raise BplabError(f"{path}: not a backprop-lab training record")
    # save_run writes model.json last and a new run deletes any stale one first, so its presence means the
    # run was saved in full. A checkpoint beside it is one the run was killed before removing: a leftover.
    complete = (folder / "model.json").is_file()
    if complete:
        (folder / CHECKPOINT).unlink(missing_ok=True)
    return Resumable(folder, complete, str(doc.get("engine", "?")), doc)


def resume_run(folder: Path, callbacks: list[Callback] = ()) -> Run | None:
    """Continue an interrupted run from its checkpoint with its own settings; None if it is already complete."""
    info = inspect_run(folder)
    if info.complete:
        return None
    doc, folder = info.doc, info.folder
    try:
        spec = ModelSpec.from_dict(doc["spec"])
        config = TrainConfig.from_dict(doc["config"])
        engine_name, options = doc["engine"], dict(doc.get("engine_options") or {})
        data = doc["data"]
    except KeyError as exc:
        raise BplabError(f"{folder / TRAIN_FILE}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise BplabError(f"{folder / TRAIN_FILE}: invalid field ({exc})") from None
    dataset = load_dataset(
        data,
        doc.get("data_dir"),
        scale=doc.get("scale", "unit"),
        val_fraction=doc.get("val_split", 0.0),
        seed=config.seed,
    )
    if tuple(dataset.input_shape) != tuple(spec.input_shape):
        raise BplabError(
            f"{folder}: the run's model expects input {spec.input_shape} but {data} now has {dataset.input_shape}"
        )
    source = {k: doc.get(k) for k in ("data", "data_dir", "val_split", "scale")}
    setup = setup_for(dataset, spec, config, source)
    engine = get_engine(engine_name, **options)
    checkpointer = Checkpointer(folder, doc.get("checkpoint_every"))
    logger = [TensorBoardLogger(folder, engine.uses_tensorflow)] if doc.get("tensorboard", True) else []
    loop = Loop(spec, dataset, setup.plan, config, [*callbacks, *logger], checkpointer)
    if (folder / CHECKPOINT).is_file():
        checkpoint = read_checkpoint(folder / CHECKPOINT, spec)
        state = engine.start(spec, checkpoint.weights, config)
        try:
            state.import_state(checkpoint.state, checkpoint.meta["engine"])
            loop.restore(checkpoint)
        except (KeyError, TypeError, ValueError) as exc:
            raise BplabError(f"{folder / CHECKPOINT}: damaged or from another engine ({exc})") from None
    else:  # killed before the first checkpoint: start again, which is the same run
        state = engine.start(spec, initial_weights(spec, config), config)
    resumed_at = loop.position.step
    history = loop.run(state)
    run = _finish(setup, engine_name, engine, state, history)
    run.extra["resumed_at_step"] = resumed_at
    save_run(run, folder, force=True)
    checkpointer.remove()
    return run


SWEEP_PLAN = "sweep-plan.json"


def sweep_folder(folder: Path, plan: dict, force: bool = False) -> Path:
    """The folder of a sweep. Running the same sweep again reuses it (finished runs are skipped);
    a folder holding another sweep, or other files, is refused unless ``force``."""

    folder = Path(folder)
    record = folder / SWEEP_PLAN
    if folder.exists() and not folder.is_dir():
        raise BplabError(f"{folder}: exists and is not a folder")
    if record.is_file():
        try:
            same = json.loads(record.read_text()) == json.loads(json.dumps(plan))
        except (json.JSONDecodeError, UnicodeDecodeError):
            same = False
        if not same and not force:
            raise BplabError(f"{folder}: holds a different sweep; choose another --out or pass --force to replace it")
        if not same:
            for child in folder.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    elif folder.is_dir() and any(folder.iterdir()) and not force:
        raise BplabError(f"{folder}: folder already holds files; choose another --out or pass --force")
    make_folder(folder)
    write_json(record, plan)
    return folder
