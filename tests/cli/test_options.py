"""The shared command-line options (cli/options.py): the training options come from the registry once and reach
a command as one TrainConfig; options the user typed are told from defaults."""

import pytest
import typer
from typer.testing import CliRunner

from backprop_lab.cli.options import TRAINING_OPTIONS, explicit_names, explicit_options, training_options
from backprop_lab.options.config import TrainConfig
from backprop_lab.options.registry import TRAINING


def _app(**defaults):
    app = typer.Typer()
    seen = {}

    @app.command()
    @training_options(**defaults)
    def run(config: TrainConfig, name: str = "x"):
        seen["config"], seen["name"] = config, name

    return app, seen


def test_every_declared_training_option_is_a_command_option_in_the_registrys_order():
    assert list(TRAINING_OPTIONS) == [o.name for o in TRAINING]
    assert all(default == o.default for (_, default), o in zip(TRAINING_OPTIONS.values(), TRAINING))


def test_the_command_receives_one_config_built_from_what_was_typed_and_the_defaults():
    app, seen = _app(epochs=3)
    result = CliRunner().invoke(app, ["--lr", "0.25", "--optimizer", "sgd", "--name", "y"])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert (config.lr, config.optimizer, config.epochs, seen["name"]) == (0.25, "sgd", 3, "y")
    assert config.batch_size == TrainConfig().batch_size  # untouched options keep the registry's defaults


def test_a_bad_value_is_refused_with_the_registrys_message():
    app, _ = _app()
    result = CliRunner().invoke(app, ["--optimizer", "adagrad"])
    assert result.exit_code != 0 and "unknown optimizer 'adagrad'" in str(result.exception or result.output)


def test_an_unknown_default_override_is_a_programming_error():
    with pytest.raises(TypeError, match="not training options"):
        training_options(epochz=3)


def test_typed_options_are_told_from_defaults():
    app = typer.Typer()
    said = {}

    @app.command()
    def run(ctx: typer.Context, a: int = 1, b: int = 2, c: int = 3):
        said["options"] = explicit_options(ctx, ("c",))
        said["names"] = explicit_names(ctx, ("a", "b", "c"))

    assert CliRunner().invoke(app, ["--b", "5", "--c", "3"]).exit_code == 0
    assert said == {"options": ["--b"], "names": ["b", "c"]}  # typed, even when equal to the default
