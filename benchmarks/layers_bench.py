"""Scratch CNN training step against stock Keras ``model.fit``, side by side in one run.

    .venv/bin/python benchmarks/layers_bench.py [--model cnn:32,64,64] [--steps 60] [--rounds 7] [--profile]

Two long-lived worker processes, each set up and warmed up once (Keras traces its train
function in the warm-up), then timed in alternating rounds so that load from anything else
on the machine falls on all of them alike:

- ``scratch``:  the package's scratch layers (``backprop_lab.engines.scratch``), one step exactly as
  the scratch engine takes it (keep the old weights, forward, loss, backward, Adam, finite check);
- ``keras``:    the same architecture written as a Keras user writes it, Adam and categorical
  cross-entropy, ``model.fit`` over the same number of batches of 32 (timed from epoch begin
  to epoch end with a callback, so ``fit``'s set-up is left out, as in an epoch of a long run).

- ``floor``:    the scratch step's matrix products alone, at the same shapes and layouts (forward,
  weight gradient and input gradient of every Dense and Conv2D layer: ``speed.product_operands``),
  timed in the scratch worker in the same rotation: the "product floor" of a step.

Reports medians per step, the extrapolation to a 60,000-image epoch and the ratios. With
``--profile`` it also prints where a scratch step spends its time, layer by layer (forward,
activation derivative, backward).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
EPOCH_IMAGES = 60_000
INPUT = (28, 28, 1)
CLASSES = 10


# --- workers ----------------------------------------------------------------------------------


def make_data(steps: int, batch: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((steps * batch, *INPUT), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, steps * batch)]
    return x, y


class ScratchRunner:
    """Training steps of the scratch engine itself (``ScratchState.step``), on the package's layers."""

    def __init__(self, model_text: str, batch: int, steps: int):
        from backprop_lab.engines.scratch.engine import ScratchState
        from backprop_lab.numerics.initializers import init_weights
        from backprop_lab.options.config import TrainConfig
        from backprop_lab.spec.model import parse_model

        self.spec = parse_model(model_text, INPUT, CLASSES)
        config = TrainConfig(optimizer="adam", lr=1e-3, batch_size=batch, seed=0, dtype="float32")
        self.state = ScratchState(
            self.spec, init_weights(self.spec.param_shapes(), config.init, config.seed, config.dtype), config
        )
        self.model, self.w, self.loss = self.state.model, self.state.w, self.state.loss
        self.optimizer, self.slots, self.rng = self.state.optimizer, self.state.slots, self.state.rng
        x, y = make_data(steps, batch)
        self.batches = [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]
        self.epoch()  # warm-up

    def step(self, x, t, lr=1e-3):
        return self.state.step(x, t, lr)

    def epoch(self) -> float:
        begin = time.perf_counter()
        for x, t in self.batches:
            self.step(x, t)
        return (time.perf_counter() - begin) / len(self.batches)

    def floor(self) -> float:
        """Seconds per step of this step's matrix products alone, at the same shapes (speed.product_operands)."""
        import speed

        if not hasattr(self, "pairs"):
            self.pairs = speed.product_operands(self.spec, len(self.batches[0][0]))
            speed.product_floor_s(self.pairs, 5)
        return speed.product_floor_s(self.pairs, len(self.batches))

    def profile(self, repeats: int = 3) -> dict[str, float]:
        """Seconds per step in each layer's forward and backward (as the step fuses them), the loss and Adam."""
        totals: dict[str, float] = defaultdict(float)

        def timed(name, fn, *args):
            begin = time.perf_counter()
            result = fn(*args)
            totals[name] += time.perf_counter() - begin
            return result

        from backprop_lab.engines.scratch.denormals import flushed

        with flushed():  # as the engine's step computes
            self._profile(repeats, timed)
        steps = repeats * len(self.batches)
        return {k: v / steps for k, v in totals.items()}

    def _profile(self, repeats, timed) -> None:
        model, w = self.model, self.w
        for _ in range(repeats):
            for x, t in self.batches:  # the step's own calls, each layer's timed (ScratchModel's timer)
                h, caches = model.forward(w, x, True, self.rng, timer=timed)
                timed("loss", model.loss_value, w, caches, h, t, self.loss)
                grads = model.backward(w, caches, h, t, self.loss, timer=timed)
                timed("adam", self.optimizer.apply_keeping, w, grads, self.slots, 1e-3, self.state.old)


class KerasRunner:
    """Stock Keras: the same layers as ``parse_model`` resolves, ``compile`` + ``fit``."""

    def __init__(self, model_text: str, batch: int, steps: int):
        import backprop_lab.engines.keras  # noqa: F401 - loads TensorFlow with its start-up lines silenced

        # isort: split
        import keras
        import speed

        from backprop_lab.spec.model import parse_model

        spec = parse_model(model_text, INPUT, CLASSES)
        keras.utils.set_random_seed(0)
        self.model = speed.stock_keras_model(spec)
        self.model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
        self.x, self.y = make_data(steps, batch)
        self.batch, self.steps = batch, steps
        times = self.times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.begin = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.begin)

        self.timer = Timer()
        self.epoch()  # warm-up: traces the train function

    def epoch(self) -> float:
        self.model.fit(self.x, self.y, batch_size=self.batch, epochs=1, verbose=0, callbacks=[self.timer])
        return self.times[-1] / self.steps


def worker(kind: str, args: dict, conn) -> None:
    if kind != "keras" and args.get("blas_threads"):
        os.environ["OPENBLAS_NUM_THREADS"] = str(args["blas_threads"])  # read when NumPy loads OpenBLAS
    sys.path[:0] = [str(SRC), str(Path(__file__).resolve().parent)]
    if kind == "keras":
        runner = KerasRunner(args["model"], args["batch"], args["steps"])
    else:
        runner = ScratchRunner(args["model"], args["batch"], args["steps"])
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "epoch":
            conn.send(runner.epoch())
        elif command == "floor":
            conn.send(runner.floor())
        elif command == "profile":
            conn.send(runner.profile())
        else:
            return


# --- main -------------------------------------------------------------------------------------


def start_workers(kinds: list[str], args: dict) -> dict:
    """One long-lived worker process per kind, set up one at a time (so no set-up runs beside another's timing)."""
    ctx = mp.get_context("spawn")
    workers = {}
    for kind in kinds:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(kind, args, child), daemon=True)
        proc.start()
        assert parent.recv() == "ready"
        workers[kind] = (proc, parent)
    return workers


def stop_workers(workers: dict) -> None:
    for proc, conn in workers.values():
        conn.send("stop")
        proc.join(timeout=30)


def run_rounds(workers: dict, rounds: int, echo=None) -> dict[str, list[float]]:
    """Seconds per step of each worker (and of the floor, in the scratch worker), in alternating rounds whose
    first runner rotates, so that a machine that drifts during the run favours none."""
    timed = list(workers) + ["floor"]
    per_step: dict[str, list[float]] = {k: [] for k in timed}
    for r in range(rounds):
        for kind in timed[r % len(timed) :] + timed[: r % len(timed)]:
            conn = workers["scratch" if kind == "floor" else kind][1]
            conn.send("floor" if kind == "floor" else "epoch")
            per_step[kind].append(conn.recv())
        if echo:
            echo(f"round {r + 1}: " + "  ".join(f"{k} {per_step[k][-1] * 1e3:6.2f} ms" for k in timed))
    return per_step


def summary(per_step: dict[str, list[float]]) -> dict:
    """Medians and the ratios of the alternating rounds: scratch against the product floor and against stock
    Keras (where it ran), of the medians and of the fastest rounds."""
    out = {
        "rounds": len(per_step["scratch"]),
        "median_step_s": {k: statistics.median(v) for k, v in per_step.items()},
        "fastest_step_s": {k: min(v) for k, v in per_step.items()},
    }
    for other in ("floor", "keras"):
        if other in per_step:
            out[f"scratch_vs_{other}"] = out["median_step_s"]["scratch"] / out["median_step_s"][other]
            out[f"scratch_vs_{other}_fastest"] = out["fastest_step_s"]["scratch"] / out["fastest_step_s"][other]
    return out


def alternate(model: str, batch: int, steps: int, rounds: int, keras: bool = True, blas_threads: int = 0) -> dict:
    """The scratch step, stock Keras's step and the product floor in alternating rounds (``summary``)."""
    args = {"model": model, "batch": batch, "steps": steps, "blas_threads": blas_threads}
    workers = start_workers(["scratch"] + (["keras"] if keras else []), args)
    try:
        return summary(run_rounds(workers, rounds))
    finally:
        stop_workers(workers)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="cnn:32,64,64")
    parser.add_argument("--steps", type=int, default=60, help="batches per timed round")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="OpenBLAS threads for the scratch workers (default: OpenBLAS's own choice)",
    )
    parser.add_argument("--profile", action="store_true", help="also print a per-layer profile of a scratch step")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(SRC))
    from backprop_lab.spec.model import parse_model

    spec = parse_model(args.model, INPUT, CLASSES)
    print(f"{args.model} on {INPUT}: " + " -> ".join(f"{info.name}{tuple(info.output_shape)}" for info in spec.infos))
    print(
        f"batch {args.batch}, {args.steps} steps a round, {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    import speed

    print(f"NumPy's BLAS: {speed.blas()}")
    workers = start_workers(["scratch"] + ([] if args.no_keras else ["keras"]), vars(args))
    per_step = run_rounds(workers, args.rounds, echo=lambda line: print(line, flush=True))
    result = summary(per_step)

    steps_per_epoch = EPOCH_IMAGES // args.batch
    median = result["median_step_s"]
    print(f"\nmedian per step (and per {EPOCH_IMAGES}-image epoch of {steps_per_epoch} steps):")
    for k in per_step:
        print(
            f"  {k:9s} {median[k] * 1e3:7.2f} ms/step  {median[k] * steps_per_epoch:6.1f} s/epoch  "
            f"(min {min(per_step[k]) * 1e3:.2f}, max {max(per_step[k]) * 1e3:.2f})"
        )
    if "keras" in median:
        print(
            f"  ratio scratch / keras  = {result['scratch_vs_keras']:.2f} (fastest rounds: "
            f"{result['scratch_vs_keras_fastest']:.2f})"
        )
    print(
        f"  ratio scratch / product floor = {result['scratch_vs_floor']:.2f} (fastest rounds: "
        f"{result['scratch_vs_floor_fastest']:.2f})"
    )

    if args.profile:
        profiled = ["scratch"]
        profiles = {}
        for kind in profiled:
            workers[kind][1].send("profile")
            profiles[kind] = workers[kind][1].recv()
        names = sorted(set().union(*profiles.values()), key=lambda n: -max(p.get(n, 0) for p in profiles.values()))
        print("\nprofile, ms per step: " + "  ".join(f"{k:>9s}" for k in profiled))
        for name in names:
            print(f"  {name:34s}" + "  ".join(f"{profiles[k].get(name, 0) * 1e3:9.3f}" for k in profiled))
        print(f"  {'total':34s}" + "  ".join(f"{sum(profiles[k].values()) * 1e3:9.3f}" for k in profiled))
    stop_workers(workers)


if __name__ == "__main__":
    main()
