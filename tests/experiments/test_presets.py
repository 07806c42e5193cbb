"""The sweep presets (experiments/presets.py): each is a valid sweep that varies what it says it varies, one
thing at a time, and an unknown name is one error listing the presets."""

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.experiments.presets import PRESETS, preset
from backprop_lab.experiments.sweep import plan_from_document
from backprop_lab.spec.model import parse_model


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_sweep_whose_cells_differ_only_in_what_it_varies(name):
    doc = preset(name)
    assert "about" not in doc and PRESETS[name]["about"]  # described, but the description is not an option
    plan = plan_from_document(doc, f"preset {name}", data="digits")
    cells = plan.cells()
    assert len(cells) >= 2
    varied = set(PRESETS[name]["grid"])
    for cell in cells:
        assert set(cell.values) == varied
        cell.config(seed=0)  # every cell's options make a valid training configuration
        parse_model(cell.options.get("model", plan.base.get("model")), (8, 8, 1), 10)
    # the options that are not varied are the same in every cell
    others = [{k: v for k, v in c.options.items() if k not in varied | {"variant"}} for c in cells]
    if "variant" not in varied:
        assert all(o == others[0] for o in others)


def test_an_unknown_preset_is_one_error_naming_the_choices():
    with pytest.raises(BplabError, match="unknown preset 'widht'.*width"):
        preset("widht")
