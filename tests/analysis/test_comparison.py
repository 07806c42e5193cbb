"""Measured parity between the three engines (issue bars: 1e-5 float32, 1e-10 float64, 1e-4 after 20 Adam steps)."""

import copy
from dataclasses import replace

import pytest

from backprop_lab.analysis.comparison import compare, parse_engines, relative_difference
from backprop_lab.core.errors import BplabError
from backprop_lab.datasets.registry import BatchPlan
from backprop_lab.engines.registry import get_engine
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.workflow import initial_weights, prepare, train_run

pytest.importorskip("tensorflow")


@pytest.mark.parametrize("dtype, bar", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize(
    "model, loss, l2",
    [
        ("mlp:32,16", "categorical_crossentropy", 0.0),
        ("mlp:32,16/act=tanh", "mse", 0.0),
        ("mlp:32,16/act=sigmoid", "categorical_crossentropy", 1e-3),
    ],
)
def test_first_batch_gradients_scratch_vs_tape(dtype, bar, model, loss, l2):
    setup = prepare("digits", model, TrainConfig(loss=loss, l2=l2, dtype=dtype))
    w0 = initial_weights(setup.spec, setup.config)
    idx = setup.plan.epoch(0)[0]
    x, y = setup.dataset.x_train[idx], setup.dataset.y_train[idx]
    loss_s, g_s = get_engine("scratch").gradients(setup.spec, w0, x, y, setup.config)
    loss_t, g_t = get_engine("tape").gradients(setup.spec, w0, x, y, setup.config)
    assert set(g_s) == set(g_t) == set(w0)
    assert relative_difference(g_s, g_t) < bar
    assert loss_s == pytest.approx(loss_t, rel=bar * 10)


@pytest.mark.parametrize("dtype, bar", [("float32", 1e-5), ("float64", 1e-10)])
def test_binary_crossentropy_gradients_scratch_vs_tape(dtype, bar):
    from backprop_lab.datasets.registry import load_dataset, subset_classes
    from backprop_lab.spec.model import parse_model

    ds = subset_classes(load_dataset("digits"), [3, 8])
    spec = parse_model("mlp:16/out=sigmoid", ds.input_shape, 2)
    config = TrainConfig(loss="binary_crossentropy", dtype=dtype)
    w0 = initial_weights(spec, config)
    x, y = ds.x_train[:64], ds.y_train[:64]
    g_s = get_engine("scratch").gradients(spec, w0, x, y, config)[1]
    g_t = get_engine("tape").gradients(spec, w0, x, y, config)[1]
    assert relative_difference(g_s, g_t) < bar


def _first_steps(setup, steps):
    ds = copy.copy(setup.dataset)
    ds.x_train, ds.y_train = ds.x_train[: 64 * steps], ds.y_train[: 64 * steps]
    return replace(setup, dataset=ds, plan=BatchPlan(64 * steps, 64, 0))


def test_twenty_adam_steps_agree_across_all_three_engines():
    setup = _first_steps(prepare("mnist-5k", "mlp:64,32", TrainConfig(epochs=1, batch_size=64)), 20)
    w0 = initial_weights(setup.spec, setup.config)
    runs = {e: train_run(setup, e, weights=w0) for e in ("scratch", "tape", "fit")}
    assert all(len(r.history.step_loss) == 20 for r in runs.values())
    st = relative_difference(runs["scratch"].weights, runs["tape"].weights)
    sf = relative_difference(runs["scratch"].weights, runs["fit"].weights)
    tf_ = relative_difference(runs["tape"].weights, runs["fit"].weights)
    assert st < 1e-4 and sf < 1e-4
    assert tf_ <= min(st, sf)
    # and the trajectories differ from a different start: the measurement can fail
    other = train_run(setup, "scratch", weights=initial_weights(setup.spec, replace(setup.config, seed=1)))
    assert relative_difference(other.weights, runs["tape"].weights) > 1e-2


@pytest.mark.parametrize(
    "optimizer, extra",
    [
        ("sgd", {}),
        ("nesterov", {}),
        ("rmsprop", {}),
        ("adam", {"alpha": 0.3, "l2": 1e-3}),
        ("momentum", {"decay": "exponential", "decay_steps": 3}),
    ],
)
def test_every_optimizer_blend_l2_and_decay_agree_with_keras(optimizer, extra):
    setup = _first_steps(
        prepare("digits", "mlp:32", TrainConfig(optimizer=optimizer, epochs=1, batch_size=64, **extra)), 10
    )
    w0 = initial_weights(setup.spec, setup.config)
    ws = train_run(setup, "scratch", weights=w0).weights
    assert relative_difference(ws, train_run(setup, "tape", weights=w0).weights) < 1e-4
    assert relative_difference(ws, train_run(setup, "fit", weights=w0).weights) < 1e-4


def test_full_batch_mse_l2_decay_scratch_vs_tape():
    """The reference study's set-up in small: full batch, MSE with L2, lr decay."""
    config = TrainConfig(
        optimizer="sgd", lr=0.1, loss="mse", l2=5e-6, decay="exponential", decay_rate=0.9, batch_size=None, epochs=4
    )
    setup = prepare("digits", "mlp:128/act=sigmoid", config)
    result = compare(setup, ["scratch", "tape"])
    pair = result.pairs[0]
    assert len(result.runs[0]["scratch"].history.step_loss) == 4
    assert pair.grad_rel < 1e-5 and pair.final_weight_rel < 1e-4 and pair.max_step_loss_diff < 1e-5


def test_compare_with_seeds_reports_statistics_that_scipy_agrees_with():
    """Mean, sample std and Welch's test of the final test accuracies, each read back from the runs themselves,
    against numpy and scipy.stats.ttest_ind(equal_var=False)."""
    import numpy as np
    from scipy import stats

    setup = prepare("digits", "mlp:16", TrainConfig(epochs=1))
    result = compare(setup, ["scratch", "tape", "fit"], seeds=3)
    doc = result.to_dict()
    assert doc["seeds"] == [0, 1, 2]
    accs = {e: [result.runs[s][e].history.epochs[-1].test_acc for s in result.seeds] for e in result.engines}
    for row in doc["summary"]:
        assert row["seeds"] == 3
        assert row["test_acc"] == pytest.approx(np.mean(accs[row["engine"]]), rel=1e-12)
        assert row["test_acc_std"] == pytest.approx(np.std(accs[row["engine"]], ddof=1), rel=1e-9, abs=1e-15)
    checked = 0
    for pair in doc["parity"]:
        a, b = accs[pair["a"]], accs[pair["b"]]
        assert pair["acc_diff"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-12)
        if np.std(a) == 0 and np.std(b) == 0:  # no spread: the stated behaviour (stats.welch), not scipy's round-off
            diff = np.mean(a) - np.mean(b)
            assert (pair["welch_t"], pair["welch_p"]) == ((0.0, 1.0) if diff == 0 else (np.sign(diff) * np.inf, 0.0))
        else:
            theirs = stats.ttest_ind(a, b, equal_var=False)
            assert pair["welch_t"] == pytest.approx(theirs.statistic, rel=1e-9, abs=1e-12)
            assert pair["welch_p"] == pytest.approx(theirs.pvalue, rel=1e-9)
            checked += 1
        assert pair["significant"] is (pair["welch_p"] < 0.05)
    assert checked  # at least one pair went through scipy (seeds give different accuracies)
    single = compare(setup, ["scratch", "tape"], seeds=1).to_dict()  # one seed: no test, no verdict
    assert single["parity"][0]["welch_p"] is None and single["parity"][0]["significant"] is None
    assert single["summary"][0]["test_acc_std"] == 0.0


@pytest.mark.parametrize(
    "text, eager, fragment",
    [
        ("scratch", False, "at least two engines"),
        ("scratch,jax", False, "unknown engine 'jax'"),
        ("tape,tape", False, "names an engine twice"),
        ("scratch,fit", True, "only the tape engine runs eagerly"),
    ],
)
def test_impossible_comparisons_are_refused_up_front(text, eager, fragment):
    with pytest.raises(BplabError) as info:
        parse_engines(text, eager)
    assert fragment in str(info.value)


def test_eager_tape_matches_compiled_tape():
    setup = _first_steps(prepare("digits", "mlp:16", TrainConfig(epochs=1, batch_size=64)), 3)
    w0 = initial_weights(setup.spec, setup.config)
    a = train_run(setup, "tape", weights=w0, engine_options={"eager": True})
    b = train_run(setup, "tape", weights=w0)
    assert relative_difference(a.weights, b.weights) < 1e-6


def test_a_comparison_over_seeds_draws_every_seed_and_prints_its_tables(tmp_path, monkeypatch):
    """Every seed's runs are drawn (one colour family per seed, the same-start engines in its shades), and
    ``print(comparison)`` gives the tables, their figures read back from the runs (numpy mean and std)."""
    import numpy as np
    from matplotlib.colors import to_rgba

    from backprop_lab.viz import plots

    figures = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, **kw: figures.append(fig) or real(fig, path, **kw))
    setup = prepare("digits", "mlp:8", TrainConfig(epochs=2))
    result = compare(setup, ["scratch", "tape"], seeds=2)
    result.save(tmp_path / "c")
    assert (tmp_path / "c" / "curves.png").stat().st_size > 5000 and len(figures) == 2  # png and svg
    lines = [line for ax in figures[0].axes for line in ax.get_lines()]
    for j, seed in enumerate(result.seeds):
        for i, engine in enumerate(result.engines):
            test_acc = [ep.test_acc for ep in result.runs[seed][engine].history.epochs]
            drawn = [ln for ln in lines if len(ln.get_ydata()) == 2 and np.allclose(ln.get_ydata(), test_acc)]
            assert drawn, f"seed {seed} {engine}: test accuracy not drawn"
            # engines in parity draw the same values: one of the lines drawn there has this run's colour
            assert to_rgba(plots.seed_colour(j, i)) in {to_rgba(ln.get_color()) for ln in drawn}
    families = [{plots.seed_colour(j, i) for i in range(2)} for j in range(2)]
    assert not families[0] & families[1], "each seed its own colours"
    acc = {s: result.runs[s]["scratch"].history.epochs[-1].test_acc for s in result.seeds}
    assert acc[0] != acc[1], "the seeds give different runs: the plot has something to show"

    text = str(result)
    assert "\n" in text and "scratch vs tape" in text and "Welch p" in text
    accs = [acc[s] for s in result.seeds]
    assert f"{np.mean(accs):.4f} ± {np.std(accs, ddof=1):.4f}" in text
    assert "print()" in repr(result)
