"""The TensorFlow engines: ``tape`` (tf.GradientTape loop) and ``fit`` (Keras model.fit).

Importing this package loads TensorFlow once with the process's native standard error silenced:
TensorFlow 2.21 writes start-up lines there (absl's "All log messages before absl::InitializeLog()"
and the oneDNN notice, again when it first sets up its devices) that ``TF_CPP_MIN_LOG_LEVEL`` no
longer hides, and they land in the middle of our progress output. Python errors raise as usual.
Set ``BPLAB_TF_LOGS=1`` to see them.
"""

from __future__ import annotations

import os
import sys


def _load_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("BPLAB_TF_LOGS") or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.constant(0.0).numpy()  # the device set-up prints the same lines a second time
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_load_tensorflow_quietly()
