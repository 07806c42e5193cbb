"""Denormal floats flushed to zero while the scratch engine computes, as TensorFlow does.

TensorFlow runs its kernels with the CPU's flush-to-zero and denormals-are-zero modes on (its thread
pools set them for every worker thread): a float32 result below 1.2e-38 becomes 0, and such an input
reads as 0. Adam shows it first: a gradient of 1e-20 has a square of 1e-40, which Keras stores in
``velocity`` as 0. NumPy, left to the CPU's default mode, keeps the denormal, and arithmetic on
denormals is an order of magnitude slower on x86 (a microcode assist per operation): a scratch step of
``mlp:256,128,64`` went from 1.5 ms to 3.9 ms once Adam's slots had decayed into that range, every
elementwise pass over the weights paying for it. So the engine computes as TensorFlow does, for its own
sake (the same numbers as the framework it is compared with) and for speed.

The mode is the MXCSR register of the calling thread, set on entry and restored on exit
(:func:`flushed`), so nothing outside the engine's calls sees it. It needs numba (to reach the register)
and an x86-64 CPU; elsewhere :func:`flushed` changes nothing and denormals are kept (a difference from
TensorFlow below 1.2e-38 per value). ``BPLAB_KEEP_DENORMALS=1`` turns it off.
"""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager

from backprop_lab.engines.scratch.kernels import numba

FTZ, DAZ = 0x8000, 0x0040  # MXCSR bits: flush-to-zero (results), denormals-are-zero (inputs)

get_mxcsr = set_mxcsr = None
if (
    numba is not None
    and platform.machine().lower() in ("x86_64", "amd64")
    and not os.environ.get("BPLAB_KEEP_DENORMALS")
):
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    def _mxcsr_call(builder, name: str, slot) -> None:
        fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))])
        fn = builder.module.declare_intrinsic(name, fnty=fnty)
        builder.call(fn, [builder.bitcast(slot, ir.PointerType(ir.IntType(8)))])

    @intrinsic
    def _stmxcsr(typingctx):  # pragma: no cover - compiled
        def codegen(context, builder, signature, args):
            slot = builder.alloca(ir.IntType(32))
            _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
            return builder.load(slot)

        return types.uint32(), codegen

    @intrinsic
    def _ldmxcsr(typingctx, value):  # pragma: no cover - compiled
        def codegen(context, builder, signature, args):
            slot = builder.alloca(ir.IntType(32))
            builder.store(args[0], slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
            return context.get_dummy_value()

        return types.void(types.uint32), codegen

    @numba.njit(cache=True, nogil=True)
    def get_mxcsr():  # pragma: no cover - compiled
        return _stmxcsr()

    @numba.njit(cache=True, nogil=True)
    def set_mxcsr(value):  # pragma: no cover - compiled
        _ldmxcsr(value)


def available() -> bool:
    """True where :func:`flushed` flushes denormals (numba on x86-64, not turned off)."""
    return set_mxcsr is not None


@contextmanager
def flushed():
    """Within the block, this thread's float arithmetic flushes denormal results and inputs to zero."""
    if set_mxcsr is None:
        yield
        return
    old = get_mxcsr()
    set_mxcsr(old | FTZ | DAZ)
    try:
        yield
    finally:
        set_mxcsr(old)
