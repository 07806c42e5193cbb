"""The malloc settings of the scratch engine (engines/scratch/allocator.py): applied once, a no-op without glibc."""

from __future__ import annotations

import ctypes
import platform

import pytest

from backprop_lab.engines.scratch import allocator


def test_the_settings_apply_on_glibc_and_only_once(monkeypatch):
    first = allocator.keep_freed_memory()
    assert first == (platform.libc_ver()[0] == "glibc")
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("mallopt called a second time"))
    assert allocator.keep_freed_memory() is first


def test_without_mallopt_nothing_is_applied(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)

    def no_libc(*args, **kwargs):
        raise OSError("no C library here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert allocator.keep_freed_memory() is False
