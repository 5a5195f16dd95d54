"""Compiled kernels (numba) for cross-entropy over rows of logits (the class dim last).

Forward is one row per thread in cache: a max pass (16 lanes, so that it vectorises; NaN is
left to the next pass) then one pass for sum(exp(x - max)) and, with label smoothing, the sum of
x (or of w * x), giving ``lse = max + log(sum)``. A NaN anywhere in a row makes its sum and lse
NaN, and a row holding +inf gives inf - inf = NaN, as torch's log-softmax does. Backward is one
pass ``exp(x - lse) * a[row] - b[row] * w[class]`` (the target's own term is added after, on
one element per row). Nothing of the size of the logits is kept between the two: backward
recomputes the exponentials, which costs less than writing and re-reading them.

float32 exponentials use a vectorisable Cody-Waite reduction and Cephes' degree-6 polynomial
(within 2 ulp of the exact value; results under 2^-126, which weigh nothing next to the row's
largest term 1, are flushed to 0); float64 ones use ``np.exp``.

Only float32/float64, C-contiguous 2-D arrays reach these kernels (see ``ganglion.backend.jit``);
the NumPy twin lives in ``loss_ce``.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import loss_jit
    >>> x = np.log(np.array([[1.0, 3.0]], np.float32))
    >>> lse, _ = loss_jit.row_lse(x, None, False)
    >>> round(float(np.exp(lse[0])), 5)
    4.0
"""
from __future__ import annotations

import sys

import numba
import numpy as np
from numba import prange, types
from numba.extending import intrinsic, overload

from ganglion.backend import jit

__all__ = ["row_lse", "row_grad", "exp32"]

_LANES = 16  # independent running maxima: a select chain LLVM can turn into vector code


@intrinsic
def _bits_as_float32(typingctx, bits):
    """Reinterpret an int32 as float32 (how 2^n is built from its exponent field)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


@numba.njit(inline="always", fastmath=set(jit.FASTMATH), error_model="numpy")
def exp32(v):
    """exp of a float32 (NaN stays NaN, -inf and anything below -87.3 give 0, above 88.7
    inf): v = n ln2 + f, |f| <= ln2 / 2, exp(v) = 2^n * poly(f)."""
    n = np.rint(v * np.float32(1.4426950408889634))
    f = v - n * np.float32(0.693359375)  # ln2 in two parts: n * hi is exact
    f = f - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * f + np.float32(1.3981999507e-3)
    p = p * f + np.float32(8.3334519073e-3)
    p = p * f + np.float32(4.1665795894e-2)
    p = p * f + np.float32(1.6666665459e-1)
    p = p * f + np.float32(5.0000001201e-1)
    p = p * (f * f) + f + np.float32(1.0)
    top = n > np.float32(127.0)  # 2^128 is no float32: 2 * 2^127
    p = p + p if top else p
    n = min(max(n, np.float32(-126.0)), np.float32(127.0))  # NaN: the final select decides
    r = p * _bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))
    r = np.float32(0.0) if v < np.float32(-87.33654) else r
    r = np.float32(np.inf) if v > np.float32(88.72283) else r
    return v if v != v else r


def _exp(v):
    return np.exp(v)


@overload(_exp)
def _exp_impl(v):
    if v == types.float32:
        return lambda v: exp32(v)
    return lambda v: np.exp(v)


@numba.njit(inline="always", fastmath=set(jit.FASTMATH), error_model="numpy")
def _row_max(x, r):
    """Max of row ``r`` ignoring NaN (-inf for an all-NaN row), in 16 vectorisable lanes."""
    c = x.shape[1]
    acc = np.full(_LANES, -np.inf, x.dtype)
    j = 0
    while j + _LANES <= c:
        for k in range(_LANES):
            v = x[r, j + k]
            acc[k] = v if v > acc[k] else acc[k]
        j += _LANES
    m = acc[0]
    for k in range(1, _LANES):
        m = acc[k] if acc[k] > m else m
    for jj in range(j, c):
        v = x[r, jj]
        m = v if v > m else m
    return m


@jit.kernel(parallel=True)
def _lse(x, mode, w, lse, sx):
    """lse[r] = log(sum_c exp(x[r, c])); sx[r] = sum_c x[r, c] (mode 1), sum_c w[c] x[r, c]
    (mode 2) or untouched (mode 0)."""
    rows, c = x.shape
    for r in prange(rows):
        m = _row_max(x, r)
        s = 0.0  # float64 sums: the cast is cheap next to the exponential
        t = 0.0
        for j in range(c):
            s += _exp(x[r, j] - m)
        if mode == 1:
            for j in range(c):
                t += x[r, j]
        elif mode == 2:
            for j in range(c):
                t += w[j] * x[r, j]
        lse[r] = m + np.log(s)
        sx[r] = t


@jit.kernel(parallel=True)
def _grad(x, lse, a, b, w, use_w, out):
    """out[r, c] = exp(x[r, c] - lse[r]) * a[r] - b[r] * (w[c] if use_w else 1)."""
    rows, c = x.shape
    for r in prange(rows):
        lr, ar, br = lse[r], a[r], b[r]
        if use_w:
            for j in range(c):
                out[r, j] = _exp(x[r, j] - lr) * ar - br * w[j]
        else:
            for j in range(c):
                out[r, j] = _exp(x[r, j] - lr) * ar - br


def row_lse(x, w, smooth):
    """(lse, sx) per row of ``x`` (R, C): log-sum-exp in x's dtype, and with ``smooth`` the
    row sums of x (``w`` None) or of w * x (else None)."""
    rows = x.shape[0]
    lse = np.empty(rows, x.dtype)
    sx = np.empty(rows, x.dtype)
    mode = 0 if not smooth else 1 if w is None else 2
    wv = np.ascontiguousarray(w if w is not None else np.ones(1), dtype=x.dtype)
    _lse(x, mode, wv, lse, sx)
    return lse, (sx if smooth else None)


_SPARE = {}  # (shape, dtype) -> the last gradient array handed out, for reuse


def _buffer(shape, dtype):
    """An array to write a gradient into: the one returned last time for this shape if nobody
    holds it any more (its reference count says so), else a new one. A logits gradient is
    often over glibc's 32 MiB mmap threshold, so a new one is fresh pages from the kernel,
    whose first-touch faults cost as much as the gradient pass itself (W5: 2048 x 8000)."""
    key = (tuple(shape), np.dtype(dtype).str)
    arr = _SPARE.get(key)
    if arr is not None and sys.getrefcount(arr) == 3:  # the dict, ``arr`` and the call
        return arr
    if len(_SPARE) >= 4:
        _SPARE.clear()
    arr = _SPARE[key] = np.empty(shape, dtype)
    return arr


def row_grad(x, lse, a, b, w, shape=None):
    """exp(x - lse[:, None]) * a[:, None] - b[:, None] * (w[None] or 1), one pass, into an
    array of ``shape`` (default x's; the same size) that no one else holds."""
    out = _buffer(x.shape if shape is None else shape, x.dtype)
    dt = x.dtype
    wv = np.ascontiguousarray(w if w is not None else np.ones(1), dtype=dt)
    _grad(x, lse, np.ascontiguousarray(a, dtype=dt), np.ascontiguousarray(b, dtype=dt), wv,
          w is not None, out.reshape(x.shape))
    return out
