"""Every result's table, built once as a :class:`~backprop_lab.core.table.Table` (caption, header, rows).

The tables of every result are built here once (history, classification report, confusion matrix,
comparison, sweep, transfer, model summary); the CLI, the study and the notebook only render them.
"""

from __future__ import annotations

import statistics
from typing import Any

from backprop_lab.core.table import Table  # noqa: F401 (the model every table here builds)
from backprop_lab.results.classification import ClassificationReport


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def history_table(caption: str, history) -> Table:
    return history.table(caption)


def report_table(caption: str, report: ClassificationReport) -> Table:
    """Per-class precision, recall and F1 and the macro average, from a classification report (``run.test``)."""
    return report.table(caption)


def confusion_table(report: ClassificationReport) -> Table:
    return report.confusion_table()


def summary_table(caption: str, rows) -> Table:
    """A Keras-style summary from ``spec.summary_rows``: (layer, output shape, parameters, activation / rate)."""
    return Table(
        caption,
        ["Layer (type)", "Output Shape", "Param #", "Activation / rate"],
        [[name, shape, f"{params:,}", detail] for name, shape, params, detail in rows],
        [0, 1, 3],
    )


def comparison_tables(caption: str, doc: dict, pairs) -> tuple[Table, Table]:
    """Each engine's figures (mean ± std over seeds) and each pair's measured parity."""
    k = len(doc["seeds"])

    def cell(row: dict, name: str) -> str:
        return f"{row[name]:.4f}" + (f" ± {row[name + '_std']:.4f}" if k > 1 else "")

    summary = Table(
        caption,
        ["engine", "train loss", "train acc", "test loss", "test acc", "median epoch (s)"],
        [
            [
                r["engine"],
                cell(r, "train_loss"),
                cell(r, "train_acc"),
                cell(r, "test_loss"),
                cell(r, "test_acc"),
                f"{r['median_epoch_s']:.3f}",
            ]
            for r in doc["summary"]
        ],
    )
    cols = ["pair", "grad, 1st batch", "weights, step 1", "weights, end", "max |step loss diff|", "test acc diff"]
    rows = []
    for p in pairs:
        cells = [
            f"{p.a} vs {p.b}",
            f"{p.grad_rel:.2e}",
            f"{p.step1_weight_rel:.2e}",
            f"{p.final_weight_rel:.2e}",
            f"{p.max_step_loss_diff:.2e}",
            f"{100 * p.acc_diff:+.2f} pp",
        ]
        if k > 1:
            cells += [
                "-" if p.welch_p is None else f"{p.welch_p:.3f}",
                {None: "-", True: "yes", False: "no"}[p.significant],
            ]
        rows.append(cells)
    parity = Table(
        "parity (norm-wise relative ||A-B||/||B||, worst tensor" + (", worst seed)" if k > 1 else ")"),
        cols + (["Welch p", "beyond seed spread?"] if k > 1 else []),
        rows,
    )
    return summary, parity


def sweep_table(caption: str, result) -> Table:
    """Each cell's test accuracy over seeds, its 95% interval and its test against the baseline."""
    from backprop_lab.viz.plots import cell_label

    rows = []
    for c in result.cells:
        base = c.cell.name == result.baseline
        rows.append(
            [
                cell_label(c.cell),
                f"{c.mean:.4f} ± {c.std:.4f}",
                f"[{c.interval[0]:.4f}, {c.interval[1]:.4f}]",
                "baseline" if base else ("-" if c.welch_p is None else f"{c.welch_p:.3f}"),
                "" if base else {None: "-", True: "yes", False: "no"}[c.beyond_spread],
                f"{statistics.fmean(r.seconds for r in c.runs):.2f}",
            ]
        )
    return Table(
        caption,
        [
            "cell",
            "test accuracy (mean ± std)",
            "95% interval",
            "Welch p vs baseline",
            "beyond seed spread?",
            "train s/run",
        ],
        rows,
    )


def data_info_table(info) -> Table:
    """What ``bplab data info`` shows: a two-column table of the data set's facts."""
    rows = [
        ["source", info.source],
        ["input_shape", str(info.input_shape)],
        ["num_classes", str(info.num_classes)],
        ["train", str(info.train)],
        ["test", str(info.test)],
    ]
    if info.validation is not None:
        rows.append(["validation", str(info.validation)])
    rows += [
        ["class_names", ", ".join(info.class_names)],
        ["train per class", ", ".join(str(c) for c in info.train_class_counts)],
    ]
    return Table(f"data set {info.name}", ["", ""], rows, [0, 1])


def gradcheck_table(check) -> Table:
    """One row per parameter tensor: its relative error against finite differences (and autograd)."""
    cols = (
        ["parameter", "shape", "entries", "rel. error vs finite diff."]
        + (["rel. diff vs autograd"] if check.autograd else [])
        + ["result"]
    )
    body = [
        [r.key, str(r.shape), str(r.checked), f"{r.rel_error:.2e}"]
        + ([f"{r.autograd_rel:.2e}"] if check.autograd else [])
        + ["pass" if r.passed else "FAIL"]
        for r in check.rows
    ]
    return Table(check.title, cols, body, [0, 1, len(cols) - 1])


def transfer_table(caption: str, result: Any) -> Table:
    return Table(
        caption,
        ["variant", "trainable", "frozen", "test acc", "epochs", "wall time (s)"],
        [
            [
                v.name,
                f"{v.trainable:,}",
                f"{v.frozen:,}",
                f"{v.accuracy:.4f}",
                f"{v.epochs} over {v.epochs_over}",
                f"{v.seconds:.2f}",
            ]
            for v in result.variants
        ],
    )
