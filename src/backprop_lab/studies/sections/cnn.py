"""Sections 9 and 11 to 13: CIFAR-10 with the MLP, the CNN, saving and loading it, and transfer learning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from backprop_lab.analysis.comparison import compare, relative_difference
from backprop_lab.core.errors import BplabError, SpecError
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.engines.registry import get_engine
from backprop_lab.experiments.transfer import resolve_classes
from backprop_lab.experiments.transfer import transfer as run_transfer
from backprop_lab.results.tables import Table, history_table, report_table, summary_table
from backprop_lab.runs.portable import export_keras, import_keras
from backprop_lab.runs.record import load_run
from backprop_lab.runs.workflow import (
    initial_weights,
    inspect_run,
    new_run_folder,
    prepare,
    resume_run,
    start_run,
    train_run,
)
from backprop_lab.spec.model import parse_model, summary_rows
from backprop_lab.studies import claims
from backprop_lab.studies.sections.common import (
    Context,
    Section,
)
from backprop_lab.training import predicted_labels


def cifar(ctx: Context) -> Section:

    wanted = ctx.settings.get("data", "cifar10")
    note = ""
    try:
        load_dataset(wanted, ctx.data_dir)
        data = wanted
    except BplabError:
        data = ctx.study.common["data"]
        note = (
            f"{wanted} is not on this machine, so this section ran on {data}; put its files in place (or give "
            f"--data-dir) to run it on {wanted}."
        )
    config = ctx.config()
    setup = prepare(data, ctx.model, config, ctx.data_dir)
    result = compare(setup, ["scratch", "tape"], 1)
    result.save(
        ctx.folder / "runs", f"The CIFAR-10 set-up as written, hand-written vs GradientTape: {ctx.model} on {data}"
    )
    doc = result.to_dict()
    times = {r["engine"]: r["median_epoch_s"] for r in doc["summary"]}
    stated = result.runs[result.seeds[0]]["scratch"]
    w0 = initial_weights(setup.spec, config)
    # what the reference's own choices change, measured from the same weights and batches
    variants = [("as stated: squared error summed over outputs, L2 gradient 2λW", config, stated)]
    half_l2 = replace(config, l2=config.l2 / 2)  # its hand-written gradient reg·W is the gradient of (reg/2)·ΣW²
    variants.append(
        (
            f"the reference's L2 gradient λW (= our L2 {half_l2.l2:g})",
            half_l2,
            train_run(replace(setup, config=half_l2), "scratch", weights=w0),
        )
    )
    mse = replace(config, loss="mse")
    variants.append(
        (
            "Keras's mse (also averaged over the 10 outputs: a tenth of the gradient)",
            mse,
            train_run(replace(setup, config=mse), "scratch", weights=w0),
        )
    )
    rows = [
        [
            name,
            f"{run.history.epochs[-1].train_loss:.5f}",
            f"{run.test.accuracy:.4f}",
            f"{relative_difference(run.weights, w0):.2e}",
            "-" if run is stated else f"{relative_difference(run.weights, stated.weights):.1e}",
        ]
        for name, _, run in variants
    ]
    pair = result.pairs[0]
    moved = {name: relative_difference(run.weights, w0) for name, _, run in variants}
    return Section(
        "cifar",
        "Two-layer full-batch network, squared error + L2 (the CIFAR-10 set-up)",
        f"The set-up as the reference wrote it: relu(X W1 + b1) with {ctx.model.split(':')[1].split('/')[0]} hidden units, "
        f"a linear output, plain full-batch gradient descent, the squared error summed over the outputs "
        f"(`squared_error`, not Keras's `mse`), L2 {config.l2:g}, lr {config.learning_rate:g} decaying by "
        f"{config.decay_rate:g} per epoch, {config.epochs} epochs, on {data}: hand-written and GradientTape end "
        f"{pair.final_weight_rel:.1e} apart.\n"
        f"Its hand-written L2 gradient reg·W is half the gradient of its own loss term reg·ΣW²: training with it "
        f"ends {relative_difference(variants[1][2].weights, stated.weights):.1e} from the correct gradient's weights "
        f"(at this λ the penalty barely matters). Keras's mse would average over the outputs too and move the "
        f"weights {moved[variants[2][0]] / max(moved[variants[0][0]], 1e-30):.2f}x as far.",
        f"bplab compare --engines scratch,tape --data {data} --model {ctx.model} {ctx.flags(config)} --out runs/cifar",
        [(ctx.rel(ctx.folder / "runs" / "curves.png"), "Loss and accuracy per epoch, both engines")],
        [
            Table(
                "What each of the reference's choices changes (scratch engine, the same initial weights)",
                ["variant", "final train loss", "test accuracy", "weights moved (rel.)", "vs as stated (rel.)"],
                rows,
            ),
            Table("Epoch times", ["engine", "median epoch (s)"], [[e, f"{t:.3f}"] for e, t in times.items()]),
        ],
        {
            "data": data,
            "epoch_s": times,
            "final_weight_rel": pair.final_weight_rel,
            "model": ctx.model,
            "loss": config.loss,
            "optimizer": config.optimizer,
        },
        note,
    )


# --- 11-13: the CNN, save and load, transfer ----------------------------------------


def _cnn_run(ctx: Context):
    """The CNN run shared by sections 11 to 13 (trained once with the cnn section's settings, resumable)."""

    own = Context(ctx.root, ctx.study.settings("cnn"), "cnn", ctx.study)
    folder = own.folder / "run"
    if folder.is_dir() and any(folder.iterdir()):
        return (load_run(folder) if inspect_run(folder).complete else resume_run(folder)), folder, own
    try:
        setup = prepare(own.data, own.model, own.config(), own.data_dir)
    except SpecError:  # images too small for 'valid' convolutions and pools: keep the size with 'same' padding
        setup = prepare(own.data, own.model + "/pad=same", own.config(), own.data_dir)
    return start_run(setup, own.settings.get("engine", "scratch"), new_run_folder(folder)), folder, own


def _fits(ctx: Context) -> bool:
    """Whether the section's model can be built on its data (a CNN needs images large enough)."""

    ds = load_dataset(ctx.data, ctx.data_dir)
    try:
        parse_model(ctx.model, ds.input_shape, ds.num_classes)
        return True
    except SpecError:
        return False


def cnn(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_confusion_heatmap, save_curves

    run, folder, _ = _cnn_run(ctx)
    model, note = ctx.model, ""
    if not _fits(ctx):
        model = ctx.model + "/pad=same"
        note = (
            f"{ctx.model} does not fit {ctx.data}'s {run.spec.input_shape[0]}x{run.spec.input_shape[1]} images with "
            f"'valid' padding, so sections 11 to 13 use {model}."
        )
    report = run.test
    heatmap = save_confusion_heatmap(report, ctx.folder / "confusion.png", f"{ctx.model} on {ctx.data} ({run.engine})")
    curves = save_curves(
        {run.engine: run.history},
        ctx.folder / "curves.png",
        f"The CNN ({ctx.model}, {run.engine} engine): loss and accuracy per epoch on {ctx.data}",
    )
    trainable, frozen = run.spec.count_params()
    summary = summary_table(
        f"Summary: {trainable + frozen:,} parameters ({trainable:,} trainable)", summary_rows(run.spec)
    )
    worst = min(report.per_class, key=lambda r: r.f1)

    verdict = claims.cnn97(
        report.accuracy, len(run.history.epochs), ctx.data, len(load_dataset(ctx.data, ctx.data_dir).x_train)
    )
    return Section(
        "cnn",
        "The CNN",
        f"{model} trained by the {run.engine} engine: test accuracy {report.accuracy:.4f}, macro F1 "
        f"{report.macro.f1:.4f}.\nThe hardest class is {worst.name} (F1 {worst.f1:.3f}); the "
        "confusion matrix shows what it is mistaken for.",
        f"bplab train --engine {run.engine} --data {ctx.data} --model {model} {ctx.flags(run.config)} --out runs/cnn"
        f"  &&  bplab evaluate runs/cnn",
        [(ctx.rel(curves), "Loss and accuracy per epoch"), (ctx.rel(heatmap), "Confusion matrix (test set)")],
        [
            summary,
            history_table("Per-epoch figures", run.history),
            report_table("Per-class precision, recall and F1 (test set)", report),
        ],
        {"test_acc": report.accuracy, "macro_f1": report.macro.f1},
        note,
        verdicts=[verdict.to_dict()],
    )


def saveload(ctx: Context) -> Section:

    _, folder, own = _cnn_run(ctx)
    saved = load_run(folder)
    keras_file = export_keras(saved, ctx.folder / "cnn.keras")
    reloaded = import_keras(keras_file)
    ds = load_dataset(own.data, own.data_dir)
    x, y = ds.x_test, ds.y_test
    dtype = str(next(iter(saved.weights.values())).dtype)
    reference = get_engine(saved.engine).predict(saved.spec, saved.weights, x, dtype)
    rows, worst = [], 0.0
    for label, run, engine in [(f"run folder -> {e}", saved, e) for e in ("scratch", "tape", "fit")] + [
        (f".keras -> {e}", reloaded, e) for e in ("scratch", "fit")
    ]:
        probs = get_engine(engine).predict(run.spec, run.weights, x, dtype)
        diff = float(np.max(np.abs(probs - reference)))
        worst = max(worst, diff)
        same = float(np.mean(predicted_labels(probs) == predicted_labels(reference)))
        rows.append([label, f"{diff:.1e}", f"{100 * same:.2f}%", f"{float(np.mean(predicted_labels(probs) == y)):.4f}"])
    return Section(
        "saveload",
        "Save and load, across engines",
        f"The CNN's architecture (model.json) and weights (weights.npz) were written, reloaded by every engine, and also "
        f"exported to Keras's .keras format and read back.\nEvery reloaded model predicts the same classes; the largest "
        f"probability difference is {worst:.1e} (float32 arithmetic in different libraries).",
        "bplab export runs/cnn --keras cnn.keras  &&  bplab evaluate cnn.keras --engine fit",
        [],
        [
            Table(
                f"Predictions on the {len(x):,} test images vs the training engine ({saved.engine})",
                ["model loaded into", "max |probability difference|", "same predicted class", "test accuracy"],
                rows,
            )
        ],
        {"max_prob_diff": worst},
    )


def transfer(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_confusion_heatmap

    base, _, own = _cnn_run(ctx)
    ds = load_dataset(own.data, own.data_dir)
    classes = resolve_classes(str(ctx.settings.get("classes", "3,8")), ds.class_names)
    config = ctx.config(loss="binary_crossentropy", init="glorot_uniform")
    result = run_transfer(
        base,
        ds,
        classes,
        ctx.settings.get("engine", "scratch"),
        config,
        finetune=bool(ctx.settings.get("finetune", True)),
        timing_repeats=int(ctx.settings.get("timing_repeats", 1)),
    )
    result.save(ctx.folder / "runs")
    figures = []
    for v in result.variants:
        path = save_confusion_heatmap(v.run.test, ctx.folder / f"confusion_{v.slug}.png", v.name)
        figures.append((ctx.rel(path), f"Confusion matrix: {v.name}"))
    rows = [
        [
            v.name,
            f"{v.trainable:,}",
            f"{v.frozen:,}",
            f"{v.accuracy:.4f}",
            f"{v.epochs} over {v.epochs_over}",
            f"{v.steps:,}",
            f"{v.own_seconds:.2f}",
            f"{v.seconds:.2f}",
        ]
        for v in result.variants
    ]
    head, scratch = result.variant("head_only"), result.variant("from_scratch")
    ft = next((v for v in result.variants if v.slug == "finetune"), None)
    h = result.head
    verdicts = [claims.finetune(head.accuracy, ft.accuracy, head.seconds, ft.seconds)] if ft else []
    budget = (
        f"The head was trained on the frozen base's features (computed once, {h.extract_seconds:.1f} s) for {h.epochs} "
        f"epochs, {h.steps:,} steps ({h.stop_reason}: {h.rule})."
    )
    if ft:
        budget += (
            f" Fine-tuning then trained every layer from that head for {result.finetune_epochs} epoch"
            f"{'s' if result.finetune_epochs != 1 else ''} at lr {result.finetune_lr:g}."
        )
    budget += f" From scratch: {result.scratch_epochs} epochs ({result.scratch_epochs_rule})."
    if result.timing_repeats > 1:
        budget += (
            f" Head and fine-tuning wall times are the fastest of {result.timing_repeats} identical runs of "
            f"each stage (a stage of a second or two is otherwise timed by whatever else the machine did)."
        )
    return Section(
        "transfer",
        "Transfer learning and fine-tuning",
        f"{' vs '.join(result.classes)}: the CNN's base frozen ({head.frozen:,} parameters) with a new sigmoid head "
        f"({head.trainable:,} trainable) reaches {head.accuracy:.4f}"
        + (f", fine-tuned {ft.accuracy:.4f}" if ft else "")
        + f"; the same network from scratch {scratch.accuracy:.4f}.\n"
        + budget
        + f" The frozen base stayed bit-identical during head-only training: {result.base_unchanged}.",
        f"bplab transfer --from runs/cnn --classes {ctx.settings.get('classes', '3,8')} --finetune --out runs/transfer",
        figures,
        [
            Table(
                "Accuracy, parameters, budget and wall time",
                [
                    "variant",
                    "trainable",
                    "frozen",
                    "test accuracy",
                    "epochs",
                    "steps",
                    "own time (s)",
                    "time from the base (s)",
                ],
                rows,
            )
        ],
        {
            "variants": {v.slug: v.accuracy for v in result.variants},
            "base_unchanged": result.base_unchanged,
            "head_epochs": h.epochs,
            "head_stop_reason": h.stop_reason,
            "scratch_epochs": result.scratch_epochs,
        },
        verdicts=[v.to_dict() for v in verdicts],
    )
