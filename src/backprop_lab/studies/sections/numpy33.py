"""Section 7: the course's own NumPy network, what goes wrong and the checker's verdict on its code."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

from backprop_lab.classroom.code import check_source
from backprop_lab.core.files import atomic_write
from backprop_lab.experiments.presets import preset
from backprop_lab.results.tables import Table, sweep_table
from backprop_lab.studies import claims
from backprop_lab.studies.sections.common import (
    Context,
    Section,
    run_history,
    sweep,
)

# The reference report's training loss of its from-scratch network (128 relu, 0.01 N(0,1), full batch, lr 0.01)
# on MNIST's 60,000 images: the two values it printed, at the first and the last of its 50 epochs.
NUMPY33_REFERENCE_LOSS = {0: 2.3031, 49: 2.2976}
NUMPY33_REFERENCE_TRAIN_ACC = 0.328
# The course's own NumPy network (examples/learner/course_two_layer.py), shipped with the package so that an
# installed study can check it without the repository (tests/studies/sections/test_numpy33.py keeps the two the same).
COURSE_CODE = Path(__file__).parents[1] / "course_two_layer.py.txt"


def numpy33(ctx: Context) -> Section:

    doc = {
        **preset("numpy-33"),
        "epochs": int(ctx.settings.get("epochs", 50)),
        "seeds": ctx.seeds,
        "seed": int(ctx.settings.get("seed", 0)),
    }
    if ctx.data_dir:
        doc["data_dir"] = ctx.data_dir
    epochs = int(doc["epochs"])
    result, folder = sweep(
        ctx,
        doc,
        "numpy-33",
        f"The reference from-scratch set-up ({epochs} full-batch epochs) "
        f"vs He + Adam + mini-batches, every engine from the same weights, on {ctx.data}",
    )
    cells = {c.cell.name: c for c in result.cells}
    engines_ = ("scratch", "tape", "fit")
    low_cells = {e: cells[f"variant=numpy-33,engine={e}"] for e in engines_}
    good_cells = {e: cells[f"variant=he+adam+minibatch,engine={e}"] for e in engines_}
    low = {e: low_cells[e].accs for e in engines_}
    good = {e: good_cells[e].accs for e in engines_}
    verdict = claims.numpy33(low, good)
    first = {e: low_cells[e].runs[0] for e in engines_}
    marks = [0, 10, 20, 30, 40, epochs - 1]
    loss_rows = [
        [str(m), f"{NUMPY33_REFERENCE_LOSS[m]:.4f}" if m in NUMPY33_REFERENCE_LOSS else "(not printed)"]
        + [f"{first[e].train_loss_curve[m]:.4f}" for e in engines_]
        for m in marks
        if m < epochs
    ]
    code = course_code_check(doc["model"])
    course_file = ctx.folder / COURSE_CODE.name.removesuffix(".txt")  # beside the report: its command reads it
    atomic_write(course_file, COURSE_CODE.read_bytes())
    train_accs = [run_history(r.folder, folder).epochs[-1].train_acc for r in low_cells["scratch"].runs]
    spread = f"{min(train_accs):.3f} to {max(train_accs):.3f}" if len(train_accs) > 1 else f"{train_accs[0]:.3f}"
    start, end = first["scratch"].train_loss_curve[0], first["scratch"].train_loss_curve[epochs - 1]
    return Section(
        "numpy33",
        "Why a NumPy network can reach 33%",
        f"The reference from-scratch set-up as stated (128 relu, 0.01 N(0,1) weights, full-batch gradient descent, "
        f"lr 0.01, {epochs} epochs) gets {statistics.fmean(low['scratch']):.3f} / {statistics.fmean(low['tape']):.3f} / "
        f"{statistics.fmean(low['fit']):.3f} test accuracy with scratch / tape / fit from the same weights; the same "
        f"network with He initialisation, Adam and mini-batches gets {min(map(statistics.fmean, good.values())):.3f} "
        f"to {max(map(statistics.fmean, good.values())):.3f} in every engine.\n"
        f"Our training loss goes {start:.4f} → {end:.4f}, the reference's {NUMPY33_REFERENCE_LOSS[0]:.4f} → "
        f"{NUMPY33_REFERENCE_LOSS[49]:.4f}: the same trajectory. After {epochs} full-batch steps the network has "
        f"barely left its start (the loss fell {100 * (start - end) / start:.2f}%), so its accuracy only says "
        f"which class's logit is a hair ahead: {spread} train accuracy over {len(train_accs)} seed"
        f"{'s' if len(train_accs) > 1 else ''} here on {ctx.data}, {NUMPY33_REFERENCE_TRAIN_ACC:.3f} in the "
        f"reference on MNIST's 60,000. Neither number measures the framework.\n" + course_code_reading(code),
        f"bplab sweep --preset numpy-33 --data {ctx.data} --seeds {ctx.seeds} --out runs/numpy33  &&  "
        f"bplab check-code {ctx.rel(course_file)} --model {doc['model']}",
        [
            (ctx.rel(folder / "accuracy.png"), "Final test accuracy, mean and 95% interval over seeds"),
            (ctx.rel(folder / "curves.png"), "Training loss and test accuracy per epoch"),
        ],
        [
            Table(
                "Training loss per epoch: the reference report beside ours (seed "
                f"{first['scratch'].seed}, the same weights in every engine)",
                ["epoch", "reference (MNIST 60,000)"] + [f"ours: {e}" for e in engines_],
                loss_rows,
            ),
            sweep_table("Every engine, both set-ups", result),
            replace(
                code.table(),
                caption=f"The course's own code ({code.file}), checked tensor by tensor by bplab check-code: "
                f"{code.verdict}",
            ),
        ],
        {
            "code_verdict": code.verdict,
            "code_message": code.message,
            "low": {e: statistics.fmean(v) for e, v in low.items()},
            "good": {e: statistics.fmean(v) for e, v in good.items()},
            "epochs": epochs,
            "loss_start": start,
            "loss_end": end,
            "train_acc": train_accs,
        },
        verdicts=[verdict.to_dict()],
    )


def course_code_check(model: str, path: Path = COURSE_CODE):
    """bplab check-code on the course's own code (a child process, as for any learner's file)."""
    return check_source(path.read_text(encoding="utf-8"), path.name.removesuffix(".txt"), model)


def course_code_reading(code) -> str:
    """What check-code says of the course's own functions, beside the set-up's findings."""
    said = f"bplab check-code on the course's own code: {code.message.rstrip('.')}."
    if code.layout:
        said += f" It read the code in {code.layout}" + (f", deltas as {code.delta_scale}" if code.delta_scale else "")
        said += "."
    if code.correct:
        return said + " The functions are not the cause: the 33% is the set-up's, as measured above."
    return said + " So the course's code has a fault of its own, besides the set-up."
