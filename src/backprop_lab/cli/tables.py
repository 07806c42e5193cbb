"""Rich tables for the commands' results. Renderers only: no computation here."""

from __future__ import annotations

from rich.table import Table


def _table(title: str, columns: list[str], left: tuple[str, ...] = ()) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def summary_table(title: str, rows) -> Table:
    table = _table(title, ["Layer (type)", "Output Shape", "Param #", "Activation / rate"],
                   left=("Layer (type)", "Output Shape", "Activation / rate"))
    for name, shape, params, detail in rows:
        table.add_row(name, shape, f"{params:,}", detail)
    return table


def data_info_table(name: str, info: dict) -> Table:
    table = Table(title=f"data set {name}", show_header=False)
    for key in ("source", "input_shape", "num_classes", "train", "test"):
        table.add_row(key, str(info[key]))
    table.add_row("class_names", ", ".join(info["class_names"]))
    table.add_row("train per class", ", ".join(str(c) for c in info["train_class_counts"]))
    return table


def history_table(title: str, history) -> Table:
    table = _table(title, ["epoch", "train loss", "train acc", "test loss", "test acc", "time (s)"])
    for e in history.epochs:
        table.add_row(str(e.epoch), f"{e.train_loss:.4f}", f"{e.train_acc:.4f}", f"{e.test_loss:.4f}",
                      f"{e.test_acc:.4f}", f"{e.time_s:.2f}")
    return table


def gradcheck_table(title: str, rows, autograd: bool) -> Table:
    cols = ["parameter", "shape", "entries", "rel. error vs finite diff."] + (["rel. diff vs autograd"] if autograd else []) + ["result"]
    table = _table(title, cols, left=("parameter", "shape", "result"))
    for r in rows:
        cells = [r.key, str(r.shape), str(r.checked), f"{r.rel_error:.2e}"]
        if autograd:
            cells.append(f"{r.autograd_rel:.2e}")
        table.add_row(*cells, "[green]pass[/green]" if r.passed else "[red]FAIL[/red]")
    return table


def comparison_tables(title: str, doc: dict, pairs) -> tuple[Table, Table]:
    k = len(doc["seeds"])
    summary = _table(title, ["engine", "train loss", "train acc", "test loss", "test acc", "median epoch (s)"], left=("engine",))
    for row in doc["summary"]:
        def cell(name, digits=4):
            return f"{row[name]:.{digits}f}" + (f" ± {row[name + '_std']:.{digits}f}" if k > 1 else "")
        summary.add_row(row["engine"], cell("train_loss"), cell("train_acc"), cell("test_loss"), cell("test_acc"),
                        f"{row['median_epoch_s']:.3f}")
    cols = ["pair", "grad, 1st batch", "weights, step 1", "weights, end", "max |step loss diff|", "test acc diff"]
    if k > 1:
        cols += ["Welch p", "beyond seed spread?"]
    parity = _table("parity (norm-wise relative ||A-B||/||B||, worst tensor" + (", worst seed)" if k > 1 else ")"),
                    cols, left=("pair",))
    for p in pairs:
        cells = [f"{p.a} vs {p.b}", f"{p.grad_rel:.2e}", f"{p.step1_weight_rel:.2e}", f"{p.final_weight_rel:.2e}",
                 f"{p.max_step_loss_diff:.2e}", f"{100 * p.acc_diff:+.2f} pp"]
        if k > 1:
            cells += [f"{p.welch_p:.3f}", "yes" if p.significant else "no"]
        parity.add_row(*cells)
    return summary, parity


def report_table(title: str, report: dict) -> Table:
    table = _table(title, ["class", "precision", "recall", "F1", "support"], left=("class",))
    for row in report["per_class"]:
        table.add_row(row["class"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", str(row["support"]))
    macro = report["macro"]
    table.add_row("[bold]macro average[/bold]", f"{macro['precision']:.4f}", f"{macro['recall']:.4f}", f"{macro['f1']:.4f}",
                  str(report["n"]))
    return table


def confusion_table(report: dict) -> Table:
    names = report["class_names"]
    table = _table("confusion matrix (rows: true, columns: predicted)", ["true \\ pred"] + [n[:10] for n in names],
                   left=("true \\ pred",))
    for name, row in zip(names, report["confusion_matrix"]):
        table.add_row(name[:12], *[str(v) for v in row])
    return table


def transfer_table(title: str, result) -> Table:
    table = _table(title, ["variant", "trainable", "frozen", "test acc", "wall time (s)"], left=("variant",))
    for v in result.variants:
        table.add_row(v.name, f"{v.trainable:,}", f"{v.frozen:,}", f"{v.accuracy:.4f}", f"{v.seconds:.2f}")
    return table
