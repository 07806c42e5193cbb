"""The study file (studies/config.py): the reference study loads and prints, every bad key is named."""

import pytest
from helpers.cli import bplab

from backprop_lab.core.errors import BplabError
from backprop_lab.studies import SECTIONS, load_study, reference_text


def test_the_reference_study_loads_and_prints(tmp_path):
    study = load_study(None, "quick")
    assert study.sections == list(SECTIONS) and study.common["data"] == "mnist-5k"
    assert study.settings("cnn")["model"] == "cnn:32,64,64"
    full = load_study(None, "full")
    # every claim is tested with the set-up it was made with, in every preset: only seeds and data may differ
    keys = ("model", "epochs", "init", "optimizer", "lr", "batch_size", "loss", "l2", "decay", "decay_rate")
    for section in ("numpy33", "cifar", "cnn", "transfer"):
        assert {k: study.settings(section).get(k) for k in keys} == {k: full.settings(section).get(k) for k in keys}, (
            section
        )
    assert study.settings("cnn")["epochs"] == 2  # "the CNN reaches about 97% in 2 epochs"
    assert (
        study.settings("cifar")["model"] == "mlp:1024/act=relu/out=linear"
        and study.settings("cifar")["loss"] == "squared_error"
    )
    assert full.common["data"] == "fashion-mnist" and full.settings("transfer")["classes"] == "Sneaker,Sandal"
    # the full preset on another data set keeps the study's own classes, not the names chosen for fashion-mnist
    assert load_study(None, "full", "mnist-5k").settings("transfer")["classes"] == "3,8"
    printed = bplab("study", "--print-reference")
    assert printed.returncode == 0 and printed.stdout == reference_text()
    copy = tmp_path / "mine.toml"
    copy.write_text(printed.stdout.replace('data = "mnist-5k"', 'data = "digits"'))
    assert load_study(copy, "quick").common["data"] == "digits"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('data = "digits"\nepoch = 3\n[presets.quick]\n', "unknown key 'epoch'"),
        ('data = "digits"\n[cnn]\nmodle = "cnn:8"\n[presets.quick]\n', "[cnn]: unknown key 'modle'"),
        ('data = "digits"\nsections = ["network", "summary"]\n[presets.quick]\n', "unknown section 'summary'"),
        ('data = "digits"\n[presets.full]\n', "no preset 'quick'"),
        ('data = "digits"\nepochs = "five"\n[presets.quick]\n', "epochs = 'five' has the wrong type"),
        ('data = "digits\n', "not valid TOML"),
        (
            'data = "digits"\n[transfer]\ntiming_repeats = 0\n[presets.quick]\n',
            "[transfer]: timing_repeats = 0 must be at least 1",
        ),
        ('data = "digits"\n[presets.quick]\nseeds = 0\n', "seeds = 0 must be at least 1"),
    ],
)
def test_bad_study_files_are_refused_with_the_key_named(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(BplabError) as info:
        load_study(path, "quick")
    assert fragment in str(info.value)
    result = bplab("study", path, "--out", tmp_path / "out")
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
