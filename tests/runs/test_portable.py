"""CNN parity, portable save/load across engines, .keras in and out, evaluation, transfer learning."""

import json

import numpy as np
import pytest

from backprop_lab.analysis.comparison import relative_difference
from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import get_engine
from backprop_lab.experiments.transfer import resolve_classes, transfer
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.portable import export_keras, import_keras, load_model
from backprop_lab.runs.record import load_run, save_run
from backprop_lab.runs.workflow import initial_weights, prepare, train_run
from backprop_lab.spec.model import Dense, parse_model, replace_head

pytest.importorskip("tensorflow")
ENGINES = ("scratch", "tape", "fit")


@pytest.mark.parametrize("model", ["cnn:4,6/pad=same", "cnn:5"])
def test_cnn_first_batch_gradients_scratch_vs_tape(model):
    setup = prepare("digits", model, TrainConfig(batch_size=32, init="glorot_uniform"))
    w0 = initial_weights(setup.spec, setup.config)
    idx = setup.plan.epoch(0)[0]
    x, y = setup.dataset.x_train[idx], setup.dataset.y_train[idx]
    g_s = get_engine("scratch").gradients(setup.spec, w0, x, y, setup.config)[1]
    g_t = get_engine("tape").gradients(setup.spec, w0, x, y, setup.config)[1]
    assert relative_difference(g_s, g_t) < 1e-5


def test_reference_cnn_transfer_parameter_counts():
    spec = replace_head(parse_model("cnn:32,64,64", (28, 28, 1), 10), Dense(1, "sigmoid"), freeze_base=True)
    assert spec.count_params() == (65, 55744)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    setup = prepare("digits", "cnn:4,6/pad=same", TrainConfig(epochs=1, batch_size=64, init="glorot_uniform"))
    paths = {}
    for engine in ENGINES:
        paths[engine] = save_run(train_run(setup, engine), root / engine)
    return setup, paths


def test_model_from_any_engine_predicts_the_same_in_every_engine(trained_runs):
    setup, paths = trained_runs
    x = setup.dataset.x_test
    for trained_by, path in paths.items():
        run = load_run(path)
        assert run.engine == trained_by and run.spec == setup.spec
        probs = {e: get_engine(e).predict(run.spec, run.weights, x) for e in ENGINES}
        for a in ENGINES:
            for b in ENGINES:
                assert np.max(np.abs(probs[a] - probs[b])) < 1e-5, (trained_by, a, b)


def test_keras_file_round_trip(trained_runs, tmp_path):
    setup, paths = trained_runs
    run = load_run(paths["scratch"])
    target = export_keras(run, tmp_path / "m.keras")
    back = import_keras(target)
    assert back.spec.layers == run.spec.layers
    assert all(np.array_equal(back.weights[k], run.weights[k]) for k in run.weights)
    p1 = get_engine("scratch").predict(back.spec, back.weights, setup.dataset.x_test)
    p2 = get_engine("scratch").predict(run.spec, run.weights, setup.dataset.x_test)
    assert np.max(np.abs(p1 - p2)) < 1e-6


def test_keras_file_with_unsupported_layer_is_refused(tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.save(tmp_path / "bn.keras")
    with pytest.raises(BplabError, match="'batch_normalization.*not supported"):
        import_keras(tmp_path / "bn.keras")


def test_keras_file_with_code_is_not_executed(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(BplabError, match="cannot read as a Keras model"):
        import_keras(tmp_path / "lambda.keras")


def test_not_a_zip_is_refused(tmp_path):
    (tmp_path / "x.keras").write_text("hello")
    with pytest.raises(BplabError, match="not a .keras file"):
        load_model(tmp_path / "x.keras")


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (
            lambda p, w: np.savez(p / "weights.npz", **{k: v for k, v in w.items() if k != "dense_0/bias"}),
            "missing weight dense_0/bias",
        ),
        (
            lambda p, w: np.savez(p / "weights.npz", **{**w, "dense_0/bias": np.zeros(3, np.float32)}),
            "has shape (3,), the spec needs (10,)",
        ),
        (lambda p, w: np.savez(p / "weights.npz", **{**w, "dense_0/bias": np.zeros(10, np.int64)}), "has dtype int64"),
        (
            lambda p, w: np.savez(p / "weights.npz", **{**w, "extra/kernel": np.zeros(2, np.float32)}),
            "unexpected weight extra/kernel",
        ),
        (
            lambda p, w: np.savez(p / "weights.npz", **{**w, "dense_0/bias": np.array([{"a": 1}] * 10, dtype=object)}),
            "pickled objects",
        ),
        (lambda p, w: (p / "weights.npz").write_bytes(b"not a zip"), "not a valid"),
        (lambda p, w: (p / "weights.npz").unlink(), "weights.npz: file not found"),
        (lambda p, w: (p / "model.json").write_text("{"), "model.json: not valid JSON"),
        (lambda p, w: (p / "model.json").write_text('{"format": "other"}'), "not a backprop-lab model file"),
    ],
)
def test_damaged_run_is_refused_with_one_line(trained_runs, tmp_path, damage, fragment):
    _, paths = trained_runs
    folder = _copy_run(paths["scratch"], tmp_path / "run")
    with np.load(folder / "weights.npz") as archive:
        weights = {k: archive[k] for k in archive.files}
    damage(folder, weights)
    with pytest.raises(BplabError) as info:
        load_run(folder)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_every_run_writes_its_evaluation(trained_runs):
    _, paths = trained_runs
    metrics = json.loads((paths["fit"] / "metrics.json").read_text())["test"]
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == metrics["n"] == 360
    assert metrics["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    recall0 = metrics["per_class"][0]["recall"]
    assert recall0 == pytest.approx(cm[0, 0] / cm[0].sum())


def test_resolve_classes_by_name_and_index():
    names = ["T-shirt/top", "Trouser", "Sandal"]
    assert resolve_classes("sandal,0", names) == [2, 0]
    with pytest.raises(BplabError, match="neither a class name"):
        resolve_classes("Boot,1", names)


@pytest.mark.parametrize("engine", ["scratch", "fit"])
def test_transfer_freezes_the_base_and_fine_tuning_moves_it(trained_runs, engine):
    _, paths = trained_runs
    base = load_run(paths["scratch"])
    ds = load_dataset("digits")
    result = transfer(
        base, ds, [3, 8], engine, TrainConfig(epochs=1, batch_size=32, init="glorot_uniform"), finetune=True
    )
    head, tuned, scratch = result.variants
    assert result.base_unchanged is True and result.finetune_changed_base is True
    old_head = base.spec.infos[-1]
    assert head.trainable == old_head.input_shape[0] + 1
    assert head.frozen == sum(base.spec.count_params()) - old_head.n_params
    assert tuned.frozen == 0 and scratch.frozen == 0
    assert head.run.test.class_names == ["3", "8"]
    assert all(0.0 <= v.accuracy <= 1.0 and v.seconds > 0 for v in result.variants)
    assert tuned.accuracy >= 0.5  # a real binary classifier, better than chance
