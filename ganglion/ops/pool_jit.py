"""Compiled kernels (numba) for max and average pooling over 1 or 2 spatial dims.

Every kernel sees its input as ``(P, H, W)``, P = N * C planes (1-D pooling is H = 1), and runs
the planes in parallel: a plane belongs to one thread, so the backward scatters (overlapping
windows add into the same input cell) need no atomics and give the same sums at any thread
count. Max pooling finds the value and torch's index in one pass per window: the first maximum
(``v > best``) unless a NaN comes, which wins (``|| isnan(v)``, so the last NaN); cells in the
padding never win. The NumPy twins live in ``pool_kernels``.

Only float32/float64, C-contiguous arrays reach these kernels (see ``ganglion.backend.jit``).

Example:
    >>> import numpy as np
    >>> from ganglion.ops import pool_jit
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, idx = pool_jit.max_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (2, 2))
    >>> out.ravel().tolist(), idx.ravel().tolist()
    ([5.0, 7.0, 13.0, 15.0], [5, 7, 13, 15])
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ganglion.backend import jit

__all__ = ["max_pool", "scatter", "avg_pool", "avg_pool_t"]


@numba.njit(inline="always", fastmath=set(jit.FASTMATH), error_model="numpy")
def _window_max(x, p, h0, w0, i_lo, i_hi, j_lo, j_hi, dh, dw, low):
    """torch's loop over one window's taps inside the input: best = -inf (``low``) and the
    first tap's index, then every ``v > best || isnan(v)`` takes over."""
    w_in = x.shape[2]
    best = low
    bi = (h0 + i_lo * dh) * w_in + w0 + j_lo * dw
    for i in range(i_lo, i_hi):
        h = h0 + i * dh
        for j in range(j_lo, j_hi):
            w = w0 + j * dw
            v = x[p, h, w]
            if v > best or v != v:
                best = v
                bi = h * w_in + w
    return best, bi


@jit.kernel(parallel=True)
def _max_pool_inside(x, kh, kw, sh, sw, dh, dw, low, out, idx):
    """Max pooling where every window lies inside the input (no padding)."""
    oh_n, ow_n = out.shape[1], out.shape[2]
    for p in prange(x.shape[0]):
        for oh in range(oh_n):
            for ow in range(ow_n):
                out[p, oh, ow], idx[p, oh, ow] = _window_max(x, p, oh * sh, ow * sw, 0, kh,
                                                             0, kw, dh, dw, low)


@numba.njit(inline="always")
def _take(v, best, bi, t):
    """One tap of torch's rule as selects (no branch to mispredict on random data)."""
    hit = (v > best) | (v != v)
    return (v if hit else best), (t if hit else bi)


@jit.kernel(parallel=True)
def _max_pool_2x2(x, out, idx):
    """The common 2x2, stride 2 pool without padding: four taps in registers, the first one
    taken as is (torch's -inf start loses to it or ties), then three selects; the columns of
    a row pair are independent, so the loop vectorises."""
    w_in = x.shape[2]
    for p in prange(x.shape[0]):
        for oh in range(out.shape[1]):
            r0, r1 = x[p, 2 * oh], x[p, 2 * oh + 1]
            o, ix = out[p, oh], idx[p, oh]
            for ow in range(out.shape[2]):
                w = 2 * ow
                best, bi = _take(r0[w + 1], r0[w], 0, 1)
                best, bi = _take(r1[w], best, bi, w_in)
                best, bi = _take(r1[w + 1], best, bi, w_in + 1)
                o[ow] = best
                ix[ow] = 2 * oh * w_in + w + bi


@jit.kernel(parallel=True)
def _max_pool(x, hlo, hhi, wlo, whi, sh, sw, ph, pw, dh, dw, low, out, idx):
    """Max pooling over padded windows: output row ``oh`` takes the taps hlo[oh]..hhi[oh]
    that fall inside the input (precomputed: a division per window would cost more than the
    window), likewise for columns."""
    oh_n, ow_n = out.shape[1], out.shape[2]
    for p in prange(x.shape[0]):
        for oh in range(oh_n):
            for ow in range(ow_n):
                out[p, oh, ow], idx[p, oh, ow] = _window_max(
                    x, p, oh * sh - ph, ow * sw - pw, hlo[oh], hhi[oh], wlo[ow], whi[ow], dh,
                    dw, low)


def _inside_taps(n_out, n_in, k, s, p, d):
    """Per output position, the first and one-past-last tap inside the input [0, n_in)."""
    pos = (np.arange(n_out) * s - p)[:, None] + np.arange(k)[None, :] * d
    ok = (pos >= 0) & (pos < n_in)
    return ok.argmax(1).astype(np.int64), (k - ok[:, ::-1].argmax(1)).astype(np.int64)


@jit.kernel(parallel=True)
def _scatter(g, idx, add, out):
    """out[p] = 0, then out[p, idx[p, m]] (+)= g[p, m]: one plane per thread, no races."""
    nplanes, m_n = g.shape
    l_n = out.shape[1]
    for p in prange(nplanes):
        for j in range(l_n):
            out[p, j] = 0
        if add:
            for m in range(m_n):
                out[p, idx[p, m]] += g[p, m]
        else:
            for m in range(m_n):
                out[p, idx[p, m]] = g[p, m]


@numba.njit(inline="always")
def _span(o, s, p, k, n):
    """The cells [lo, hi) of window ``o`` (stride s, left pad p, size k) inside [0, n)."""
    return max(o * s - p, 0), min(o * s - p + k, n)


@jit.kernel(parallel=True)
def _avg_pool(x, kh, kw, sh, sw, ph, pw, div, out):
    h_in, w_in = x.shape[1], x.shape[2]
    for p in prange(x.shape[0]):
        for oh in range(out.shape[1]):
            h_lo, h_hi = _span(oh, sh, ph, kh, h_in)
            for ow in range(out.shape[2]):
                w_lo, w_hi = _span(ow, sw, pw, kw, w_in)
                s = 0.0  # float64: exact enough for any window
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        s += x[p, h, w]
                out[p, oh, ow] = s / div[oh, ow]


@jit.kernel(parallel=True)
def _avg_pool_t(g, kh, kw, sh, sw, ph, pw, div, out):
    """The adjoint of ``_avg_pool``: each g / div spread over its window (padding cropped)."""
    h_in, w_in = out.shape[1], out.shape[2]
    for p in prange(g.shape[0]):
        out[p] = 0
        for oh in range(g.shape[1]):
            h_lo, h_hi = _span(oh, sh, ph, kh, h_in)
            for ow in range(g.shape[2]):
                w_lo, w_hi = _span(ow, sw, pw, kw, w_in)
                v = g[p, oh, ow] / div[oh, ow]
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        out[p, h, w] += v


def _planes(a):
    """(N, C, *S) with 1 or 2 spatial dims -> a C-contiguous (N * C, H, W) (H = 1 for 1-D)."""
    sp = a.shape[2:] if len(a.shape) == 4 else (1,) + tuple(a.shape[2:])
    return np.ascontiguousarray(a).reshape((-1,) + tuple(sp))


def _pair(v, fill):
    """Per-axis parameters of 1 or 2 dims as (h, w): a 1-D pool is a 2-D one with H = 1."""
    return tuple(v) if len(v) == 2 else (fill,) + tuple(v)


def max_pool(x, ksize, stride, pads, dilation, out_sp):
    """(values, int64 per-plane flat argmax) of max pooling ``x`` (N, C, *S)."""
    xp = _planes(x)
    kh, kw = _pair(ksize, 1)
    sh, sw = _pair(stride, 1)
    ph, pw = _pair([lo for lo, _ in pads], 0)
    dh, dw = _pair(dilation, 1)
    oh, ow = _pair(out_sp, 1)
    shape = tuple(x.shape[:2]) + tuple(out_sp)
    out, idx = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    out3, idx3 = _planes(out), _planes(idx)
    low = x.dtype.type(-np.inf)
    if not any(lo or hi for lo, hi in pads) and (kh, kw, sh, sw, dh, dw) == (2, 2, 2, 2, 1, 1):
        _max_pool_2x2(xp, out3, idx3)
    elif not any(lo or hi for lo, hi in pads):
        _max_pool_inside(xp, kh, kw, sh, sw, dh, dw, low, out3, idx3)
    else:
        h_in, w_in = xp.shape[1:]
        hlo, hhi = _inside_taps(oh, h_in, kh, sh, ph, dh)
        wlo, whi = _inside_taps(ow, w_in, kw, sw, pw, dw)
        _max_pool(xp, hlo, hhi, wlo, whi, sh, sw, ph, pw, dh, dw, low, out3, idx3)
    return out, idx


def scatter(g, idx, out_shape, add):
    """out (``out_shape``) zero but for out.flat_plane[idx] (+)= g, per (n, c) plane."""
    rows = int(np.prod(out_shape[:2]))
    g2 = np.ascontiguousarray(g).reshape(rows, -1)
    i2 = np.ascontiguousarray(idx, dtype=np.int64).reshape(rows, -1)
    out = np.empty(out_shape, g.dtype)  # returned as allocated: it can become a .grad as is
    _scatter(g2, i2, bool(add), out.reshape(rows, -1))
    return out


def _avg_args(ksize, stride, pads, out_sp, div, dtype):
    kh, kw = _pair(ksize, 1)
    sh, sw = _pair(stride, 1)
    ph, pw = _pair([lo for lo, _ in pads], 0)
    oh, ow = _pair(out_sp, 1)
    d = np.ascontiguousarray(np.broadcast_to(np.asarray(div, dtype=dtype), tuple(out_sp)))
    return kh, kw, sh, sw, ph, pw, d.reshape(oh, ow)


def avg_pool(x, ksize, stride, pads, out_sp, div):
    """Window sums of ``x`` (N, C, *S) over zero padding, divided by ``div`` (broadcast)."""
    xp = _planes(x)
    args = _avg_args(ksize, stride, pads, out_sp, div, x.dtype)
    oh, ow = _pair(out_sp, 1)
    out = np.empty(tuple(x.shape[:2]) + tuple(out_sp), x.dtype)
    _avg_pool(xp, *args, _planes(out))
    return out


def avg_pool_t(g, ksize, stride, pads, div, x_shape):
    """The adjoint of :func:`avg_pool`: the gradient (``x_shape``) of the input."""
    gp = _planes(g)
    args = _avg_args(ksize, stride, pads, g.shape[2:], div, g.dtype)
    out = np.empty(x_shape, g.dtype)
    _avg_pool_t(gp, *args, _planes(out))
    return out
