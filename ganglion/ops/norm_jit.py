"""Compiled kernels (numba) for batch norm and layer norm: few passes, all cores.

Batch norm sees its input as ``(N, C, S)``. Training forward is two passes over the data: one
that takes both per-channel sums (of ``x - k`` and its square, ``k`` a per-channel shift that
keeps the one-pass variance free of cancellation) into float64 partials, one that writes
``(x - mean) * scale + shift``. Backward is two more: one for the two per-channel sums of
``g`` and ``g * (x - mean)``, one for ``dx``. Eval mode is the single affine pass. Partial sums
are per fixed chunk of rows (not per thread), so the results do not depend on the thread count.

Layer norm (and RMS norm) sees ``(M, D)``: each row is normalized by one thread in cache.

Only float32/float64, C-contiguous arrays of fixed ndim reach these kernels (see
``ganglion.backend.jit``); the NumPy twin lives in ``norm_fused``.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import norm_jit
    >>> x = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    >>> mean, var = norm_jit.channel_stats(x)
    >>> mean.tolist(), var.tolist()
    ([2.5, 4.5], [4.25, 4.25])
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ganglion.backend import jit, parallel

__all__ = ["channel_stats", "channel_moments", "channel_affine", "channel_dx", "rows_forward",
           "rows_backward"]

_MAX_CHUNKS = 32  # partial-sum rows: enough for the cores, fixed so sums are reproducible


def _chunks(rows):
    return max(1, min(rows, _MAX_CHUNKS))


@jit.kernel(parallel=True)
def _moments(a, ka, b, kb, nchunks, out):
    """out[k, 0, c] = sum(a - ka[c]), out[k, 1, c] = sum((a - ka[c]) * (b - kb[c])) over
    chunk k of the rows, in float64 (out zeroed by the caller)."""
    n, c, s = a.shape
    if s == 1:  # (N, C): rows are samples, the channel loop is the vector loop
        for k in prange(nchunks):
            for i in range(k * n // nchunks, (k + 1) * n // nchunks):
                for j in range(c):
                    da = np.float64(a[i, j, 0]) - ka[j]
                    out[k, 0, j] += da
                    out[k, 1, j] += da * (np.float64(b[i, j, 0]) - kb[j])
        return
    rows = n * c
    for k in prange(nchunks):
        for r in range(k * rows // nchunks, (k + 1) * rows // nchunks):
            i = r // c
            j = r - i * c
            x0, y0 = ka[j], kb[j]
            s1 = 0.0
            s2 = 0.0
            for t in range(s):
                da = np.float64(a[i, j, t]) - x0
                s1 += da
                s2 += da * (np.float64(b[i, j, t]) - y0)
            out[k, 0, j] += s1
            out[k, 1, j] += s2


def channel_moments(a, ka, b, kb):
    """(sum(a - ka), sum((a - ka) * (b - kb))) per channel of ``(N, C, S)`` arrays, float64."""
    rows = a.shape[0] if a.shape[2] == 1 else a.shape[0] * a.shape[1]
    nchunks = _chunks(rows)
    out = np.zeros((nchunks, 2, a.shape[1]), np.float64)
    _moments(a, ka, b, kb, nchunks, out)
    s = out.sum(0)
    return s[0], s[1]


def channel_stats(x):
    """Per-channel mean and biased variance of ``(N, C, S)`` ``x``, in float64."""
    k = x[0, :, 0].astype(np.float64)  # a sample of each channel: the shift
    n = x.shape[0] * x.shape[2]
    s1, s2 = channel_moments(x, k, x, k)
    d = s1 / n
    return k + d, np.maximum(s2 / n - d * d, 0.0)


SPLIT_MIN = 1 << 16  # elements from which channel_affine cuts its items among the threads


@jit.kernel()  # serial: channel_affine cuts the items among the threads (prange runs as range)
def _affine(x, m, scale, shift, out):
    n, c, s = x.shape
    if s == 1:
        for i in prange(n):
            for j in range(c):
                out[i, j, 0] = (x[i, j, 0] - m[j]) * scale[j] + shift[j]
        return
    for r in prange(n * c):
        i = r // c
        j = r - i * c
        mj, aj, bj = m[j], scale[j], shift[j]
        for t in range(s):
            out[i, j, t] = (x[i, j, t] - mj) * aj + bj


def channel_affine(x, m, scale, shift, out=None):
    """``(x - m[c]) * scale[c] + shift[c]`` for ``(N, C, S)`` ``x`` (per-channel arrays in x's
    dtype), in one parallel pass."""
    if out is None:
        out = np.empty_like(x)
    parts = jit.kernel_threads() if x.size >= SPLIT_MIN else 1
    if parts > 1 and x.shape[0] > 1:  # the items among the threads (backend.parallel)
        parallel.run_split(lambda lo, hi: _affine(x[lo:hi], m, scale, shift, out[lo:hi]),
                           x.shape[0], parts, 1)
    else:
        _affine(x, m, scale, shift, out)
    return out


@jit.kernel(parallel=True)
def _dx(g, a, x, m, b, d, out):
    n, c, s = x.shape
    if s == 1:
        for i in prange(n):
            for j in range(c):
                out[i, j, 0] = g[i, j, 0] * a[j] + (x[i, j, 0] - m[j]) * b[j] + d[j]
        return
    for r in prange(n * c):
        i = r // c
        j = r - i * c
        aj, mj, bj, dj = a[j], m[j], b[j], d[j]
        for t in range(s):
            out[i, j, t] = g[i, j, t] * aj + (x[i, j, t] - mj) * bj + dj


def channel_dx(g, a, x, m, b, d, out):
    """``out = g * a[c] + (x - m[c]) * b[c] + d[c]``: batch norm's input gradient in one pass."""
    _dx(g, a, x, m, b, d, out)
    return out


@jit.kernel(parallel=True)
def _rows_forward(x, w, b, eps, rms, y, mean, rstd):
    m, d = x.shape
    for i in prange(m):
        mu = 0.0
        if not rms:
            for j in range(d):
                mu += x[i, j]
            mu /= d
        ss = 0.0  # second pass over the row (in cache): no cancellation
        for j in range(d):
            v = np.float64(x[i, j]) - mu
            ss += v * v
        r = 1.0 / np.sqrt(ss / d + eps)
        mean[i] = mu
        rstd[i] = r
        for j in range(d):
            y[i, j] = (np.float64(x[i, j]) - mu) * r * w[j] + b[j]


def rows_forward(x, w, b, eps, rms):
    """Layer norm (RMS norm when ``rms``) of each row of ``(M, D)`` ``x``; ``w``/``b`` are
    ``(D,)`` arrays (ones/zeros when absent). Returns ``(y, mean, rstd)``, the stats float64."""
    m = x.shape[0]
    y = np.empty_like(x)
    mean, rstd = np.empty(m, np.float64), np.empty(m, np.float64)
    _rows_forward(x, w, b, eps, rms, y, mean, rstd)
    return y, mean, rstd


@jit.kernel(parallel=True)
def _rows_backward(g, x, w, mean, rstd, rms, nchunks, dx, gw, gb):
    m, d = x.shape
    for k in prange(nchunks):
        for i in range(k * m // nchunks, (k + 1) * m // nchunks):
            mu, r = mean[i], rstd[i]
            s1 = 0.0
            s2 = 0.0
            for j in range(d):
                xh = (np.float64(x[i, j]) - mu) * r
                gj = np.float64(g[i, j])
                gw[k, j] += gj * xh
                gb[k, j] += gj
                dxh = gj * w[j]
                s1 += dxh
                s2 += dxh * xh
            c1 = 0.0 if rms else s1 / d
            c2 = s2 / d
            for j in range(d):
                xh = (np.float64(x[i, j]) - mu) * r
                dx[i, j] = r * (np.float64(g[i, j]) * w[j] - c1 - xh * c2)


def rows_backward(g, x, w, mean, rstd, rms, dx):
    """Gradients of :func:`rows_forward`: ``dx`` written into ``dx``; returns ``(gw, gb)`` as
    float64 ``(D,)`` sums (the caller casts and drops what is not needed)."""
    m, d = x.shape
    nchunks = _chunks(m)
    gw = np.zeros((nchunks, d), np.float64)
    gb = np.zeros((nchunks, d), np.float64)
    _rows_backward(g, x, w, mean, rstd, rms, nchunks, dx, gw, gb)
    return gw.sum(0), gb.sum(0)
