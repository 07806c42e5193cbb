"""Reference definitions of the tensor operations the expression tree names (``Op`` nodes).

These are the mathematical definitions written the plain way, sum by sum, for reading and for
checking: they share no code with the scratch engine (whose fast implementations are checked
against them) and are themselves checked against central finite differences and TensorFlow.
Images are (n, H, W, C), kernels HWIO, padding as TensorFlow pads ('same': the extra row and
column go after).

- conv2d:   Z[n, i, j, f] = sum_{p, q, c} X_pad[n, s i + p, s j + q, c] W[p, q, c, f]
- dW:       dW[p, q, c, f] = sum_{n, i, j} X_pad[n, s i + p, s j + q, c] G[n, i, j, f]
- dX:       dX_pad[n, s i + p, s j + q, c] += sum_f G[n, i, j, f] W[p, q, c, f]   (then the padding is cut off)
- maxpool:  P[n, i, j, c] = max_{p, q} X[n, s i + p, s j + q, c]
- its gradient: each G[n, i, j, c] goes to the first maximum of its window (row-major order), as TensorFlow routes it.
"""

from __future__ import annotations

import numpy as np


def pads(size: int, k: int, s: int, padding: str) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _padded(x: np.ndarray, k: int, s: int, padding: str) -> tuple[np.ndarray, tuple, tuple]:
    ph, pw = pads(x.shape[1], k, s, padding), pads(x.shape[2], k, s, padding)
    return np.pad(x, ((0, 0), ph, pw, (0, 0))), ph, pw


def _out(size: int, k: int, s: int) -> int:
    return (size - k) // s + 1


def conv2d(x: np.ndarray, w: np.ndarray, s: int, padding: str) -> np.ndarray:
    k = w.shape[0]
    xp, _, _ = _padded(x, k, s, padding)
    oh, ow = _out(xp.shape[1], k, s), _out(xp.shape[2], k, s)
    z = np.zeros((len(x), oh, ow, w.shape[3]), dtype=np.result_type(x, w))
    for p in range(k):
        for q in range(w.shape[1]):
            patch = xp[:, p : p + s * (oh - 1) + 1 : s, q : q + s * (ow - 1) + 1 : s, :]
            z += np.einsum("nijc,cf->nijf", patch, w[p, q])
    return z


def conv2d_dw(x: np.ndarray, g: np.ndarray, k: int, s: int, padding: str) -> np.ndarray:
    xp, _, _ = _padded(x, k, s, padding)
    oh, ow = g.shape[1], g.shape[2]
    dw = np.zeros((k, k, x.shape[3], g.shape[3]), dtype=np.result_type(x, g))
    for p in range(k):
        for q in range(k):
            patch = xp[:, p : p + s * (oh - 1) + 1 : s, q : q + s * (ow - 1) + 1 : s, :]
            dw[p, q] = np.einsum("nijc,nijf->cf", patch, g)
    return dw


def conv2d_dx(g: np.ndarray, w: np.ndarray, in_shape: tuple, s: int, padding: str) -> np.ndarray:
    """``in_shape`` is the input's (H, W, C)."""
    k = w.shape[0]
    h, wd, c = in_shape
    ph, pw = pads(h, k, s, padding), pads(wd, k, s, padding)
    dxp = np.zeros((len(g), h + sum(ph), wd + sum(pw), c), dtype=np.result_type(g, w))
    oh, ow = g.shape[1], g.shape[2]
    for p in range(k):
        for q in range(k):
            dxp[:, p : p + s * (oh - 1) + 1 : s, q : q + s * (ow - 1) + 1 : s, :] += np.einsum(
                "nijf,cf->nijc", g, w[p, q]
            )
    return dxp[:, ph[0] : ph[0] + h, pw[0] : pw[0] + wd, :]


def maxpool(x: np.ndarray, pool: int, s: int) -> np.ndarray:
    oh, ow = _out(x.shape[1], pool, s), _out(x.shape[2], pool, s)
    out = np.empty((len(x), oh, ow, x.shape[3]), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = x[:, s * i : s * i + pool, s * j : s * j + pool, :].max(axis=(1, 2))
    return out


def maxpool_back(g: np.ndarray, x: np.ndarray, pool: int, s: int) -> np.ndarray:
    dx = np.zeros(x.shape, dtype=np.result_type(g, x))
    n, _, _, c = x.shape
    rows, chans = np.arange(n)[:, None], np.arange(c)[None, :]
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            window = x[:, s * i : s * i + pool, s * j : s * j + pool, :].reshape(n, pool * pool, c)
            first = window.argmax(axis=1)  # (n, c): the first maximum in row-major order
            dx[rows, s * i + first // pool, s * j + first % pool, chans] += g[:, i, j, :]
    return dx
