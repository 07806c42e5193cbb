"""The speed benchmark's pieces: FLOP counting from the shapes, and one worker per kind of engine."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench  # noqa: E402
import speed  # noqa: E402

from backprop_lab.spec.model import parse_model  # noqa: E402


def test_epoch_flops_counts_forward_and_backward_matrix_products():
    spec = parse_model("mlp:256,128", (28, 28, 1), 10)
    n = 1000
    layers = [(784, 256), (256, 128), (128, 10)]
    forward = [2 * n * a * b for a, b in layers]
    # the first layer needs no input gradient: 2x forward; the others 3x
    assert speed.epoch_flops(spec, n) == pytest.approx(2 * forward[0] + 3 * forward[1] + 3 * forward[2])
    cnn = parse_model("cnn:4", (8, 8, 1), 10)
    conv = 2 * n * 6 * 6 * 9 * 1 * 4
    dense = 2 * n * (3 * 3 * 4) * 10
    assert speed.epoch_flops(cnn, n) == pytest.approx(2 * conv + 3 * dense)
    # a conv whose output a 2x2 pool does not tile: only the 6 x 6 of its 7 x 7 outputs the pool reads
    cropped = parse_model("cnn:4", (9, 9, 1), 10)
    assert cropped.infos[0].output_shape == (7, 7, 4)
    assert speed.epoch_flops(cropped, n) == pytest.approx(2 * conv + 3 * dense)


@pytest.mark.parametrize(
    "model, shape",
    [("cnn:32,64,64", (28, 28, 1)), ("cnn:16,32", (32, 32, 3)), ("cnn:8,8", (23, 23, 2)), ("mlp:64,32", (28, 28, 1))],
)
def test_the_product_floor_runs_the_steps_products_at_their_flops(model, shape):
    import numpy as np

    spec = parse_model(model, shape, 10)
    pairs = speed.product_operands(spec, 8)
    flops = 0
    for a, b in pairs:
        product = np.matmul(a, b)
        flops += 2 * product.size * a.shape[-1]
    assert flops == pytest.approx(speed.epoch_flops(spec, 8))
    if model.startswith("cnn"):  # the first layer's small weight gradient, image by image, as the layer takes it
        assert pairs[1][0].ndim == 3 and len(pairs[1][0]) == 8


def test_the_floor_job_also_times_adams_update_alone_and_the_table_adds_it_to_the_floor():
    floor = speed.floor_job({"data": "digits", "model": "mlp:32", "batch_size": 64})
    assert floor["step_s"] > 0 and floor["optimizer_step_s"] > 0
    assert floor["optimizer_epoch_s"] == pytest.approx(floor["optimizer_step_s"] * floor["steps_per_epoch"])
    result = _speed_result(0.93, 0.8)
    result["mlp"]["product_floor"] = {
        "epoch_s": 0.4,
        "step_s": 0.4 / 469,
        "steps_per_epoch": 469,
        "optimizer_epoch_s": 0.05,
    }
    result["mlp"]["scratch_fastest_vs_floor"], result["mlp"]["floor_and_optimizer_vs_floor"] = 2.0, 1.125
    table = bench.markdown({"date": "2026-01-01", "machine": "m", "versions": "v", "speed": result})
    assert "| mlp:8 | product floor + Adam's update alone (no step takes less) | | 0.450 | / floor 1.12 | | |" in table
    assert "| cnn:8 | product floor + Adam" not in table  # only where the run measured it


def test_alternating_rounds_report_medians_and_ratios_of_the_scratch_step():
    import layers_bench

    summary = layers_bench.summary(
        {"scratch": [0.002, 0.004, 0.003], "keras": [0.004, 0.008, 0.005], "floor": [0.001, 0.002, 0.001]}
    )
    assert summary["rounds"] == 3 and summary["median_step_s"] == {"scratch": 0.003, "keras": 0.005, "floor": 0.001}
    assert summary["scratch_vs_keras"] == pytest.approx(0.6) and summary["scratch_vs_floor"] == pytest.approx(3.0)
    assert summary["scratch_vs_keras_fastest"] == pytest.approx(0.5) and summary["scratch_vs_floor_fastest"] == 2.0
    measured = layers_bench.alternate("mlp:16", 32, 3, 2, keras=False)  # real worker processes
    assert measured["rounds"] == 2 and "keras" not in measured["median_step_s"]
    assert measured["median_step_s"]["scratch"] > measured["median_step_s"]["floor"] > 0


def test_the_step_by_step_figures_get_their_table_and_target_rows():
    result = _speed_result(0.93, 0.8)
    for net, (vs_keras, vs_floor) in {"mlp": (0.34, 1.74), "cnn": (0.57, 1.56)}.items():
        result[net]["alternating"] = {
            "rounds": 9,
            "steps_per_round": 60,
            "scratch_vs_keras": vs_keras,
            "scratch_vs_floor": vs_floor,
            "scratch_vs_keras_fastest": vs_keras - 0.05,
            "scratch_vs_floor_fastest": vs_floor - 0.1,
            "median_step_s": {"scratch": 0.004, "keras": 0.007, "floor": 0.0025},
            "fastest_step_s": {"scratch": 0.0035, "keras": 0.0065, "floor": 0.0024},
        }
    for net in ("mlp", "cnn"):
        result[net].update(
            {
                "fastest_vs_stock": {"scratch": 0.5},
                "scratch_fastest_vs_stock_first": 0.5,
                "scratch_fastest_vs_floor": 2.0,
            }
        )
    rows = {r.split(" | ")[0].lstrip("| "): r for r in bench.target_rows({"speed": result})}
    assert rows[
        "CNN, step by step: scratch step / stock Keras fit's step <= 0.7 (medians of alternating rounds)"
    ].endswith("| 0.57 | yes |")
    assert rows["MLP, step by step: scratch step / product floor <= 1.25"].endswith("| 1.74 | no |")
    assert rows["MLP, step by step: scratch step / stock Keras fit's step <= 0.3"].endswith("| 0.34 | no |")
    table = bench.markdown({"date": "2026-01-01", "machine": "m", "versions": "v", "speed": result})
    assert "| cnn:8 | 4.00 (3.50) | 7.00 (6.50) | 2.50 (2.40) | 0.57 (0.52) | 1.56 (1.46) |" in table


@pytest.mark.parametrize("engine", ["scratch", "stock"])
def test_a_worker_reports_times_accuracy_and_memory(engine):
    if engine == "stock":
        pytest.importorskip("tensorflow")
    result = speed.measure(
        {"kind": "train", "engine": engine, "data": "digits", "model": "mlp:32", "batch_size": 64, "epochs": 2}
    )
    assert len(result["epoch_s"]) == 2 and result["steady_epoch_s"] > 0 and result["first_epoch_s"] > 0
    assert 0.3 < result["test_acc"] <= 1.0 and result["peak_rss_mb"] > 10 and result["flops_per_epoch"] > 0


def _speed_result(cnn_scratch: float, mlp_fraction: float) -> dict:
    engines = {
        e: {"first_epoch_s": 1.0, "steady_epoch_s": 1.0, "test_acc": 0.9, "peak_rss_mb": 700.0} for e in speed.ENGINES
    }

    def net(model, scratch_ratio, fraction):
        return {
            "setup": {"model": model},
            "engines": engines,
            "scratch_gflops": 100 * fraction,
            "scratch_fraction_of_sgemm": fraction,
            "ratio_vs_stock": {"stock": 1.0, "fit": 0.6, "tape": 1.2, "scratch": scratch_ratio},
        }

    return {
        "data": "d",
        "sgemm_gflops": 100.0,
        "mlp": net("mlp:8", 0.3, mlp_fraction),
        "cnn": net("cnn:8", cnn_scratch, 0.1),
    }


def test_the_targets_table_says_met_or_not_from_the_figures():
    rows = {r.split(" | ")[0].lstrip("| "): r for r in bench.target_rows({"speed": _speed_result(0.93, 0.8)})}
    assert rows["CNN: scratch epoch / stock Keras fit <= 1.0"].endswith("| 0.93 | yes |")
    assert rows["MLP: scratch GFLOP/s >= 75% of sgemm"].endswith("| 80% | yes |")
    assert rows["MLP: our tape epoch / stock Keras fit <= 1.1"].endswith("| 1.20 | no |")
    assert rows["MLP: peak resident memory < 1500 MB (largest engine)"].endswith("| 700 MB | yes |")
    slow = {r.split(" | ")[0].lstrip("| "): r for r in bench.target_rows({"speed": _speed_result(1.4, 0.3)})}
    assert slow["CNN: scratch epoch / stock Keras fit <= 1.0"].endswith("| 1.40 | no |")
    assert slow["MLP: scratch GFLOP/s >= 75% of sgemm"].endswith("| 30% | no |")
    table = bench.markdown({"date": "2026-01-01", "machine": "m", "versions": "v", "speed": _speed_result(0.93, 0.8)})
    assert "Targets (ratios taken in this run)" in table and "| cnn:8 | scratch |" in table


def test_the_fraction_of_sgemm_uses_the_runs_highest_reading(capsys):
    """sgemm is read several times in a speed run; a reading taken while the host was slow must not flatter
    the scratch engine's fraction of it: the fraction is of the highest reading, and the table gives the range."""
    out = speed.with_sgemm({"mlp": {"scratch_gflops": 90.0}, "cnn": {"scratch_gflops": 45.0}}, [100.0, 180.0, 150.0])
    assert out["sgemm_gflops"] == 180.0 and out["sgemm_readings"] == [100.0, 180.0, 150.0]
    assert out["mlp"]["scratch_fraction_of_sgemm"] == pytest.approx(0.5)
    assert out["cnn"]["scratch_fraction_of_sgemm"] == pytest.approx(0.25)
    assert "50% of sgemm's 180" in capsys.readouterr().out
    assert bench.sgemm_phrase(out) == (
        "sgemm in this run: 100-180 GFLOP/s over 3 readings; the fractions of sgemm use the highest, 180"
    )
    assert bench.sgemm_phrase({"sgemm_gflops": 87.4}) == "sgemm in this run: 87 GFLOP/s"  # an older run's results


def test_a_quick_run_never_replaces_the_full_figures(tmp_path):
    """--quick writes results-quick.*; --only refuses to merge quick figures into a file of full ones."""
    import json
    import shutil
    import subprocess

    here = Path(bench.__file__).parent
    for name in ("bench.py", "speed.py"):
        shutil.copy(here / name, tmp_path / name)
    full = tmp_path / "results.json"
    full.write_text(json.dumps({"date": "2026-01-01", "quick": False, "speed": {"date": "2026-01-01"}}) + "\n")
    before = full.read_text()

    def run(*args):
        return subprocess.run(
            [sys.executable, str(tmp_path / "bench.py"), "--quick", "--only", "scratch_mlp", *args],
            capture_output=True,
            text=True,
            env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )

    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert full.read_text() == before
    quick = json.loads((tmp_path / "results-quick.json").read_text())
    assert quick["quick"] is True and "scratch_mlp" in quick and "speed" not in quick
    assert (tmp_path / "results-quick.md").is_file()

    mixed = run("--out", str(full))
    assert mixed.returncode == 2 and "Traceback" not in mixed.stderr
    assert "results.json" in mixed.stderr and "mix" in mixed.stderr
    assert full.read_text() == before


@pytest.mark.parametrize("args,code", [(["--help"], 0), (["nonsense"], 2), ([], 2), (['{"no": "kind"}'], 2)])
def test_the_speed_worker_explains_itself_and_refuses_bad_jobs_in_one_line(args, code):
    import subprocess

    done = subprocess.run([sys.executable, speed.__file__, *args], capture_output=True, text=True)
    assert done.returncode == code and "Traceback" not in done.stderr
    if code:
        assert len(done.stderr.strip().splitlines()) == 1 and "expected one JSON job" in done.stderr
    else:
        assert "usage:" in done.stdout and "bench.py" in done.stdout


def test_layers_bench_against_keras_prints_no_tensorflow_start_up_lines():
    """Its Keras worker writes straight to our terminal (and into make bench's output): TensorFlow's absl and
    oneDNN lines must not land there."""
    import os
    import subprocess

    pytest.importorskip("tensorflow")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    done = subprocess.run(
        [
            sys.executable,
            str(Path(bench.__file__).parent / "layers_bench.py"),
            "--model",
            "mlp:8",
            "--batch",
            "16",
            "--steps",
            "2",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio scratch / keras" in done.stdout
    for line in ("absl::InitializeLog", "oneDNN custom operations"):
        assert line not in done.stderr and line not in done.stdout


def test_an_unsteady_host_is_named_in_the_printout_and_the_table():
    """Steady epochs of one engine that differ by more than UNSTEADY (a shared host lending half its cores
    for a while) make the table say the epoch ratios are unreliable, naming the engine and its range."""
    runs = [
        {
            "epoch_s": [1.0, 0.55, 0.56, 1.15],
            "first_epoch_s": 1.0,
            "test_acc": 0.9,
            "peak_rss_mb": 1.0,
            "flops_per_epoch": 1.0,
        },
        {
            "epoch_s": [0.9, 0.54, 0.58],
            "first_epoch_s": 0.9,
            "test_acc": 0.9,
            "peak_rss_mb": 1.0,
            "flops_per_epoch": 1.0,
        },
    ]
    rows = {"stock": speed.combine([{**runs[1], "epoch_s": [2.0, 1.50, 1.52]}]), "scratch": speed.combine(runs)}
    assert rows["scratch"]["steady_range_s"] == [0.54, 1.15]
    st = speed.steadiness(rows)
    assert st["engine"] == "scratch" and st["ratio"] == pytest.approx(1.15 / 0.54) and not st["steady"]
    result = _speed_result(0.93, 0.8)
    result["mlp"]["steadiness"] = st
    result["cnn"]["steadiness"] = speed.steadiness({"stock": rows["stock"]})
    table = bench.markdown({"date": "2026-01-01", "machine": "m", "versions": "v", "speed": result})
    assert (
        "mlp:8: Host NOT steady: the steady epochs of scratch ranged 0.540-1.150 s (2.13x, the widest of the 2 engines)"
    ) in table
    assert "cnn:8: Host steady: the steady epochs of stock Keras fit ranged 1.500-1.520 s (1.01x)." in table
    assert speed.steadiness({"stock": {"steady_epoch_s": 1.0}}) is None  # figures from before the range was kept


def _openblas_can_run_haswell_kernels() -> bool:
    """NumPy's BLAS is OpenBLAS, on an x86-64 CPU with AVX2 (what its Haswell kernels need)."""
    from threadpoolctl import threadpool_info

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        avx2 = " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return avx2 and any(lib.get("internal_api") == "openblas" for lib in threadpool_info())


@pytest.mark.skipif(not _openblas_can_run_haswell_kernels(), reason="needs OpenBLAS on an x86-64 CPU with AVX2")
def test_the_results_name_the_blas_kernels_and_the_variables_that_chose_them():
    """The figures depend on the kernels OpenBLAS runs: the results say which, and whether an environment
    variable chose them rather than OpenBLAS's CPU detection."""
    import os
    import subprocess

    here = Path(bench.__file__).parent
    base = {k: v for k, v in os.environ.items() if k not in speed.BLAS_OVERRIDES}

    def described(**extra):
        done = subprocess.run(
            [sys.executable, "-c", "import speed; print(speed.blas())"],
            cwd=here,
            capture_output=True,
            text=True,
            env={**base, **extra},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    forced = described(OPENBLAS_CORETYPE="Haswell")
    assert "(Haswell kernels" in forced and "OPENBLAS_CORETYPE=Haswell set" in forced
    assert "kernels chosen by OPENBLAS_CORETYPE" in forced
    tuned = described(OPENBLAS_L2_SIZE="512")
    assert "OPENBLAS_L2_SIZE=512 set" in tuned and "chosen by" not in tuned
    detected = described()
    assert " kernels, " in detected and "chosen by" not in detected and "OPENBLAS" not in detected


def test_make_bench_clears_the_blas_overrides_for_its_run_unless_told_to_keep_them(tmp_path):
    """make bench measures what a user's machine runs: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set on some
    machines for old OpenBLAS builds, are cleared for its run; ``BENCH_ENV=`` keeps them. A stand-in python
    prints the environment make hands it."""
    import os
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("no make")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\nenv\n")
    (fake / "python").chmod(0o755)
    root = Path(bench.__file__).parents[1]
    env = {
        **{k: v for k, v in os.environ.items() if k != "BENCH_ENV"},
        "OPENBLAS_CORETYPE": "Haswell",
        "OPENBLAS_L2_SIZE": "512",
    }
    stamp, bench_stamp = tmp_path / "installed", tmp_path / "installed-bench"  # newer: make installs nothing
    later = (root / "pyproject.toml").stat().st_mtime + 3600
    for path, when in ((stamp, later), (bench_stamp, later + 1)):
        path.touch()
        os.utime(path, (when, when))

    def bench_env(*args):
        done = subprocess.run(
            [
                "make",
                "-s",
                "-C",
                str(root),
                "bench",
                f"BIN={fake}",
                f"STAMP={stamp}",
                f"BENCH_STAMP={bench_stamp}",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    cleared = bench_env()
    assert cleared.get("TF_CPP_MIN_LOG_LEVEL") == "3"
    assert not set(speed.BLAS_OVERRIDES) & set(cleared)
    kept = bench_env("BENCH_ENV=")
    assert kept.get("OPENBLAS_CORETYPE") == "Haswell" and kept.get("OPENBLAS_L2_SIZE") == "512"


def test_figures_kept_from_a_run_with_other_blas_kernels_say_so():
    """--only keeps older figures beside new ones: where the older ones ran other BLAS kernels, the table says so."""
    result = _speed_result(0.93, 0.8)
    same = bench.markdown(
        {
            "date": "2026-01-02",
            "machine": "m",
            "versions": "v",
            "blas": "openblas (SkylakeX kernels)",
            "speed": {**result, "blas": "openblas (SkylakeX kernels)"},
        }
    )
    assert "another BLAS" not in same
    other = bench.markdown(
        {
            "date": "2026-01-02",
            "machine": "m",
            "versions": "v",
            "blas": "openblas (SkylakeX kernels)",
            "speed": {**result, "blas": "openblas (Haswell kernels)"},
        }
    )
    assert "Measured with another BLAS: speed: openblas (Haswell kernels)." in other
