"""``bplab export RUN --script FILE.py``: the standalone TensorFlow script, run as a learner would run it, trains
the same weights as the run: bit for bit for the tape and fit engines (their tf.GradientTape loop and compile +
fit, with a decaying learning rate, L2 and two optimizers), float32 round-off for the scratch engine's twin."""

from __future__ import annotations

import contextlib
import io
import runpy

import numpy as np
import pytest
from helpers.cli import bplab

import backprop_lab as bl
from backprop_lab.analysis.comparison import relative_difference
from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import TrainConfig
from backprop_lab.runs.record import load_run, save_run
from backprop_lab.runs.workflow import prepare, train_run

pytest.importorskip("tensorflow")

SET_UPS = {  # engine -> training options: each engine with a different optimizer, schedule and penalty
    "tape": dict(optimizer="adam", decay="exponential", decay_rate=0.5, l2=1e-3),
    "fit": dict(optimizer="rmsprop", decay="step", decay_rate=0.5, decay_steps=5, l2=1e-3),
    "scratch": dict(optimizer="sgd", lr=0.1),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    runs = {}
    for engine, options in SET_UPS.items():
        setup = prepare("digits", "mlp:8", TrainConfig(epochs=2, batch_size=128, seed=3, **options))
        runs[engine] = save_run(train_run(setup, engine), root / engine)
    cli = bplab("export", root / "tape", "--script", root / "tape_train.py")  # as a learner would
    assert cli.returncode == 0, cli.stderr
    assert "a tf.GradientTape loop" in cli.stdout and "python " in cli.stdout
    for engine in ("fit", "scratch"):
        result = bl.export(root / engine, script=root / f"{engine}_train.py")
        assert result.loop == ("fit" if engine == "fit" else "tape") and result.arrays.is_file()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # as `python FILE.py` runs it, in this process (TensorFlow is loaded)
        for engine in SET_UPS:
            print("==", f"{engine}_train.py")
            runpy.run_path(str(root / f"{engine}_train.py"))
    return root, runs, printed.getvalue()


def trained(root, engine):
    with np.load(root / f"{engine}_train-trained.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("engine", ["tape", "fit"])
def test_the_script_reproduces_a_tape_or_fit_run_bit_for_bit(exported, engine):
    root, runs, stdout = exported
    run = load_run(runs[engine])
    ours = trained(root, engine)
    assert set(ours) == set(run.weights)
    for key, value in run.weights.items():
        assert ours[key].dtype == value.dtype and np.array_equal(ours[key], value), key
    assert relative_difference(ours, bl.model("mlp:8", data="digits").initial_weights(seed=3)) > 1e-2  # it trained
    part = stdout.split(f"{engine}_train.py")[1].split("==")[0]
    assert "the same weights as the run, bit for bit: True" in part
    assert f"test accuracy {run.test.accuracy:.4f}" in part


def test_the_scratch_run_s_tensorflow_twin_agrees_to_round_off(exported):
    root, runs, stdout = exported
    run = load_run(runs["scratch"])
    rel = relative_difference(trained(root, "scratch"), run.weights)
    print(f"scratch vs its TensorFlow twin: {rel:.2e}")
    assert 0 < rel < 1e-5, rel
    assert "tf.GradientTape" in (root / "scratch_train.py").read_text()


def test_the_script_shows_the_training_code_and_needs_no_backprop_lab(exported):
    root, _, _ = exported
    tape, fit = (root / "tape_train.py").read_text(), (root / "fit_train.py").read_text()
    assert "with tf.GradientTape() as tape:" in tape and "optimizer.apply_gradients" in tape and ".fit(" not in tape
    assert "model.compile(" in fit and "model.fit(" in fit and "GradientTape" not in fit
    assert "keras.optimizers.Adam(" in tape and "keras.optimizers.RMSprop(" in fit
    for text in (tape, fit):
        assert "backprop_lab" not in text and "keras.regularizers.L2(L2)" in text and "def learning_rate" in text
        compile(text, "script", "exec")


def test_export_refuses_what_it_cannot_write(exported, tmp_path):
    root, runs, _ = exported
    with pytest.raises(BplabError, match="must end in .py"):
        bl.export(runs["tape"], script=tmp_path / "train.txt")
    with pytest.raises(BplabError, match="exists; pass --force"):
        bl.export(runs["tape"], script=root / "tape_train.py")
    with pytest.raises(BplabError, match="--keras FILE.keras, --script FILE.py"):
        bl.export(runs["tape"])
    setup = prepare("digits", "mlp:4", TrainConfig(epochs=1, alpha=0.5))
    blended = save_run(train_run(setup, "scratch"), tmp_path / "blended")
    with pytest.raises(BplabError, match="blended update"):
        bl.export(blended, script=tmp_path / "b.py")
    assert not (tmp_path / "b.py").exists() and not (tmp_path / "b.npz").exists()
