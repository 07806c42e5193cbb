"""Plots: confusion matrices, training curves, sweep results, per-step losses (matplotlib, no display).

Every figure here is laid out by matplotlib's constrained layout, carries the title its caller passes
(wrapped to the figure's width, never cut), labels sweep cells for people (:func:`cell_label`:
``variant=numpy-33,engine=scratch`` -> ``numpy-33 · scratch``), and is written by :func:`save_figure`,
which checks that no title, axis label, tick label or legend text falls outside the canvas
(:func:`texts_outside`) or over another text (:func:`texts_overlapping`) and warns
(:class:`TextOutsideFigure`) if one does.

Sweep results are drawn as points with their 95% interval, not as bars: an accuracy axis that does not
start at 0 is honest for points, and says so; a bar's length would exaggerate.
"""

from __future__ import annotations

import itertools
import re
import textwrap
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402

TITLE_SIZE = 11  # points
LABEL_WIDTH = 34  # characters per line of a tick or legend label before it wraps

# --- labels -----------------------------------------------------------------------------------------

OPTION_NAMES = {  # a grid key as a reader says it
    "model": "model",
    "engine": "engine",
    "variant": "set-up",
    "optimizer": "optimizer",
    "lr": "learning rate",
    "epochs": "epochs",
    "batch_size": "batch size",
    "init": "initialisation",
    "loss": "loss",
    "l2": "L2 penalty",
    "alpha": "blend factor α",
    "decay": "learning-rate decay",
    "decay_rate": "decay rate",
    "decay_steps": "decay period",
    "momentum": "momentum",
    "dtype": "float type",
    "seed": "seed",
}
INIT_NAMES = {
    "zeros": "zeros",
    "small_normal": "0.01·N(0, 1)",
    "glorot_uniform": "Glorot uniform",
    "glorot_normal": "Glorot normal",
    "he_normal": "He normal",
    "he_uniform": "He uniform",
}
OPTIMIZER_NAMES = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov momentum",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
LOSS_NAMES = {
    "categorical_crossentropy": "cross-entropy",
    "binary_crossentropy": "binary cross-entropy",
    "mse": "MSE",
    "squared_error": "squared error (summed)",
    "half_squared_error": "½ squared error",
}
DECAY_NAMES = {"none": "no decay", "exponential": "exponential decay", "step": "step decay"}

_KEY = re.compile(r"[a-z][a-z0-9_-]*=")  # a cell name is KEY=VALUE,KEY=VALUE (values may hold commas)


def number(value: Any) -> str:
    """A number as people write it: 0.001, 1e-05 -> 1e-5, 0.5, 32."""
    try:
        text = f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'' if m.group(1) == '+' else '-'}{m.group(2)}", text)


def model_label(text: str) -> str:
    """``mlp:256`` -> ``256 units``; ``mlp:128,128`` -> ``2 × 128 units``; ``mlp:256,128,64/act=tanh/dropout=0.2``
    -> ``256-128-64 units, tanh, dropout 0.2``; ``cnn:32,64`` -> ``CNN 32-64 filters``; a spec file: its name."""
    head, sep, rest = str(text).strip().partition(":")
    if head not in ("mlp", "cnn") or not sep:
        return Path(str(text)).stem if str(text).endswith((".json", ".toml")) else str(text)
    body, *options = rest.split("/")
    widths = [w.strip() for w in body.split(",") if w.strip()]
    size = f"{len(widths)} × {widths[0]}" if len(widths) > 1 and len(set(widths)) == 1 else "-".join(widths)
    parts = [f"{size} units" if head == "mlp" else f"CNN {size} filters"]
    for option in options:
        key, _, value = option.partition("=")
        key = key.strip()
        if key == "act":
            parts.append(value)
        elif key == "dropout":
            parts.append("no dropout" if float(value or 0) == 0 else f"dropout {number(value)}")
        elif key == "out":
            parts.append(f"{value} output")
        elif key == "pad":
            parts.append(f"{value} padding")
        elif key == "kernel":
            parts.append(f"{value}×{value} kernels")
        elif option.strip():
            parts.append(option.strip())
    return ", ".join(parts)


def value_label(key: str, value: Any) -> str:
    """One grid value for people: ``init=he_normal`` -> ``He normal``, ``batch_size=32`` -> ``batch 32``,
    ``optimizer=rmsprop`` -> ``RMSprop``, ``alpha=0.5`` -> ``α = 0.5``, ``model=mlp:256`` -> ``256 units``."""
    key = key.strip().replace("-", "_")
    text = "" if value is None else str(value).strip()
    if key == "model":
        return model_label(text)
    if key == "init":
        return INIT_NAMES.get(text, text.replace("_", " "))
    if key == "optimizer":
        return OPTIMIZER_NAMES.get(text.lower(), text)
    if key == "loss":
        return LOSS_NAMES.get(text, text.replace("_", " "))
    if key == "decay":
        return DECAY_NAMES.get(text, f"{text} decay")
    if key == "batch_size":
        return "full batch" if value is None or text.lower() in ("full", "none", "") else f"batch {number(text)}"
    if key == "alpha":
        return f"α = {number(text)}"
    if key == "lr":
        return "default lr" if value is None or text in ("default", "None") else f"lr {number(text)}"
    if key == "l2":
        return "no L2" if _is_zero(text) else f"L2 {number(text)}"
    if key == "epochs":
        return f"{number(text)} epoch{'' if text == '1' else 's'}"
    if key == "decay_rate":
        return f"decay rate {number(text)}"
    if key == "decay_steps":
        return f"decay every {number(text)} steps"
    if key == "momentum":
        return f"momentum {number(text)}"
    if key == "seed":
        return f"seed {text}"
    if key in ("engine", "variant", "dtype"):
        return text
    return f"{key.replace('_', ' ')} {text}"


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def parse_cell(name: str) -> dict[str, str] | None:
    """``optimizer=adam,model=mlp:128,64`` -> {"optimizer": "adam", "model": "mlp:128,64"}; None when the text
    is not a cell name (a label already, or ``base``)."""
    name = name.strip()
    if not _KEY.match(name):
        return None
    starts = [0] + [m.start() + 1 for m in re.finditer(r",(?=[a-z][a-z0-9_-]*=)", name)]
    values = {}
    for begin, end in zip(starts, starts[1:] + [len(name)]):
        key, _, value = name[begin:end].rstrip(",").partition("=")
        values[key.strip().replace("-", "_")] = value.strip()
    return values


def cell_label(cell: Any) -> str:
    """A sweep cell for people: its values joined by `` · `` (``variant=numpy-33,engine=scratch`` ->
    ``numpy-33 · scratch``). Takes a cell name, a mapping of grid values, or a ``Cell`` (its ``values``);
    text that is not a cell name (``base``, or a label already) comes back as it is."""
    values = cell if isinstance(cell, (str, Mapping)) else getattr(cell, "values", cell)
    if isinstance(values, str):
        parsed = parse_cell(values)
        if parsed is None:
            return values
        values = parsed
    if not isinstance(values, Mapping):
        return str(cell)
    return " · ".join(value_label(k, v) for k, v in values.items()) or "base"


def option_label(key: str) -> str:
    """A grid key for people: ``batch_size`` -> ``batch size``, ``init`` -> ``initialisation``."""
    name = key.strip().replace("-", "_")
    return OPTION_NAMES.get(name, name.replace("_", " "))


def wrap(text: str, width: int) -> str:
    """Lines of at most ``width`` characters, broken at spaces (kept line breaks stay)."""
    return "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) or line
        for line in str(text).split("\n")
    )


def wrap_label(label: str, width: int = LABEL_WIDTH) -> str:
    """A label in lines of about ``width`` characters, broken after its `` · `` and ``, `` separators where it
    can, and between words only inside a piece longer than a line (``He normal`` stays on one line)."""
    pieces: list[str] = []  # each piece keeps the separator that follows it
    parts = str(label).split(" · ")
    for i, part in enumerate(parts):
        inner = part.split(", ")
        pieces += [p + ", " for p in inner[:-1]] + [inner[-1] + (" · " if i < len(parts) - 1 else "")]
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1] + piece.rstrip()) > width:
            lines.append("")
        lines[-1] += piece
    out = []
    for line in lines:
        out += wrap(line.rstrip(), width).split("\n")
    return "\n".join(out)


def _label(name: str, width: int = LABEL_WIDTH) -> str:
    return wrap_label(cell_label(name), width)


# --- figures and saving -------------------------------------------------------------------------------


class TextOutsideFigure(UserWarning):
    """A figure was saved with a title, label or legend text (partly) outside its canvas, or over another, or
    with a legend over a plotted line."""


def figure(width: float, height: float, ncols: int = 1, layout: str = "constrained", **kwargs):
    """A figure and its axes, laid out so that titles, labels and legends fit inside: ``constrained``, or
    ``compressed`` for axes of fixed aspect (images: constrained layout can push their labels off the canvas)."""
    return plt.subplots(1, ncols, figsize=(width, height), layout=layout, **kwargs)


def set_title(fig: Figure, title: str, fontsize: float = TITLE_SIZE) -> None:
    """The figure's title, wrapped to the figure's width, so that nothing of it is cut."""
    width_pt = fig.get_figwidth() * 72
    fig.suptitle(wrap(title, max(20, int(width_pt / (0.58 * fontsize)) - 4)), fontsize=fontsize)


def drawn_texts(fig: Figure) -> list[tuple[Text, Any]]:
    """Every text the figure actually draws (visible, not empty), with its extent on the canvas (pixels)."""
    drawn: list[tuple[Text, Any]] = []
    original = Text.draw

    def recording(self, renderer, *args, **kwargs):
        result = original(self, renderer, *args, **kwargs)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self, self.get_window_extent(renderer)))
        return result

    Text.draw = recording
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return drawn


def _describe(text: Text, box) -> str:
    return f"{text.get_text()!r} at x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f}"


def texts_outside(fig: Figure, tolerance: float = 1.0, drawn: list | None = None) -> list[str]:
    """The texts (titles, axis labels, tick labels, legend entries, annotations) that fall, even partly,
    outside the figure's canvas, each as ``'TEXT' at x0..x1, y0..y1 (canvas W x H px)``; empty when all fit.
    ``drawn``: :func:`drawn_texts` of the figure, when the caller has it (saves drawing again)."""
    canvas = fig.bbox
    outside = []
    for text, box in drawn_texts(fig) if drawn is None else drawn:
        if (
            box.x0 < canvas.x0 - tolerance
            or box.y0 < canvas.y0 - tolerance
            or box.x1 > canvas.x1 + tolerance
            or box.y1 > canvas.y1 + tolerance
        ):
            outside.append(f"{_describe(text, box)} (canvas {canvas.width:.0f} x {canvas.height:.0f} px)")
    return outside


def texts_overlapping(fig: Figure, tolerance: float = 1.0, drawn: list | None = None) -> list[str]:
    """Pairs of texts drawn over each other (a title under a legend, tick labels that collide), each as
    ``'A' over 'B'``; empty when none do. Rotated texts are left out: the box of a slanted label is wider
    than the label, and neighbours' boxes overlap where the letters do not."""
    boxes = [(t, b) for t, b in (drawn_texts(fig) if drawn is None else drawn) if t.get_rotation() % 90 == 0]
    found = []
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        if min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance:
            found.append(f"{_describe(ta, a)} over {_describe(tb, b)}")
    return found


def legends_over_data(fig: Figure, samples: int = 8) -> list[str]:
    """The legends drawn over a plotted line: each as 'legend over LABEL', for every line (its vertices and
    ``samples`` points along each segment, in display space) that passes through a legend's box. Call it
    after the figure was drawn (:func:`drawn_texts` draws it)."""
    renderer = fig.canvas.get_renderer()
    legends = [leg for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if leg is not None]
    found = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for line in ax.get_lines():
                xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
                xy = xy[np.all(np.isfinite(xy), axis=1)]
                if len(xy) > 1:
                    t = np.linspace(0, 1, samples, endpoint=False)[:, None, None]
                    xy = (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)
                area = ax.bbox  # a line is drawn clipped to its axes: what lies outside them is not seen
                shown = (xy[:, 0] >= area.x0) & (xy[:, 0] <= area.x1) & (xy[:, 1] >= area.y0) & (xy[:, 1] <= area.y1)
                inside = (xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)
                if np.any(inside & (shown | (not line.get_clip_on()))):
                    found.append(f"legend over {line.get_label()!r}")
    return found


def layout_problems(fig: Figure) -> list[str]:
    """Everything :func:`save_figure` warns about: texts outside the canvas, texts over each other, legends
    over data (the figure is drawn once)."""
    drawn = drawn_texts(fig)
    return (
        [f"outside the canvas: {p}" for p in texts_outside(fig, drawn=drawn)]
        + [f"overlapping: {p}" for p in texts_overlapping(fig, drawn=drawn)]
        + legends_over_data(fig)
    )


def save_figure(fig: Figure, path: Path, dpi: int = 120) -> Path:
    """Write the figure (PNG, SVG, PDF by the suffix) and close it. Every plot is saved here: a text outside
    the canvas or over another is warned about (:class:`TextOutsideFigure`), and then the file is written
    with a bounding box that takes in every text, so nothing is cut even so."""
    path = Path(path)
    try:
        problems = layout_problems(fig)
        if problems:
            warnings.warn(f"{path.name}: " + "; ".join(problems), TextOutsideFigure, stacklevel=2)
            fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.08)
        else:
            fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)
    return path


# --- the plots ------------------------------------------------------------------------------------------


def save_confusion_heatmap(report, path: Path, title: str) -> Path:
    """Counts of (true, predicted) class, with the accuracy in the title (``report``: a ClassificationReport)."""
    cm = np.asarray(report.confusion_matrix)
    names = [str(n) for n in report.class_names]
    k = len(names)
    longest = max((len(n) for n in names), default=1)
    size = max(4.5, 0.55 * k + 2.5)
    fig, ax = figure(size + 1.2, size + 0.04 * longest, layout="compressed")
    im = ax.imshow(cm, cmap="Blues")
    rotate = longest > 2
    ax.set_xticks(
        range(k),
        names,
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
        rotation_mode="anchor" if rotate else "default",
    )
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=12 if k <= 4 else 8 if k <= 10 else 6,
                color="white" if cm[i, j] > threshold else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046, label="test images")
    set_title(fig, f"{title}: test accuracy {report.accuracy:.4f}")
    return save_figure(fig, path)


MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")
STYLES = [("train", "-"), ("test (open markers)", "--")]  # what the line styles of a training-curve figure mean


def _run_style(i: int) -> dict:
    """Colour, marker and width of run ``i``: later runs thinner and with smaller markers, so that a run
    drawn exactly over an earlier one (engines in parity) leaves the earlier one visible around it."""
    return {
        "color": f"C{i % 10}",
        "marker": MARKERS[i % len(MARKERS)],
        "lw": max(0.9, 2.6 - 0.5 * i),
        "ms": max(3.0, 7.0 - 1.0 * i),
    }


def side_legend(ax, handles=None, **kwargs):
    """A legend to the right of ``ax``, outside it (constrained layout makes room; nothing is drawn over)."""
    options = {
        "loc": "upper left",
        "bbox_to_anchor": (1.02, 1.0),
        "borderaxespad": 0.0,
        "fontsize": 8,
        "frameon": False,
        **kwargs,
    }
    return ax.legend(handles=handles, **options) if handles is not None else ax.legend(**options)


def _style_legend(ax, runs: list[str], styles: list[tuple[str, str]]) -> None:
    """One legend beside the last axes: colours and markers name the runs, line styles what was measured."""
    handles = [Line2D([], [], label=_label(name, 28), **_run_style(i)) for i, name in enumerate(runs)]
    handles += [Line2D([], [], color="0.3", ls=ls, lw=1.4, label=what) for what, ls in styles]
    side_legend(ax, handles)


def _plot_history(ax_loss, ax_acc, history, style: dict) -> None:
    """One run's loss and accuracy per epoch: train solid, test dashed with open markers."""
    epochs = [e.epoch for e in history.epochs]
    for ax, train, test in ((ax_loss, "train_loss", "test_loss"), (ax_acc, "train_acc", "test_acc")):
        ax.plot(epochs, [getattr(e, train) for e in history.epochs], **style)
        ax.plot(epochs, [getattr(e, test) for e in history.epochs], ls="--", mfc="white", **style)


def _label_curve_axes(ax_loss, ax_acc) -> None:
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)


def save_curves(histories: dict[str, object], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch for several runs overlaid (train solid, test dashed)."""
    fig, (ax_loss, ax_acc) = figure(11.5, 4.2, ncols=2)
    for i, history in enumerate(histories.values()):
        style = _run_style(i)
        _plot_history(ax_loss, ax_acc, history, style)
    _label_curve_axes(ax_loss, ax_acc)
    _style_legend(ax_acc, list(histories), STYLES)
    set_title(fig, title)
    return save_figure(fig, path)


SEED_FAMILIES = ("tab20c", "tab20b")  # colour maps of 5 hues x 4 shades each: one hue (family) per seed


def seed_colour(seed_index: int, engine_index: int) -> tuple:
    """The colour of one engine's run of one seed: a hue per seed (10 families, then again), a shade per
    engine within it (darkest first; four shades, then again), so that runs from the same start read as
    one family."""
    family = seed_index % 10
    cmap = matplotlib.colormaps[SEED_FAMILIES[family // 5]]
    return cmap(4 * (family % 5) + engine_index % 4)


def save_seed_curves(runs: Mapping[int, Mapping[str, object]], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch of every seed's runs (``{seed: {engine: history}}``): the engines that
    started from one seed's weights share a colour family (one shade each), each engine keeps its marker
    across seeds; train solid, test dashed with open markers."""
    fig, (ax_loss, ax_acc) = figure(11.5, 4.4, ncols=2)
    engines = list(dict.fromkeys(e for by_engine in runs.values() for e in by_engine))
    for j, by_engine in enumerate(runs.values()):
        for i, engine in enumerate(engines):
            if engine not in by_engine:
                continue
            history = by_engine[engine]
            style = {**_run_style(i), "color": seed_colour(j, i)}
            _plot_history(ax_loss, ax_acc, history, style)
    _label_curve_axes(ax_loss, ax_acc)
    handles = [
        Line2D([], [], color=seed_colour(j, 0), lw=6, label=f"seed {seed}" + (" (shades: engines)" if j == 0 else ""))
        for j, seed in enumerate(runs)
    ]
    handles += [
        Line2D(
            [], [], color="0.35", label=_label(engine, 28), **{k: v for k, v in _run_style(i).items() if k != "color"}
        )
        for i, engine in enumerate(engines)
    ]
    handles += [Line2D([], [], color="0.3", ls=ls, lw=1.4, label=what) for what, ls in STYLES]
    side_legend(ax_acc, handles)
    set_title(fig, title)
    return save_figure(fig, path)


def _mean_band(ax, runs: list[list[float]], style: dict) -> None:
    """Mean over seeds (runs of unequal length are cut to the shortest) with a min-max band."""
    n = min((len(r) for r in runs), default=0)
    if n == 0:
        return
    data = np.array([r[:n] for r in runs], dtype=float)
    x = np.arange(1, n + 1)
    ax.plot(x, data.mean(axis=0), **{**style, "ms": style["ms"] - 1})
    if len(runs) > 1:
        ax.fill_between(x, data.min(axis=0), data.max(axis=0), color=style["color"], alpha=0.12, lw=0)


def save_sweep_curves(
    train_loss: dict[str, list[list[float]]], test_acc: dict[str, list[list[float]]], path: Path, title: str
) -> Path:
    """Per cell: training loss and test accuracy per epoch, mean over seeds with the min-max band."""
    fig, (ax_loss, ax_acc) = figure(12.5, 4.5, ncols=2)
    for i, name in enumerate(test_acc):
        _mean_band(ax_loss, train_loss[name], _run_style(i))
        _mean_band(ax_acc, test_acc[name], _run_style(i))
    seeds = max((len(v) for v in test_acc.values()), default=0)
    for ax, name in ((ax_loss, "training loss"), (ax_acc, "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    note = f"mean of {seeds} seeds\n(band: lowest to highest)" if seeds > 1 else "one seed"
    _style_legend(ax_acc, list(test_acc), [(note, "-")])
    set_title(fig, title)
    return save_figure(fig, path)


def save_sweep_bars(
    cells: Mapping[str, tuple[float, float, float]],
    path: Path,
    title: str,
    *,
    baseline: str | None = None,
    differs: Mapping[str, bool | None] | None = None,
    xlabel: str = "final test accuracy",
) -> Path:
    """Each cell's mean (a point) with its 95% interval ``(mean, low, high)`` as a horizontal error bar, one
    row per cell, top to bottom in the order given, the numbers on the right. A ``low``/``high`` of nan (or
    equal to the mean) draws the point alone: one seed has no interval. ``baseline`` names the cell the others
    were tested against (a dashed line at its mean); ``differs`` says, per cell, whether it differs from the
    baseline beyond the seed spread (filled point) or not (open point). The accuracy axis does not start at 0
    (points, not bars, so no length exaggerates) and spans at least 5 points of accuracy."""
    names = list(cells)
    means = np.array([cells[n][0] for n in names], dtype=float)
    lows = np.array([cells[n][1] for n in names], dtype=float)
    highs = np.array([cells[n][2] for n in names], dtype=float)
    known = ~(np.isnan(lows) | np.isnan(highs)) & ((highs - lows) > 0)
    lows, highs = np.where(known, lows, means), np.where(known, highs, means)
    n = len(names)
    labels = [_label(name) + (" (baseline)" if name == baseline else "") for name in names]
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    fig, ax = figure(9.5, max(2.6, n * (0.3 + 0.2 * lines) + 1.9))
    y = np.arange(n)[::-1]
    for i in range(n):
        filled = True if differs is None else bool(differs.get(names[i]))
        is_base = names[i] == baseline
        color = "0.25" if is_base else f"C{i % 10}"
        ax.errorbar(
            means[i],
            y[i],
            xerr=[[means[i] - lows[i]], [highs[i] - means[i]]],
            fmt="D" if is_base else "o",
            ms=7,
            capsize=4,
            lw=1.6,
            color=color,
            mfc=color if filled or is_base else "white",
            mew=1.6,
        )
    if baseline in cells:
        ax.axvline(cells[baseline][0], color="0.5", ls="--", lw=1, zorder=0)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_ylim(-0.7, n - 0.3)
    span_low, span_high = (float(np.min(lows)), float(np.max(highs))) if n else (0.0, 1.0)
    pad = max(0.05 - (span_high - span_low), 0.0) / 2 + 0.1 * (span_high - span_low) + 0.005
    left, right = max(0.0, span_low - pad), min(1.0, span_high + pad)
    if left <= right - left:  # the points spread over more than the axis would leave out: start at 0
        left = 0.0
    if right - left < 0.05:
        left, right = (max(0.0, right - 0.05), right) if right >= 1.0 else (left, min(1.0, left + 0.05))
    ax.set_xlim(left, right)
    ax.grid(axis="x", alpha=0.3)
    right_axis = ax.secondary_yaxis("right")
    right_axis.set_yticks(
        y,
        [
            f"{m:.4f}" + (f"  [{lo:.4f}, {hi:.4f}]" if k else "  (one seed)")
            for m, lo, hi, k in zip(means, lows, highs, known)
        ],
        fontsize=8,
    )
    right_axis.tick_params(length=0)
    notes = ["points: mean; bars: 95% interval (Student's t)" if known.any() else "points: one seed each, no interval"]
    if left > 0:
        notes.append(f"axis from {left:.2f}, not 0")
    ax.set_xlabel(f"{xlabel}\n" + "; ".join(notes), fontsize=9)
    if differs is not None and baseline is not None:
        handles = [
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                color="0.3",
                label="differs from the baseline beyond the seed spread (Welch p < 0.05)",
            ),
            Line2D([], [], ls="none", marker="o", color="0.3", mfc="white", label="within the seed spread"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    set_title(fig, title)
    return save_figure(fig, path)


def save_step_losses(losses: dict[str, list[float]], path: Path, title: str) -> Path:
    """Training loss of every step (batch), one line per run, log scale."""
    fig, ax = figure(10, 4.6)
    for i, (name, values) in enumerate(losses.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            color=f"C{i % 10}",
            lw=max(0.9, 2.0 - 0.25 * i),
            ls=("-", "--", ":", "-.")[i % 4],
            label=_label(name, 28),
        )
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss of the batch")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    side_legend(ax)
    set_title(fig, title)
    return save_figure(fig, path)


def save_drift(step_losses: dict[str, list[float]], path: Path, title: str) -> Path:
    """|loss_a - loss_b| per step for every pair of engines (log scale; exact zeros drawn at the floor)."""
    fig, ax = figure(10, 4.6)
    floor = 1e-12
    for i, (a, b) in enumerate(itertools.combinations(step_losses, 2)):
        la, lb = np.asarray(step_losses[a], dtype=float), np.asarray(step_losses[b], dtype=float)
        n = min(len(la), len(lb))
        raw = np.abs(la[:n] - lb[:n])
        label = f"{cell_label(a)} vs {cell_label(b)}" + ("\n(identical: drawn at 1e-12)" if not np.any(raw) else "")
        ax.plot(
            range(1, n + 1),
            np.maximum(raw, floor),
            color=f"C{i % 10}",
            lw=max(0.8, 2.2 - 0.6 * i),
            ls=("-", "--", ":")[i % 3],
            label=label,
        )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("|loss difference| at that step")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        side_legend(ax)
    set_title(fig, title)
    return save_figure(fig, path)


__all__ = [
    "cell_label",
    "value_label",
    "model_label",
    "option_label",
    "parse_cell",
    "number",
    "wrap",
    "wrap_label",
    "figure",
    "set_title",
    "side_legend",
    "save_figure",
    "texts_outside",
    "texts_overlapping",
    "layout_problems",
    "legends_over_data",
    "drawn_texts",
    "TextOutsideFigure",
    "save_confusion_heatmap",
    "save_curves",
    "save_seed_curves",
    "seed_colour",
    "save_sweep_curves",
    "save_sweep_bars",
    "save_step_losses",
    "save_drift",
]
