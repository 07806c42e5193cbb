"""Benchmarks: every figure measured in one run on one machine; speed only as ratios.

    python benchmarks/bench.py [--quick] [--only NAME ...] [--out benchmarks/results.json]

- scratch_mlp:  mlp:256,128,64, He normal, Adam 1e-3, batch 128, 5 epochs, scratch engine:
                test accuracy on fashion-mnist (bar 0.87) and mnist-5k (bar 0.90).
- three_way:    the same on fashion-mnist with scratch, tape and fit, 3 seeds: mean test
                accuracies (bar: within 0.3 percentage points) and epoch-time ratios.
- cnn:          cnn:32,64,64, Adam, batch 32, 2 epochs on fashion-mnist, scratch and fit, 3 seeds:
                test accuracy (bar 0.86), the same network in stock Keras (its own initialisation
                and shuffling) for reference, and the scratch/fit epoch-time ratio.
- speed:        mlp:256,128,64 (batch 128) and cnn:32,64,64 (batch 32): first and median steady epoch of
                stock Keras fit, our fit, our tape and scratch, each in its own process; ratios to
                stock Keras; scratch's achieved GFLOP/s as a fraction of the sgemm throughput
                measured in the same run (the highest of its readings before, between and after
                the networks); peak resident memory; test accuracy (speed.py).
- peers:        the scratch engine against stock Keras fit and JAX (a jit-compiled step; the whole epoch compiled
                with lax.scan) on both networks, 3 repeats in rotated order, each peer in its own process with
                the same cores, and the scratch engine's steady epoch / (steps x its step timed alone), per
                network (peers.py; JAX from the ``bench`` extra: without it the bench says so and goes on).
- scaling:      steady epoch time of every engine against batch size and hidden width, with a plot.
``--quick`` uses mnist-5k everywhere (for a smoke run; the bars are for fashion-mnist), fewer
epochs and scaling points, and writes results-quick.{json,md} and scaling-quick.png instead, so a
smoke run never replaces the full figures. Writes benchmarks/results.json and
benchmarks/results.md (also printed) and benchmarks/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backprop_lab.analysis.comparison import compare  # noqa: E402
from backprop_lab.core.errors import BplabError  # noqa: E402
from backprop_lab.options.config import TrainConfig  # noqa: E402
from backprop_lab.runs.workflow import prepare, train_run  # noqa: E402

MLP = "mlp:256,128,64"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{cpu}, {os.cpu_count()} cores{memory}"


def fashion_or(quick: bool) -> str:
    return "mnist-5k" if quick else "fashion-mnist"


def bench_scratch_mlp(quick: bool) -> dict:
    out = {}
    for data, bar in ((fashion_or(quick), 0.87), ("mnist-5k", 0.90)):
        setup = prepare(data, MLP, TrainConfig(optimizer="adam", lr=1e-3, epochs=5, batch_size=128, init="he_normal"))
        run = train_run(setup, "scratch")
        acc = run.test.accuracy
        out[data] = {
            "test_acc": acc,
            "bar": bar,
            "met": acc >= bar,
            "median_epoch_s": statistics.median(e.time_s for e in run.history.epochs),
        }
        print(f"scratch {MLP} on {data}: test acc {acc:.4f} (bar {bar})", flush=True)
    return out


def bench_three_way(quick: bool) -> dict:
    data = fashion_or(quick)
    setup = prepare(data, MLP, TrainConfig(optimizer="adam", lr=1e-3, epochs=5, batch_size=128, init="he_normal"))
    result = compare(setup, ["scratch", "tape", "fit"], seeds=3)
    doc = result.to_dict()
    rows = {r["engine"]: r for r in doc["summary"]}
    means = [rows[e]["test_acc"] for e in ("scratch", "tape", "fit")]
    spread_pp = 100 * (max(means) - min(means))
    fit_t = rows["fit"]["median_epoch_s"]
    out = {
        "data": data,
        "summary": doc["summary"],
        "parity": doc["parity"],
        "spread_pp": spread_pp,
        "bar_pp": 0.3,
        "met": spread_pp <= 0.3,
        "ratio_scratch_over_fit": rows["scratch"]["median_epoch_s"] / fit_t,
        "ratio_tape_over_fit": rows["tape"]["median_epoch_s"] / fit_t,
    }
    for r in doc["summary"]:
        print(
            f"{r['engine']:8s} test acc {r['test_acc']:.4f} ± {r['test_acc_std']:.4f}  "
            f"median epoch {r['median_epoch_s']:.3f}s",
            flush=True,
        )
    print(
        f"three-way spread {spread_pp:.2f} pp; scratch/fit epoch time {out['ratio_scratch_over_fit']:.2f}", flush=True
    )
    return out


def stock_keras_cnn(ds, seed: int) -> float:
    """The reference CNN the way a Keras user writes it: Keras's own initialisation and shuffling."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input(ds.input_shape)]
    for filters in (32, 64, 64):
        layers += [keras.layers.Conv2D(filters, 3, activation="relu"), keras.layers.MaxPooling2D()]
    model = keras.Sequential(layers + [keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds.x_train, ds.y_train, batch_size=32, epochs=2, verbose=0)
    return float(model.evaluate(ds.x_test, ds.y_test, verbose=0)[1])


def bench_cnn(quick: bool, seeds=(0, 1, 2)) -> dict:
    data = fashion_or(quick)
    out = {"data": data, "seeds": list(seeds), "bar": 0.86}
    times = {"scratch": [], "fit": []}
    for engine in ("scratch", "fit"):
        accs = []
        for seed in seeds:
            setup = prepare(
                data,
                "cnn:32,64,64",
                TrainConfig(optimizer="adam", lr=1e-3, epochs=2, batch_size=32, init="glorot_uniform", seed=seed),
            )
            run = train_run(setup, engine)
            accs.append(run.test.accuracy)
            times[engine] += [e.time_s for e in run.history.epochs]
            print(f"cnn:32,64,64 {engine} seed {seed} on {data}: test acc {accs[-1]:.4f}", flush=True)
        out[engine] = {
            "test_acc": accs,
            "mean": statistics.fmean(accs),
            "met": statistics.fmean(accs) >= 0.86,
            "median_epoch_s": statistics.median(times[engine]),
        }
    stock = [stock_keras_cnn(prepare(data, "cnn:32", TrainConfig()).dataset, seed) for seed in seeds]
    out["stock_keras"] = {"test_acc": stock, "mean": statistics.fmean(stock)}
    print(f"stock Keras (own init and shuffling): {', '.join(f'{a:.4f}' for a in stock)}", flush=True)
    out["ratio_scratch_over_fit"] = out["scratch"]["median_epoch_s"] / out["fit"]["median_epoch_s"]
    print(f"cnn scratch/fit epoch time {out['ratio_scratch_over_fit']:.2f}", flush=True)
    return out


def bench_speed(quick: bool) -> dict:
    import speed

    return speed.speed(fashion_or(quick), quick)


def bench_peers(quick: bool) -> dict:
    import peers

    return peers.peers(fashion_or(quick), quick, repeats=2 if quick else 3)


def bench_scaling(quick: bool) -> dict:
    import speed

    result = speed.scaling(fashion_or(quick), quick)
    result["plot"] = str(speed.plot_scaling(result, Path(__file__).parent / f"scaling{'-quick' if quick else ''}.png"))
    return result


BENCHES = {
    "scratch_mlp": bench_scratch_mlp,
    "three_way": bench_three_way,
    "cnn": bench_cnn,
    "speed": bench_speed,
    "peers": bench_peers,
    "scaling": bench_scaling,
}


def markdown(results: dict) -> str:
    """The figures as a Markdown table, with date, machine and versions."""
    lines = [f"Measured {results['date']} on {results['machine']}; {results['versions']}.", ""]
    older = {
        name: r.get("date", "an earlier run")
        for name, r in results.items()
        if name in BENCHES and isinstance(r, dict) and r.get("date") != results["date"]
    }
    if older:
        lines += ["Kept from earlier runs: " + ", ".join(f"{name} ({date})" for name, date in older.items()) + ".", ""]
    other_blas = {
        name: r["blas"]
        for name, r in results.items()
        if name in BENCHES
        and isinstance(r, dict)
        and r.get("blas")
        and results.get("blas")
        and r["blas"] != results["blas"]
    }
    if other_blas:
        lines += [
            "Measured with another BLAS: " + "; ".join(f"{name}: {text}" for name, text in other_blas.items()) + ".",
            "",
        ]
    accuracy = accuracy_rows(results)
    if accuracy:
        lines += (
            ["Accuracy (test set):", "", "| benchmark | figure | bar | met |", "|---|---|---|---|"] + accuracy + [""]
        )
    if "speed" in results:
        import speed

        sp = results["speed"]
        lines += [
            f"Speed on {sp['data']} ({sgemm_phrase(sp)}):",
            "",
            "| network | engine | first epoch (s) | steady epoch (s) | / stock Keras fit | test acc | peak RSS (MB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for net in ("mlp", "cnn"):
            if net not in sp:
                continue
            for engine, r in sp[net]["engines"].items():
                name = "stock Keras fit" if engine == "stock" else engine
                lines.append(
                    f"| {sp[net]['setup']['model']} | {name} | {r['first_epoch_s']:.2f} | {r['steady_epoch_s']:.3f} | "
                    f"{sp[net]['ratio_vs_stock'][engine]:.2f} | {r['test_acc']:.4f} | {r['peak_rss_mb']:.0f} |"
                )
            lines.append(
                f"| {sp[net]['setup']['model']} | scratch GFLOP/s | | {sp[net]['scratch_gflops']:.0f} | "
                f"{100 * sp[net]['scratch_fraction_of_sgemm']:.0f}% of sgemm | | |"
            )
            if "product_floor" in sp[net]:
                fl = sp[net]["product_floor"]
                lines.append(
                    f"| {sp[net]['setup']['model']} | product floor (the step's matrix products alone) | | "
                    f"{fl['epoch_s']:.3f} | scratch fastest epoch / floor "
                    f"{sp[net]['scratch_fastest_vs_floor']:.2f} | | |"
                )
                if "optimizer_epoch_s" in fl:
                    lines.append(
                        f"| {sp[net]['setup']['model']} | product floor + Adam's update alone (no step takes "
                        f"less) | | {fl['epoch_s'] + fl['optimizer_epoch_s']:.3f} | / floor "
                        f"{sp[net]['floor_and_optimizer_vs_floor']:.2f} | | |"
                    )
        lines.append("")
        notes = [
            f"{sp[net]['setup']['model']}: {speed.steadiness_note(sp[net]['steadiness'])}"
            for net in ("mlp", "cnn")
            if sp.get(net, {}).get("steadiness")
        ]
        if notes:
            lines += [*notes, ""]
        stepwise = [
            (sp[net]["setup"]["model"], sp[net]["alternating"])
            for net in ("mlp", "cnn")
            if "alternating" in sp.get(net, {})
        ]
        if stepwise:
            rounds = ", ".join(f"{m} {a['rounds']} of {a['steps_per_round']} steps" for m, a in stepwise)
            lines += [
                f"Step by step (`layers_bench.alternate`: the scratch step, stock Keras `fit`'s step and the "
                f"product floor in alternating rounds in two long-lived processes, random data; rounds: {rounds}). "
                "Medians, fastest rounds in brackets:",
                "",
                "| network | scratch step (ms) | stock Keras step (ms) | product floor (ms) | scratch / stock | "
                "scratch / floor |",
                "|---|---|---|---|---|---|",
            ]
            for model, a in stepwise:
                med, fast = a["median_step_s"], a["fastest_step_s"]
                lines.append(
                    f"| {model} | "
                    + " | ".join(f"{med[k] * 1e3:.2f} ({fast[k] * 1e3:.2f})" for k in ("scratch", "keras", "floor"))
                    + f" | {a['scratch_vs_keras']:.2f} ({a['scratch_vs_keras_fastest']:.2f}) | "
                    f"{a['scratch_vs_floor']:.2f} ({a['scratch_vs_floor_fastest']:.2f}) |"
                )
            lines.append("")
    if "peers" in results:
        import peers

        lines += peers.markdown(results["peers"])
    targets = target_rows(results)
    if targets:
        lines += (
            ["Targets (ratios taken in this run):", "", "| target | measured | met |", "|---|---|---|"] + targets + [""]
        )
    if "scaling" in results:
        sc = results["scaling"]
        for key, label in (("batch", "batch size"), ("width", "hidden width")):
            engines = list(next(iter(sc[key].values())))
            lines += [
                f"Steady epoch time (s) by {label} on {sc['data']}:",
                "",
                f"| {label} | " + " | ".join("stock Keras fit" if e == "stock" else e for e in engines) + " |",
                "|---" * (len(engines) + 1) + "|",
            ]
            lines += [f"| {x} | " + " | ".join(f"{t:.3f}" for t in row.values()) + " |" for x, row in sc[key].items()]
            lines.append("")
        if "peak_rss_mb" in sc:
            lines += [
                "Largest peak resident memory over the scaling runs (MB): "
                + ", ".join(
                    f"{'stock Keras fit' if e == 'stock' else e} {mb:.0f}" for e, mb in sc["peak_rss_mb"].items()
                ),
                "",
            ]
    return "\n".join(lines) + "\n"


def sgemm_phrase(sp: dict) -> str:
    """The speed table's note on sgemm: one reading (results of older runs) or the run's range and the one used."""
    readings = sp.get("sgemm_readings") or [sp["sgemm_gflops"]]
    if len(readings) == 1:
        return f"sgemm in this run: {readings[0]:.0f} GFLOP/s"
    return (
        f"sgemm in this run: {min(readings):.0f}-{max(readings):.0f} GFLOP/s over {len(readings)} readings; "
        f"the fractions of sgemm use the highest, {sp['sgemm_gflops']:.0f}"
    )


def accuracy_rows(results: dict) -> list[str]:
    rows = []
    for data, r in results.get("scratch_mlp", {}).items():
        if isinstance(r, dict) and "test_acc" in r:
            rows.append(
                f"| scratch {MLP}, Adam, batch 128, 5 epochs, {data} | {r['test_acc']:.4f} | >= {r['bar']} | "
                f"{'yes' if r['met'] else 'no'} |"
            )
    if "three_way" in results:
        r = results["three_way"]
        means = " / ".join(f"{s['engine']} {s['test_acc']:.4f} ± {s['test_acc_std']:.4f}" for s in r["summary"])
        rows.append(
            f"| three engines, {MLP}, {r['data']}, 3 seeds | {means} (spread {r['spread_pp']:.2f} pp) | "
            f"within {r['bar_pp']} pp | {'yes' if r['met'] else 'no'} |"
        )
    if "cnn" in results:
        r = results["cnn"]
        for engine in ("scratch", "fit"):
            accs = ", ".join(f"{a:.4f}" for a in r[engine]["test_acc"])
            rows.append(
                f"| cnn:32,64,64, 2 epochs, {r['data']}, {engine}, seeds {r['seeds']} | {accs} (mean "
                f"{r[engine]['mean']:.4f}) | mean >= {r['bar']} | {'yes' if r[engine]['met'] else 'no'} |"
            )
        accs = ", ".join(f"{a:.4f}" for a in r["stock_keras"]["test_acc"])
        rows.append(
            f"| same network in stock Keras (its own init and shuffling) | {accs} (mean "
            f"{r['stock_keras']['mean']:.4f}) | reference | |"
        )
    return rows


def target_rows(results: dict) -> list[str]:
    """The performance targets of the speed and peers benchmarks, each with the figure measured and whether it is
    met."""
    rows = []
    if "peers" in results:
        import peers

        rows += peers.target_rows(results["peers"])
    sp = results.get("speed")
    if not sp or "mlp" not in sp or "cnn" not in sp:
        return rows
    mlp, cnn = sp["mlp"], sp["cnn"]
    checks = [
        ("CNN: scratch epoch / stock Keras fit <= 1.0", cnn["ratio_vs_stock"]["scratch"], "{:.2f}", 1.0, "<="),
        ("MLP: scratch epoch / stock Keras fit <= 0.4", mlp["ratio_vs_stock"]["scratch"], "{:.2f}", 0.4, "<="),
        ("MLP: scratch GFLOP/s >= 75% of sgemm", 100 * mlp["scratch_fraction_of_sgemm"], "{:.0f}%", 75, ">="),
    ]
    for net, r in (("MLP", mlp), ("CNN", cnn)):
        for engine in ("tape", "fit"):
            checks.append(
                (
                    f"{net}: our {engine} epoch / stock Keras fit <= 1.1",
                    r["ratio_vs_stock"][engine],
                    "{:.2f}",
                    1.1,
                    "<=",
                )
            )
    checks.append(
        (
            "MLP: peak resident memory < 1500 MB (largest engine)",
            max(e["peak_rss_mb"] for e in mlp["engines"].values()),
            "{:.0f} MB",
            1500,
            "<",
        )
    )
    if "fastest_vs_stock" in cnn and "fastest_vs_stock" in mlp:  # the targets of issue 22: fastest epochs, the floor
        checks += [
            (
                "CNN: scratch fastest epoch / stock Keras fit's fastest <= 0.7",
                cnn["fastest_vs_stock"]["scratch"],
                "{:.2f}",
                0.7,
                "<=",
            ),
            (
                "CNN: scratch fastest epoch / stock Keras fit's first epoch <= 0.7",
                cnn["scratch_fastest_vs_stock_first"],
                "{:.2f}",
                0.7,
                "<=",
            ),
            (
                "MLP: scratch fastest epoch / product floor <= 1.25",
                mlp["scratch_fastest_vs_floor"],
                "{:.2f}",
                1.25,
                "<=",
            ),
            (
                "MLP: scratch fastest epoch / stock Keras fit's fastest <= 0.3",
                mlp["fastest_vs_stock"]["scratch"],
                "{:.2f}",
                0.3,
                "<=",
            ),
        ]
    if "alternating" in cnn and "alternating" in mlp:  # the same targets step by step, in alternating rounds
        checks += [
            (
                "CNN, step by step: scratch step / stock Keras fit's step <= 0.7 (medians of alternating rounds)",
                cnn["alternating"]["scratch_vs_keras"],
                "{:.2f}",
                0.7,
                "<=",
            ),
            (
                "MLP, step by step: scratch step / product floor <= 1.25",
                mlp["alternating"]["scratch_vs_floor"],
                "{:.2f}",
                1.25,
                "<=",
            ),
            (
                "MLP, step by step: scratch step / stock Keras fit's step <= 0.3",
                mlp["alternating"]["scratch_vs_keras"],
                "{:.2f}",
                0.3,
                "<=",
            ),
        ]
    cn = results.get("cnn")
    if cn and "stock_keras" in cn:  # accuracy: scratch's seeds against the spread of stock Keras's seeds
        low, high = min(cn["stock_keras"]["test_acc"]), max(cn["stock_keras"]["test_acc"])
        rows.append(
            f"| CNN: scratch mean test acc within stock Keras's seed range [{low:.4f}, {high:.4f}] | "
            f"{cn['scratch']['mean']:.4f} | {'yes' if low <= cn['scratch']['mean'] <= high else 'no'} |"
        )
    for name, value, fmt, bar, op in checks:
        met = {"<=": value <= bar, ">=": value >= bar, "<": value < bar}[op]
        rows.append(f"| {name} | {fmt.format(value)} | {'yes' if met else 'no'} |")
    return rows


def versions(blas: str) -> str:
    """The library versions, with ``blas`` (``speed.blas``) after NumPy's."""
    import numpy

    out = [f"Python {platform.python_version()}", f"NumPy {numpy.__version__}", blas]
    try:
        from importlib.metadata import version

        out += [f"TensorFlow {version('tensorflow-cpu')}", f"Keras {version('keras')}"]
    except Exception:  # noqa: BLE001 - a version we cannot read is left out
        pass
    try:
        out.append(f"JAX {version('jax')}")
    except Exception:  # noqa: BLE001 - the bench extra is not installed: the peers bench says so
        out.append("JAX not installed")
    return ", ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="mnist-5k only (smoke run)")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=sorted(BENCHES),
        help="run only these; the other benchmarks keep their figures from the --out file",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: benchmarks/results.json, or results-quick.json with --quick, "
        "so a smoke run never replaces the full figures)",
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = Path(__file__).parent / ("results-quick.json" if args.quick else "results.json")
    import speed

    blas = speed.blas()
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "versions": versions(blas),
        "blas": blas,
        "quick": args.quick,
    }
    if args.only and args.out.is_file():
        # --only measures some benchmarks again: the others keep their earlier figures (each carries its date)
        try:
            earlier = json.loads(args.out.read_text())
        except (OSError, ValueError) as exc:
            print(f"error: {args.out}: cannot read the earlier results ({exc})", file=sys.stderr)
            return 2
        if bool(earlier.get("quick")) != args.quick:
            kinds = ("full", "quick") if args.quick else ("quick", "full")
            print(
                f"error: {args.out}: holds {kinds[0]} figures; --only would mix them with {kinds[1]} ones "
                f"(give another --out)",
                file=sys.stderr,
            )
            return 2
        results = {**{k: v for k, v in earlier.items() if k in BENCHES}, **results}
    try:
        for name in args.only or list(BENCHES):
            begin = time.perf_counter()
            results[name] = BENCHES[name](args.quick)
            results[name]["wall_s"] = time.perf_counter() - begin
            results[name]["date"] = results["date"]
            results[name]["blas"] = results["blas"]  # a later --only run may keep these figures beside its own
            # the benchmarks that train in this process: its peak resident memory so far (KiB -> MiB on Linux)
            results[name]["process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except BplabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    print(f"results written to {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
