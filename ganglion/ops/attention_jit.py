"""Compiled kernels (numba) for the softmax inside fused attention, forward and backward.

NumPy spends about seven passes over the (batch, L, S) scores between the two GEMMs of the
forward (scale, causal fill, max, subtract, exp, sum, divide) and as many more for dropout and
the backward's ``ds = scale * p * (dp - rowsum(dp * p))``. Here each row of 128-ish scores is
read once and written once while it sits in L1, rows spread over the cores:

- ``softmax_forward``: scale, top-left causal cut (positions past the row's own are exact
  zeros), max-shifted softmax and, with dropout, ``pd = p * keep / (1 - p_drop)`` for the
  boolean mask ``keep`` the caller drew (the NumPy path draws the same one).
- ``softmax_backward``: ``dpd`` in place becomes ``scale * ds`` (the score scale folded in, so
  the gradients of q and k are plain GEMMs).

float32 rows use a single-precision exp (Cephes' minimax polynomial after Cody-Waite range
reduction, ~1 ulp) that LLVM vectorizes (this numba has no SVML); float64 rows use libm's exp.
Row sums accumulate in float64. NaN anywhere in a row makes the row NaN, as in NumPy.

Inputs are C-contiguous (R, L, S) arrays; the caller keeps the NumPy path for masks, float16
and CuPy arrays.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import attention_jit
    >>> s = np.zeros((1, 2, 2), np.float32)
    >>> attention_jit.softmax_forward(s, 1.0, True, None, 0.0)
    >>> s.tolist()
    [[[1.0, 0.0], [0.5, 0.5]]]
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ganglion.backend import jit
from ganglion.ops.loss_jit import exp32  # the float32 exp tested to 1 ulp, shared

__all__ = ["softmax_forward", "softmax_backward"]

_ROWS = 64  # rows per parallel work item


@jit.kernel()
def _row_max(row, n):
    """max(row[:n]) (n >= 1) over eight running maxima: a plain max loop is one serial
    dependency chain that LLVM does not vectorize without 'no NaNs'. A NaN may be skipped
    here; it still makes its row NaN through the exp and the row sum."""
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
    j = 0
    while j + 8 <= n:
        m0 = max(m0, row[j])
        m1 = max(m1, row[j + 1])
        m2 = max(m2, row[j + 2])
        m3 = max(m3, row[j + 3])
        m4 = max(m4, row[j + 4])
        m5 = max(m5, row[j + 5])
        m6 = max(m6, row[j + 6])
        m7 = max(m7, row[j + 7])
        j += 8
    for i in range(j, n):
        m0 = max(m0, row[i])
    return max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))


@jit.kernel()
def _rows_forward(s, first, L, scale, causal, keep, inv_keep, pd, dropout, single):
    # scalars of the rows' dtype (literals would be float64 and widen the loops; a float64
    # sum of float32 values does not vectorize)
    zero = np.zeros(1, s.dtype)[0]
    one = np.ones(1, s.dtype)[0]
    if not scale > 0:  # max(x * scale) == max(x) * scale needs scale > 0: scale first
        for r in range(s.shape[0]):
            for j in range(s.shape[1]):
                s[r, j] *= scale
        scale = one
    for r in range(s.shape[0]):
        row = s[r]
        S = row.size
        n = min(S, (first + r) % L + 1) if causal else S
        m = _row_max(row, n)  # the max of the unscaled scores; the scale goes in the exp
        tot = zero
        if single:  # a loop-invariant test: LLVM keeps two loops, the float32 one vectorized
            for j in range(n):
                e = exp32((row[j] - m) * scale)
                row[j] = e
                tot += e
        else:
            for j in range(n):
                e = np.exp((row[j] - m) * scale)
                row[j] = e
                tot += e
        inv = one / tot
        for j in range(n):
            row[j] *= inv
        for j in range(n, S):
            row[j] = zero
        if dropout:
            kr = keep[r]
            pr = pd[r]
            for j in range(S):
                pr[j] = row[j] * inv_keep if kr[j] else zero


@jit.kernel(parallel=True)
def _forward(s, L, scale, causal, keep, inv_keep, pd, dropout, single):
    R = s.shape[0]
    for b in prange((R + _ROWS - 1) // _ROWS):
        lo, hi = b * _ROWS, min(R, (b + 1) * _ROWS)
        _rows_forward(s[lo:hi], lo, L, scale, causal, keep[lo:hi], inv_keep, pd[lo:hi],
                      dropout, single)


@jit.kernel()
def _rows_backward(d, p, keep, inv_keep, scale, dropout):
    zero = np.zeros(1, d.dtype)[0]
    for r in range(d.shape[0]):
        dr = d[r]
        pr = p[r]
        if dropout:
            kr = keep[r]
            for j in range(dr.size):
                dr[j] = dr[j] * inv_keep if kr[j] else zero
        dot = zero
        for j in range(dr.size):
            dot += dr[j] * pr[j]
        for j in range(dr.size):
            dr[j] = scale * (pr[j] * (dr[j] - dot))


@jit.kernel(parallel=True)
def _backward(d, p, keep, inv_keep, scale, dropout):
    R = d.shape[0]
    for b in prange((R + _ROWS - 1) // _ROWS):
        lo, hi = b * _ROWS, min(R, (b + 1) * _ROWS)
        _rows_backward(d[lo:hi], p[lo:hi], keep[lo:hi], inv_keep, scale, dropout)


def _rows(a):
    return a.reshape(-1, a.shape[-1])


def softmax_forward(s, scale, causal, keep, p_drop, pd=None):
    """Scores ``s`` (..., L, S), C-contiguous, become softmax probabilities in place. With a
    boolean ``keep`` mask (s's shape) the dropped-out weights ``p * keep / (1 - p_drop)`` go
    to ``pd``."""
    if s.size == 0:
        return
    dt = s.dtype.type
    dropout = keep is not None
    s2 = _rows(s)
    k2 = _rows(keep) if dropout else np.ones((1, 1), np.bool_)
    pd2 = _rows(pd) if dropout else s2
    inv_keep = 1.0 / (1.0 - p_drop) if dropout else 1.0
    _forward(s2, s.shape[-2], dt(scale), bool(causal), k2, dt(inv_keep), pd2, dropout,
             s.dtype == np.float32)


def softmax_backward(d, p, scale, keep, p_drop):
    """``d`` = dL/d(dropped-out weights) (..., L, S), in place, becomes ``scale * dL/dscores``
    for the probabilities ``p`` (and the forward's ``keep`` mask with dropout)."""
    if d.size == 0:
        return
    dt = d.dtype.type
    dropout = keep is not None
    inv_keep = 1.0 / (1.0 - p_drop) if dropout else 1.0
    k2 = _rows(keep) if dropout else np.ones((1, 1), np.bool_)
    _backward(_rows(d), _rows(p), k2, dt(inv_keep), dt(scale), dropout)
