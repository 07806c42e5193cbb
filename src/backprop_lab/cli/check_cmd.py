"""``bplab check-derivation``: checks a hand-written chain-rule derivation against the model's graph."""

from __future__ import annotations

from .app import app  # noqa: F401
