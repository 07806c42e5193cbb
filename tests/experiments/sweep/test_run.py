"""Sweeps: grids from the command line and from TOML files, results with statistics, restart
after a kill, local processes and Ray giving the same numbers, and every preset."""

from __future__ import annotations

import csv
import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import bplab, bplab_background
from helpers.runs import weights

from backprop_lab.experiments.presets import preset
from backprop_lab.experiments.sweep import SweepPlan, plan_from_document, run_sweep

GRID = [
    "--grid",
    "optimizer=sgd,adam",
    "--grid",
    "init=he_normal,small_normal",
    "--seeds",
    "2",
    "--data",
    "digits",
    "--epochs",
    "2",
    "--quiet",
]


def run_folders(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/seed*/model.json"))


def test_sweep_writes_results_with_statistics(tmp_path):
    out = tmp_path / "sweep"
    result = bplab("sweep", *GRID, "--out", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 4 * 2 and {r["seed"] for r in rows} == {"0", "1"}
    assert len(run_folders(out)) == 8
    table = (out / "results.md").read_text()
    assert "±" in table and "95% interval" in table and "baseline" in table
    doc = json.loads((out / "sweep.json").read_text())
    cells = {c["cell"]: c for c in doc["cells"]}
    adam = cells["optimizer=adam,init=he_normal"]
    assert adam["welch_p_vs_baseline"] is not None and adam["test_acc_mean"] > 0.5
    accs = [float(r["test_acc"]) for r in rows if r["cell"] == "optimizer=adam,init=he_normal"]
    assert adam["test_acc_mean"] == pytest.approx(np.mean(accs)) and adam["test_acc_std"] == pytest.approx(
        np.std(accs, ddof=1)
    )
    for picture in ("curves.png", "accuracy.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_killed_sweep_restarted_skips_finished_runs_and_resumes_the_rest(tmp_path):
    args = [
        "sweep",
        "--grid",
        "optimizer=sgd,adam",
        "--seeds",
        "2",
        "--data",
        "mnist-5k",
        "--model",
        "mlp:64",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--quiet",
    ]
    reference = tmp_path / "reference"
    assert bplab(*args, "--out", reference).returncode == 0
    out = tmp_path / "killed"
    proc = bplab_background(*args, "--out", out)
    end = time.monotonic() + 300
    while not run_folders(out):  # kill once the first run has finished; the second is under way
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < end
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p: (p / "weights.npz").stat().st_mtime_ns for p in run_folders(out)}
    assert 1 <= len(finished) < 4
    assert bplab(*args, "--out", out).returncode == 0
    for folder, mtime in finished.items():  # finished runs were skipped, not trained again
        assert (folder / "weights.npz").stat().st_mtime_ns == mtime
    for folder in run_folders(reference):
        twin = out / folder.relative_to(reference)
        ours, theirs = weights(twin), weights(folder)
        assert all(np.array_equal(ours[k], theirs[k]) for k in theirs), twin


def test_a_different_sweep_in_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "sweep"
    assert (
        bplab(
            "sweep",
            "--grid",
            "lr=0.1,0.01",
            "--optimizer",
            "sgd",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--quiet",
            "--out",
            out,
        ).returncode
        == 0
    )
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = bplab("sweep", "--grid", "lr=0.5", "--data", "digits", "--epochs", "1", "--seeds", "1", "--out", out)
    assert result.returncode == 2 and "holds a different sweep" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def _small_plan() -> SweepPlan:
    return plan_from_document(
        {"data": "digits", "epochs": 2, "model": "mlp:32", "seeds": 2, "grid": {"optimizer": ["sgd", "adam"]}}, "test"
    )


@pytest.mark.slow
def test_local_processes_give_the_same_numbers_as_one_process(tmp_path):
    one = run_sweep(_small_plan(), tmp_path / "one", jobs=1)
    two = run_sweep(_small_plan(), tmp_path / "two", jobs=2)
    for folder in run_folders(tmp_path / "one"):
        a, b = weights(folder), weights(tmp_path / "two" / folder.relative_to(tmp_path / "one"))
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [c.accs for c in one.cells] == [c.accs for c in two.cells]


@pytest.mark.slow
def test_ray_backend_equals_the_local_backend_bit_for_bit(tmp_path):
    ray = pytest.importorskip("ray")
    local = run_sweep(_small_plan(), tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_sweep(_small_plan(), tmp_path / "ray", backend="ray")
    finally:
        ray.shutdown()
    for folder in run_folders(tmp_path / "local"):
        twin = tmp_path / "ray" / folder.relative_to(tmp_path / "local")
        a, b = weights(folder), weights(twin)
        assert all(np.array_equal(a[k], b[k]) for k in a), twin
        assert (
            json.loads((folder / "history.json").read_text())["step_loss"]
            == json.loads((twin / "history.json").read_text())["step_loss"]
        )
    assert [c.accs for c in local.cells] == [c.accs for c in remote.cells]


@pytest.mark.slow
def test_numpy_33_every_engine_gets_the_same_low_accuracy_from_the_same_set_up(tmp_path):
    plan = plan_from_document({**preset("numpy-33"), "seeds": 1, "epochs": 30}, "numpy-33", data="digits")
    result = run_sweep(plan, tmp_path / "n33")
    acc = {c.cell.name: c.mean for c in result.cells}
    low = [acc[f"variant=numpy-33,engine={e}"] for e in ("scratch", "tape", "fit")]
    good = [acc[f"variant=he+adam+minibatch,engine={e}"] for e in ("scratch", "tape", "fit")]
    assert max(low) - min(low) <= 0.01, low  # the engines agree: the set-up is the cause
    assert min(good) - max(low) > 0.3, (low, good)


def test_the_interval_of_an_accuracy_stays_within_0_and_1_in_every_output(tmp_path):
    from backprop_lab.experiments.sweep import Cell, CellResult, RunSummary, SweepResult

    def cell(name, accs):
        runs = [RunSummary(name, i, f"{name}/seed{i}", a, 0.1, 0.1, 1, 1.0, [a], [0.1]) for i, a in enumerate(accs)]
        return CellResult(Cell(name, {"lr": name}, {}), runs)

    high, low = cell("high", [1.0, 0.9]), cell("low", [0.0, 0.1])
    assert high.mean + high.ci95 > 1 and low.mean - low.ci95 < 0  # the t-interval itself leaves [0, 1] here
    assert high.interval == (pytest.approx(high.mean - high.ci95), 1.0)
    assert low.interval == (0.0, pytest.approx(low.mean + low.ci95))
    result = SweepResult(SweepPlan(data="digits", seeds=2), [high, low], baseline="high")
    rows = {r["cell"]: r for r in result.rows()}
    assert rows["high"]["ci95_high"] == 1.0 and rows["low"]["ci95_low"] == 0.0
    table = result.markdown()
    bounds = [float(x) for pair in re.findall(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]", table) for x in pair]
    assert len(bounds) == 4 and all(0.0 <= b <= 1.0 for b in bounds), table
    assert bounds[1] == 1.0 and bounds[2] == 0.0
