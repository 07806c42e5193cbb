"""Evaluating a saved model: its report matches its predictions, the files are named after the data set, and a
model that does not fit the data set is refused naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.files import write_csv

from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import get_engine
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.evaluation import Evaluation, evaluate_model
from backprop_lab.runs.record import Run, save_run
from backprop_lab.spec.model import parse_model

PAIR = "csv:train.csv,test.csv"  # 8x8 images, 10 classes: loads in milliseconds


@pytest.fixture(autouse=True)
def csv_pair(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for name, n in (("train.csv", 40), ("test.csv", 30)):
        write_csv(tmp_path / name, np.arange(n) % 10, rng.integers(0, 256, (n, 64)))
    monkeypatch.chdir(tmp_path)


def saved(tmp_path, model="mlp:4", shape=(8, 8, 1), classes=10, dataset=PAIR):
    spec = parse_model(model, shape, classes)
    rng = np.random.default_rng(1)
    weights = {k: rng.normal(size=s).astype("f4") for k, s in spec.param_shapes().items()}
    run = Run("scratch", dataset, spec, TrainConfig(epochs=1), [str(i) for i in range(classes)], weights)
    return save_run(run, tmp_path / "run"), run


def test_the_report_is_that_of_the_models_predictions_on_the_test_split(tmp_path):
    folder, run = saved(tmp_path)
    evaluation = evaluate_model(folder)
    ds = load_dataset(PAIR)
    predicted = get_engine("scratch").predict(run.spec, run.weights, ds.x_test, "float32").argmax(axis=1)
    assert evaluation.data == PAIR and evaluation.test.n == len(ds.y_test) == 30
    assert evaluation.accuracy == pytest.approx(np.mean(predicted == ds.y_test))
    assert "accuracy" in repr(evaluation) and str(folder) in repr(evaluation)


def test_save_names_the_files_after_the_data_set(tmp_path):
    evaluation = Evaluation(tmp_path / "m", "csv:a/b.csv,c.csv", "scratch", None)
    assert evaluation.slug == "csv_a_b.csv_c.csv"
    folder, _ = saved(tmp_path)
    evaluation = evaluate_model(folder)
    report, heatmap = evaluation.save(tmp_path / "out")
    assert (
        report.name == "evaluation_csv_train.csv_test.csv.json"
        and heatmap.name == "confusion_csv_train.csv_test.csv.png"
    )
    assert json.loads(report.read_text())["accuracy"] == pytest.approx(evaluation.accuracy)
    assert heatmap.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"shape": (4, 4, 1)}, "the model expects input (4, 4, 1) but csv:train.csv,test.csv has (8, 8, 1)"),
        ({"classes": 3}, "the model has 3 outputs but csv:train.csv,test.csv has 10 classes"),
        ({"dataset": "?"}, "does not say which data set it was trained on; pass --data"),
    ],
)
def test_a_model_that_does_not_fit_the_data_set_is_refused(tmp_path, kwargs, says):
    folder, _ = saved(tmp_path, **kwargs)
    with pytest.raises(BplabError) as info:
        evaluate_model(folder)
    assert str(info.value).startswith(str(folder)) and says in str(info.value)
