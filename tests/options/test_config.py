"""TrainConfig: every option validated once (bad values refused naming the option), the learning rate's
default per optimizer, and the translation from option values (batch size 'full', whole numbers) and back."""

import math

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.options.config import TrainConfig, config_from_options, options_of, parse_batch_size


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"optimizer": "adagrad"}, "--optimizer: unknown optimizer 'adagrad'"),
        ({"lr": -0.1}, "--lr: learning rate must be positive"),
        ({"batch_size": 0}, "--batch-size"),
        ({"alpha": 1.5}, "--alpha"),
        ({"loss": "hinge"}, "--loss: unknown loss"),
    ],
)
def test_bad_options_are_refused(kwargs, fragment):
    with pytest.raises(BplabError) as info:
        TrainConfig(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": math.nan}, "--lr: must be a finite number, got nan"),
        ({"epochs": 2.0}, "--epochs: must be a whole number, got 2.0"),
        ({"momentum": 1.0}, "--momentum: must be in [0, 1), got 1.0"),
        ({"decay_rate": 0.0}, "--decay-rate: must be in (0, 1], got 0.0"),
        ({"dtype": "float16"}, "--dtype: must be "),
    ],
)
def test_every_field_is_checked_and_the_message_names_its_option(kwargs, message):
    with pytest.raises(BplabError) as info:
        TrainConfig(**kwargs)
    assert str(info.value).startswith(message)


def test_the_learning_rate_is_the_given_one_or_the_optimizers_default():
    assert TrainConfig(optimizer="adam", lr=0.3).learning_rate == 0.3
    assert TrainConfig(optimizer="adam").learning_rate == 0.001
    assert TrainConfig(optimizer="sgd").learning_rate != TrainConfig(optimizer="adam").learning_rate


def test_batch_sizes_are_whole_numbers_or_full():
    assert parse_batch_size("full") is parse_batch_size("ALL") is parse_batch_size(None) is None
    assert parse_batch_size("64") == parse_batch_size(64) == 64
    with pytest.raises(BplabError, match="--batch-size: expected a positive integer or 'full', got 'ten'"):
        parse_batch_size("ten")
    with pytest.raises(BplabError, match="--batch-size: must be a positive integer or 'full', got 0"):
        parse_batch_size("0")


def test_options_become_a_config_and_come_back():
    config = config_from_options({"batch_size": "full", "epochs": 3}, {"lr": 0.5, "epochs": 9})
    assert (config.batch_size, config.epochs, config.lr) == (None, 3, 0.5)  # given, then defaults, then the registry's
    assert config_from_options(options_of(config)) == config
    assert options_of(config)["batch_size"] == "full"
    with pytest.raises(BplabError, match="--epochs: expected a whole number, got '3'"):
        config_from_options({"epochs": "3"})
    assert TrainConfig.from_dict({**config.to_dict(), "not_an_option": 1}) == config  # unknown keys are left out
