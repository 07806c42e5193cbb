"""Transfer learning: the frozen base's features computed once, the head trained on them until its loss stops
improving (budget stated and recorded), fine-tuning from that head, from scratch for head + fine-tune epochs.

The base is a small CNN trained for 2 epochs on the bundled ``digits``. Measured on this set-up (3 vs 8, 72 test
images): head only 0.972 (converged after 421 epochs over the cached features), fine-tuned 0.972, from scratch
(2 epochs) 0.931. A base with every weight zero hands the head the same features for every image, so its head
can only learn the class prior: 0.514, the share of the larger class. (A base with random weights is no
"learned nothing" control here: logistic regression on random convolution features reaches 0.972 as well.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import load_dataset, subset_classes
from backprop_lab.engines.registry import get_engine
from backprop_lab.experiments.transfer import HeadBudget, transfer
from backprop_lab.options.config import TrainConfig
from backprop_lab.results.classification import classification_report
from backprop_lab.runs.record import Run
from backprop_lab.runs.workflow import prepare, train_run
from backprop_lab.training import Callback

CLASSES = [3, 8]
CONFIG = TrainConfig(epochs=1, batch_size=32, init="glorot_uniform")


class StartWeights(Callback):
    """The weights a run starts from, as its engine holds them when training begins."""

    def __init__(self):
        self.weights = None

    def on_attach(self, loop) -> None:
        self.weights = {k: np.array(v, copy=True) for k, v in loop.state.weights().items()}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def base():
    setup = prepare("digits", "cnn:8,16/pad=same", TrainConfig(epochs=2, batch_size=32, init="glorot_uniform"))
    return train_run(setup, "scratch")


@pytest.fixture(scope="module")
def result(base, digits):
    before = {k: v.copy() for k, v in base.weights.items()}
    seen = {}

    def callbacks_for(name):
        seen[name] = StartWeights()
        return [seen[name]]

    out = transfer(base, digits, CLASSES, "scratch", CONFIG, finetune=True, callbacks_for=callbacks_for)
    return out, before, seen


def zero_base(base: Run) -> Run:
    return Run(
        "scratch",
        base.dataset,
        base.spec,
        base.config,
        base.class_names,
        {k: np.zeros_like(v) for k, v in base.weights.items()},
    )


def test_head_only_clearly_beats_chance_and_a_base_that_carries_nothing(result, base, digits):
    out, _, _ = result
    head = out.variant("head_only")
    assert base.test.accuracy > 0.5  # the base learned something (10 classes: chance 0.1)
    nothing = transfer(zero_base(base), digits, CLASSES, "scratch", CONFIG).variant("head_only")
    y_test = subset_classes(digits, CLASSES).y_test
    majority = np.bincount(y_test).max() / len(y_test)
    assert nothing.accuracy <= majority + 1e-9  # constant features: at best the larger class for every image
    assert head.accuracy >= 0.9 and head.accuracy >= nothing.accuracy + 0.3
    assert out.head.stop_reason == "converged" and out.head.epochs < out.head.budget["max_epochs"]


def test_the_frozen_base_stays_bit_identical(result, base):
    out, before, _ = result
    head = out.variant("head_only")
    assert out.base_unchanged is True
    head_name = head.run.spec.infos[-1].name
    base_keys = [k for k in head.run.weights if not k.startswith(head_name + "/")]
    assert len(base_keys) == len(base.weights) - 2  # every weight but the old head's kernel and bias
    for k in base_keys:
        assert np.array_equal(head.run.weights[k], before[k]) and np.array_equal(base.weights[k], before[k]), k
    assert head.frozen == sum(before[k].size for k in base_keys)
    assert head.trainable == head.run.weights[f"{head_name}/kernel"].size + 1


def test_the_head_trained_on_features_is_the_whole_frozen_network(result, digits):
    """The metrics came from the cached test features; the saved network on the images says the same."""
    out, _, _ = result
    head = out.variant("head_only")
    two = subset_classes(digits, CLASSES)
    probs = get_engine("scratch").predict(head.run.spec, head.run.weights, two.x_test)
    assert classification_report(probs, two.y_test, two.class_names).accuracy == head.accuracy
    assert out.head.feature_shape == [head.run.spec.infos[-1].input_shape[0]]


def test_the_budget_used_is_recorded_and_is_the_stated_rule(result):
    out, _, _ = result
    h, head = out.head, out.variant("head_only")
    assert h.epochs == head.epochs == len(head.run.history.epochs) == len(h.train_loss) == len(h.test_acc)
    assert h.steps == head.steps == len(head.run.history.step_loss) == h.epochs * h.steps_per_epoch
    assert h.batch_size == CONFIG.batch_size and h.lr == CONFIG.learning_rate and head.epochs_over == "cached features"
    assert h.steps_per_epoch == -(-len(subset_classes(load_dataset("digits"), CLASSES).x_train) // CONFIG.batch_size)
    # the rule, recomputed: the first epoch after which `patience` epochs in a row were not `tol` below the best
    tol, patience = h.budget["tol"], h.budget["patience"]
    best, wait, stop = np.inf, 0, None
    for epoch, loss in enumerate(h.train_loss, start=1):
        if loss < best - tol:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                stop = epoch
                break
    assert stop == h.epochs and str(patience) in h.rule and f"{tol:g}" in h.rule
    assert h.train_loss[-1] < h.train_loss[0] / 3  # the head did move (the old 25-step head barely did)


def test_the_maximum_stops_a_head_that_has_not_converged(base, digits):
    out = transfer(base, digits, CLASSES, "scratch", CONFIG, head=HeadBudget(max_epochs=3))
    assert out.head.stop_reason == "max_epochs" and out.head.epochs == 3 and not out.head.converged
    assert out.scratch_epochs == 1 and len(out.variant("from_scratch").run.history.epochs) == 1  # no fine-tuning


def test_fine_tuning_starts_from_the_trained_head(result):
    out, _, seen = result
    head, tuned = out.variant("head_only"), out.variant("finetune")
    start = seen["fine-tune"].weights
    assert start.keys() == head.run.weights.keys()
    assert all(np.array_equal(start[k], head.run.weights[k]) for k in start)
    head_kernel = head.run.spec.infos[-1].name + "/kernel"
    (initial_kernel,) = [v for k, v in seen["head only"].weights.items() if k.endswith("/kernel")]  # the head alone
    assert not np.array_equal(start[head_kernel], initial_kernel)  # trained, not the head's initial weights
    assert out.finetune_started_from_head is True and out.finetune_changed_base is True
    assert out.finetune_epochs == tuned.epochs == len(tuned.run.history.epochs) == CONFIG.epochs
    assert out.finetune_lr == pytest.approx(CONFIG.learning_rate / 10) and tuned.frozen == 0


def test_from_scratch_runs_as_many_epochs_over_the_images_as_head_plus_fine_tune(result, base, digits):
    out, _, _ = result
    scratch = out.variant("from_scratch")
    assert out.head_image_passes == 1
    assert out.scratch_epochs == out.head_image_passes + out.finetune_epochs == 2
    assert scratch.epochs == len(scratch.run.history.epochs) == out.scratch_epochs
    assert scratch.steps == out.scratch_epochs * out.head.steps_per_epoch
    assert f"{out.head.epochs} epochs over the cached features are not counted" in out.scratch_epochs_rule
    given = transfer(base, digits, CLASSES, "scratch", CONFIG, head=HeadBudget(max_epochs=2), scratch_epochs=3)
    assert given.scratch_epochs == 3 and len(given.variant("from_scratch").run.history.epochs) == 3
    assert "as given" in given.scratch_epochs_rule


def test_every_variant_has_a_wall_time(result):
    out, _, _ = result
    head, tuned, scratch = (out.variant(s) for s in ("head_only", "finetune", "from_scratch"))
    assert all(v.seconds > 0 and v.own_seconds > 0 for v in out.variants)
    assert out.head.extract_seconds > 0 and out.head.train_seconds > 0
    assert head.seconds == head.own_seconds == pytest.approx(out.head.extract_seconds + out.head.train_seconds)
    assert tuned.seconds == pytest.approx(head.seconds + tuned.own_seconds)  # cumulative: head, then fine-tune
    assert scratch.seconds == scratch.own_seconds


def test_timing_repeats_keep_the_fastest_of_identical_runs(result, base, digits):
    """Repeats only re-time the head and fine-tuning stages: the weights and accuracies are those of one run,
    the head's time is at most its first run's, and fine-tuning still adds its own time to the head's."""
    out, _, _ = result
    again = transfer(base, digits, CLASSES, "scratch", CONFIG, finetune=True, timing_repeats=3)
    assert again.timing_repeats == 3 and again.to_dict()["timing_repeats"] == 3
    for slug in ("head_only", "finetune", "from_scratch"):
        a, b = out.variant(slug), again.variant(slug)
        assert a.accuracy == b.accuracy and all(
            np.array_equal(a.run.weights[k], b.run.weights[k]) for k in a.run.weights
        )
    head, tuned = again.variant("head_only"), again.variant("finetune")
    assert 0 < head.seconds <= again.head.extract_seconds + again.head.train_seconds + 1e-9
    assert tuned.seconds == pytest.approx(head.seconds + tuned.own_seconds)
    for bad in (0, 1.5, True):
        with pytest.raises(BplabError, match="timing repeats"):
            transfer(base, digits, CLASSES, "scratch", CONFIG, timing_repeats=bad)


def test_transfer_json_and_run_folders_hold_the_budget(result, tmp_path):
    out, _, _ = result
    out.save(tmp_path)
    doc = json.loads((tmp_path / "transfer.json").read_text())
    assert doc["base_bit_identical_after_head_only"] is True and doc["finetune_started_from_head"] is True
    h = doc["head_training"]
    assert (h["epochs"], h["steps"], h["stop_reason"], h["converged"]) == (
        out.head.epochs,
        out.head.steps,
        "converged",
        True,
    )
    assert h["budget"] == {"max_epochs": 500, "patience": 5, "tol": 1e-3, "lr": None, "batch_size": "run"}
    assert doc["scratch_epochs"] == 2 and doc["finetune_epochs"] == 1 and doc["head_image_passes"] == 1
    rows = {v["slug"]: v for v in doc["variants"]}
    assert rows["head_only"]["epochs_over"] == "cached features" and rows["finetune"]["epochs_over"] == "images"
    assert all(r["seconds"] > 0 and r["own_seconds"] > 0 and "confusion_matrix" in r for r in rows.values())
    model = json.loads((tmp_path / "1_head_only" / "model.json").read_text())
    assert model["transfer_stage"]["epochs"] == out.head.epochs
    assert model["transfer_stage"]["history_over"] == "cached features of the frozen base"
    assert (tmp_path / "3_from_scratch" / "confusion.png").is_file()


@pytest.mark.parametrize(
    "bad",
    [
        dict(max_epochs=0),
        dict(patience=0),
        dict(tol=-1.0),
        dict(tol=float("nan")),
        dict(lr=0.0),
        dict(batch_size=0),
        dict(batch_size="all"),
    ],
)
def test_a_bad_head_budget_is_refused(bad):
    with pytest.raises(BplabError, match="head"):
        HeadBudget(**bad)


def test_the_rule_stops_the_head_inside_keras_fit(base, digits):
    """``fit`` runs its framework's own loop: the stop must end model.fit too, at the epoch the rule names."""
    pytest.importorskip("tensorflow")
    out = transfer(base, digits, CLASSES, "fit", CONFIG, head=HeadBudget(patience=1, tol=10.0, max_epochs=50))
    head = out.variant("head_only")
    assert out.head.stop_reason == "converged" and out.head.epochs == 2  # epoch 1 improves on inf, epoch 2 not by 10
    assert len(head.run.history.step_loss) == 2 * out.head.steps_per_epoch and head.run.history.stop is None
    assert out.base_unchanged is True and 0.0 <= head.accuracy <= 1.0
