"""A sweep's plan: grid arguments and files parsed, bad keys named, every preset valid on any data set."""

from __future__ import annotations

import pytest
from helpers.cli import bplab

from backprop_lab.core.errors import BplabError
from backprop_lab.experiments.presets import PRESETS, preset
from backprop_lab.experiments.sweep import parse_grid_arg, plan_from_document


def test_grid_arguments_and_files_are_parsed_and_bad_keys_named(tmp_path):
    assert parse_grid_arg("optimizer=sgd,adam") == ("optimizer", ["sgd", "adam"])
    assert parse_grid_arg("model=mlp:128,64|mlp:32") == ("model", ["mlp:128,64", "mlp:32"])
    plan = plan_from_document(
        {"data": "digits", "epochs": 2, "grid": {"batch-size": ["full", 64], "lr": [0.1, 0.01]}}, "t"
    )
    assert [c.name for c in plan.cells()] == [
        "batch-size=full,lr=0.1",
        "batch-size=full,lr=0.01",
        "batch-size=64,lr=0.1",
        "batch-size=64,lr=0.01",
    ]
    assert plan.cells()[2].config(0).batch_size == 64 and plan.cells()[0].config(0).batch_size is None
    for doc, fragment in [
        ({"data": "digits", "optimiser": "sgd", "grid": {"lr": [1]}}, "unknown key 'optimiser'"),
        ({"data": "digits", "grid": {"lr": ["fast"]}}, "lr = 'fast'"),
        ({"data": "digits", "grid": {"variant": ["x"]}}, "variant 'x' is not defined"),
        ({"data": "digits", "grid": {"lr": [0.1, 0.1]}}, "names a value twice"),
    ]:
        with pytest.raises(BplabError, match=fragment):
            plan_from_document(doc, "t")
    sweep_file = tmp_path / "s.toml"
    sweep_file.write_text('data = "digits"\nepochs = 1\nlearning_rate = 0.1\n[grid]\noptimizer = ["sgd"]\n')
    before = sorted(tmp_path.iterdir())
    result = bplab("sweep", sweep_file, "--out", tmp_path / "out")
    assert result.returncode == 2 and "unknown key 'learning_rate'" in result.stderr
    assert len([l for l in result.stderr.splitlines() if l.strip()]) == 1 and "Traceback" not in result.stderr
    assert sorted(tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_sweep_on_any_data_set(name):
    plan = plan_from_document(preset(name), name, data="digits")
    plan.validate()
    assert len(plan.cells()) >= 2
    assert len({c.name for c in plan.cells()}) == len(plan.cells())
