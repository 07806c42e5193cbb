"""Each name is declared once (``backprop_lab.core.names``), and every declared name has each of its
implementations (scratch, Keras, derivation rule) and nothing else exists; the registry's errors
name the bad key and the choices; everything that lists the names reads them from the registry."""

from __future__ import annotations

import pytest

from backprop_lab.core import names
from backprop_lab.core.errors import BplabError


def test_every_activation_has_a_scratch_a_keras_implementation_and_a_rule():
    from backprop_lab.engines.keras.build import KERAS_ACTIVATIONS
    from backprop_lab.maths import rules
    from backprop_lab.numerics.activations import ACTIVATIONS

    declared = list(names.ACTIVATIONS)
    assert list(ACTIVATIONS) == list(KERAS_ACTIVATIONS) == list(rules.ACTIVATIONS) == declared
    assert all(ACTIVATIONS[n].name == rules.ACTIVATIONS[n].name == n for n in declared)
    assert all(KERAS_ACTIVATIONS[n].__name__ == n for n in declared)  # Keras's function of that name


def test_every_loss_has_a_scratch_a_keras_implementation_and_a_rule():
    from backprop_lab.engines.keras.build import KERAS_LOSSES, keras_loss
    from backprop_lab.maths import rules
    from backprop_lab.numerics.losses import LOSSES

    declared = list(names.LOSSES)
    assert list(LOSSES) == list(KERAS_LOSSES) == list(rules.LOSSES) == declared
    assert all(LOSSES[n].name == rules.LOSSES[n].name == n for n in declared)
    for n in declared:
        assert keras_loss(n, "float64").dtype == "float64"


def test_every_optimizer_has_a_scratch_a_keras_implementation_a_rule_and_a_default_rate():
    from backprop_lab.engines.keras.build import KERAS_OPTIMIZERS, keras_optimizer
    from backprop_lab.engines.scratch.optimizers import OPTIMIZERS, make_optimizer
    from backprop_lab.maths import rules
    from backprop_lab.options.config import TrainConfig

    declared = list(names.OPTIMIZERS)
    assert list(OPTIMIZERS) == list(KERAS_OPTIMIZERS) == list(rules.OPTIMIZERS) == list(names.DEFAULT_LR) == declared
    for n in declared:
        config = TrainConfig(optimizer=n)
        mine, theirs = make_optimizer(config), keras_optimizer(config)
        assert set(mine.slots) == set(rules.OPTIMIZERS[n].slots)
        assert float(theirs.learning_rate) == pytest.approx(names.DEFAULT_LR[n])


def test_every_initializer_and_schedule_has_its_implementation():
    from backprop_lab.numerics.initializers import INITIALIZERS
    from backprop_lab.training.loop import DECAY_POWERS

    assert list(INITIALIZERS) == list(names.INITIALIZERS)
    assert list(DECAY_POWERS) == list(names.DECAYS)


def test_every_engine_can_be_made_and_has_the_engine_interface():
    from backprop_lab.engines.registry import FACTORIES, Engine, get_engine
    from backprop_lab.numerics.initializers import init_weights
    from backprop_lab.options.config import TrainConfig
    from backprop_lab.spec.model import parse_model
    from backprop_lab.training.loop import EngineState

    assert list(FACTORIES) == list(names.ENGINES)
    spec, config = parse_model("mlp:3", (4,), 2), TrainConfig()
    for n in names.ENGINES:
        engine = get_engine(n)
        assert isinstance(engine, Engine) and engine.name == n and isinstance(engine.uses_tensorflow, bool)
        state = engine.start(spec, init_weights(spec.param_shapes(), config.init, 0), config)
        assert isinstance(state, EngineState), n  # every member of the protocol, drive included
    assert not isinstance(object(), Engine)  # the check can fail


def test_a_table_that_misses_or_adds_a_name_is_refused_naming_both():
    registry = names.Registry("loss", ("a", "b"))
    assert registry.table({"b": 2, "a": 1}, "here") == {"a": 1, "b": 2}  # in the registry's order
    with pytest.raises(TypeError, match=r"here: the loss table .* \(missing: b; not declared: c\)"):
        registry.table({"a": 1, "c": 3}, "here")


def test_an_unknown_name_names_the_option_the_name_and_the_choices():
    with pytest.raises(
        BplabError,
        match=r"^--loss: unknown loss 'hinge' \(choose from categorical_crossentropy, "
        r"binary_crossentropy, mse, squared_error, half_squared_error\)$",
    ):
        names.LOSSES.check("hinge", "--loss")
    from backprop_lab.numerics.activations import get_activation

    with pytest.raises(
        BplabError,
        match=r"^unknown activation 'swish' \(choose from relu, sigmoid, tanh, softmax, "
        r"linear\)$",
    ):
        get_activation("swish")
    assert names.OPTIMIZERS.listing() == "sgd, momentum, nesterov, rmsprop or adam"


def test_what_lists_the_names_reads_them_from_the_registry():
    from backprop_lab.options import config
    from backprop_lab.options.registry import TRAINING
    from backprop_lab.spec import model as spec

    assert spec.ACTIVATIONS is names.ACTIVATIONS
    assert (config.OPTIMIZERS, config.LOSSES, config.INITIALIZERS, config.DECAYS, config.DTYPES) == (
        names.OPTIMIZERS,
        names.LOSSES,
        names.INITIALIZERS,
        names.DECAYS,
        names.DTYPES,
    )
    helps = {o.name: o.help for o in TRAINING}
    for option, registry in (
        ("optimizer", names.OPTIMIZERS),
        ("loss", names.LOSSES),
        ("init", names.INITIALIZERS),
        ("decay", names.DECAYS),
        ("dtype", names.DTYPES),
    ):
        assert all(n in helps[option] for n in registry), option
