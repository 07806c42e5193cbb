"""Every option declared once: TrainConfig's defaults, the API's keywords and the CLI's options read the registry."""

import inspect
from dataclasses import fields

import pytest
import typer

import backprop_lab as bl
from backprop_lab.cli.app import app
from backprop_lab.options import registry
from backprop_lab.options.config import TrainConfig, config_from_options, parse_batch_size


def test_train_config_defaults_are_the_registrys():
    config = TrainConfig()
    for option in registry.TRAINING:
        want = parse_batch_size(option.default) if option.name == "batch_size" else option.default
        assert getattr(config, option.name) == want, option.name
    assert config == config_from_options({})
    assert set(registry.TRAINING_NAMES) <= {f.name for f in fields(TrainConfig)}


def cli_default(command: str, name: str):
    click_command = typer.main.get_command(app).commands[command]
    return next(p.default for p in click_command.params if p.name == name)


@pytest.mark.parametrize("command", ["train", "compare", "draw"])
def test_the_default_model_is_one_constant(command):
    function = getattr(bl, {"train": "train", "compare": "compare", "draw": "draw"}[command])
    assert inspect.signature(function).parameters["model"].default == registry.DEFAULT_MODEL
    assert cli_default(command, "model") == registry.DEFAULT_MODEL


def test_gradchecks_command_options_are_the_registrys():
    params = inspect.signature(bl.gradcheck).parameters
    for name, value in (
        ("model", registry.GRADCHECK_MODEL),
        ("batch", registry.GRADCHECK_BATCH),
        ("entries", registry.GRADCHECK_ENTRIES),
    ):
        assert params[name].default == value == cli_default("gradcheck", name), name


@pytest.mark.parametrize(
    "command, api_name, cli_name, value",
    [
        ("compare", "engines", "engines", registry.COMPARE_ENGINES),
        ("compare", "data", "data", registry.COMPARE_DATA),
        ("study", "preset", "preset", registry.STUDY_PRESET),
        ("study", "out", "out_dir", registry.STUDY_OUT),
    ],
)
def test_compare_and_study_take_their_defaults_from_the_registry(command, api_name, cli_name, value):
    assert inspect.signature(getattr(bl, command)).parameters[api_name].default == value
    assert str(cli_default(command, cli_name)) == value
