"""Compiled kernel (numba) for ``linear``'s bias: ``out += b`` over the rows, on all cores.

NumPy adds a broadcast bias on one core; on a (2048, 8000) output that is a 64 MB pass as
long as a small GEMM. Rows are shared among the threads; each row's add is a plain
vectorized loop. Inputs: a C-contiguous 2-D ``out`` and a contiguous 1-D ``b`` of its dtype.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import linalg_jit
    >>> out = np.zeros((2, 3), np.float32)
    >>> linalg_jit.add_bias(out, np.arange(3, dtype=np.float32))
    >>> out.tolist()
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
"""
from __future__ import annotations

from numba import prange

from ganglion.backend import jit

__all__ = ["add_bias", "PARALLEL_MIN"]

PARALLEL_MIN = 1 << 16  # elements: below, NumPy's single pass is as fast as a parallel start


@jit.kernel()
def _add_row(row, b):
    for j in range(row.size):
        row[j] += b[j]


@jit.kernel(parallel=True)
def _add_bias(out, b):
    for i in prange(out.shape[0]):
        _add_row(out[i], b)


def add_bias(out, b) -> None:
    """``out += b`` in place for ``out`` (M, N) and ``b`` (N,)."""
    _add_bias(out, b)
