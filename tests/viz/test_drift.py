"""The drift figure of the study's engines section: its legend stays off the lines (checked on the drawn figure,
and the check is shown to find a legend put over them)."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np

from backprop_lab.viz import plots
from backprop_lab.viz.drift import save_drift_explained


def series(n: int = 200) -> list[tuple[str, np.ndarray]]:
    """As the study draws them: float32 round-off growing, the float64 control, an identical pair, two seeds."""
    rng = np.random.default_rng(0)
    steps = np.arange(1, n + 1)
    return [
        ("scratch vs tape, float32 (seed 0)", 1e-8 * np.exp(steps / 40) * (1 + rng.random(n))),
        ("scratch vs tape, float64 (the control)", 1e-16 * np.exp(steps / 40) * (1 + rng.random(n))),
        ("tape vs fit, float32 (seed 0)", np.zeros(n)),
        ("seed 0 vs seed 1 (scratch): what a different seed does", 0.05 + 0.3 * np.exp(-steps / 50) * rng.random(n)),
    ]


def test_the_drift_legend_covers_no_line(tmp_path, monkeypatch):
    found = []
    real = plots.save_figure

    def checking(fig, path, **kwargs):
        plots.drawn_texts(fig)  # draws it
        found.append(plots.legends_over_data(fig) + plots.texts_outside(fig) + plots.texts_overlapping(fig))
        return real(fig, path, **kwargs)

    monkeypatch.setattr("backprop_lab.viz.drift.save_figure", checking)
    with warnings.catch_warnings():
        warnings.simplefilter("error", plots.TextOutsideFigure)
        save_drift_explained(series(), tmp_path / "drift.png", "Per-step loss difference, mlp:256,128,64 on mnist-5k")
    assert found == [[]]
    assert (tmp_path / "drift.png").stat().st_size > 5000


def test_a_legend_over_the_lines_is_found():
    """The layout the drift figure had: the legend in the lower right corner, over the control and the floor."""
    fig, ax = plots.figure(10, 4.8)
    for label, diff in series():
        ax.plot(np.arange(1, len(diff) + 1), np.maximum(diff, 1e-16), label=label)
    ax.set_yscale("log")
    ax.legend(fontsize=8, loc="lower right")
    fig.canvas.draw()
    over = plots.legends_over_data(fig)
    plt.close(fig)
    assert "legend over 'scratch vs tape, float64 (the control)'" in over
    assert "legend over 'seed 0 vs seed 1 (scratch): what a different seed does'" not in over  # that one is above


def test_a_line_clipped_away_under_a_side_legend_is_not_counted():
    """Data beyond the axes' limits is not drawn: a legend beside the axes covers nothing there."""
    fig, ax = plots.figure(8, 4)
    x = np.linspace(0, 20, 200)
    ax.plot(x, np.full_like(x, 0.95), label="runs on past the x limit")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 1)
    plots.side_legend(ax)
    fig.canvas.draw()
    assert plots.legends_over_data(fig) == []
    ax.set_xlim(0, 20)  # now the same line is drawn under where an inside legend goes
    ax.legend(loc="upper right")
    fig.canvas.draw()
    assert plots.legends_over_data(fig) == ["legend over 'runs on past the x limit'"]
    plt.close(fig)
