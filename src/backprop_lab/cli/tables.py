"""The commands' tables on the terminal: the one table model (``backprop_lab.results.tables``) rendered by rich.
Renderers only: no computation here."""

from __future__ import annotations

from rich.table import Table as RichTable

from backprop_lab.results import tables
from backprop_lab.results.tables import Table


def summary_table(title: str, rows) -> RichTable:
    return tables.summary_table(title, rows).to_rich()


def data_info_table(name: str, info: dict) -> RichTable:
    rows = [[key, str(info[key])] for key in ("source", "input_shape", "num_classes", "train", "test")]
    rows += [
        ["class_names", ", ".join(info["class_names"])],
        ["train per class", ", ".join(str(c) for c in info["train_class_counts"])],
    ]
    table = Table(f"data set {name}", ["", ""], rows, [0, 1]).to_rich()
    table.show_header = False
    return table


def history_table(title: str, history) -> RichTable:
    return tables.history_table(title, history).to_rich()


def gradcheck_table(title: str, rows, autograd: bool) -> RichTable:
    cols = (
        ["parameter", "shape", "entries", "rel. error vs finite diff."]
        + (["rel. diff vs autograd"] if autograd else [])
        + ["result"]
    )
    body = [
        [r.key, str(r.shape), str(r.checked), f"{r.rel_error:.2e}"]
        + ([f"{r.autograd_rel:.2e}"] if autograd else [])
        + ["pass" if r.passed else "FAIL"]
        for r in rows
    ]
    return Table(title, cols, body, [0, 1, len(cols) - 1]).to_rich()


def report_table(title: str, report: dict) -> RichTable:
    return tables.report_table(title, report).to_rich()


def confusion_table(report: dict) -> RichTable:
    return tables.confusion_table(report).to_rich()


def transfer_table(title: str, result) -> RichTable:
    return tables.transfer_table(title, result).to_rich()
