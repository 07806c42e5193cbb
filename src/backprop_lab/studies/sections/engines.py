"""Sections 5 and 6: one GradientTape step against the derivation, and the three engines from the same start."""

from __future__ import annotations

import statistics
from dataclasses import replace

from backprop_lab.analysis.comparison import compare
from backprop_lab.results.tables import Table, history_table
from backprop_lab.runs.record import load_run
from backprop_lab.runs.workflow import (
    inspect_run,
    new_run_folder,
    resume_run,
    start_run,
)
from backprop_lab.studies import claims
from backprop_lab.studies.sections.common import (
    Context,
    Section,
    mlp_setup,
)


def tape(ctx: Context) -> Section:
    from backprop_lab.viz.plots import save_curves

    setup = mlp_setup(ctx)
    folder = ctx.folder / "run"
    if folder.is_dir() and any(folder.iterdir()):
        run = load_run(folder) if inspect_run(folder).complete else resume_run(folder)
    else:
        run = start_run(setup, "tape", new_run_folder(folder))
    curves = save_curves(
        {"tape": run.history},
        ctx.folder / "curves.png",
        f"Training with tf.GradientTape: loss and accuracy per epoch, {ctx.model} on {ctx.data}",
    )
    last = run.history.epochs[-1]
    return Section(
        "tape",
        "Training with tf.GradientTape",
        f"A custom training loop with tf.GradientTape ({setup.config.optimizer}, batch "
        f"{setup.config.batch_size or 'full'}): test accuracy {last.test_acc:.4f} after {last.epoch} epochs.\n"
        f"Median epoch time {statistics.median(e.time_s for e in run.history.epochs):.2f} s on this machine.",
        f"bplab train --engine tape --data {ctx.data} --model {ctx.model} {ctx.flags(setup.config)} --out runs/tape",
        [(ctx.rel(curves), "Loss and accuracy per epoch (train solid, test dashed)")],
        [history_table("Per-epoch figures", run.history)],
        {"test_acc": last.test_acc, "epochs": last.epoch},
    )


def engines(ctx: Context) -> Section:
    from backprop_lab.viz.drift import abs_diff, save_drift_explained

    setup = mlp_setup(ctx)
    result = compare(setup, ["scratch", "tape", "fit"], ctx.seeds)
    result.save(
        ctx.folder / "runs", f"scratch, tape and fit from the same weights and batches: {ctx.model} on {ctx.data}"
    )
    # the control: the same pair in float64, one seed; round-off then shrinks by about 1e-9
    control = compare(replace(setup, config=replace(setup.config, dtype="float64")), ["scratch", "tape"], 1)
    s0 = result.seeds[0]
    first = result.runs[s0]
    series = [
        (
            f"scratch vs tape, float32 (seed {s0})",
            abs_diff(first["scratch"].history.step_loss, first["tape"].history.step_loss),
        ),
        (
            "scratch vs tape, float64 (the control)",
            abs_diff(control.runs[s0]["scratch"].history.step_loss, control.runs[s0]["tape"].history.step_loss),
        ),
        (
            f"tape vs fit, float32 (seed {s0})",
            abs_diff(first["tape"].history.step_loss, first["fit"].history.step_loss),
        ),
    ]
    if len(result.seeds) > 1:
        s1 = result.seeds[1]
        series.append(
            (
                f"seed {s0} vs seed {s1} (scratch): what a different seed does",
                abs_diff(first["scratch"].history.step_loss, result.runs[s1]["scratch"].history.step_loss),
            )
        )
    drift = save_drift_explained(
        series,
        ctx.folder / "drift.png",
        f"Per-step loss difference: engines from the same start (float32 and float64) "
        f"against two seeds, {ctx.model} on {ctx.data}",
    )
    doc = result.to_dict()
    # the epoch times the "faster" verdict compares (first epochs left out), so the table and the verdict agree
    rows = [
        [
            r["engine"],
            f"{r['test_acc']:.4f} ± {r['test_acc_std']:.4f}",
            f"{r['test_loss']:.4f} ± {r['test_loss_std']:.4f}",
            f"{statistics.median(_steady_epoch_times(result, r['engine'])):.3f}",
        ]
        for r in doc["summary"]
    ]
    parity = [
        [
            f"{p.a} vs {p.b}",
            f"{p.grad_rel:.1e}",
            f"{p.step1_weight_rel:.1e}",
            f"{p.final_weight_rel:.1e}",
            f"{p.max_step_loss_diff:.1e}",
            f"{100 * p.acc_diff:+.2f} pp",
            "-" if p.welch_p is None else f"{p.welch_p:.3f}",
            {None: "-", True: "yes", False: "no"}[p.significant],
        ]
        for p in result.pairs
    ]
    c_pair = control.pair("scratch", "tape")
    parity.append(
        [
            "scratch vs tape, float64",
            f"{c_pair.grad_rel:.1e}",
            f"{c_pair.step1_weight_rel:.1e}",
            f"{c_pair.final_weight_rel:.1e}",
            f"{c_pair.max_step_loss_diff:.1e}",
            f"{100 * c_pair.acc_diff:+.2f} pp",
            "-",
            "-",
        ]
    )
    tf_pair, st_pair = result.pair("tape", "fit"), result.pair("scratch", "tape")
    identical = tf_pair.final_weight_rel == 0.0 and tf_pair.max_step_loss_diff == 0.0
    runs = result.runs
    verdicts = [
        claims.tape_fit(
            [
                runs[s]["tape"].history.epochs[-1].test_acc - runs[s]["fit"].history.epochs[-1].test_acc
                for s in result.seeds
            ],
            tf_pair.final_weight_rel,
            result.summaries["tape"].test_acc,
        ),
        claims.same_curves(
            max(
                abs(a.test_loss - b.test_loss)
                for s in result.seeds
                for a, b in zip(runs[s]["scratch"].history.epochs, runs[s]["tape"].history.epochs)
            ),
            max(
                abs(a.test_acc - b.test_acc)
                for s in result.seeds
                for a, b in zip(runs[s]["scratch"].history.epochs, runs[s]["tape"].history.epochs)
            ),
            _seed_range(result, "test_loss"),
            _seed_range(result, "test_acc"),
            len(result.seeds),
        ),
        claims.faster(_steady_epoch_times(result, "scratch"), _steady_epoch_times(result, "tape"), len(result.seeds)),
    ]
    growth = st_pair.max_step_loss_diff
    return Section(
        "engines",
        "GradientTape vs model.fit vs the hand-written NumPy engine",
        f"Same initial weights, same batches, {len(result.seeds)} seeds: first-batch gradients agree to "
        f"{st_pair.grad_rel:.1e} (scratch vs tape) and weights after step 1 to {st_pair.step1_weight_rel:.1e}; "
        f"tape and fit are {'bit-identical' if identical else f'{tf_pair.final_weight_rel:.1e} apart'} to the end.\n"
        f"The scratch-tape loss difference grows to {growth:.1e} per step in float32; the same pair in float64 "
        f"stays at {c_pair.max_step_loss_diff:.1e}: it is float32 round-off amplified by training, not a "
        f"different gradient, and far smaller than what changing the seed does.",
        f"bplab compare --engines scratch,tape,fit --data {ctx.data} --model {ctx.model} {ctx.flags(setup.config)} "
        f"--seeds {ctx.seeds} --out runs/compare",
        [
            (ctx.rel(ctx.folder / "runs" / "curves.png"), "Loss and accuracy per epoch, every engine (first seed)"),
            (ctx.rel(drift), "How far the trajectories drift apart, step by step, against float64 and another seed"),
        ],
        [
            Table(
                f"Test figures over {len(result.seeds)} seeds",
                ["engine", "test accuracy", "test loss", "median steady epoch (s)"],
                rows,
            ),
            Table(
                "Measured parity (norm-wise relative, worst tensor and seed)",
                [
                    "pair",
                    "grad, 1st batch",
                    "weights, step 1",
                    "weights, end",
                    "max |step loss diff|",
                    "test acc diff",
                    "Welch p",
                    "beyond seed spread?",
                ],
                parity,
            ),
        ],
        {
            "tape_fit_bit_identical": identical,
            "grad_rel_scratch_tape": st_pair.grad_rel,
            "step1_rel_scratch_tape": st_pair.step1_weight_rel,
            "float64_max_step_diff": c_pair.max_step_loss_diff,
        },
        verdicts=[v.to_dict() for v in verdicts],
    )


def _steady_epoch_times(result, engine: str) -> list[float]:
    """Epoch times without each run's first epoch (one-off start-up: compilation, first allocations)."""
    times = [e.time_s for s in result.seeds for e in result.runs[s][engine].history.epochs[1:]]
    return times or [e.time_s for s in result.seeds for e in result.runs[s][engine].history.epochs]


def _seed_range(result, field_name: str) -> float:
    """The largest spread (max - min over seeds) of one per-epoch figure of the scratch engine."""
    histories = [result.runs[s]["scratch"].history.epochs for s in result.seeds]
    if len(histories) < 2:
        return 0.0
    return max(
        max(getattr(h[i], field_name) for h in histories) - min(getattr(h[i], field_name) for h in histories)
        for i in range(min(len(h) for h in histories))
    )
