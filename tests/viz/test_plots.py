"""Figures people can read: every plot in viz/plots.py, and the sweep and blend figures, drawn with
realistic data (long labels too) keep every title, axis label, tick label and legend text inside the
canvas and off each other; cells are labelled for people; sweep accuracies are points with their 95%
interval on an axis that says where it starts; titles are the callers', whole."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from backprop_lab.experiments.blend import save_step_curves
from backprop_lab.experiments.presets import preset
from backprop_lab.experiments.sweep import CellResult, RunSummary, SweepResult, plan_from_document
from backprop_lab.results.classification import classification_report
from backprop_lab.training.history import EpochRecord, History
from backprop_lab.viz import plots

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LONG_TITLE = (
    "Hand-written backpropagation and tf.GradientTape give the same loss and accuracy curves: "
    "mlp:256,128,64 on mnist-5k, same initial weights and batch order, 5 epochs, Adam 1e-3, batch 128, "
    "seed 0 of 5"
)
RAW_KEY = re.compile(r"\b[a-z][a-z0-9_-]*=")  # a cell key as the code spells it: batch-size=32


@pytest.fixture
def figures(monkeypatch):
    """Every figure saved through plots.save_figure, with what its layout check found; saved for real."""
    saved: list[tuple[Path, list[str], list[str]]] = []
    real = plots.save_figure

    def checking(fig, path, **kwargs):
        drawn = plots.drawn_texts(fig)
        problems = plots.texts_outside(fig, drawn=drawn) + plots.texts_overlapping(fig, drawn=drawn)
        saved.append((Path(path), problems, [t.get_text() for t, _ in drawn]))
        return real(fig, path, **kwargs)

    monkeypatch.setattr(plots, "save_figure", checking)
    with warnings.catch_warnings():
        warnings.simplefilter("error", plots.TextOutsideFigure)
        yield saved


def assert_readable(saved, count):
    assert len(saved) == count
    for path, problems, texts in saved:
        assert problems == [], f"{path.name}: {problems}"
        assert path.is_file() and path.stat().st_size > 5000
        raw = [t for t in texts if RAW_KEY.search(t)]
        assert raw == [], f"{path.name}: raw cell keys {raw}"


def history(seed: int, epochs: int = 5, start: float = 0.75) -> History:
    rng = np.random.default_rng(seed)
    records = [
        EpochRecord(
            e,
            0.9 / e + 0.02 * rng.random(),
            min(1.0, start + 0.2 * (1 - 1 / e)),
            1.3,
            1e-3,
            1.0 / e + 0.05,
            start - 0.03 + 0.2 * (1 - 1 / e) - 0.01 * rng.random(),
        )
        for e in range(1, epochs + 1)
    ]
    return History(list(2.3 * np.exp(-np.arange(epochs * 30) / 40) + 0.01 * rng.random(epochs * 30)), records)


@pytest.mark.parametrize("names", [FASHION, CIFAR, ["3", "8"], [str(d) for d in range(10)]])
def test_confusion_heatmap(tmp_path, figures, names):
    k = len(names)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(k), 60)
    probs = np.eye(k)[np.where(rng.random(len(y)) < 0.87, y, rng.integers(0, k, len(y)))]
    report = classification_report(probs, y, names)
    plots.save_confusion_heatmap(report, tmp_path / "confusion.png", LONG_TITLE)
    assert_readable(figures, 1)


def test_training_curves_of_three_engines(tmp_path, figures):
    plots.save_curves(
        {"scratch": history(0), "tape": history(0), "fit": history(1)}, tmp_path / "curves.png", LONG_TITLE
    )
    plots.save_curves({"scratch": history(0)}, tmp_path / "curves.svg", "scratch, mlp:16 on digits")
    assert_readable(figures, 2)


@pytest.mark.parametrize("seeds", [2, 3, 10])
def test_training_curves_of_every_seed(tmp_path, figures, seeds):
    runs = {s: {"scratch": history(s), "tape": history(s), "fit": history(s + 100)} for s in range(seeds)}
    plots.save_seed_curves(runs, tmp_path / "seeds.png", LONG_TITLE)
    assert_readable(figures, 1)
    colours = {plots.seed_colour(j, i) for j in range(seeds) for i in range(3)}
    assert len(colours) == 3 * seeds, "every run of every seed its own colour"


def test_step_losses_and_drift(tmp_path, figures):
    steps = {f"alpha={a}": list(2.3 * np.exp(-np.arange(400) / 80 * (1 - a)) + 0.02) for a in (0, 0.25, 0.5, 0.75, 1)}
    plots.save_step_losses(steps, tmp_path / "steps.png", LONG_TITLE)
    base = 2.3 * np.exp(-np.arange(300) / 100)
    plots.save_drift(
        {"scratch": base, "tape": base + 1e-8 * np.exp(np.arange(300) / 30), "fit": base},
        tmp_path / "drift.png",
        LONG_TITLE,
    )
    assert_readable(figures, 2)


def fake_sweep(tmp_path: Path, doc: dict, seeds: int, accuracy) -> SweepResult:
    """A finished sweep of ``doc`` (a preset) without training: realistic curves, history.json per run."""
    plan = plan_from_document({**doc, "seeds": seeds}, "test", "mnist-5k")
    cells = []
    for i, cell in enumerate(plan.cells()):
        runs = []
        for seed in range(seeds):
            rng = np.random.default_rng(100 * i + seed)
            final = accuracy(i, cell) + rng.normal(0, 0.004)
            curve = list(final - 0.2 / np.arange(1, 6))
            folder = tmp_path / cell.folder_name / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "history.json").write_text(
                json.dumps({"step_loss": list(2.3 * np.exp(-np.arange(60) / (10 + i)))})
            )
            runs.append(
                RunSummary(
                    cell.name,
                    seed,
                    str(folder),
                    final,
                    0.3,
                    0.25,
                    5,
                    2.0,
                    curve,
                    list(1.0 / np.arange(1, 6) + 0.01 * i),
                )
            )
        cells.append(CellResult(cell, runs))
    result = SweepResult(plan, cells, cells[0].cell.name)
    if seeds > 1:
        from backprop_lab.analysis import stats

        for c in cells[1:]:
            c.welch_p = stats.welch(c.accs, cells[0].accs).p
    return result


@pytest.mark.parametrize(
    "name, seeds",
    [
        ("numpy-33", 3),
        ("optimizer", 5),
        ("batch", 3),
        ("init", 3),
        ("dropout", 3),
        ("activation", 2),
        ("depth", 3),
        ("blend", 1),
    ],
)
def test_sweep_figures(tmp_path, figures, name, seeds):
    result = fake_sweep(
        tmp_path,
        preset(name),
        seeds,
        lambda i, cell: 0.2 if cell.values.get("variant") == "numpy-33" else 0.93 + 0.01 * i,
    )
    written = result.save(tmp_path, f"{LONG_TITLE} ({name})")
    assert {p.name for p in written} >= {"curves.png", "accuracy.png"}
    assert_readable(figures, 2)


def test_blend_step_curves(tmp_path, figures):
    result = fake_sweep(tmp_path, preset("blend"), 1, lambda i, cell: 0.9 - 0.1 * i)
    save_step_curves(result, tmp_path / "step_loss.png")
    save_step_curves(result, tmp_path / "step_loss_titled.png", LONG_TITLE)
    assert_readable(figures, 2)
    assert any("α = 0.5" in t for t in figures[0][2])


def test_a_long_cell_name_and_title_still_fit(tmp_path, figures):
    names = [
        "model=mlp:256,128,64/act=sigmoid/dropout=0.5,init=glorot_uniform,optimizer=rmsprop,batch-size=32,"
        "loss=squared_error,l2=5e-06,decay=exponential",
        "model=mlp:128,init=he_normal,optimizer=adam,batch-size=full,loss=categorical_crossentropy,l2=0.0,decay=none",
    ]
    cells = {n: (0.9 + 0.01 * i, 0.89 + 0.01 * i, 0.91 + 0.01 * i) for i, n in enumerate(names)}
    plots.save_sweep_bars(cells, tmp_path / "bars.png", LONG_TITLE * 2, baseline=names[0], differs={names[1]: True})
    plots.save_sweep_curves(
        {n: [[1.0, 0.5, 0.3]] * 2 for n in names},
        {n: [[0.8, 0.85, 0.9]] * 2 for n in names},
        tmp_path / "curves.png",
        LONG_TITLE * 2,
    )
    assert_readable(figures, 2)


# --- the check itself can fail --------------------------------------------------------------------------


def test_texts_outside_and_overlapping_find_what_is_wrong(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))  # no layout: the old way
    ax.set_title("a title far too long for a figure this narrow, cut at both ends")
    fig.text(0.5, 0.5, "over", fontsize=20)
    fig.text(0.52, 0.51, "under", fontsize=20)
    outside = plots.texts_outside(fig)
    assert len(outside) == 1 and "a title far too long" in outside[0]
    overlapping = plots.texts_overlapping(fig)
    assert len(overlapping) == 1 and "'over'" in overlapping[0] and "'under'" in overlapping[0]
    with pytest.warns(plots.TextOutsideFigure, match="outside the canvas.*overlapping"):
        plots.save_figure(fig, tmp_path / "bad.png")
    assert (tmp_path / "bad.png").is_file()  # written anyway, with a box that keeps every text


def test_constrained_layout_fixes_what_the_old_sweep_bars_cut(tmp_path):
    fig, ax = plots.figure(5, 3)
    ax.plot([0, 1])
    ax.set_xticks(
        [0, 1], ["variant=numpy-33,engine=scratch", "variant=he+adam+minibatch,engine=fit"], rotation=30, ha="right"
    )
    plots.set_title(fig, LONG_TITLE)
    assert plots.texts_outside(fig) == []
    assert "\n" in fig.get_suptitle() and fig.get_suptitle().replace("\n", " ") == LONG_TITLE
    plt.close(fig)


# --- what the figures say ---------------------------------------------------------------------------------


def drawn(save, *args, **kwargs):
    """The figure a plot function would save (not saved), and the axes."""
    captured = []
    original = plots.save_figure
    plots.save_figure = lambda fig, path: captured.append(fig)
    try:
        save(*args, **kwargs)
    finally:
        plots.save_figure = original
    return captured[0]


def test_sweep_accuracy_is_points_with_intervals_on_an_axis_that_says_where_it_starts(tmp_path):
    close = {
        "optimizer=sgd": (0.912, 0.905, 0.919),
        "optimizer=adam": (0.962, 0.958, 0.966),
        "optimizer=rmsprop": (0.959, 0.951, 0.967),
    }
    fig = drawn(
        plots.save_sweep_bars,
        close,
        tmp_path / "x.png",
        "Optimizer on mnist-5k",
        baseline="optimizer=sgd",
        differs={"optimizer=adam": True, "optimizer=rmsprop": False},
    )
    ax = fig.axes[0]
    assert not ax.patches  # no bars
    left, right = ax.get_xlim()
    assert left > 0 and right - left >= 0.05 and f"axis from {left:.2f}, not 0" in ax.get_xlabel()
    assert left <= 0.905 and right >= 0.967
    assert [t.get_text() for t in ax.get_yticklabels()] == ["SGD (baseline)", "Adam", "RMSprop"]
    assert fig.get_suptitle() == "Optimizer on mnist-5k"
    plt.close(fig)

    apart = {"variant=numpy-33": (0.18, 0.17, 0.19), "variant=he+adam+minibatch": (0.93, 0.92, 0.94)}
    fig = drawn(plots.save_sweep_bars, apart, tmp_path / "y.png", "t")
    assert fig.axes[0].get_xlim()[0] == 0.0 and "not 0" not in fig.axes[0].get_xlabel()
    plt.close(fig)

    one_seed = {"alpha=0.0": (0.9, math.nan, math.nan), "alpha=1.0": (0.89, math.nan, math.nan)}
    fig = drawn(plots.save_sweep_bars, one_seed, tmp_path / "z.png", "t")
    right_labels = [t.get_text() for a in fig.axes[0].child_axes for t in a.get_yticklabels()]
    assert right_labels == ["0.9000  (one seed)", "0.8900  (one seed)"]
    plt.close(fig)


def test_sweep_titles_say_what_was_tested(tmp_path, figures):
    result = fake_sweep(tmp_path, preset("optimizer"), 3, lambda i, cell: 0.9 + 0.02 * i)
    assert result.subject() == "optimizer on mnist-5k"
    result.save(tmp_path)
    result.save(tmp_path, "SGD vs Adam vs RMSprop")
    titles = [t for _, _, texts in figures for t in texts if "mnist-5k" in t or "RMSprop:" in t.replace("\n", " ")]
    joined = [t.replace("\n", " ") for t in titles]
    assert "optimizer on mnist-5k: final test accuracy, mean and 95% interval over 3 seeds" in joined
    assert "SGD vs Adam vs RMSprop: final test accuracy, mean and 95% interval over 3 seeds" in joined


# --- labels -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, label",
    [
        ("variant=numpy-33,engine=scratch", "numpy-33 · scratch"),
        ("init=he_normal", "He normal"),
        ("init=glorot_uniform", "Glorot uniform"),
        ("init=small_normal", "0.01·N(0, 1)"),
        ("batch-size=32", "batch 32"),
        ("batch-size=full", "full batch"),
        ("optimizer=rmsprop", "RMSprop"),
        ("optimizer=sgd,init=he_normal", "SGD · He normal"),
        ("alpha=0.5", "α = 0.5"),
        ("alpha=0.0", "α = 0"),
        ("model=mlp:256", "256 units"),
        ("model=mlp:128,128,128", "3 × 128 units"),
        ("model=mlp:256,128,64/act=tanh", "256-128-64 units, tanh"),
        ("model=mlp:256,128,64/dropout=0.2", "256-128-64 units, dropout 0.2"),
        ("model=cnn:32,64/pad=same", "CNN 32-64 filters, same padding"),
        ("model=mlp:128,64,optimizer=adam", "128-64 units · Adam"),
        ("lr=0.0001", "lr 0.0001"),
        ("lr=1e-05", "lr 1e-5"),
        ("l2=0.0", "no L2"),
        ("l2=5e-06", "L2 5e-6"),
        ("loss=categorical_crossentropy", "cross-entropy"),
        ("loss=squared_error", "squared error (summed)"),
        ("variant=mse+l2", "mse+l2"),
        ("decay=exponential,decay-rate=0.9", "exponential decay · decay rate 0.9"),
        ("base", "base"),
        ("256 units", "256 units"),  # a label already
        ("α = 0.5", "α = 0.5"),
    ],
)
def test_cell_label(cell, label):
    assert plots.cell_label(cell) == label


def test_cell_label_takes_grid_values_and_cells():
    plan = plan_from_document(preset("batch"), "test", "digits")
    assert [plots.cell_label(c) for c in plan.cells()] == ["full batch", "batch 128", "batch 32"]
    assert plots.cell_label({"batch_size": None, "alpha": 0.25}) == "full batch · α = 0.25"
    assert plots.option_label("batch-size") == "batch size" and plots.option_label("init") == "initialisation"


def test_wrapped_labels_break_between_parts_not_inside_names():
    label = plots.cell_label(
        "model=mlp:256,128,64/act=relu/dropout=0.5,init=glorot_uniform,optimizer=rmsprop,batch-size=32"
    )
    lines = plots.wrap_label(label, 30).split("\n")
    assert all(len(line) <= 30 for line in lines) and len(lines) > 1
    assert " ".join(lines).replace("  ", " ") == label
    assert not any(line.endswith(("He", "Glorot")) for line in lines)
