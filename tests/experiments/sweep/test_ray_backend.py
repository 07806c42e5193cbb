"""Sweeps on a real Ray cluster, started as users start one: ``ray start --head`` with a token in
``~/.ray/auth_token``, so the cluster uses token authentication. ``--address HOST:PORT`` and
``--address auto`` give the local backend's numbers bit for bit; a Ray worker killed with SIGKILL in
the middle of a run is retried and the sweep ends with the same numbers; a wrong token and an address
where nothing listens are one line and exit code 2.

The cluster lives in its own temporary HOME and Ray temp dir, in its own process session; it is
stopped by killing that session's processes, never with ``ray stop`` (which stops every Ray on the
machine, a user's own included)."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import bplab, bplab_background, bplab_env
from helpers.runs import weights

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cluster's processes are found in /proc"),
]

RAY = Path(sys.executable).with_name("ray")
RAY_SETTINGS = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_TMPDIR")
TINY = [
    "--grid",
    "optimizer=sgd,adam",
    "--seeds",
    "1",
    "--data",
    "digits",
    "--model",
    "mlp:32",
    "--epochs",
    "1",
    "--quiet",
]
LONG = [
    "--grid",
    "optimizer=sgd,adam",
    "--seeds",
    "1",
    "--data",
    "digits",
    "--model",
    "mlp:128,64",
    "--batch-size",
    "16",
    "--epochs",
    "20",
    "--quiet",
]  # a few seconds per run: long enough to be killed in


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (session, command line) of every live process (zombies left out)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if state not in "ZX":
            found[int(entry.name)] = (int(session), cmdline)
    return found


@dataclass
class Cluster:
    address: str  # HOST:PORT of the head, as a user passes it
    env: dict  # what the user's shell holds: HOME with ~/.ray/auth_token, Ray's temp dir
    session: int  # the process session that every process of the cluster is in
    root: Path

    def pids(self, title: str = "") -> list[int]:
        return [
            pid
            for pid, (session, cmdline) in processes().items()
            if (session == self.session or str(self.root) in cmdline) and cmdline.startswith(title)
        ]

    def stop(self) -> None:
        deadline = time.monotonic() + 30
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        assert not self.pids(), "Ray processes survived the stop"


@pytest.fixture(scope="module")
def cluster():
    import matplotlib  # its font cache is kept across the temporary HOME

    root = Path(tempfile.mkdtemp(prefix="bplab-ray-"))  # short: Ray's sockets live under it (108-byte paths)
    try:
        home = root / "home"
        (home / ".ray").mkdir(parents=True)
        (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))  # as `ray get-auth-token --generate` does
        env = {
            "HOME": str(home),
            "RAY_TMPDIR": str(root),
            "MPLCONFIGDIR": matplotlib.get_cachedir(),
            "BPLAB_OFFLINE": "1",
            "BPLAB_CACHE": str(root / "cache"),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        port, client_port, dashboard_port, agent_port = free_ports(4)  # their defaults would clash with another Ray
        command = [
            RAY,
            "start",
            "--head",
            "--port",
            port,
            "--num-cpus",
            "2",
            "--node-ip-address",
            "127.0.0.1",
            "--include-dashboard",
            "false",
            "--temp-dir",
            root / "ray",
            "--disable-usage-stats",
            "--ray-client-server-port",
            client_port,
            "--dashboard-port",
            dashboard_port,
            "--dashboard-agent-listen-port",
            agent_port,
        ]
        with pytest.MonkeyPatch.context() as patch:
            for name in RAY_SETTINGS:  # the developer's own Ray settings stay out
                patch.delenv(name, raising=False)
            start = subprocess.Popen(
                [str(a) for a in command],
                env=bplab_env(env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            cluster = Cluster(f"127.0.0.1:{port}", env, start.pid, root)
            try:
                output = start.communicate(timeout=120)[0]
                assert start.returncode == 0, output
                assert "Token authentication is enabled" in output, output  # the case that needs a token
                yield cluster
            finally:  # whatever happened: every process of the cluster is killed
                if start.poll() is None:
                    start.kill()
                    start.wait()
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def sweep(*args, cluster: Cluster, timeout: int = 180) -> subprocess.CompletedProcess:
    return bplab("sweep", *args, env_extra=cluster.env, timeout=timeout)


@pytest.fixture(scope="module")
def local_tiny(cluster, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "tiny"
    result = sweep(*TINY, "--out", out, cluster=cluster)
    assert result.returncode == 0, result.stderr
    return out


def run_folders(out: Path) -> list[Path]:
    return sorted(p.parent.relative_to(out) for p in out.glob("*/seed*/model.json"))


def assert_same_runs(local: Path, remote: Path) -> None:
    assert run_folders(remote) == run_folders(local) and run_folders(local)
    for folder in run_folders(local):
        a, b = weights(local / folder), weights(remote / folder)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), folder
        assert (
            json.loads((local / folder / "history.json").read_text())["step_loss"]
            == json.loads((remote / folder / "history.json").read_text())["step_loss"]
        ), folder
    accs = [[row["cell"], row["seed"], row["test_acc"]] for row in csv.DictReader((local / "results.csv").open())]
    assert [
        [row["cell"], row["seed"], row["test_acc"]] for row in csv.DictReader((remote / "results.csv").open())
    ] == accs


def test_host_port_under_token_authentication_equals_the_local_backend(cluster, local_tiny, tmp_path):
    result = sweep(*TINY, "--backend", "ray", "--address", cluster.address, "--out", tmp_path / "ray", cluster=cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_runs(local_tiny, tmp_path / "ray")


def test_address_auto_equals_the_local_backend(cluster, local_tiny, tmp_path):
    result = sweep(*TINY, "--backend", "ray", "--address", "auto", "--out", tmp_path / "ray", cluster=cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_runs(local_tiny, tmp_path / "ray")


def test_a_worker_killed_in_the_middle_of_a_run_is_retried_and_changes_nothing(cluster, tmp_path):
    reference, out = tmp_path / "local", tmp_path / "ray"
    assert sweep(*LONG, "--out", reference, cluster=cluster).returncode == 0
    proc = bplab_background(
        "sweep", *LONG, "--backend", "ray", "--address", cluster.address, "--out", out, env_extra=cluster.env
    )
    try:
        end = time.monotonic() + 120
        while not (running := cluster.pids("ray::train_task")):  # a worker process while it runs a task
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < end, "no Ray worker ever ran a run"
            time.sleep(0.02)
        victim = running[0]
        os.kill(victim, signal.SIGKILL)
        finished_before = len(run_folders(out)) if out.is_dir() else 0
        stderr = proc.communicate(timeout=180)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert finished_before < 2 and victim not in processes()  # killed before the sweep was done, and dead
    assert_same_runs(reference, out)


def test_a_wrong_token_is_one_line_naming_the_token_and_the_way_out(cluster, tmp_path):
    env = {
        **cluster.env,
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_gcs_server_port_wait_time_s": "1",
    }  # Ray's connect window: ~20 s by default
    result = bplab(
        "sweep",
        *TINY,
        "--backend",
        "ray",
        "--address",
        cluster.address,
        "--out",
        tmp_path / "x",
        env_extra=env,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]  # Ray's own log lines come before it
    assert last.startswith(
        f"error: --address {cluster.address}: the Ray cluster refused the authentication token from RAY_AUTH_TOKEN"
    ), last
    assert "ray get-auth-token" in last and "RAY_AUTH_MODE=disabled" in last


def test_an_address_where_no_cluster_listens_is_one_line_and_exit_2(tmp_path, monkeypatch):
    for name in RAY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    (port,) = free_ports(1)
    result = bplab(
        "sweep", *TINY, "--backend", "ray", "--address", f"127.0.0.1:{port}", "--out", tmp_path / "x", timeout=60
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: --address 127.0.0.1:{port}: no Ray cluster answers there"), lines[0]
    assert "ray status" in lines[0] and "ray start --head" in lines[0]
