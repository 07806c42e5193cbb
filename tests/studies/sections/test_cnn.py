"""Sections 9 and 11 to 13: whether the CNN section's model fits its data."""

from types import SimpleNamespace

import pytest

from backprop_lab.studies.sections.cnn import _fits


@pytest.mark.parametrize(
    "model, fits",
    [("mlp:16", True), ("cnn:8", True), ("cnn:8,8,8,8", False)],  # digits are 8x8: four valid 3x3 convs cannot fit
)
def test_a_model_fits_the_data_when_its_layers_can_be_built_on_its_images(model, fits):
    assert _fits(SimpleNamespace(data="digits", model=model, data_dir=None)) is fits
