"""Engines by name (engines/registry.py): what each name makes, and the error for a name that is not one."""

from __future__ import annotations

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.engines.registry import ENGINE_NAMES, check_engine, get_engine
from backprop_lab.engines.scratch.engine import ScratchEngine


def test_scratch_is_made_without_tensorflow():
    engine = get_engine("scratch")
    assert isinstance(engine, ScratchEngine) and engine.name == "scratch" and engine.uses_tensorflow is False
    assert ENGINE_NAMES == ("scratch", "tape", "fit")
    assert check_engine("fit") == "fit"


@pytest.mark.parametrize("call", [lambda: get_engine("torch"), lambda: check_engine("torch", "--engines")])
def test_an_unknown_engine_names_the_option_and_the_choices(call):
    with pytest.raises(BplabError) as info:
        call()
    assert "unknown engine 'torch' (choose from scratch, tape, fit)" in str(info.value)
    assert str(info.value).startswith("--engine")
