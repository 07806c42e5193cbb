"""JAX as a benchmark peer: the network of a ModelSpec written in JAX, trained the way a practitioner who wants
the fastest CPU run writes it, on what the scratch engine trains on.

    python benchmarks/jax_peer.py '{"form": "step", "data": "mnist-5k", "model": "mlp:64", "batch_size": 128, \
"epochs": 2}'

The same as the scratch engine's run: the data (``prepare``), the batches in the same order (the run's
``BatchPlan``), the initial weights (the project's initialisers, ``initial_weights``), float32, Adam with Keras's
formula and defaults (lr 1e-3, beta 0.9 / 0.999, epsilon 1e-7), categorical cross-entropy on the softmax output
(computed from the logits with ``log_softmax``, as a JAX user writes it). Two forms:

- ``step``:  ``jax.jit`` on the training step (state donated); the batches gathered by NumPy from the plan, as the
  project's loop does, and handed to the compiled step; nothing waits on a step but the epoch's end.
- ``epoch``: the whole epoch compiled: ``lax.scan`` over the epoch's full batches, the data on the device and each
  batch gathered inside the compiled loop; a last, smaller batch (60,000 is not a multiple of 128) by the
  compiled step.

The first epoch includes the compilation. ``max_steps`` times a fixed number of steps a round instead of whole
epochs (for the CNN, whose JAX epoch takes minutes on a small CPU) and scales each round to an epoch
(``speed.scaled``): the results say so (``scaled_from_steps``). ``threads`` gives XLA and OpenBLAS the same
number of cores (the process's CPU affinity, which both size their thread pools from; ``speed.limit_threads``).
Prints one JSON line: epoch times, test accuracy, peak resident memory. ``bench.py --only peers`` runs these.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]

import speed  # noqa: E402 - no NumPy or JAX yet: limit_threads must run before either loads

FORMS = ("step", "epoch")
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}  # Keras's defaults, as the scratch engine's


def version() -> str | None:
    """The installed JAX's version, or None where JAX is not installed (nothing is imported)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("jax")
    except PackageNotFoundError:
        return None


def network(spec):
    """``logits(params, x)`` of the spec's layers in JAX (NHWC, HWIO: the project's layouts), the output layer's
    softmax left to the loss. Refuses what the peer does not model, naming the layer."""
    import jax.numpy as jnp
    from jax import lax, nn

    activations = {"linear": lambda z: z, "relu": nn.relu, "sigmoid": nn.sigmoid, "tanh": jnp.tanh}
    last = spec.infos[-1]
    if last.spec.kind != "dense" or last.spec.activation != "softmax":
        raise ValueError(f"{last.name}: the JAX peer trains softmax classifiers (the last layer must be Dense softmax)")
    layers = []
    for info in spec.infos:
        s = info.spec
        if s.kind in ("dense", "conv2d") and info is not last and s.activation not in activations:
            raise ValueError(f"{info.name}: activation {s.activation!r} is not in the JAX peer")
        if s.kind == "dense":
            act = (lambda z: z) if info is last else activations[s.activation]
            layers.append(lambda p, x, n=info.name, f=act: f(x @ p[f"{n}/kernel"] + p[f"{n}/bias"]))
        elif s.kind == "conv2d":
            pad, stride, act = s.padding.upper(), (s.stride, s.stride), activations[s.activation]

            def conv(p, x, n=info.name, pad=pad, stride=stride, f=act):
                z = lax.conv_general_dilated(
                    x, p[f"{n}/kernel"], stride, pad, dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                return f(z + p[f"{n}/bias"])

            layers.append(conv)
        elif s.kind == "maxpool2d":
            window, step = (1, s.pool, s.pool, 1), (1, s.step, s.step, 1)
            layers.append(lambda p, x, w=window, st=step: lax.reduce_window(x, -jnp.inf, lax.max, w, st, "VALID"))
        elif s.kind == "flatten":
            layers.append(lambda p, x: x.reshape(x.shape[0], -1))
        else:
            raise ValueError(f"{info.name}: a {s.kind} layer is not in the JAX peer")

    def logits(params, x):
        for layer in layers:
            x = layer(params, x)
        return x

    return logits


def trainer(spec, lr: float):
    """(step, epoch, predict) compiled: ``step(state, x, y) -> (state, loss)`` with Adam, ``epoch(state, xs, ys,
    order) -> (state, losses)`` scanning ``step`` over the rows of ``order`` (batches of row indices into the data
    on the device), ``predict(params, x) -> probabilities``. ``state`` is (params, m, v, iterations)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    logits = network(spec)
    b1, b2, eps = ADAM["beta_1"], ADAM["beta_2"], ADAM["epsilon"]

    def loss_fn(params, x, y):
        logp = jax.nn.log_softmax(logits(params, x))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step_fn(state, x, y):
        params, m, v, t = state
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1
        alpha = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)  # Keras's Adam: the bias corrections folded into the rate
        m = jax.tree.map(lambda m, g: m + (g - m) * (1 - b1), m, grads)
        v = jax.tree.map(lambda v, g: v + (g * g - v) * (1 - b2), v, grads)
        params = jax.tree.map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + eps), params, m, v)
        return (params, m, v, t), loss

    def epoch_fn(state, xs, ys, order):
        return lax.scan(lambda s, idx: step_fn(s, xs[idx], ys[idx]), state, order)

    step = jax.jit(step_fn, donate_argnums=0)
    epoch = jax.jit(epoch_fn, donate_argnums=0)
    predict = jax.jit(lambda params, x: jax.nn.softmax(logits(params, x)))
    return step, epoch, predict


def initial_state(weights: dict):
    import jax
    import jax.numpy as jnp

    params = {k: jnp.asarray(w) for k, w in weights.items()}
    zeros = jax.tree.map(jnp.zeros_like, params)
    return params, zeros, jax.tree.map(jnp.zeros_like, params), jnp.zeros((), jnp.float32)


def accuracy(predict, params, x, y, chunk: int = 5000) -> float:
    import numpy as np

    labels = np.concatenate([np.asarray(predict(params, x[i : i + chunk])).argmax(-1) for i in range(0, len(x), chunk)])
    return float((labels == y).mean())


def train(job: dict) -> dict:
    """One JAX run (``job``: form, data, model, batch_size, epochs, lr, init, seed, max_steps): times and accuracy."""
    import jax
    import numpy as np

    from backprop_lab.options.config import TrainConfig
    from backprop_lab.runs.workflow import initial_weights, prepare

    config = TrainConfig(
        optimizer="adam",
        lr=job.get("lr", 1e-3),
        epochs=job["epochs"],
        batch_size=job["batch_size"],
        init=job.get("init", "he_normal"),
        seed=job.get("seed", 0),
    )
    setup = prepare(job["data"], job["model"], config)
    ds, plan = setup.dataset, setup.plan
    step, epoch, predict = trainer(setup.spec, config.lr)
    x, y = ds.x_train.astype(np.float32, copy=False), ds.y_train.astype(np.int32)
    state = initial_state(initial_weights(setup.spec, config))
    limit = job.get("max_steps") or plan.steps_per_epoch
    steps = min(limit, plan.steps_per_epoch)
    if job["form"] == "epoch":
        xs, ys = jax.device_put(x), jax.device_put(y)
    times, losses = [], []
    for e in range(config.epochs):
        order = plan.order(e)[: steps * plan.size]
        full = len(order) // plan.size
        begin = time.perf_counter()
        if job["form"] == "epoch":
            state, scanned = epoch(state, xs, ys, order[: full * plan.size].reshape(full, plan.size).astype(np.int32))
            out = [scanned]
            if len(order) > full * plan.size:  # the epoch's last, smaller batch
                rest = order[full * plan.size :]
                state, loss = step(state, x[rest], y[rest])
                out.append(loss[None])
        else:
            out = []
            for i in range(0, len(order), plan.size):
                idx = order[i : i + plan.size]
                state, loss = step(state, x[idx], y[idx])
                out.append(loss[None])
        jax.block_until_ready(state)
        times.append(time.perf_counter() - begin)
        losses.append(float(np.concatenate([np.asarray(o) for o in out]).mean()))
    result = {
        "form": job["form"],
        "epoch_s": speed.scaled(times, steps, plan.steps_per_epoch),
        "measured_s": times,
        "steps_timed": steps,
        "steps_per_epoch": plan.steps_per_epoch,
        "train_loss": losses,
        "test_acc": accuracy(predict, state[0], ds.x_test.astype(np.float32, copy=False), ds.y_test),
        "peak_rss_mb": speed.peak_rss_mb(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "cpus": speed.usable_cpus(),
    }
    if steps < plan.steps_per_epoch:
        result["scaled_from_steps"] = steps
    result["first_epoch_s"] = result["epoch_s"][0]
    result["steady_epoch_s"] = statistics.median(result["epoch_s"][1:] or result["epoch_s"])
    return result


def main(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        print(f"usage: python {Path(__file__).name} JOB_JSON\n\n{__doc__.strip()}")
        return 0
    try:
        job = json.loads(argv[0]) if len(argv) == 1 else None
    except ValueError:
        job = None
    if not isinstance(job, dict) or "form" not in job:
        print(
            f'error: {Path(__file__).name}: expected one JSON job such as \'{{"form": "step", "data": '
            '"mnist-5k", "model": "mlp:64", "batch_size": 128, "epochs": 2}\' (see --help)',
            file=sys.stderr,
        )
        return 2
    if job["form"] not in FORMS:
        print(
            f"error: {Path(__file__).name}: form {job['form']!r}: expected one of {', '.join(FORMS)}", file=sys.stderr
        )
        return 2
    speed.limit_threads(job.get("threads"))  # before NumPy and JAX load: both size their thread pools once
    if version() is None:
        print("error: JAX is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    from backprop_lab.core.errors import BplabError

    try:
        print(json.dumps(train(job)))
    except (BplabError, ValueError, KeyError) as exc:
        print(f"error: {Path(__file__).name}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
