"""The bplab command as a user runs it: output, exit codes, one-line errors, nothing lost."""

import json
import os
import subprocess
import sys

import pytest

BPLAB = [sys.executable, "-c", "from backprop_lab.cli import main; main()"]


def bplab(*args, cwd=None, env_extra=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    return subprocess.run(BPLAB + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_summary_of_reference_cnn():
    result = bplab("summary", "cnn:32,64,64", "--data", "mnist-5k")
    assert result.returncode == 0
    assert "56,394" in result.stdout and "conv2d_0 (Conv2D)" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "Layer (type)" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == [
        "Layer (type)",
        "Output Shape",
        "Param #",
        "Activation / rate",
    ]  # every column named
    as_json = json.loads(bplab("summary", "mlp:16", "--data", "digits", "--json").stdout)
    assert as_json["total"] == 64 * 16 + 16 + 16 * 10 + 10


def test_data_info_json():
    info = json.loads(bplab("data", "info", "digits", "--json").stdout)
    assert info["input_shape"] == [8, 8, 1] and info["num_classes"] == 10 and info["train"] + info["test"] == 1797


def test_train_writes_a_run_record_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "run"
    result = bplab("train", "--data", "digits", "--model", "mlp:32", "--epochs", "2", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert {"model.json", "weights.npz", "history.json", "metrics.json", "confusion.png"} <= {
        p.name for p in out.iterdir()
    }
    doc = json.loads((out / "model.json").read_text())
    assert doc["spec"]["layers"][-1]["units"] == 10 and doc["config"]["optimizer"] == "adam"
    before = (out / "weights.npz").read_bytes()
    again = bplab("train", "--data", "digits", "--model", "mlp:32", "--epochs", "1", "--out", out)
    assert_one_line_error(again, "already holds files")
    assert (out / "weights.npz").read_bytes() == before


def test_train_with_tape_engine_json(tmp_path):
    result = bplab(
        "train",
        "--engine",
        "fit",
        "--data",
        "digits",
        "--model",
        "mlp:16",
        "--epochs",
        "1",
        "--out",
        tmp_path / "r",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["history"]["epochs"]) == 1 and 0 <= doc["test"]["accuracy"] <= 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "--optimizer", "adagrad"], "--optimizer: unknown optimizer 'adagrad'"),
        (["train", "--lr", "-0.1"], "--lr: learning rate must be positive"),
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--model", "mlp:32/dropout=1.2", "--data", "digits"], "dropout rate must be in [0, 1)"),
        (["train", "--engine", "torch"], "unknown engine 'torch'"),
        (["train", "--epochs", "many"], "--epochs"),
        (["train", "--data", "nope"], "unknown data set 'nope'"),
        (["summary", "cnn:32", "--data", "csv:/no/such/file.csv"], "/no/such/file.csv: file not found"),
        (["summary", "conv:3", "--data", "digits"], "expected mlp:"),
        (["compare", "--engines", "scratch"], "at least two engines"),
        (["gradcheck", "--loss", "binary_crossentropy"], "needs a sigmoid output"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, fragment):
    assert_one_line_error(bplab(*args), fragment)


def test_corrupt_data_file_named_in_error(tmp_path):
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (tmp_path / name).write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 3)
    assert_one_line_error(bplab("data", "info", "mnist", "--data-dir", tmp_path), "IDX header is truncated")


def test_gradcheck_passes_and_reports_json():
    result = bplab("gradcheck", "--model", "mlp:8/act=tanh", "--loss", "mse", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert len(rows) == 4 and all(r["passed"] and r["rel_error"] < 1e-6 for r in rows)


def test_compare_writes_table_json_and_curves(tmp_path):
    result = bplab(
        "compare",
        "--engines",
        "scratch,tape",
        "--data",
        "digits",
        "--model",
        "mlp:16",
        "--epochs",
        "1",
        "--out",
        tmp_path / "c",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "scratch vs tape" in result.stdout
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert doc["parity"][0]["grad_rel"] < 1e-5
    png = (tmp_path / "c" / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "c" / "curves.svg").read_text().lstrip().startswith("<?xml")


def test_reference_cifar10_full_batch_study_scratch_vs_tape(tmp_path):
    """The reference study's CIFAR-10 two-layer network (1024 hidden, MSE + L2 5e-6, lr 1e-3, decay 0.9),
    full batch, scratch vs tape, on a small synthetic archive in the real format."""
    from helpers.files import write_cifar_archive

    write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", n=8)
    result = bplab(
        "compare",
        "--engines",
        "scratch,tape",
        "--data",
        "cifar10",
        "--data-dir",
        tmp_path,
        "--model",
        "mlp:1024/act=sigmoid",
        "--loss",
        "mse",
        "--l2",
        "5e-6",
        "--optimizer",
        "sgd",
        "--lr",
        "1e-3",
        "--decay",
        "exponential",
        "--decay-rate",
        "0.9",
        "--batch-size",
        "full",
        "--epochs",
        "3",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    times = {row["engine"]: row["median_epoch_s"] for row in doc["summary"]}
    assert set(times) == {"scratch", "tape"} and all(t > 0 for t in times.values())
    pair = doc["parity"][0]
    assert pair["grad_rel"] < 1e-5 and pair["final_weight_rel"] < 1e-4
