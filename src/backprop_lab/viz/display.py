"""How each result shows itself in a notebook: the same tables the terminal prints, as HTML, with
the curves and pictures inline (SVG). ``register_renderers`` hands them to the display bridge
(``core/display.py``), which the results' ``_repr_html_`` ask; renderers only."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from backprop_lab.core import display
from backprop_lab.viz import html
from backprop_lab.viz.html import esc

HISTORY_HEADER = ["epoch", "train loss", "train acc", "test loss", "test acc", "time (s)"]


def summary_html(summary) -> str:
    return html.block(
        summary.title,
        summary.table().to_html(),
        html.paragraph(
            f"Total params: {summary.total:,}; trainable: {summary.trainable:,}; "
            f"non-trainable: {summary.non_trainable:,}"
        ),
    )


def data_html(info) -> str:
    table = info.table()
    return html.block(table.caption, replace(table, caption="").to_html())


def history_rows(history) -> list[list[str]]:

    return history.table().rows


def run_html(run) -> str:
    from backprop_lab.viz.plots import save_curves

    parts = [html.table(HISTORY_HEADER, history_rows(run.history))]
    if run.history.stopped:
        parts.append(html.paragraph(run.history.stopped))
    if run.metrics.test is not None:
        parts.append(
            html.paragraph(
                f"test accuracy {run.metrics.test.accuracy:.4f}" + (f"; run folder {run.folder}" if run.folder else "")
            )
        )
    if run.history.epochs:
        parts.append(html.plotted(save_curves, {run.engine: run.history}, f"{run.engine} on {run.dataset}"))
    return html.block(f"{run.engine} · {run.dataset}", *parts)


def report_html(report, title: str, heatmap: Path | None = None) -> str:
    parts = [report.table().to_html(), report.confusion_table().to_html()]
    if heatmap is not None and Path(heatmap).is_file():
        parts.append(html.picture(heatmap, "confusion matrix"))
    return html.block(title, *parts)


def gradcheck_html(check) -> str:
    table = check.table()
    return html.block(
        check.title,
        replace(table, caption="").to_html(),
        html.paragraph(f"{'all passed' if check.passed else 'FAILED'}; worst {check.worst:.2e}"),
    )


def comparison_html(comparison) -> str:
    from backprop_lab.viz.plots import save_drift

    summary, parity = comparison.tables()
    summary.caption = ""  # the block's heading says what was compared
    first = comparison.runs[comparison.seeds[0]]
    parts = [
        summary.to_html(),
        parity.to_html(),
        *[html.paragraph(f"note: {n}") for n in comparison.notes],
        html.plotted(lambda path, title: comparison.curves(path), comparison.title or "comparison"),
    ]
    if len(comparison.engines) > 1 and all(first[e].history.step_loss for e in comparison.engines):
        parts.append(
            html.plotted(
                save_drift,
                {e: first[e].history.step_loss for e in comparison.engines},
                f"per-step loss drift between engines, seed {comparison.seeds[0]}",
            )
        )
    return html.block(comparison.title or "comparison", *parts)


def sweep_html(result) -> str:
    from backprop_lab.viz.plots import save_sweep_bars

    table = result.table()
    parts = [
        replace(table, caption="").to_html(),
        html.plotted(
            save_sweep_bars,
            {c.cell.name: (c.mean, *c.interval) for c in result.cells},
            "final test accuracy, mean and 95% interval over seeds",
        ),
    ]
    if result.step_curves is not None and Path(result.step_curves).is_file():
        parts.append(html.picture(result.step_curves, "per-step loss"))
    return html.block(table.caption, *parts)


def graph_svg(drawing, which: int) -> str:
    from backprop_lab.viz.render import draw_matplotlib

    pictures = [p for p in drawing.pictures if p.suffix == ".svg"]
    if len(pictures) > which:
        return html.svg_text(pictures[which])
    with tempfile.TemporaryDirectory() as tmp:
        return html.svg_text(draw_matplotlib(drawing.graphs[which], Path(tmp) / "graph.svg"))


def drawing_html(drawing) -> str:
    parts = [f"<div>{graph_svg(drawing, i)}</div>" for i in range(len(drawing.graphs))]
    if drawing.equations is not None:
        parts.append(drawing.equations._repr_html_())
    parts.append(html.paragraph(f"{len(drawing.files)} files in {drawing.folder} (rendered by {drawing.renderer})"))
    return html.block(drawing.title, *parts)


def worked_html(example) -> str:
    return html.block(example.title, html.mathml(example.mathml_body("h4")))


def check_html(report) -> str:
    good = sum(v.correct for v in report.verdicts)
    rows = [
        (
            v.line,
            "correct" if v.correct else "wrong",
            v.text,
            "; ".join(f"{i.code}: {i.message}" for i in v.issues),
            "" if v.correct else (v.expected or "none"),
        )
        for v in report.verdicts
    ]
    return html.block(
        f"{report.model}: {good} of {len(report.verdicts)} equations correct",
        html.table(["line", "verdict", "equation", "what is wrong", "correct chain"], rows),
    )


def transfer_html(transfer) -> str:
    table = transfer.table()
    parts = [
        replace(table, caption="").to_html(),
        html.paragraph(f"frozen base bit-identical after head-only training: {transfer.base_unchanged}"),
    ]
    if transfer.finetune_changed_base is not None:
        parts.append(html.paragraph(f"fine-tuning changed the base: {transfer.finetune_changed_base}"))
    return html.block(table.caption, *parts)


INLINE_LIMIT = 8_000_000  # bytes of report.html shown inline; a larger one is linked


def study_html(study) -> str:
    rows = [
        (
            i,
            s.title,
            "; ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in list(s.numbers.items())[:4]),
            f"{s.seconds:.1f}" + (" (earlier run)" if s.key in study.cached else ""),
        )
        for i, s in enumerate(study.sections, start=1)
    ]
    parts = [html.table(["#", "section", "numbers", "seconds"], rows)]
    if study.html.is_file() and study.html.stat().st_size <= INLINE_LIMIT:
        parts.append(
            f'<iframe srcdoc="{esc(study.html.read_text(encoding="utf-8"))}" '
            f'style="width:100%;height:700px;border:1px solid #d0d7de"></iframe>'
        )
    parts.append(
        f'<p>report: <a href="{esc(study.html.as_posix())}">{esc(study.html)}</a>'
        + (
            f'; notebook: <a href="{esc(study.notebook.as_posix())}">{esc(study.notebook)}</a>'
            if study.notebook
            else ""
        )
        + "</p>"
    )
    return html.block(f"study: {len(study.sections)} sections in {study.seconds:.1f} s", *parts)


def classification_report_html(report) -> str:
    return report_html(report, f"accuracy {report.accuracy:.4f} on {report.n} examples")


def evaluation_html(evaluation) -> str:
    return report_html(
        evaluation.test,
        f"{evaluation.source} on {evaluation.data} ({evaluation.engine}): accuracy {evaluation.accuracy:.4f}",
        evaluation.files[1] if len(evaluation.files) > 1 else None,
    )


def register_renderers() -> None:
    """Each result class's notebook renderer, by class name (the bridge needs no import of the results)."""
    for name, render in {
        "WorkedExample": worked_html,
        "CheckReport": check_html,
        "SweepResult": sweep_html,
        "Summary": summary_html,
        "DataInfo": data_html,
        "GradCheck": gradcheck_html,
        "Drawing": drawing_html,
        "Transfer": transfer_html,
        "StudyReport": study_html,
        "Run": run_html,
        "Comparison": comparison_html,
        "ClassificationReport": classification_report_html,
        "Evaluation": evaluation_html,
    }.items():
        display.register(name, render)
