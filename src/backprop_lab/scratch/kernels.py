"""Compiled kernels, only where a profile showed NumPy cannot get there.

Adam's update is eleven elementwise passes in NumPy (each a separate trip over the weights, its
two slots and the gradient); in an `mlp:256,128,64` step at batch 128 that was the largest single
cost, more than the first layer's matrix product. Fused into one loop it is one pass. The loop
does Keras's operations in Keras's order in the variable's dtype, without fast-math (no
reassociation, no fused multiply-add), so it is bit for bit the NumPy path (tested).

numba is optional: without it (``pip`` could not install it, or ``BPLAB_NO_NUMBA=1``) every
caller uses its NumPy path. Compiled code is cached beside this file, so only the first process
pays the compilation (about a second).
"""

from __future__ import annotations

import os

try:
    if os.environ.get("BPLAB_NO_NUMBA"):
        raise ImportError("BPLAB_NO_NUMBA is set")
    import numba
    import numpy as np
except ImportError:  # the NumPy paths are used
    numba = None

if numba is not None:
    @numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
    def adam_update(w, g, m, v, c1, c2, alpha, eps):  # pragma: no cover - compiled; tested through Adam
        """In place over flat arrays: m += (g - m) c1;  v += (g g - v) c2;  w -= (m alpha) / (sqrt(v) + eps)."""
        for i in range(w.size):
            gi = g[i]
            mi = m[i] + (gi - m[i]) * c1
            vi = v[i] + (gi * gi - v[i]) * c2
            m[i] = mi
            v[i] = vi
            w[i] = w[i] - (mi * alpha) / (np.sqrt(vi) + eps)
else:
    adam_update = None
