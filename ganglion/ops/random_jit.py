"""Compiled kernels (numba) for dropout: the mask bits, and mask times scale, in parallel.

The bits are counter-based: pair ``k`` of elements gets ``splitmix64(seed + (k + 1) * gamma)``
(the SplitMix64 generator's k-th output; Steele, Lea and Flood 2014), its low 32 bits for
element 2k and its high 32 bits for element 2k + 1, so any thread can make any element's bits
and the result does not depend on the thread count. ``seed`` is one 64-bit draw from the
ganglion generator (``manual_seed`` reproduces it). ``random_dropout`` holds the NumPy twin,
which gives the same bits.

Only float32/float64, C-contiguous 1-D arrays reach these kernels (see ``ganglion.backend.jit``).

Example:
    >>> import numpy as np
    >>> from ganglion.ops import random_jit
    >>> x = np.ones(6, np.float32)
    >>> y, keep = random_jit.dropout(x, 12345, 2 ** 31, 2.0)  # P(keep) = 1/2, scale 2
    >>> bool(np.all(y == 2.0 * keep))
    True
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ganglion.backend import jit
from ganglion.ops.random_dropout import _GAMMA, _MIX1, _MIX2

__all__ = ["dropout", "keep_mask", "mask_scale"]

_CHUNK = 1 << 15  # pairs per parallel work item
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW = np.uint64(0xFFFFFFFF)


@numba.njit(inline="always")
def _mix(seed, k):
    """Bits of pair ``k``: SplitMix64's output for counter k + 1."""
    z = seed + np.uint64(k + 1) * _GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@jit.kernel(parallel=True)
def _keep(seed, thr, keep):
    """keep[i] = bits(i) >= thr."""
    n = keep.size
    full = n // 2
    for c in prange((full + _CHUNK - 1) // _CHUNK):
        for k in range(c * _CHUNK, min(full, (c + 1) * _CHUNK)):
            z = _mix(seed, k)
            keep[2 * k] = (z & _LOW) >= thr
            keep[2 * k + 1] = (z >> _S32) >= thr
    if n % 2:
        keep[n - 1] = (_mix(seed, full) & _LOW) >= thr


@jit.kernel(parallel=True)
def _mask_scale(x, keep, scale, y):
    n = x.size
    zero = scale - scale
    for c in prange((n + 2 * _CHUNK - 1) // (2 * _CHUNK)):
        a = c * 2 * _CHUNK
        e = min(n, a + 2 * _CHUNK)
        xc, kc, yc = x[a:e], keep[a:e], y[a:e]  # views from index 0: the loop vectorizes
        for i in range(e - a):
            yc[i] = xc[i] * (scale if kc[i] else zero)


def dropout(x, seed, thr, scale):
    """(x * keep * scale, keep) for a C-contiguous float array, keep a bool array of x's shape
    drawn from ``seed`` with P(keep) = 1 - thr / 2^32. Two passes (the mask, then the product)
    measured faster than one that does both."""
    keep = keep_mask(x.shape, seed, thr)
    return mask_scale(x, keep, scale), keep


def keep_mask(shape, seed, thr):
    """The bool keep mask of ``shape`` that :func:`dropout` would draw from ``seed``."""
    keep = np.empty(shape, np.bool_)
    _keep(np.uint64(seed), np.uint64(thr), keep.reshape(-1))
    return keep


def mask_scale(x, keep, scale):
    """x * keep * scale (the gradient of :func:`dropout`), one parallel pass."""
    y = np.empty_like(x)
    _mask_scale(x.reshape(-1), keep.reshape(-1), x.dtype.type(scale), y.reshape(-1))
    return y
