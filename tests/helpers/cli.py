"""Run the real ``bplab`` command as a user does: a subprocess, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys

BPLAB = [sys.executable, "-c", "from backprop_lab.cli import main; main()"]


def bplab_env(extra: dict | None = None) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(extra or {})}


def bplab(*args, cwd=None, env_extra=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(
        BPLAB + [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=bplab_env(env_extra),
        timeout=timeout,
    )


def bplab_background(*args, cwd=None, env_extra=None) -> subprocess.Popen:
    return subprocess.Popen(
        BPLAB + [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=bplab_env(env_extra),
    )
