"""The display bridge: a result's HTML comes from the renderer registered under its class, or a base class."""

import pytest

from backprop_lab.core import display
from backprop_lab.core.display import Displayable, register


@pytest.fixture
def renderers(monkeypatch):
    monkeypatch.setattr(display, "HTML", {})
    return display.HTML


class Result(Displayable):
    def __init__(self, name):
        self.name = name


class Special(Result):
    pass


def test_a_result_shows_through_the_renderer_of_its_class(renderers):
    register("Result", lambda r: f"<b>{r.name}</b>")
    assert Result("loss")._repr_html_() == "<b>loss</b>"


def test_a_subclass_uses_its_own_renderer_first_then_its_base_classes(renderers):
    register("Result", lambda r: "base")
    assert Special("x")._repr_html_() == "base"
    register("Special", lambda r: "own")
    assert Special("x")._repr_html_() == "own"


def test_without_a_renderer_the_html_says_so(renderers):
    assert Result("x")._repr_html_() == "<pre>Result: no renderer registered</pre>"
