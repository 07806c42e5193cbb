"""Speed benchmarks: every engine against stock Keras, measured side by side in one run.

Each measurement runs in its own process (so one engine's imports, threads and memory do not
colour another's), every engine twice in the order A B C D D C B A (so a machine that drifts
during the run favours none), and reports: the first epoch (with tracing), the median steady epoch, the
test accuracy and the peak resident memory. Ratios are taken against stock Keras ``fit``: a
Keras model built and trained with Keras's own code only, on the same data and batch size.
The sgemm throughput is measured in the same run (before, between and after the networks; the
highest reading is the rate), and the scratch engine's achieved GFLOP/s (the matrix products of
forward and backward, counted from the shapes) is reported as a fraction of it. So is the
"product floor": the scratch step's own matrix products run alone at the same shapes
(``product_operands``), in their own process in the middle of the ABBA order;
the scratch engine's fastest epoch is reported against it and against stock Keras's fastest and
first epochs.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def limit_threads(threads: int | None) -> None:
    """Give this process ``threads`` cores, before NumPy, TensorFlow or JAX load: its CPU affinity (XLA's and
    TensorFlow's thread pools and OpenBLAS's default are sized from it) and OPENBLAS_NUM_THREADS. None: as it is."""
    if not threads:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if threads < len(cpus):
            os.sched_setaffinity(0, cpus[:threads])


def usable_cpus() -> int:
    """The cores this process may run on (its affinity), which thread pools size themselves from."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def scaled(times: list[float], steps: int, steps_per_epoch: int) -> list[float]:
    """Epoch times from rounds of ``steps`` steps: each steady round times steps_per_epoch / steps; the first
    round (with the compilation or tracing) as that one-off plus the rest of an epoch at the median steady
    rate. Whole epochs (steps == steps_per_epoch) come back as they are."""
    if steps >= steps_per_epoch:
        return list(times)
    factor = steps_per_epoch / steps
    steady = statistics.median(times[1:] or times)
    return [times[0] + steady * (factor - 1)] + [t * factor for t in times[1:]]


def worker(job: dict) -> dict:
    """Runs in a child process: one engine, one set-up."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    limit_threads(job.get("threads"))  # before NumPy loads its BLAS
    sys.path.insert(0, str(SRC))
    if job["kind"] == "sgemm":
        return {"gflops": sgemm_gflops()}
    if job["kind"] == "floor":
        return floor_job(job)
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.runs.workflow import prepare, train_run

    config = TrainConfig(
        optimizer="adam",
        lr=1e-3,
        epochs=job["epochs"],
        batch_size=job["batch_size"],
        init=job.get("init", "he_normal"),
        seed=0,
    )
    setup = prepare(job["data"], job["model"], config)
    extra = {}
    if job["engine"] == "stock":
        times, acc = stock_keras(setup, job)
        steps = min(job.get("max_steps") or setup.plan.steps_per_epoch, setup.plan.steps_per_epoch)
        if steps < setup.plan.steps_per_epoch:
            extra = {"scaled_from_steps": steps, "measured_s": times}
            times = scaled(times, steps, setup.plan.steps_per_epoch)
    else:
        run = train_run(setup, job["engine"])
        times, acc = [e.time_s for e in run.history.epochs], run.test.accuracy
    rss = peak_rss_mb()
    flops = epoch_flops(setup.spec, len(setup.dataset.x_train))
    steady = statistics.median(times[1:] or times)
    if job.get("step_alone") and job["engine"] == "scratch":
        extra["step_s"] = scratch_step_alone(setup, job["step_alone"])
        extra["steps_per_epoch"] = setup.plan.steps_per_epoch
        extra["epoch_over_steps"] = steady / (setup.plan.steps_per_epoch * extra["step_s"])
    return {
        "epoch_s": times,
        "first_epoch_s": times[0],
        "steady_epoch_s": steady,
        "test_acc": acc,
        "peak_rss_mb": rss,
        "flops_per_epoch": flops,
        "cpus": usable_cpus(),
        **extra,
    }


def scratch_step_alone(setup, steps: int, rounds: int = 5) -> float:
    """Median seconds of the scratch engine's step taken alone (``ScratchState.step``, nothing of the loop
    around it): the run's first ``steps`` batches gathered beforehand, one warm-up pass, then ``rounds``
    rounds. With the epoch measured in the same process it gives what an epoch costs beyond its steps."""
    from backprop_lab.engines.scratch.engine import ScratchState
    from backprop_lab.numerics.metrics import targets
    from backprop_lab.runs.workflow import initial_weights

    ds, plan, config = setup.dataset, setup.plan, setup.config
    state = ScratchState(setup.spec, initial_weights(setup.spec, config), config)
    x, t = ds.x_train.astype(config.dtype, copy=False), targets(setup.spec, ds.y_train, config.dtype)
    batches = [(x[idx], t[idx]) for idx in plan.epoch(0)[: min(steps, plan.steps_per_epoch)]]
    lr = config.learning_rate
    for xb, tb in batches:  # warm-up
        state.step(xb, tb, lr)
    per_step = []
    for _ in range(rounds):
        begin = time.perf_counter()
        for xb, tb in batches:
            state.step(xb, tb, lr)
        per_step.append((time.perf_counter() - begin) / len(batches))
    return statistics.median(per_step)


def stock_keras_model(spec):
    """The network of a ModelSpec written as a Keras user writes it (Keras's own layers and initialisation)."""
    import keras

    layers = [keras.Input(spec.input_shape)]
    for info in spec.infos:
        s, kind = info.spec, type(info.spec).__name__
        if kind == "Dense":
            layers.append(keras.layers.Dense(s.units, s.activation))
        elif kind == "Conv2D":
            layers.append(keras.layers.Conv2D(s.filters, s.kernel, s.stride, s.padding, activation=s.activation))
        elif kind == "MaxPool2D":
            layers.append(keras.layers.MaxPooling2D(s.pool, s.step))
        elif kind == "Flatten":
            layers.append(keras.layers.Flatten())
        elif kind == "Dropout":
            layers.append(keras.layers.Dropout(s.rate))
    model = keras.Sequential(layers)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes == [tuple(info.output_shape) for info in spec.infos], shapes
    return model


def stock_keras(setup, job) -> tuple[list[float], float]:
    """The same network written as a Keras user writes it; Keras's own fit loop, shuffling and initialisation."""
    import keras

    keras.utils.set_random_seed(0)
    model = stock_keras_model(setup.spec)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.begin = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.begin)

    ds = setup.dataset
    rows = len(ds.x_train) if not job.get("max_steps") else job["max_steps"] * job["batch_size"]  # speed.scaled
    model.fit(
        ds.x_train[:rows],
        ds.y_train[:rows],
        batch_size=job["batch_size"],
        epochs=job["epochs"],
        verbose=0,
        callbacks=[Timer()],
    )
    return times, float(model.evaluate(ds.x_test, ds.y_test, verbose=0)[1])


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: VmHWM, the high-water mark of its own address space
    (getrusage's ru_maxrss survives exec and would report the parent's peak when that is larger)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux (bytes on macOS)


def computed_grid(info, above) -> tuple[int, int]:
    """The output rows and columns the scratch engine computes for a Conv2D (``info``) with layer ``above`` after
    it: those a max-pool there reads (``MaxPool2D.extent``), else all."""
    oh, ow = info.output_shape[:2]
    if above is not None and type(above.spec).__name__ == "MaxPool2D":
        return above.spec.extent(oh), above.spec.extent(ow)
    return oh, ow


def epoch_flops(spec, n: int) -> float:
    """Matrix-product FLOPs of one epoch as the scratch engine computes them: forward 2 n k m per dense layer
    (2 n OH OW k k C F per conv, over the output it computes: ``computed_grid``), and twice that backward
    (weight gradient and input gradient; the first layer needs no input gradient)."""
    total, first = 0.0, True
    for info, above in zip(spec.infos, [*spec.infos[1:], None]):
        kind = type(info.spec).__name__
        if kind == "Dense":
            forward = 2.0 * n * info.input_shape[-1] * info.spec.units
        elif kind == "Conv2D":
            (oh, ow), f = computed_grid(info, above), info.spec.filters
            forward = 2.0 * n * oh * ow * info.spec.kernel**2 * info.input_shape[-1] * f
        else:
            continue
        total += forward * (2 if first else 3)
        first = False
    return total


def sgemm_gflops(size: int = 2048, repeats: int = 7) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - begin)
    return 2.0 * size**3 / statistics.median(times) / 1e9


def product_operands(spec, batch: int, dtype: str = "float32", seed: int = 0) -> list:
    """The matrix products of one scratch training step, as (left, right) operand pairs at the
    engine's shapes and memory layouts: per Dense layer A W (forward), A^T dZ (weight gradient),
    dZ W^T (input gradient, not for the first trainable layer); per Conv2D the same with the
    im2col matrix (n*oh*ow, k*k*C) for A, made by the layer's own ``im2col`` (so in its layout),
    the kernel as (k*k*C, F), and the weight gradient's operands as the layer takes them (image by
    image where it is small); a Conv2D that a max-pool reads has only the output rows and columns the
    pool reads (``computed_grid``), as the engine computes it. Bias sums, activations, the loss and the optimizer are left out:
    this is the step with nothing but its products."""
    import numpy as np

    from backprop_lab.engines.scratch.layers.conv2d import im2col, same_padding, weight_gradient_operands

    rng = np.random.default_rng(seed)
    pairs, first = [], True
    for info, above in zip(spec.infos, [*spec.infos[1:], None]):
        kind = type(info.spec).__name__
        if kind == "Dense":
            rows, inner, out = batch, info.input_shape[-1], info.spec.units
            a = rng.standard_normal((rows, inner), dtype=np.float32).astype(dtype)
        elif kind == "Conv2D":
            (h, w_, c), out, k, s = info.input_shape, info.spec.filters, info.spec.kernel, info.spec.stride
            oh, ow = computed_grid(info, above)
            if info.spec.padding == "same":
                h, w_ = h + sum(same_padding(h, k, s)), w_ + sum(same_padding(w_, k, s))
            a = im2col(rng.standard_normal((batch, h, w_, c), dtype=np.float32).astype(dtype), k, s, oh, ow)
            rows, inner = a.shape
        else:
            continue
        w = rng.standard_normal((inner, out), dtype=np.float32).astype(dtype)
        dz = rng.standard_normal((rows, out), dtype=np.float32).astype(dtype)
        gradient = weight_gradient_operands(a, dz, batch) if kind == "Conv2D" else (a.T, dz)
        pairs += [(a, w), gradient] + ([] if first else [(dz, w.T)])
        first = False
    return pairs


# set on some machines so that old OpenBLAS builds pick safe kernels; they slow a current NumPy (``make bench``
# clears them for its run: ``BENCH_ENV`` in the Makefile)
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas() -> str:
    """NumPy's BLAS as this run uses it: library, version, the CPU kernels it runs and its threads, and which of
    ``BLAS_OVERRIDES`` the environment sets (OPENBLAS_CORETYPE chooses the kernels instead of OpenBLAS's CPU
    detection: the figures depend on it)."""
    import numpy  # noqa: F401 - loads the BLAS threadpoolctl reads
    from threadpoolctl import threadpool_info

    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if not libs:
        return "BLAS: unknown"
    # NumPy's own where another library (SciPy's, say) has loaded a BLAS of its own
    lib = next((lib for lib in libs if "numpy" in str(lib.get("filepath", "")).lower()), libs[0])
    text = f"{lib.get('internal_api', 'BLAS')} {lib.get('version') or ''}".strip()
    details = ([f"{lib['architecture']} kernels"] if lib.get("architecture") else []) + [
        f"{lib.get('num_threads')} threads"
    ]
    text += f" ({', '.join(details)})"
    overrides = [f"{name}={os.environ[name]}" for name in BLAS_OVERRIDES if os.environ.get(name)]
    if overrides and lib.get("internal_api") == "openblas":
        text += ", with " + " ".join(overrides) + " set"
        if os.environ.get("OPENBLAS_CORETYPE"):
            text += " (kernels chosen by OPENBLAS_CORETYPE, not by OpenBLAS's CPU detection)"
    return text


def product_floor_s(pairs: list, steps: int) -> float:
    """Seconds per step of the step's products run alone (``steps`` steps back to back)."""
    import numpy as np

    begin = time.perf_counter()
    for _ in range(steps):
        for a, b in pairs:
            np.matmul(a, b)
    return (time.perf_counter() - begin) / steps


def floor_job(job: dict) -> dict:
    """The product floor of one epoch: a scratch step's matrix products alone, timed in rounds."""
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.runs.workflow import prepare

    setup = prepare(job["data"], job["model"], TrainConfig(batch_size=job["batch_size"]))
    steps = -(-len(setup.dataset.x_train) // job["batch_size"])
    pairs = product_operands(setup.spec, job["batch_size"])
    product_floor_s(pairs, 5)  # warm-up
    per_step = [product_floor_s(pairs, max(1, steps // 4)) for _ in range(8)]
    update = optimizer_alone_s(setup.spec, max(1, steps // 4))
    return {
        "step_s": min(per_step),
        "median_step_s": statistics.median(per_step),
        "steps_per_epoch": steps,
        "epoch_s": min(per_step) * steps,
        "optimizer_step_s": update,
        "optimizer_epoch_s": update * steps,
    }


def optimizer_alone_s(spec, steps: int, rounds: int = 8, seed: int = 0) -> float:
    """Seconds per step of the scratch engine's Adam update alone (``apply_keeping``: keep, update, check, as the
    step calls it) over the model's trainable weights, operands hot, fastest of ``rounds`` rounds of ``steps``.
    With the product floor it bounds the step from below: a step must run its products and its update."""
    import numpy as np

    from backprop_lab.engines.scratch.denormals import flushed
    from backprop_lab.engines.scratch.model import ScratchModel
    from backprop_lab.engines.scratch.optimizers import make_optimizer
    from backprop_lab.options.config import TrainConfig

    rng = np.random.default_rng(seed)
    shapes = {k: shape for k, shape in spec.param_shapes().items() if k in ScratchModel(spec).trainable_keys}
    weights = {k: rng.standard_normal(shape, dtype=np.float32) for k, shape in shapes.items()}
    grads = {k: rng.standard_normal(shape, dtype=np.float32) for k, shape in shapes.items()}
    old = {k: np.empty_like(w) for k, w in weights.items()}
    optimizer = make_optimizer(TrainConfig(optimizer="adam", lr=1e-3))
    slots = optimizer.build(weights)
    best = float("inf")
    with flushed():  # as the engine's step runs it
        optimizer.apply_keeping(weights, grads, slots, 1e-3, old)  # compiled on first use
        for _ in range(rounds):
            begin = time.perf_counter()
            for _ in range(steps):
                optimizer.apply_keeping(weights, grads, slots, 1e-3, old)
            best = min(best, (time.perf_counter() - begin) / steps)
    return best


def measure(job: dict, script: str | Path = __file__) -> dict:
    """Run ``job`` in a fresh process (``script``: this file's worker, or another such as jax_peer.py)."""
    done = subprocess.run([sys.executable, str(script), json.dumps(job)], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{job}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


ENGINES = ("stock", "fit", "tape", "scratch")


def speed(data: str, quick: bool) -> dict:
    # sgemm is read before, between and after the networks: one reading taken in a slow minute of a shared host
    # would make every fraction of it look better than it is, so the fractions use the highest.
    readings = [sgemm_reading("before the networks")]
    setups = {
        "mlp": {"model": "mlp:256,128,64", "batch_size": 128, "epochs": 3 if quick else 5},
        "cnn": {"model": "cnn:32,64,64", "batch_size": 32, "epochs": 2, "init": "glorot_uniform"},
    }
    out = {"data": data, "order": "ABBA"}
    for name, setup in setups.items():
        # Each engine runs twice, in the order stock, fit, tape, scratch, scratch, tape, fit, stock, so that a
        # machine that speeds up or slows down during the run (a shared host does) favours no engine.
        # The product floor (the scratch step's matrix products alone, at its shapes) sits in the middle.
        runs: dict[str, list[dict]] = {e: [] for e in ENGINES}
        floors: list[dict] = []
        for engine in ENGINES + ("floor", "floor") + ENGINES[::-1]:
            if engine == "floor":
                floors.append(
                    measure({"kind": "floor", "data": data, "model": setup["model"], "batch_size": setup["batch_size"]})
                )
                print(
                    f"{name} product floor {floors[-1]['step_s'] * 1e3:.3f} ms/step, "
                    f"{floors[-1]['epoch_s']:.3f}s/epoch; Adam alone {floors[-1]['optimizer_step_s'] * 1e3:.3f} "
                    "ms/step",
                    flush=True,
                )
                continue
            runs[engine].append(measure({"kind": "train", "engine": engine, "data": data, **setup}))
            r = runs[engine][-1]
            print(
                f"{name} {engine:7s} first {r['first_epoch_s']:.2f}s steady {r['steady_epoch_s']:.3f}s "
                f"acc {r['test_acc']:.4f} peak {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        rows = {e: combine(rs) for e, rs in runs.items()}
        stock = rows["stock"]["steady_epoch_s"]
        scratch = rows["scratch"]
        achieved = scratch["flops_per_epoch"] / scratch["steady_epoch_s"] / 1e9
        floor = {
            "epoch_s": min(f["epoch_s"] for f in floors),
            "step_s": min(f["step_s"] for f in floors),
            "steps_per_epoch": floors[0]["steps_per_epoch"],
            "optimizer_epoch_s": min(f["optimizer_epoch_s"] for f in floors),
        }
        out[name] = {
            "setup": setup,
            "engines": rows,
            "ratio_vs_stock": {e: rows[e]["steady_epoch_s"] / stock for e in ENGINES},
            "fastest_vs_stock": {e: rows[e]["fastest_epoch_s"] / rows["stock"]["fastest_epoch_s"] for e in ENGINES},
            "scratch_fastest_vs_stock_first": scratch["fastest_epoch_s"] / rows["stock"]["first_epoch_s"],
            "product_floor": floor,
            "scratch_fastest_vs_floor": scratch["fastest_epoch_s"] / floor["epoch_s"],
            # the products and Adam's update, each alone with hot operands: no step can take less
            "floor_and_optimizer_vs_floor": (floor["epoch_s"] + floor["optimizer_epoch_s"]) / floor["epoch_s"],
            "scratch_gflops": achieved,
            "steadiness": steadiness(rows),
        }
        print(
            f"{name}: epoch time / stock Keras fit: "
            + ", ".join(f"{e} {out[name]['ratio_vs_stock'][e]:.2f}" for e in ENGINES[1:])
            + f"; fastest epochs: scratch / stock {out[name]['fastest_vs_stock']['scratch']:.2f}, scratch / "
            f"product floor {out[name]['scratch_fastest_vs_floor']:.2f}; scratch {achieved:.0f} GFLOP/s",
            flush=True,
        )
        if not out[name]["steadiness"]["steady"]:
            print(f"{name}: {steadiness_note(out[name]['steadiness'])}", flush=True)
        out[name]["alternating"] = alternating(name, setup, quick)
        readings.append(sgemm_reading(f"after {name}"))
    return with_sgemm(out, readings)


def sgemm_reading(when: str) -> float:
    gflops = measure({"kind": "sgemm"})["gflops"]
    print(f"sgemm (float32, 2048^2, NumPy's BLAS), {when}: {gflops:.0f} GFLOP/s", flush=True)
    return gflops


def with_sgemm(out: dict, readings: list[float]) -> dict:
    """``out`` with the run's sgemm readings, the highest as its sgemm rate (what NumPy's BLAS reaches on this
    machine), and each network's scratch GFLOP/s as a fraction of that rate."""
    best = max(readings)
    out.update(sgemm_gflops=best, sgemm_readings=list(readings))
    for net in ("mlp", "cnn"):
        if net in out:
            out[net]["scratch_fraction_of_sgemm"] = out[net]["scratch_gflops"] / best
            print(
                f"{net}: scratch {out[net]['scratch_gflops']:.0f} GFLOP/s = "
                f"{100 * out[net]['scratch_fraction_of_sgemm']:.0f}% of sgemm's {best:.0f}",
                flush=True,
            )
    return out


def steadiness_note(st: dict) -> str:
    """One sentence on how steady the host was, for the printout and the table."""
    name = "stock Keras fit" if st["engine"] == "stock" else st["engine"]
    said = f"the steady epochs of {name} ranged {st['fastest_s']:.3f}-{st['slowest_s']:.3f} s ({st['ratio']:.2f}x" + (
        f", the widest of the {st['engines']} engines)" if st["engines"] > 1 else ")"
    )
    if st["steady"]:
        return f"Host steady: {said}."
    return (
        f"Host NOT steady: {said}; the host's speed changed during the run, so the epoch ratios above are "
        "unreliable and the step-by-step figures of alternating rounds are the ones to go by."
    )


# Steps a round of the alternating measurement: about a second of each runner per round.
ALTERNATING_STEPS = {"mlp": 100, "cnn": 60}


def alternating(net: str, setup: dict, quick: bool) -> dict:
    """The same targets step by step: the scratch step, stock Keras ``fit``'s step and the product floor in
    alternating rounds in long-lived processes (``layers_bench.alternate``), which a host that drifts
    between the runs above cannot favour."""
    from layers_bench import alternate

    steps = ALTERNATING_STEPS[net]
    result = alternate(setup["model"], setup["batch_size"], steps, 5 if quick else 9)
    result["steps_per_round"] = steps
    print(
        f"{setup['model']} step by step, {result['rounds']} alternating rounds of {steps}: scratch / stock Keras "
        f"{result['scratch_vs_keras']:.2f} (fastest rounds {result['scratch_vs_keras_fastest']:.2f}), scratch / "
        f"product floor {result['scratch_vs_floor']:.2f} ({result['scratch_vs_floor_fastest']:.2f})",
        flush=True,
    )
    return result


# A steady epoch of one engine slower than its fastest by more than this: the host's speed changed under the run.
UNSTEADY = 1.3


def steadiness(rows: dict[str, dict]) -> dict | None:
    """The engine whose steady epochs varied most (the slowest over the fastest): on a steady host each engine's
    epochs agree within a few percent, while a shared host that lends half its cores for a while makes some of
    them twice as long, which a ratio of medians then carries."""
    ranged = {e: r["steady_range_s"] for e, r in rows.items() if "steady_range_s" in r}
    if not ranged:
        return None
    engine = max(ranged, key=lambda e: ranged[e][1] / ranged[e][0])
    low, high = ranged[engine]
    return {
        "engine": engine,
        "fastest_s": low,
        "slowest_s": high,
        "ratio": high / low,
        "engines": len(ranged),
        "steady": high / low <= UNSTEADY,
    }


def combine(runs: list[dict]) -> dict:
    """One engine's repeated runs as one row: medians of the first and of all steady epochs, the largest
    peak memory, the mean test accuracy."""
    steady = [t for r in runs for t in (r["epoch_s"][1:] or r["epoch_s"])]
    return {
        "epoch_s": [r["epoch_s"] for r in runs],
        "first_epoch_s": statistics.median(r["first_epoch_s"] for r in runs),
        "fastest_epoch_s": min(t for r in runs for t in r["epoch_s"]),
        "steady_epoch_s": statistics.median(steady),
        "steady_range_s": [min(steady), max(steady)],
        "test_acc": statistics.fmean(r["test_acc"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "flops_per_epoch": runs[0]["flops_per_epoch"],
    }


def scaling(data: str, quick: bool) -> dict:
    """Steady epoch time of each engine against batch size and hidden width (MLP)."""
    batches = [32, 128, 512] if quick else [32, 128, 512, 1024]
    widths = [128, 512] if quick else [128, 512, 2048]
    out = {"data": data, "batch": {}, "width": {}, "peak_rss_mb": {e: 0.0 for e in ENGINES}}
    points = [("batch", b, "mlp:256,128,64", b) for b in batches] + [("width", w, f"mlp:{w}", 128) for w in widths]
    for key, x, model, batch_size in points:
        rows = {
            e: measure(
                {"kind": "train", "engine": e, "data": data, "model": model, "batch_size": batch_size, "epochs": 2}
            )
            for e in ENGINES
        }
        out[key][x] = {e: r["steady_epoch_s"] for e, r in rows.items()}
        for e, r in rows.items():
            out["peak_rss_mb"][e] = max(out["peak_rss_mb"][e], r["peak_rss_mb"])
        print(f"{key} {x}: " + ", ".join(f"{e} {t:.3f}s" for e, t in out[key][x].items()), flush=True)
    return out


def plot_scaling(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in (
        (axes[0], "batch", "batch size (mlp:256,128,64)"),
        (axes[1], "width", "hidden width (mlp:W)"),
    ):
        xs = sorted(result[key], key=int)
        for i, e in enumerate(ENGINES):
            ax.plot(
                [int(x) for x in xs],
                [result[key][x][e] for x in xs],
                marker="o",
                color=f"C{i}",
                label="stock Keras fit" if e == "stock" else e,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("steady epoch time (s)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"epoch time by engine on {result['data']} (lower is better)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


if __name__ == "__main__":
    # The worker entry point: bench.py runs this file with one JSON job.
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(
            f"usage: python {Path(__file__).name} JOB_JSON\n\n{__doc__.strip()}\n\nbench.py starts one such "
            "worker per measurement: run `python benchmarks/bench.py --only speed scaling`."
        )
        sys.exit(0)
    try:
        job = json.loads(sys.argv[1]) if len(sys.argv) == 2 else None
    except ValueError:
        job = None
    if not isinstance(job, dict) or "kind" not in job:
        print(
            f'error: {Path(__file__).name}: expected one JSON job such as \'{{"kind": "sgemm"}}\' '
            "(see --help; bench.py starts these workers)",
            file=sys.stderr,
        )
        sys.exit(2)
    print(json.dumps(worker(job)))
