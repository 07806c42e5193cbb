"""Run folders: a saved run loads back equal, an existing folder is not overwritten, a damaged one is refused
in one line naming the file; hand-written JSON and TOML weights are checked against the spec."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import classification_report
from backprop_lab.runs.record import FORMAT, Run, RunMetrics, load_run, read_weights, save_run
from backprop_lab.spec.model import parse_model
from backprop_lab.training.history import EpochRecord, History, Stop

SPEC = parse_model("mlp:3", (2, 2, 1), 3)


def a_run(**extra) -> Run:
    rng = np.random.default_rng(0)
    weights = {k: rng.normal(size=s).astype("f4") for k, s in SPEC.param_shapes().items()}
    history = History([0.9, 0.7], [EpochRecord(1, 0.8, 0.5, 0.1, 0.01, 0.75, 0.6)], Stop(1, float("inf"), "diverged"))
    probs = np.eye(3)[[0, 1, 2, 1]]
    test = classification_report(probs, np.array([0, 1, 2, 2]), ["a", "b", "c"])
    return Run(
        "scratch",
        "csv:t.csv",
        SPEC,
        TrainConfig(epochs=3, lr=0.05),
        ["a", "b", "c"],
        weights,
        history,
        RunMetrics(test),
        dict(extra),
    )


def test_a_saved_run_loads_back_with_its_weights_history_metrics_and_extra_fields(tmp_path):
    run = a_run(blended_from=["x", "y"])
    folder = save_run(run, tmp_path / "run")
    assert sorted(p.name for p in folder.iterdir()) == ["history.json", "metrics.json", "model.json", "weights.npz"]
    back = load_run(folder)
    assert (back.engine, back.dataset, back.class_names, back.folder) == (
        "scratch",
        "csv:t.csv",
        ["a", "b", "c"],
        folder,
    )
    assert back.spec == SPEC and back.config == run.config and back.extra == {"blended_from": ["x", "y"]}
    assert all(
        np.array_equal(back.weights[k], v) and back.weights[k].dtype == np.float32 for k, v in run.weights.items()
    )
    assert back.history.step_loss == [0.9, 0.7] and back.history.epochs == run.history.epochs
    assert back.history.stopped == "diverged"
    assert back.test.accuracy == 0.75 and back.test.to_dict() == run.test.to_dict()
    assert json.loads((folder / "model.json").read_text())["format"] == FORMAT


def test_a_run_without_test_metrics_says_so(tmp_path):
    run = a_run()
    run.metrics = RunMetrics()
    back = load_run(save_run(run, tmp_path / "run"))
    assert "test accuracy" not in repr(back)
    with pytest.raises(BplabError, match="no test metrics recorded"):
        _ = back.test


def test_an_existing_run_folder_is_kept_unless_forced(tmp_path):
    folder = save_run(a_run(), tmp_path / "run")
    with pytest.raises(BplabError, match="already holds files; choose another --out or pass --force"):
        save_run(a_run(), folder)
    other = a_run()
    other.class_names = ["x", "y", "z"]
    assert load_run(save_run(other, folder, force=True)).class_names == ["x", "y", "z"]
    (tmp_path / "file").write_text("")
    with pytest.raises(BplabError, match="exists and is not a folder"):
        save_run(a_run(), tmp_path / "file")


def _model(folder, change):
    doc = json.loads((folder / "model.json").read_text())
    change(doc)
    (folder / "model.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda f: (f / "model.json").unlink(), "model.json: file not found (not a complete run folder)"),
        (lambda f: _model(f, lambda d: d.pop("spec")), "model.json: missing field 'spec'"),
        (lambda f: _model(f, lambda d: d.update(format="x/1")), "model.json: not a backprop-lab model file"),
        (lambda f: _model(f, lambda d: d.update(class_names=["a"])), "'class_names' has 1 names, the model has 3"),
        (lambda f: _model(f, lambda d: d.update(class_names=["a", 2, "c"])), "'class_names' entry 1 must be a name"),
        (lambda f: _model(f, lambda d: d.update(config=[1])), "model.json: 'config' must be a table"),
        (lambda f: (f / "history.json").write_text('{"step_loss": []}'), "history.json: unreadable (KeyError"),
        (lambda f: (f / "metrics.json").write_text('{"test": 3}'), "metrics.json: test: expected a table"),
        (lambda f: (f / "weights.npz").write_bytes(b"PK no zip"), "weights.npz: not a valid .npz weights file"),
    ],
)
def test_a_damaged_run_folder_is_refused_in_one_line_naming_the_file(tmp_path, damage, says):
    folder = save_run(a_run(), tmp_path / "run")
    damage(folder)
    with pytest.raises(BplabError) as info:
        load_run(folder)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(BplabError, match="nowhere: run folder not found"):
        load_run(tmp_path / "nowhere")


def test_hand_written_json_and_toml_weights_are_read_by_flat_key(tmp_path):
    kernel0, bias0 = np.arange(12.0).reshape(4, 3), [0.5, 0.0, -1.0]
    kernel1, bias1 = np.eye(3).tolist(), [1, 2, 3]
    doc = {"dense_0/kernel": kernel0.tolist(), "dense_0/bias": bias0, "dense_1/kernel": kernel1, "dense_1/bias": bias1}
    (tmp_path / "w.json").write_text(json.dumps(doc))
    toml = "\n".join(
        f"[dense_{i}]\nkernel = {json.dumps(k)}\nbias = {json.dumps(b)}"
        for i, (k, b) in enumerate([(kernel0.tolist(), bias0), (kernel1, bias1)])
    )
    (tmp_path / "w.toml").write_text(toml)
    for name in ("w.json", "w.toml"):
        weights = read_weights(tmp_path / name, SPEC)
        assert np.array_equal(weights["dense_0/kernel"], kernel0) and weights["dense_1/bias"].tolist() == [1, 2, 3]


FULL = {k: np.zeros(s).tolist() for k, s in SPEC.param_shapes().items()}


@pytest.mark.parametrize(
    "doc, says",
    [
        ({"dense_0/kernel": [[1, 2], [3]]}, "weight dense_0/kernel is not a rectangular array of numbers"),
        ({**FULL, "dense_0/bias": [0, 0]}, "weight dense_0/bias has shape (2,), the spec needs (3,)"),
        ({**FULL, "dense_1/bias": [0, 1e400, 0]}, "weight dense_1/bias holds NaN or infinite values"),
        ({**FULL, "extra": [1]}, "unexpected weight extra not in the model spec"),
        ({"dense_0/kernel": [[0] * 3] * 4}, "missing weight dense_0/bias (and 2 more)"),
        ([1, 2], "expected a table of weights by key"),
    ],
)
def test_hand_written_weights_that_do_not_fit_the_spec_are_refused(tmp_path, doc, says):
    (tmp_path / "w.json").write_text(json.dumps(doc))
    with pytest.raises(BplabError) as info:
        read_weights(tmp_path / "w.json", SPEC)
    assert says in str(info.value)
