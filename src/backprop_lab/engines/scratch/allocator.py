"""Freed memory stays in the process for the next training step.

A training step allocates the same large arrays every time (im2col columns, activations,
gradients: hundreds of kilobytes to megabytes each) and frees them at the end of the step.
glibc's malloc hands blocks above its mmap threshold (128 KiB to start) straight back to the
kernel when freed, so the next step maps them again and the kernel zero-fills every page on
first touch: for the small CNN that page-fault work took as long as all the arithmetic (a step
of cnn:32,64,64 at batch 32 went from 21.8 ms to 10.7 ms with the settings below). Raising the
mmap and trim thresholds keeps those blocks on malloc's heap, where the next step reuses them:
the effect of preallocated buffers, without threading buffers through every layer.

This is a process-wide malloc setting; it costs resident memory (freed blocks are kept, up to the
largest step's working set) and nothing else. It is a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit machines
TRIM_THRESHOLD = 1024 * 1024 * 1024  # give memory back to the kernel only above 1 GiB of free heap
TOP_PAD = 64 * 1024 * 1024  # grow the heap in steps of 64 MiB

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Applies the malloc settings once per process; True where they took effect (glibc)."""
    global _applied
    if _applied is None:
        _applied = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt, Windows)
            return False
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        _applied = all(
            mallopt(param, value) == 1
            for param, value in (
                (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (M_TOP_PAD, TOP_PAD),
            )
        )
    return _applied
