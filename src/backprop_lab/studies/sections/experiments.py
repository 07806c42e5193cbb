"""Sections 8 and 10: the width, initialiser and optimiser sweeps, and the blended update."""

from __future__ import annotations

from backprop_lab.analysis.stats import beyond_seed_spread
from backprop_lab.experiments.blend import save_step_curves
from backprop_lab.experiments.presets import PRESETS, preset
from backprop_lab.results.tables import sweep_table
from backprop_lab.studies import claims
from backprop_lab.studies.sections.common import (
    Context,
    Section,
    run_history,
    sweep,
    sweep_base,
)

CLAIMED_BEST = {"width": ("model", "mlp:256"), "init": ("init", "he_normal"), "optimizer": ("optimizer", "rmsprop")}


def experiments(ctx: Context) -> Section:

    names = ctx.settings.get("presets", ["width", "init", "optimizer", "dropout", "batch", "loss"])
    figures, tables, numbers, results = [], [], {}, {}
    for name in names:
        doc = {**preset(name), **sweep_base(ctx)}
        if name in ("width", "depth", "dropout", "activation"):
            doc.pop("model", None)  # the preset varies the model
        if name == "batch":
            doc["epochs"] = preset(name)["epochs"]  # the claim is about the same epochs for every batch size
        about = PRESETS[name]["about"]
        about = about[0].upper() + about[1:]
        result, folder = sweep(ctx, doc, name, f"{about}, {ctx.seeds} seeds, on {ctx.data}")
        results[name] = (result, folder)
        caption = f"{about}; preset {name}"  # (the presets' texts already begin with a name)
        figures.append((ctx.rel(folder / "accuracy.png"), caption))
        tables.append(sweep_table(caption, result))
        best = max(result.cells, key=lambda c: c.mean)
        numbers[name] = {
            "best": best.cell.name,
            "best_mean": best.mean,
            "best_beyond_spread": _beyond_all(best, result),
        }
    verdicts = []
    picked = {name: key_value for name, key_value in CLAIMED_BEST.items() if name in results}
    if picked:
        cells = {
            name: {str(c.cell.values[key]): c.accs for c in results[name][0].cells} for name, (key, _) in picked.items()
        }
        verdicts.append(claims.best_config(cells, {name: str(value) for name, (_, value) in picked.items()}, ctx.seeds))
    if "batch" in results:
        result, folder = results["batch"]
        by = {str(c.cell.values["batch_size"]): c for c in result.cells}
        full = next(c for k, c in by.items() if k in ("None", "full"))
        mini = by.get("128") or next(c for c in result.cells if c is not full)

        def figures_of(cell):
            hist = [run_history(r.folder, folder) for r in cell.runs]
            return [h.epochs[-1].train_acc for h in hist], [h.epochs[-1].test_acc for h in hist], len(hist[0].step_loss)

        (ft, fte, fs), (mt, mte, ms) = figures_of(full), figures_of(mini)
        verdicts.append(claims.minibatch(ft, fte, mt, mte, fs, ms))
    findings = "; ".join(
        f"{n}: highest {numbers[n]['best']} ({numbers[n]['best_mean']:.3f}"
        + _spread_words(numbers[n]["best_beyond_spread"], len(results[n][0].cells))
        + ")"
        for n in names
    )
    return Section(
        "experiments",
        "Experiments, one thing varied at a time",
        f"Each experiment trains every cell over {ctx.seeds} seeds and tests it against the first cell (Welch): "
        f"a difference is a finding only when it is beyond the seed spread.\n{findings}.",
        f"bplab sweep --preset NAME --data {ctx.data} --seeds {ctx.seeds} --epochs {ctx.settings.get('epochs')} "
        f"--out runs/NAME   # NAME: {', '.join(names)}",
        figures,
        tables,
        numbers,
        verdicts=[v.to_dict() for v in verdicts],
        paired=True,
    )


def _beyond_all(best, result) -> bool | None:
    """Whether the highest cell of a sweep is beyond the seed spread (Welch p < 0.05) of every other cell; None where
    that cannot be told (one seed, or no other cell)."""

    tests = [beyond_seed_spread(best.accs, c.accs) for c in result.cells if c is not best]
    if not tests or None in tests:
        return None
    return all(tests)


def _spread_words(beyond: bool | None, cells: int) -> str:
    """What the findings line adds after a sweep's highest cell (``_beyond_all``)."""
    if beyond is None:
        return ", one seed: no spread to judge it by" if cells > 1 else ""
    return "" if beyond else ", within the seed spread of another cell"


def blend(ctx: Context) -> Section:

    alphas = [float(a) for a in ctx.settings.get("alphas", [0.0, 0.25, 0.5, 0.75, 1.0])]
    doc = {**sweep_base(ctx), "seeds": 1, "grid": {"alpha": alphas}}
    result, folder = sweep(
        ctx, doc, "blend", f"The blended update W ← (1 − α) W_new + α W_old, by α, {ctx.model} on {ctx.data}"
    )
    steps = save_step_curves(
        result, folder / "step_loss.png", f"Per-step training loss for each α, {ctx.model} on {ctx.data}"
    )
    acc = {c.cell.values["alpha"]: c.mean for c in result.cells}

    final = {float(c.cell.values["alpha"]): c.runs[0].train_loss_curve[-1] for c in result.cells}
    still = next((c for c in result.cells if float(c.cell.values["alpha"]) == 1.0), None)
    verdicts = [claims.alpha(final, still.runs[0].train_loss_curve).to_dict()] if still is not None else []
    return Section(
        "blend",
        "The blended update",
        "W <- (1 - alpha) W_new + alpha W_old after every optimizer step: alpha = 0 is plain training, alpha = 1 "
        "never moves the weights.\nFinal test accuracy by alpha: "
        + ", ".join(f"{a:g}: {v:.3f}" for a, v in acc.items())
        + ".",
        f"bplab blend --alphas {','.join(f'{a:g}' for a in alphas)} --data {ctx.data} --model {ctx.model} "
        f"--epochs {ctx.settings.get('epochs')} --out runs/blend",
        [
            (ctx.rel(folder / "curves.png"), "Loss and accuracy per epoch for each alpha"),
            (ctx.rel(steps), "Per-step training loss for each alpha"),
        ],
        [sweep_table("Final figures by alpha", result)],
        {"acc": {str(k): v for k, v in acc.items()}},
        verdicts=verdicts,
    )
