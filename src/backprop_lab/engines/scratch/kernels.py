"""Compiled kernels, only where a profile showed NumPy cannot get there.

Adam's update is eleven elementwise passes in NumPy (each a separate trip over the weights, its
two slots and the gradient); in an `mlp:256,128,64` step at batch 128 that was the largest single
cost, more than the first layer's matrix product. Fused into one loop it is one pass, which also
keeps the weights before the step (for rollback and the blended update) and checks the new ones
are finite. The loop
does Keras's operations in Keras's order in the variable's dtype, without fast-math (no
reassociation, no fused multiply-add), so it is bit for bit the NumPy path (tested).

numba is optional: without it (``pip`` could not install it, or ``BPLAB_NO_NUMBA=1``) every
caller uses its NumPy path. Compiled code is cached beside this file, so only the first process
pays the compilation (about a second).

The convolutional network's step has more (profiled in the README's "Where the time goes"):

- ``bias_relu``: Z += b and A = max(Z, 0) in one pass, in place (NumPy: two passes);
- ``relu_backward``: dZ = dA * [A > 0] in one pass (NumPy: a mask array, a cast and a product);
- ``relu_backward_sum``: that, and a Dense layer's bias gradient (dZ's column sums) in the same pass
  (NumPy: dZ read again by ``dZ.sum(axis=0)``; 17 -> 8 us for a 128 x 256 layer);
- ``col2im``: the k*k scatter-adds of the patch gradients onto a zeroed array in one compiled loop,
  image by image (NumPy: k*k strided adds over the whole batch, each a trip through memory);
- ``maxpool_forward`` / ``maxpool_backward``: the window maximum with the offset of its first
  maximum (one byte per output), and the gradient routed from that offset (NumPy: k*k comparisons
  and masks over the input again in backward); 2 x 2 windows have kernels of their own that take a
  window's four values in one pass over its channels (the same comparisons in the same order);
- ``bias_relu_maxpool``: a ReLU layer's bias and ReLU and the max-pool after it in one pass, from the
  layer's matrix product (the model takes it where a pool follows a ReLU layer; NumPy: Z + b and A
  written out whole, then read again by the pool);
- ``maxpool_relu_backward``: that routing and the derivative of the ReLU before the pool in one
  pass (the model takes it where a pool follows a ReLU layer; NumPy: a full-size dX written, then
  read back with the activations).

And the output layer of either network:

- ``softmax_shift`` / ``softmax_scale``: a softmax's row maximum and shift, then (after NumPy's own exp)
  the row sums and the division, each in one pass (NumPy: a reduction along rows of ten values is a call
  per row; a step of mlp:256,128,64 spent 15 us on the softmax of its 128 x 10 logits and 24 us on the
  loss, as long as the bias sums of all four layers);
- ``crossentropy_sum``: the categorical cross-entropy's per-row sums and their sum from the softmax's
  log-sum-exp, in one pass (the loss then needs no exp or log of its own).

Sums over a row are NumPy's pairwise summation (``_pairwise_sum``: eight accumulators, blocks of 128,
added onto 0 as ``np.add.reduce`` does), so these too give NumPy's numbers. exp and log stay NumPy's:
its vectorised float32 exp and log do not round as the C library's do.

Written so that LLVM vectorises them on any CPU numba compiles for: selections are selects, not
branches (a max-pool's argmax branch went either way as often and cost 4.5x on a Zen 2 host), and
a flag carried through a loop is a bool (an int flag made Adam's loop 4 floats wide, not 8).

Each does the same arithmetic in the same order as its NumPy path (the additions of col2im go in
kernel-offset order from zero, as the scatter-adds do), so the two agree bit for bit (tested).
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
    def adam_update_keep(w, g, m, v, old, c1, c2, alpha, eps):  # pragma: no cover - compiled; tested through Adam
        """In place over flat arrays: old = w;  m += (g - m) c1;  v += (g g - v) c2;  w -= (m alpha) / (sqrt(v) + eps);
        True when every new w is finite. Keeping old and checking in the same pass: a step of mlp:256,128,64
        spent as long on a separate copy and np.isfinite as on Adam itself."""
        bad = False  # a bool, not an int: an int flag made LLVM vectorise 4 floats wide instead of 8 (half the speed)
        for i in range(w.size):
            wi = w[i]
            old[i] = wi
            gi = g[i]
            mi = m[i] + (gi - m[i]) * c1
            vi = v[i] + (gi * gi - v[i]) * c2
            m[i] = mi
            v[i] = vi
            nw = wi - (mi * alpha) / (np.sqrt(vi) + eps)
            w[i] = nw
            bad |= (nw - nw) != 0  # inf - inf and NaN - NaN are NaN
        return not bad

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def bias_relu(z, b, zero):  # pragma: no cover - compiled; tested against the NumPy path
        """In place over z (rows, F): z = max(z + b, 0) (NaN kept, as np.maximum); zero is 0 in z's dtype."""
        rows, f = z.shape
        for r in range(rows):
            for c in range(f):
                v = z[r, c] + b[c]
                z[r, c] = v if (v > 0 or v != v) else zero

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def relu_backward(da, a, out, one, zero):  # pragma: no cover - compiled; tested against NumPy
        """Flat arrays: out = da * [a > 0], as NumPy multiplies by the boolean mask (-0.0 and NaN
        kept); one and zero in the arrays' dtype."""
        for i in range(out.size):
            out[i] = da[i] * (one if a[i] > 0 else zero)

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def relu_backward_sum(da, a, out, db, one, zero):  # pragma: no cover - compiled; tested against NumPy
        """relu_backward over (rows, F) arrays, and in the same pass db = the column sums of out: from zero,
        row after row, the order in which NumPy sums a C-contiguous array over axis 0 (so its numbers)."""
        rows, f = out.shape
        for c in range(f):
            db[c] = zero
        for r in range(rows):
            for c in range(f):
                v = da[r, c] * (one if a[r, c] > 0 else zero)
                out[r, c] = v
                db[c] += v

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def col2im(dcols, dx, k, s, oh, ow, ph, pw):  # pragma: no cover - compiled; tested against NumPy
        """dcols (n, oh, ow, k, k, C) patch gradients -> dx (n, H, W, C) (the unpadded input, written
        whole): zeroed, then each kernel offset (i, j) in turn adds its patch entries onto the pixels they
        read, row by row of C contiguous values (the NumPy path's scatter-adds, image by image so that
        the image's dx stays in cache)."""
        n, h, w, c = dx.shape
        dx[:] = 0
        for b in range(n):
            for i in range(k):
                oy0 = max(0, -((i - ph) // s))  # the first output row whose patch row i lands in the image
                for j in range(k):
                    ox0 = max(0, -((j - pw) // s))
                    for oy in range(oy0, oh):
                        y = oy * s + i - ph
                        if y >= h:
                            break
                        for ox in range(ox0, ow):
                            x = ox * s + j - pw
                            if x >= w:
                                break
                            for ch in range(c):
                                dx[b, y, x, ch] += dcols[b, oy, ox, i, j, ch]

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _take_if_greater(v, o, best, arg):  # pragma: no cover - compiled
        """(the window's maximum so far, its offset) after offset o's value v: v where it is greater, or NaN over a
        number (argmax's first NaN). The offset is selected without a branch: on data where either is as likely,
        a branch here is mispredicted half the time (4.5x slower)."""
        take = (v > best) | ((v != v) & (best == best))
        t = np.uint8(take)
        return (v if take else best), (arg & (t - np.uint8(1))) | (o & (np.uint8(0) - t))

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _bias_relu_value(v, bias, zero):  # pragma: no cover - compiled
        """max(v + bias, 0), NaN kept (as np.maximum)."""
        v = v + bias
        return v if ((v > 0) | (v != v)) else zero

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _maxpool_take(x, bias, p, s, out, arg, zero, relu):  # pragma: no cover - compiled
        """out = max over each p x p window of x (of max(x + bias, 0) when ``relu``), arg = its first maximum's offset."""
        n, oh, ow, c = out.shape
        for b in range(n):
            for y in range(oh):
                for x0 in range(ow):
                    best_row, arg_row = out[b, y, x0], arg[b, y, x0]
                    for i in range(p):
                        for j in range(p):
                            o = np.uint8(i * p + j)
                            row = x[b, y * s + i, x0 * s + j]
                            for ch in range(c):
                                v = _bias_relu_value(row[ch], bias[ch], zero) if relu else row[ch]
                                if o == 0:
                                    best_row[ch] = v
                                    arg_row[ch] = 0
                                else:
                                    best_row[ch], arg_row[ch] = _take_if_greater(v, o, best_row[ch], arg_row[ch])

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _maxpool2_take(x, bias, s, out, arg, zero, relu):  # pragma: no cover - compiled; tested against _maxpool_take
        """_maxpool_take for 2 x 2 windows: each channel's four values read and compared in one pass over the window,
        offset 0, 1, 2, 3 in turn as there, and out and arg written once. The general kernel's loop over a
        window's C channels runs once per offset (and its setup with it): 0.59x its time for the first layer of
        cnn:32,64,64 (32 x 26 x 26 x 32). Indexed in place, not through row views (numba counts each view's
        references: that made a first try of the backward pass 10x slower). One case is not bit for bit: where
        both Z and the bias are NaN, which of the two NaNs the sum keeps (its sign and payload) can differ from
        the general kernel's, as IEEE 754 leaves it open and the compiler may swap an addition's operands."""
        n, oh, ow, c = out.shape
        for b in range(n):
            for y in range(oh):
                y0 = y * s
                for x0 in range(ow):
                    x1 = x0 * s
                    for ch in range(c):
                        v0, v1 = x[b, y0, x1, ch], x[b, y0, x1 + 1, ch]
                        v2, v3 = x[b, y0 + 1, x1, ch], x[b, y0 + 1, x1 + 1, ch]
                        if relu:
                            bc = bias[ch]
                            v0, v1 = _bias_relu_value(v0, bc, zero), _bias_relu_value(v1, bc, zero)
                            v2, v3 = _bias_relu_value(v2, bc, zero), _bias_relu_value(v3, bc, zero)
                        best, a = _take_if_greater(v1, np.uint8(1), v0, np.uint8(0))
                        best, a = _take_if_greater(v2, np.uint8(2), best, a)
                        best, a = _take_if_greater(v3, np.uint8(3), best, a)
                        out[b, y, x0, ch] = best
                        arg[b, y, x0, ch] = a

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _maxpool2_route(
        dout, arg, out, s, dx, one, zero, relu
    ):  # pragma: no cover - compiled; tested against _maxpool_route
        """_maxpool_route for 2 x 2 windows: each channel's gradient written to the window's four elements in one
        pass (0.66x the general kernel's time on cnn:32,64,64's first layer)."""
        n, oh, ow, c = dout.shape
        for b in range(n):
            for y in range(oh):
                y0 = y * s
                for x0 in range(ow):
                    x1 = x0 * s
                    for ch in range(c):
                        d = dout[b, y, x0, ch]
                        if relu:
                            routed = d * (one if out[b, y, x0, ch] > 0 else zero)
                        else:
                            routed = d
                        other = zero * d
                        a = arg[b, y, x0, ch]
                        dx[b, y0, x1, ch] = routed if a == np.uint8(0) else other
                        dx[b, y0, x1 + 1, ch] = routed if a == np.uint8(1) else other
                        dx[b, y0 + 1, x1, ch] = routed if a == np.uint8(2) else other
                        dx[b, y0 + 1, x1 + 1, ch] = routed if a == np.uint8(3) else other

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def maxpool_forward(x, p, s, out, arg):  # pragma: no cover - compiled; tested against NumPy
        """out (n, oh, ow, C) = max over each p x p window (stride s) of x; arg = the row-major offset
        of the window's first maximum (as argmax: the first NaN, where there is one)."""
        if p == 2:
            _maxpool2_take(x, np.zeros(1, out.dtype), s, out, arg, out.dtype.type(0), False)
        else:
            _maxpool_take(x, np.zeros(1, out.dtype), p, s, out, arg, out.dtype.type(0), False)

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def bias_relu_maxpool(z, bias, zero, p, s, out, arg):  # pragma: no cover - compiled; tested against NumPy
        """bias_relu, then maxpool_forward, in one pass: the ReLU layer's Z + b and A = max(Z + b, 0) are never
        written out, only the pool's output and argmax (the same numbers as the two kernels one after the other)."""
        if p == 2:
            _maxpool2_take(z, bias, s, out, arg, zero, True)
        else:
            _maxpool_take(z, bias, p, s, out, arg, zero, True)

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _maxpool_route(dout, arg, out, p, s, dx, one, zero, relu):  # pragma: no cover - compiled
        """Each window's gradient d to the offset in arg (times ReLU' = [out > 0] when ``relu``), 0 * d to every
        other element of the window (as the NumPy path multiplies by its mask)."""
        n, oh, ow, c = dout.shape
        for b in range(n):
            for y in range(oh):
                for x0 in range(ow):
                    d_row, arg_row, out_row = dout[b, y, x0], arg[b, y, x0], out[b, y, x0]
                    for i in range(p):
                        for j in range(p):
                            o = np.uint8(i * p + j)
                            dx_row = dx[b, y * s + i, x0 * s + j]
                            for ch in range(c):
                                d = d_row[ch]
                                if relu:
                                    routed = d * (one if out_row[ch] > 0 else zero)
                                else:
                                    routed = d
                                # both values computed and one selected, without a branch (see _maxpool_take)
                                dx_row[ch] = routed if arg_row[ch] == o else zero * d

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def maxpool_backward(dout, arg, p, s, dx, zero):  # pragma: no cover - compiled; tested against NumPy
        """dx (zeroed where no window covers it, when s > p or the edge is cropped) from the pool's output
        gradient; zero in dx's dtype."""
        if p == 2:
            _maxpool2_route(dout, arg, dout, s, dx, zero, zero, False)
        else:
            _maxpool_route(dout, arg, dout, p, s, dx, zero, zero, False)

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def maxpool_relu_backward(dout, arg, out, p, s, dz, one, zero):  # pragma: no cover - compiled; tested against NumPy
        """maxpool_backward, then relu_backward of the ReLU before the pool, in one pass (dz zeroed where no window
        covers it). At a window's maximum ReLU' reads [out > 0] (the maximum is that ReLU's output there), elsewhere
        the routed 0 * d times ReLU's 1 or 0 is 0 * d itself; so no array of the input's size is written twice or
        read back: the same numbers as the two kernels one after the other."""
        if p == 2:
            _maxpool2_route(dout, arg, out, s, dz, one, zero, True)
        else:
            _maxpool_route(dout, arg, out, p, s, dz, one, zero, True)

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _block_sum(a, start, n, zero):  # pragma: no cover - compiled; tested through _pairwise_sum
        """NumPy's sum of a block of at most 128 values: fewer than 8 one after the other from zero; else 8
        running sums, combined as a tree, then the rest."""
        if n < 8:
            res = zero
            for i in range(n):
                res += a[start + i]
            return res
        r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
        r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
        i = 8
        end = n - n % 8
        while i < end:
            r0 += a[start + i]
            r1 += a[start + i + 1]
            r2 += a[start + i + 2]
            r3 += a[start + i + 3]
            r4 += a[start + i + 4]
            r5 += a[start + i + 5]
            r6 += a[start + i + 6]
            r7 += a[start + i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[start + i]
            i += 1
        return res

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def _pairwise_sum(a, start, n, zero):  # pragma: no cover - compiled; tested against np.sum
        """sum(a[start:start + n]) of a flat array in NumPy's order (``pairwise_sum`` of its add loops), in the
        array's dtype as NumPy sums float32: blocks of at most 128 (``_block_sum``); a longer range split in two
        at a multiple of 8, the halves' sums added. The halving runs on an explicit stack, not by recursion:
        numba's cache cannot load a recursive function back (it crashes the process)."""
        if n <= 128:
            return _block_sum(a, start, n, zero)
        starts, lengths = np.empty(64, np.int64), np.empty(64, np.int64)
        stage, sums = np.zeros(64, np.int8), np.empty(64, a.dtype)
        top, done = 0, 0
        starts[0], lengths[0], stage[0] = start, n, 0
        while top >= 0:
            s0, n0 = starts[top], lengths[top]
            if n0 <= 128:
                sums[done] = _block_sum(a, s0, n0, zero)
                done += 1
                top -= 1
                continue
            half = n0 // 2
            half -= half % 8
            if stage[top] == 2:  # both halves summed: their sum replaces them
                done -= 1
                sums[done - 1] = sums[done - 1] + sums[done]
                top -= 1
                continue
            stage[top] += 1
            first = stage[top] == 1
            top += 1
            starts[top] = s0 if first else s0 + half
            lengths[top] = half if first else n0 - half
            stage[top] = 0
        return sums[0]

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def softmax_shift(z, top, e):  # pragma: no cover - compiled; tested against the NumPy path
        """z (rows, K) -> top (rows, 1) = the row maximum (NaN where the row has one, as np.max), e = z - top."""
        rows, k = z.shape
        for r in range(rows):
            t = z[r, 0]
            for c in range(1, k):
                v = z[r, c]
                if v >= t or v != v:
                    t = v if t == t else t
            top[r, 0] = t
            for c in range(k):
                e[r, c] = z[r, c] - t

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def softmax_scale(e, s, zero):  # pragma: no cover - compiled; tested against the NumPy path
        """In place over e (rows, K), the exponentials: s (rows, 1) = the row sums (onto zero), e = e / s."""
        rows, k = e.shape
        flat = e.reshape(-1)
        for r in range(rows):
            sr = zero + _pairwise_sum(flat, r * k, k, zero)
            s[r, 0] = sr
            for c in range(k):
                e[r, c] = e[r, c] / sr

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def crossentropy_sum(y, z, lse, terms, sums, zero):  # pragma: no cover - compiled; tested against NumPy
        """sum_i sum_k y_ik (lse_i - z_ik), each sum as NumPy's (y * (lse - z)).sum(axis=-1).sum(): ``terms`` (K,)
        and ``sums`` (rows,) are work arrays in z's dtype."""
        rows, k = z.shape
        for r in range(rows):
            lr = lse[r, 0]
            for c in range(k):
                terms[c] = y[r, c] * (lr - z[r, c])
            sums[r] = zero + _pairwise_sum(terms, 0, k, zero)
        return zero + _pairwise_sum(sums, 0, rows, zero)
else:
    adam_update_keep = maxpool_relu_backward = bias_relu_maxpool = bias_relu = relu_backward = col2im = (
        maxpool_forward
    ) = maxpool_backward = None
    softmax_shift = softmax_scale = crossentropy_sum = relu_backward_sum = None
