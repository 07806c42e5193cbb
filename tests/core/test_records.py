"""Dataclass records read from JSON and written back: the wrong key is named, optional fields may be absent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from backprop_lab.core.errors import BplabError
from backprop_lab.core.records import dump, load


@dataclass
class Point:
    x: float
    y: float


@dataclass
class Shape:
    name: str
    points: list[Point]
    kind: str = field(metadata={"key": "class"})
    closed: bool = False
    sizes: tuple[int, ...] = ()
    tags: dict[str, int] = field(default_factory=dict)
    note: str | None = None
    extra: Any = None


DOC = {
    "name": "tri",
    "points": [{"x": 0, "y": 0.5}, {"x": 1.0, "y": 2}],
    "class": "polygon",
    "closed": True,
    "sizes": [3, 4],
    "tags": {"a": 1},
    "note": "hi",
    "extra": {"anything": [1, "two"]},
}


def test_a_record_round_trips_through_its_json_document():
    shape = load(Shape, DOC, "shape.json")
    assert shape.points == [Point(0.0, 0.5), Point(1.0, 2.0)] and isinstance(shape.points[0].x, float)
    assert shape.kind == "polygon" and shape.sizes == (3, 4) and shape.tags == {"a": 1}
    assert dump(shape) == {**DOC, "points": [{"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 2.0}], "sizes": [3, 4]}


def test_optional_fields_may_be_absent_and_a_none_default_is_left_out():
    shape = load(Shape, {"name": "s", "points": [], "class": "c"}, "s")
    assert shape.closed is False and shape.note is None and shape.tags == {}
    assert dump(shape) == {"name": "s", "points": [], "class": "c", "closed": False, "sizes": [], "tags": {}}


def test_a_missing_key_is_named_by_its_json_name():
    with pytest.raises(BplabError, match=r"^shape.json: 'class' is missing$"):
        load(Shape, {"name": "s", "points": []}, "shape.json")


@pytest.mark.parametrize(
    "change, where",
    [
        ({"name": 3}, "shape.json: name: expected str"),
        ({"closed": 1}, "shape.json: closed: expected bool"),
        ({"points": {"x": 1}}, "shape.json: points: expected a list"),
        ({"points": [{"x": 1, "y": "2"}]}, r"shape.json: points\[0\]: y: expected float"),
        ({"points": [{"x": True, "y": 2}]}, r"shape.json: points\[0\]: x: expected float"),
        ({"sizes": [1, 2.5]}, r"shape.json: sizes\[1\]: expected int"),
        ({"tags": {"a": "one"}}, r"shape.json: tags.a: expected int"),
        ({"tags": [1]}, "shape.json: tags: expected a table"),
        ({"note": 5}, "shape.json: note: expected str"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_by_its_path(change, where):
    with pytest.raises(BplabError, match=f"^{where}"):
        load(Shape, {**DOC, **change}, "shape.json")


def test_a_document_that_is_not_a_table_is_refused():
    with pytest.raises(BplabError, match="^shape.json: expected a table, got list$"):
        load(Shape, [DOC], "shape.json")
