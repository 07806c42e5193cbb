"""The one way through the house: data -> spec -> initial weights -> plan ->
engine.train -> Run record. The CLI calls these; they never parse options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import TrainConfig
from .data import BatchPlan, Dataset, load_dataset
from .engines import get_engine
from .evaluate import classification_report
from .runs import Run
from .scratch.initializers import init_weights
from .spec import ModelSpec, parse_model
from .training import Callback, check_loss_fits


@dataclass
class Setup:
    dataset: Dataset
    spec: ModelSpec
    config: TrainConfig
    plan: BatchPlan


def prepare(data: str, model: str, config: TrainConfig, data_dir: str | Path | None = None,
            val_split: float = 0.0, scale: str = "unit") -> Setup:
    dataset = load_dataset(data, data_dir, scale=scale, val_fraction=val_split, seed=config.seed)
    spec = parse_model(model, dataset.input_shape, dataset.num_classes)
    check_loss_fits(spec, config.loss, dataset.num_classes)
    return Setup(dataset, spec, config, BatchPlan(len(dataset.x_train), config.batch_size, config.seed))


def initial_weights(spec: ModelSpec, config: TrainConfig):
    return init_weights(spec.param_shapes(), config.init, config.seed, config.dtype)


def train_run(setup: Setup, engine_name: str, callbacks: list[Callback] = (), weights=None, engine_options=None) -> Run:
    engine = get_engine(engine_name, **(engine_options or {}))
    start = weights if weights is not None else initial_weights(setup.spec, setup.config)
    final, history = engine.train(setup.spec, start, setup.dataset, setup.plan, setup.config, callbacks)
    probs = engine.predict(setup.spec, final, setup.dataset.x_test, setup.config.dtype)
    metrics = classification_report(probs, setup.dataset.y_test, setup.dataset.class_names)
    return Run(engine_name, setup.dataset.name, setup.spec, setup.config, setup.dataset.class_names,
               final, history, {"test": metrics})
