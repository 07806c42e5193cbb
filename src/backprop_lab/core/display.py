"""The one display bridge: results show themselves in a notebook through IPython's display protocol
(``_repr_html_``), which asks the renderer registered for the result's class. The renderers live in
``viz/display.py`` and are registered once, when the package is imported, so no result imports ``viz/``.
"""

from __future__ import annotations

from typing import Any, Callable

HTML: dict[str, Callable[[Any], str]] = {}


def register(class_name: str, render: Callable[[Any], str]) -> None:
    HTML[class_name] = render


class Displayable:
    """A result that IPython can show: its HTML comes from the renderer registered under its class name."""

    def _repr_html_(self) -> str:
        for cls in type(self).__mro__:
            if cls.__name__ in HTML:
                return HTML[cls.__name__](self)
        return f"<pre>{type(self).__name__}: no renderer registered</pre>"
