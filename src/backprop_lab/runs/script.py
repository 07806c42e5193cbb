"""A run as a standalone TensorFlow script (``bplab export RUN --script FILE.py``), so that a learner reads the
code that trained it: the ``tf.GradientTape`` loop (runs of the ``tape`` engine, and of ``scratch``, whose
TensorFlow twin it is) or Keras's ``compile`` + ``fit`` (runs of the ``fit`` engine), in plain TensorFlow and
Keras with no backprop-lab import.

Beside the script, ``FILE.npz`` holds what the script cannot compute itself: the training and test data as
the run saw them (scaled, targets one-hot), the starting weights every engine of the run began from, and the
row order of every epoch (the batch plan). The script writes its trained weights to ``FILE-trained.npz`` and
compares them with the run's ``weights.npz``: bit for bit for ``tape`` and ``fit`` runs (the test runs a script
and checks), float32 round-off for ``scratch`` runs.

The script is text written for people to read; the library never runs it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backprop_lab.core.errors import BplabError
from backprop_lab.core.files import atomic_write, read_json
from backprop_lab.datasets.registry import load_dataset
from backprop_lab.numerics.metrics import targets
from backprop_lab.runs.record import Run
from backprop_lab.runs.workflow import TRAIN_FILE, Setup, initial_weights, setup_for
from backprop_lab.spec.model import Conv2D, Dense, Dropout, Flatten, MaxPool2D

LOSSES = {  # our loss name -> the Keras loss the script builds (the custom ones are defined in the script)
    "categorical_crossentropy": "keras.losses.CategoricalCrossentropy(dtype=DTYPE)",
    "binary_crossentropy": "keras.losses.BinaryCrossentropy(dtype=DTYPE)",
    "mse": "keras.losses.MeanSquaredError(dtype=DTYPE)",
    "squared_error": "SummedSquaredError(1.0, dtype=DTYPE)",
    "half_squared_error": "SummedSquaredError(0.5, dtype=DTYPE)",
}

SUMMED_SQUARED_ERROR = '''

class SummedSquaredError(keras.losses.Loss):
    """The squared error summed over the outputs (times factor), averaged over the batch."""

    def __init__(self, factor, dtype=None):
        super().__init__(name="squared_error", dtype=dtype)
        self.factor = factor

    def call(self, y_true, y_pred):
        return self.factor * keras.ops.sum(keras.ops.square(y_pred - keras.ops.cast(y_true, y_pred.dtype)), axis=-1)
'''

DECAY_POWERS = {"exponential": "step / DECAY_STEPS", "step": "step // DECAY_STEPS"}


@dataclass(frozen=True)
class Script:
    """What ``export --script`` wrote: the script, its arrays, and which training code it holds."""

    path: Path
    arrays: Path
    loop: str  # "tape" (a tf.GradientTape loop) or "fit" (compile + fit)


def run_setup(run: Run) -> Setup:
    """The run's data and batch plan again: from ``train.json`` (where ``bplab train --out`` recorded how the
    data was asked for), else the data set named in ``model.json`` with the default loading."""
    source = {"data": run.dataset, "data_dir": None, "val_split": 0.0, "scale": "unit"}
    record = Path(run.folder) / TRAIN_FILE if run.folder else None
    if record is not None and record.is_file():
        doc = read_json(record)
        source.update({k: doc[k] for k in source if isinstance(doc, dict) and doc.get(k) is not None})
    dataset = load_dataset(
        source["data"],
        source["data_dir"],
        scale=source["scale"],
        val_fraction=source["val_split"],
        seed=run.config.seed,
    )
    if tuple(dataset.input_shape) != tuple(run.spec.input_shape):
        raise BplabError(
            f"{run.folder}: the run's model expects input {run.spec.input_shape} but {source['data']} now has "
            f"{dataset.input_shape}"
        )
    return setup_for(dataset, run.spec, run.config, source)


def _layer(info, config) -> str:
    spec, name = info.spec, repr(info.name)
    reg = ", kernel_regularizer=keras.regularizers.L2(L2)" if config.l2 else ""
    if isinstance(spec, Dense):
        text = f"keras.layers.Dense({spec.units}, activation={spec.activation!r}, name={name}{reg}, dtype=DTYPE)"
    elif isinstance(spec, Conv2D):
        text = (
            f"keras.layers.Conv2D({spec.filters}, {spec.kernel}, strides={spec.stride}, padding={spec.padding!r}, "
            f"activation={spec.activation!r}, name={name}{reg}, dtype=DTYPE)"
        )
    elif isinstance(spec, MaxPool2D):
        text = f"keras.layers.MaxPooling2D({spec.pool}, strides={spec.step!r}, name={name}, dtype=DTYPE)"
    elif isinstance(spec, Flatten):
        text = f"keras.layers.Flatten(name={name}, dtype=DTYPE)"
    elif isinstance(spec, Dropout):
        text = f"keras.layers.Dropout({spec.rate!r}, seed=SEED, name={name}, dtype=DTYPE)"
    else:  # pragma: no cover - the spec refuses other kinds
        raise TypeError(spec)
    return f"        {text},"


def _optimizer(config) -> str:
    c = config
    return {
        "sgd": "keras.optimizers.SGD(LR)",
        "momentum": f"keras.optimizers.SGD(LR, momentum={c.momentum!r})",
        "nesterov": f"keras.optimizers.SGD(LR, momentum={c.momentum!r}, nesterov=True)",
        "rmsprop": f"keras.optimizers.RMSprop(LR, rho={c.rho!r}, epsilon={c.epsilon!r})",
        "adam": f"keras.optimizers.Adam(LR, beta_1={c.beta_1!r}, beta_2={c.beta_2!r}, epsilon={c.epsilon!r})",
    }[c.optimizer]


def _frozen(spec) -> list[str]:
    return [f"model.get_layer({i.name!r}).trainable = False" for i in spec.infos if not i.trainable]


TAPE = """
# One training step, written out: the forward pass under a tape, the loss (plus the layers' L2 terms), the
# gradients by reverse-mode autodiff, one optimizer update. tf.function compiles it to a graph.
@tf.function(reduce_retracing=True)
def train_step(x, t):
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = loss_fn(t, out)
        if model.losses:
            loss = loss + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


step = 0
for epoch in range(EPOCHS):
    order = arrays["order"][epoch]  # this epoch's rows, in the order the run used
    losses = []
    for start in range(0, len(order), BATCH_SIZE):
        rows = order[start : start + BATCH_SIZE]
{lr_line}        losses.append(float(train_step(tf.constant(x_train[rows]), tf.constant(t_train[rows]))))
        step += 1
    print(f"epoch {{epoch + 1}}: mean batch loss {{np.mean(losses):.4f}}")
"""

FIT = """
{floatx_on}model.compile(optimizer=optimizer, loss=loss_fn)
{floatx_off}# The batches in the run's order: each epoch batched on its own, one after another; fit must not shuffle them.
data = None
for epoch in range(EPOCHS):
    order = arrays["order"][epoch]
    part = tf.data.Dataset.from_tensor_slices((x_train[order], t_train[order])).batch(BATCH_SIZE)
    data = part if data is None else data.concatenate(part)
{schedule}model.fit(data, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, shuffle=False, verbose=2{callbacks})
"""

SCHEDULE = '''

class Schedule(keras.callbacks.Callback):
    """The learning rate of every step, set before the step runs."""

    step = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = learning_rate(self.step)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1


'''


def script_text(run: Run, setup: Setup, loop: str, arrays_name: str) -> str:
    config, spec = run.config, run.spec
    plan = setup.plan
    decayed = config.decay != "none"
    weights_file = (Path(run.folder) / "weights.npz").resolve() if run.folder else None
    how = "a tf.GradientTape loop" if loop == "tape" else "Keras's compile + fit"
    twin = (
        "\nThe run was trained by the hand-written NumPy engine (scratch); this is its TensorFlow twin, from the same\n"
        "weights and batches: expect round-off differences between the two, not identical bits."
        if run.engine == "scratch"
        else ""
    )
    lines = [
        f'"""Train the model of the run in {run.folder} on {run.dataset} again, as its {run.engine} engine did, in plain',
        f"TensorFlow: {how}.",
        "",
        f"Written by `bplab export {run.folder} --script`. Needs only NumPy and TensorFlow/Keras: the data as the run",
        f"saw it, the starting weights and each epoch's batch order are in {arrays_name} beside this file.",
        f"Run it with: python {arrays_name[:-4]}.py",
        *([twin.strip("\n")] if twin else []),
        '"""',
        "",
        "from pathlib import Path",
        "",
        "import keras",
        "import numpy as np",
        "import tensorflow as tf",
        "",
        f'arrays = np.load(Path(__file__).with_name("{arrays_name}"))',
        'x_train, t_train = arrays["x_train"], arrays["t_train"]  # t: the targets the loss compares with (one-hot)',
        'x_test, y_test = arrays["x_test"], arrays["y_test"]',
        "",
        f"DTYPE = {config.dtype!r}",
        f"SEED = {config.seed!r}",
        f"EPOCHS = {config.epochs!r}",
        f"BATCH_SIZE = {plan.size!r}"
        + ("  # full batch: every example in every step" if plan.batch_size is None else ""),
        f"STEPS_PER_EPOCH = {plan.steps_per_epoch!r}",
        f"LR = {config.learning_rate!r}",
    ]
    if config.l2:
        lines.append(f"L2 = {config.l2!r}  # Keras's L2: l2 * sum(W**2) added to the loss, kernels only")
    if decayed:
        lines += [
            f"DECAY_RATE = {config.decay_rate!r}",
            f"DECAY_STEPS = {config.decay_steps or plan.steps_per_epoch!r}",
            "",
            "",
            "def learning_rate(step):",
            f'    """{config.decay} decay of the learning rate at a 0-based step."""',
            f"    return LR * DECAY_RATE ** ({DECAY_POWERS[config.decay]})",
        ]
    lines += [
        "",
        "keras.utils.set_random_seed(SEED)",
        "tf.config.experimental.enable_op_determinism()",
    ]
    if config.loss in ("squared_error", "half_squared_error"):
        lines += SUMMED_SQUARED_ERROR.split("\n")
    lines += [
        "",
        f"model = keras.Sequential(  # {sum(spec.count_params()):,} parameters",
        "    [",
        f"        keras.Input(shape={tuple(spec.input_shape)!r}, dtype=DTYPE),",
        *[_layer(info, config) for info in spec.infos],
        "    ]",
        ")",
        *_frozen(spec),
        "# The starting weights every engine of the run began from (kernels (in, out), conv kernels HWIO).",
        "for layer in model.layers:",
        "    if layer.weights:",
        '        layer.kernel.assign(arrays[f"initial/{layer.name}/kernel"])',
        '        layer.bias.assign(arrays[f"initial/{layer.name}/bias"])',
        "",
        f"loss_fn = {LOSSES[config.loss]}",
        f"optimizer = {_optimizer(config)}",
    ]
    if loop == "tape":
        lines += [
            "optimizer.build(model.trainable_variables)",
            TAPE.format(lr_line="        optimizer.learning_rate = learning_rate(step)\n" if decayed else ""),
        ]
    else:
        float64 = config.dtype != "float32"
        lines.append(
            FIT.format(
                floatx_on=(
                    "# Keras computes the compiled loss in floatx: set it to the model's dtype while compiling.\n"
                    f'keras.config.set_floatx("{config.dtype}")\n'
                    if float64
                    else ""
                ),
                floatx_off='keras.config.set_floatx("float32")\n' if float64 else "",
                schedule=SCHEDULE if decayed else "",
                callbacks=", callbacks=[Schedule()]" if decayed else "",
            )
        )
    lines += [
        "",
        "probs = model.predict(x_test, batch_size=2048, verbose=0)",
        "predicted = (probs[:, 0] > 0.5).astype(int) if probs.shape[1] == 1 else probs.argmax(axis=1)",
        'print(f"test accuracy {np.mean(predicted == y_test):.4f}")',
        *(
            [f'print("the run\'s own test accuracy: {run.metrics.test.accuracy:.4f}")']
            if run.metrics.test is not None
            else []
        ),
        "",
        "# The trained weights under the run's keys (weights.npz): dense_0/kernel, dense_0/bias, ...",
        "trained = {}",
        "for layer in model.layers:",
        "    if layer.weights:",
        '        trained[f"{layer.name}/kernel"] = layer.kernel.numpy()',
        '        trained[f"{layer.name}/bias"] = layer.bias.numpy()',
        f'np.savez(Path(__file__).with_name("{arrays_name[:-4]}-trained.npz"), **trained)',
    ]
    if weights_file is not None:
        lines += [
            f"run_weights = Path({str(weights_file)!r})",
            "if run_weights.is_file():",
            "    with np.load(run_weights) as ran:",
            "        same = all(np.array_equal(ran[k], trained[k]) for k in ran.files)",
            "        worst = max(float(np.max(np.abs(ran[k] - trained[k]))) for k in ran.files)",
            '    print(f"the same weights as the run, bit for bit: {same} (largest difference {worst:.2e})")',
        ]
    return "\n".join(lines).replace("\n\n\n\n", "\n\n\n") + "\n"


def export_script(run: Run, path: Path, force: bool = False) -> Script:
    """Write ``path`` (the script) and ``path`` with ``.npz`` (its arrays) for a saved run."""
    path = Path(path)
    if path.suffix != ".py":
        raise BplabError(f"{path}: a script's name must end in .py")
    if not path.parent.is_dir():
        raise BplabError(f"{path.parent}: folder not found")
    arrays_path = path.with_suffix(".npz")
    for target in (path, arrays_path):
        if target.exists() and not force:
            raise BplabError(f"{target}: exists; pass --force to overwrite")
    if run.config.alpha:
        raise BplabError(
            f"{run.folder}: the run used the blended update (alpha = {run.config.alpha:g}), which plain TensorFlow "
            "has no name for; --script writes runs trained with alpha = 0"
        )
    setup = run_setup(run)
    config, ds = run.config, setup.dataset
    loop = "fit" if run.engine == "fit" else "tape"
    arrays = {
        "x_train": ds.x_train.astype(config.dtype, copy=False),
        "t_train": targets(run.spec, ds.y_train, config.dtype),
        "x_test": ds.x_test.astype(config.dtype, copy=False),
        "y_test": np.asarray(ds.y_test),
        "order": np.stack([setup.plan.order(e) for e in range(config.epochs)]),
        **{f"initial/{k}": v for k, v in initial_weights(run.spec, config).items()},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(arrays_path, buffer.getvalue())
    atomic_write(path, script_text(run, setup, loop, arrays_path.name).encode("utf-8"))
    return Script(path, arrays_path, loop)
