"""`bplab study --data mnist --data-dir DIR` runs every section on the real files: MNIST's IDX files and
CIFAR-10's python archive, in their real formats, written here (small)."""

import json

import pytest
from helpers.cli import bplab
from helpers.files import write_cifar_archive, write_idx_set


@pytest.mark.slow
def test_the_study_runs_every_section_on_real_mnist_and_cifar_files(tmp_path):
    data = tmp_path / "data"
    write_idx_set(data / "mnist", n_train=300, n_test=100)
    (data / "cifar10").mkdir(parents=True)
    write_cifar_archive(data / "cifar10" / "cifar-10-python.tar.gz", n=20)
    out = tmp_path / "study"
    result = bplab(
        "study",
        "--data",
        "mnist",
        "--data-dir",
        data,
        "--out",
        out,
        "--quiet",
        timeout=900,
        env_extra={"BPLAB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    html = (out / "report.html").read_text()
    assert "mlp:256,128,64 and cnn on mnist" in html
    assert "is not on this machine" not in html  # the CIFAR-10 section found its files
    cifar = json.loads((out / "sections" / "cifar" / "section.json").read_text())["section"]
    assert cifar["numbers"]["data"] == "cifar10" and cifar["numbers"]["loss"] == "squared_error"
    for folder in ("engines/runs/seed0/scratch", "cnn/run", "tape/run"):
        doc = json.loads((out / "sections" / folder / "model.json").read_text())
        assert doc["dataset"] == "mnist", folder
