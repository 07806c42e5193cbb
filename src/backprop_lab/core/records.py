"""Results as dataclasses all the way down, read from JSON and written back by one loader and one writer built
from the dataclass's fields (their type hints), not by hand: no result is read by string keys.

A field may name its JSON key when the two differ (``field(metadata={"key": "class"})``). ``load`` checks
every value against its field's type and names the key that is wrong; optional fields with a default may be
absent. ``dump`` writes the same keys, leaving out an optional field that is None.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

from backprop_lab.core.errors import BplabError

T = TypeVar("T")


def key_of(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def load(cls: type[T], doc: Any, where: str) -> T:
    """An instance of the dataclass ``cls`` from its JSON document; ``where`` names the document in errors."""
    if not isinstance(doc, dict):
        raise BplabError(f"{where}: expected a table, got {type(doc).__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = key_of(f)
        if key not in doc:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BplabError(f"{where}: {key!r} is missing")
            continue
        values[f.name] = _value(hints[f.name], doc[key], f"{where}: {key}")
    return cls(**values)


def _value(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return load(tp, value, where)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, where)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise BplabError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is list:
        if not isinstance(value, list):
            raise BplabError(f"{where}: expected a list, got {type(value).__name__}")
        return [_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise BplabError(f"{where}: expected a table, got {type(value).__name__}")
        return {str(k): _value(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    raise BplabError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r:.40}")


def dump(obj: Any) -> Any:
    """The JSON document of a dataclass (nested ones, lists and tables of them included)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            key_of(f): dump(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.init and not (getattr(obj, f.name) is None and f.default is None)
        }
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    return obj
