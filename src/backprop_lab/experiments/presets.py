"""Sweep presets: the reference experiments, one thing varied at a time, on any data set.

Each preset is a sweep document (the same keys as a sweep TOML file); options given on the
command line override its base options.
"""

from __future__ import annotations

from backprop_lab.core.errors import BplabError
from backprop_lab.options.registry import DEFAULT_MODEL

BASE = {"model": DEFAULT_MODEL, "optimizer": "adam", "epochs": 5, "batch_size": 128, "init": "he_normal"}

PRESETS: dict[str, dict] = {
    "width": {
        **BASE,
        "about": "hidden width: 128 vs 256 units (one hidden layer)",
        "grid": {"model": ["mlp:128", "mlp:256"]},
    },
    "depth": {
        **BASE,
        "about": "depth: one, two and three hidden layers of 128",
        "grid": {"model": ["mlp:128", "mlp:128,128", "mlp:128,128,128"]},
    },
    "init": {
        **BASE,
        "about": "initialisation: 0.01 N(0,1) vs Glorot vs He",
        "grid": {"init": ["small_normal", "glorot_uniform", "he_normal"]},
    },
    "optimizer": {
        **BASE,
        "about": "optimizer: SGD vs Adam vs RMSprop (Keras default learning rates)",
        "grid": {"optimizer": ["sgd", "adam", "rmsprop"]},
    },
    "lr": {**BASE, "about": "Adam's learning rate", "grid": {"lr": [1e-4, 1e-3, 1e-2]}},
    "batch": {
        **BASE,
        "epochs": 10,
        "about": "full batch vs mini-batches of 128 and 32 (same epochs)",
        "grid": {"batch_size": ["full", 128, 32]},
    },
    "dropout": {
        **BASE,
        "about": "dropout after every hidden layer",
        "grid": {"model": [DEFAULT_MODEL, f"{DEFAULT_MODEL}/dropout=0.2", f"{DEFAULT_MODEL}/dropout=0.5"]},
    },
    "l2": {**BASE, "about": "L2 penalty on kernels", "grid": {"l2": [0.0, 1e-4, 1e-3]}},
    "loss": {
        **BASE,
        "about": "cross-entropy vs MSE with L2",
        "grid": {"variant": ["cross-entropy", "mse+l2"]},
        "variants": {"cross-entropy": {"loss": "categorical_crossentropy"}, "mse+l2": {"loss": "mse", "l2": 5e-6}},
    },
    "activation": {
        **BASE,
        "about": "hidden activation: relu vs tanh vs sigmoid",
        "grid": {"model": ["mlp:256,128,64/act=relu", "mlp:256,128,64/act=tanh", "mlp:256,128,64/act=sigmoid"]},
    },
    "blend": {
        **BASE,
        "about": "the blended update W <- (1 - alpha) W_new + alpha W_old",
        "grid": {"alpha": [0.0, 0.25, 0.5, 0.75, 1.0]},
    },
    "numpy-33": {
        "about": "the from-scratch set-up that reached 33% (128 relu, 0.01 N(0,1), full-batch GD, lr 0.01, "
        "50 epochs) in every engine from the same weights, beside He + Adam + mini-batches of 128 (5 epochs)",
        "model": "mlp:128",
        "epochs": 50,
        "grid": {"variant": ["numpy-33", "he+adam+minibatch"], "engine": ["scratch", "tape", "fit"]},
        "variants": {
            "numpy-33": {"init": "small_normal", "optimizer": "sgd", "lr": 0.01, "batch_size": "full"},
            "he+adam+minibatch": {
                "init": "he_normal",
                "optimizer": "adam",
                "lr": 0.001,
                "batch_size": 128,
                "epochs": 5,
            },
        },
    },
}


def preset(name: str) -> dict:
    try:
        doc = dict(PRESETS[name])
    except KeyError:
        raise BplabError(f"--preset: unknown preset {name!r} (choose from {', '.join(PRESETS)})") from None
    doc.pop("about", None)
    return doc
