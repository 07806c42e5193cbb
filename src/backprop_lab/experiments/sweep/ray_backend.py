"""Sweeps on a Ray cluster: connecting (address, token, reachability) and running the tasks as Ray tasks."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Callable

from backprop_lab.core.errors import BplabError, first_line
from backprop_lab.experiments.sweep.tasks import RunSummary, Task, train_task
from backprop_lab.options.config import parse_batch_size
from backprop_lab.options.registry import TRAINING
from backprop_lab.runs.record import load_run, save_run
from backprop_lab.runs.workflow import inspect_run

# How a value becomes each key's: every training option (backprop_lab.options.registry.TRAINING) but ``seed`` (a sweep's
# seeds are its own setting), then the sweep's own keys. ``coerce`` also takes "default" for ``lr``.
OPTION_TYPES: dict[str, Callable] = {
    **{o.name: parse_batch_size if o.name == "batch_size" else o.value_type for o in TRAINING if o.name != "seed"},
    "model": str,
    "engine": str,
    "variant": str,
}
RAY_TASK_RETRIES = 3  # a run whose Ray worker died (killed, out of memory, node lost) is trained again, from scratch
RAY_ADDRESS_HINT = (
    "check the address (the one `ray start --head` printed: the head's IP, port 6379 unless --port) "
    "and that the cluster is up (`ray status` on the head node)"
)
RAY_TOKEN_HINT = (
    "give the cluster's token (`ray get-auth-token` on the head prints it) in RAY_AUTH_TOKEN, in a file "
    "named by RAY_AUTH_TOKEN_PATH or in ~/.ray/auth_token, or start the cluster with RAY_AUTH_MODE=disabled"
)


def _ray_endpoint(address: str | None) -> tuple[str, int] | None:
    """HOST and PORT of an explicit ``--address HOST:PORT``; None for auto, local or ray://... (Ray finds those)."""
    if address in (None, "auto", "local") or "://" in address:
        return None
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise BplabError(
            f"--address: expected HOST:PORT (the address `ray start --head` printed) or auto, got {address!r}"
        )
    return host.strip("[]"), int(port)


def _ray_token_source() -> str | None:
    """Where Ray reads a cluster's authentication token, in its order (Ray's token-auth docs): the variable
    RAY_AUTH_TOKEN, else the file RAY_AUTH_TOKEN_PATH names, else ~/.ray/auth_token; None when none holds one."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "RAY_AUTH_TOKEN"
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    path = Path(named).expanduser() if named else Path.home() / ".ray" / "auth_token"
    try:
        return str(path) if path.read_text().strip() else None
    except (OSError, UnicodeDecodeError):
        return None


def _check_reachable(endpoint: tuple[str, int], address: str) -> None:
    """One TCP connection first: Ray itself waits minutes on an address where nothing listens, logging as it goes."""

    try:
        socket.create_connection(endpoint, timeout=5).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BplabError(f"--address {address}: no Ray cluster answers there ({reason}); " + RAY_ADDRESS_HINT) from None


def _connect_to_ray(address: str | None) -> None:
    """Join the cluster at ``address`` (HOST:PORT, auto, ray://...) or, without one, start a local Ray.

    A cluster started with ``ray start --head`` uses token authentication whenever its head found a token
    (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token). Ray's driver sends the token for ``auto`` but not
    for an explicit HOST:PORT unless RAY_AUTH_MODE=token, so that is set here when a token is at hand and
    RAY_AUTH_MODE is not (as ``ray start`` does for itself); a cluster without authentication ignores it. Ray
    reads the mode when it is imported, so this runs before ``import ray``.
    """
    loaded = sys.modules.get("ray")
    if loaded is not None and loaded.is_initialized():  # this process joined a cluster already: that one is used
        return
    endpoint = _ray_endpoint(address)
    if endpoint is not None:
        _check_reachable(endpoint, address)
    token = _ray_token_source()
    too_late = False  # Ray imported before this call has read RAY_AUTH_MODE already
    if endpoint is not None and token is not None and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        too_late = loaded is not None
    try:
        import ray
    except ImportError:
        raise BplabError('--backend ray: Ray is not installed (pip install "backprop-lab[ray]")') from None
    where = f"--address {address}" if address else "--backend ray"
    no_token = getattr(ray.exceptions, "AuthenticationError", ())  # Ray before token authentication has none
    try:
        ray.init(address=address, log_to_driver=False)
    except no_token:  # token mode and no token anywhere
        raise BplabError(
            f"{where}: the Ray cluster wants an authentication token and none was found; " + RAY_TOKEN_HINT
        ) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        chain, cause = [], exc
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__ or cause.__context__
        if any("InvalidAuthToken" in text or "Unauthenticated" in text for text in chain):
            if too_late:
                raise BplabError(
                    f"{where}: the Ray cluster wants an authentication token and Ray was imported before "
                    "bplab could turn it on: set RAY_AUTH_MODE=token before Ray is imported"
                ) from None
            if token and os.environ.get("RAY_AUTH_MODE") == "token":
                raise BplabError(
                    f"{where}: the Ray cluster refused the authentication token from {token} (not the "
                    "cluster's); " + RAY_TOKEN_HINT
                ) from None
            raise BplabError(
                f"{where}: the Ray cluster wants an authentication token and none was sent; " + RAY_TOKEN_HINT
            ) from None
        raise BplabError(f"{where}: cannot connect to a Ray cluster ({first_line(exc)}); " + RAY_ADDRESS_HINT) from None


def run_on_ray(tasks: list[Task], address: str | None, on_done) -> list[RunSummary]:
    _connect_to_ray(address)
    import ray

    # A task is a pure function of its Task: one whose worker died is run again from the start, same numbers.
    remote = ray.remote(max_retries=RAY_TASK_RETRIES, retry_exceptions=False)(train_task)
    pending, summaries = {}, []
    for task in tasks:
        folder = Path(task.folder)
        if folder.is_dir() and inspect_run(folder).complete:  # finished earlier: skipped
            summaries.append(RunSummary.of(task, load_run(folder)))
            on_done(summaries[-1])
        else:
            pending[remote.remote(task)] = task
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(done[0])
        try:
            run = ray.get(done[0])
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, BplabError):
                raise BplabError(f"{task.cell}, seed {task.seed}: {exc.cause}") from None
            raise  # a bug in a run: its traceback
        except ray.exceptions.RayError as exc:  # its worker or node died more often than Ray retries
            raise BplabError(
                f"{task.cell}, seed {task.seed}: lost on the Ray cluster after {RAY_TASK_RETRIES} retries "
                f"({first_line(exc)}); the finished runs are saved, the same command resumes"
            ) from None
        save_run(run, Path(task.folder), force=True)
        summaries.append(RunSummary.of(task, run))
        on_done(summaries[-1])
    return summaries
