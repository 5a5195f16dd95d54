"""Compiled kernels (numba) for the hot activations and their gradients: ReLU, GELU (exact and
tanh), SiLU, and softmax along the last dim.

NumPy runs each activation as a chain of single-threaded ufuncs with a full-size temporary per
step (exact GELU's backward is about ten). These kernels make one pass on all cores. ReLU is
exact in any float dtype. The others take float32 only and compute in float64 with a
polynomial exp (Cody-Waite reduction, degree-11 Taylor: about 1e-14 relative) and the
single-precision rational erf of ``_special`` (1.6 ulp of float32), so results are float32
rounding away from exact; they vectorize where libm's scalar exp would not (this numba has
no SVML). float64 stays on NumPy's accurate ufuncs.

The public functions take C-contiguous arrays of any shape; the kernels see 1-D views. Work is split in blocks of
``_BLOCK`` elements so the inner loops are plain, vectorizable loops.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import activation_jit
    >>> x = np.array([-1.0, 0.0, 2.0], np.float32)
    >>> activation_jit.relu(x).tolist(), activation_jit.relu_grad(np.ones(3, np.float32), x).tolist()
    ([0.0, 0.0, 2.0], [0.0, 0.0, 1.0])
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from ganglion.backend import jit, parallel

__all__ = ["relu", "relu_grad", "gelu", "gelu_grad", "gelu_tanh", "gelu_tanh_grad", "silu",
           "silu_grad", "sigmoid", "sigmoid_grad", "sigmoid_pass", "sigmoid_grad_pass",
           "softmax_last", "softmax_last_grad", "PARALLEL_MIN"]

_BLOCK = 8192  # elements per prange block; each block's loop runs over views from index 0:
# a loop from blk * _BLOCK kept LLVM from vectorizing (relu of 4M float32 at one thread:
# 3.54 ms with that loop, 1.39 ms over views, measured)
# below this many elements a parallel region's start (several us) costs more than it saves
PARALLEL_MIN = 1 << 16

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # ln 2 split so k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.42860682030941723212e-6
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715

# scalar helpers are inlined into each kernel (numba IR level): a call per element would keep
# LLVM from vectorizing the loops
_inline = numba.njit(inline="always", fastmath=set(jit.FASTMATH), cache=True)


@_inline
def _exp(x):
    """exp of a float64 without libm: vectorizes. inf/-inf/NaN give inf/0/NaN."""
    x = x if not (x > 710.0) else 710.0  # 'not >' keeps NaN
    x = x if not (x < -746.0) else -746.0
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln2 / 2
    p = 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2^k as two powers of two built from their bits, so that k down to -1076 (subnormal
    # results) and up to 1024 (inf) stay in each factor's exponent range
    ki = np.int64(k)
    h = ki >> 1
    a = np.int64((h + 1023) << 52)
    b = np.int64((ki - h + 1023) << 52)
    return p * a.view(np.float64) * b.view(np.float64)


@_inline
def _erf(x):
    """Single-precision erf (``_special._erf_single``'s rational fit) of a float64."""
    x = x if not (x > 4.0) else 4.0
    x = x if not (x < -4.0) else -4.0
    x2 = x * x
    p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    q = x2 * -1.45660718464996e-05 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q


@_inline
def _tanh(u):
    # 1 - 2 / (e^2u + 1): absolute error ~1e-16, all GELU's tanh form needs
    return 1.0 - 2.0 / (_exp(2.0 * u) + 1.0)


@_inline
def _sigmoid(v):
    return 1.0 / (1.0 + _exp(-v))


@jit.kernel()
def _relu(x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = v if not (v <= 0) else 0  # NaN passes through, as torch


@jit.kernel()
def _relu_grad(g, x, out):
    for i in range(x.size):
        out[i] = 0 if x[i] <= 0 else g[i]  # NaN x passes g, as torch


def _call(kernel, *arrays):
    """Run ``kernel(*flat inputs, flat out)`` with ``out`` allocated in the inputs' shape (a
    reshaped view would be copied again by the engine when it becomes a leaf's .grad). The
    kernels return nothing: boxing a returned array costs 0.36 us a call (measured), and
    small tensors pay per call."""
    x = arrays[-1]
    out = np.empty(x.shape, x.dtype)
    if len(arrays) == 1:
        kernel(x.ravel(), out.ravel())
    else:
        kernel(arrays[0].ravel(), x.ravel(), out.ravel())
    return out


def _split_call(kernel, *arrays):
    """:func:`_call` for a serial kernel, the flat arrays cut among the kernel threads
    (``backend.parallel.run_split``) from :data:`PARALLEL_MIN` elements."""
    x = arrays[-1]
    parts = jit.kernel_threads() if x.size >= PARALLEL_MIN else 1
    if parts <= 1:
        return _call(kernel, *arrays)
    out = np.empty(x.shape, x.dtype)
    flat = [a.ravel() for a in arrays] + [out.ravel()]
    parallel.run_split(lambda lo, hi: kernel(*[f[lo:hi] for f in flat]), x.size, parts)
    return out


def relu(x):
    """max(x, 0) of a large C-contiguous float array, on the kernel threads."""
    return _split_call(_relu, x)


def relu_grad(g, x):
    """0 where x <= 0, else g (torch's threshold_backward: a NaN x passes g), for C-contiguous
    float arrays of one shape; serial below :data:`PARALLEL_MIN` (one compiled pass still
    beats NumPy's compare, cast and multiply on small arrays)."""
    return _split_call(_relu_grad, g, x)


@jit.kernel(parallel=True)
def _gelu(x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        xb, outb = x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            outb[i] = v * (0.5 + 0.5 * _erf(v * _SQRT1_2))


@jit.kernel(parallel=True)
def _gelu_grad(g, x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        gb, xb, outb = g[a:e], x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            cdf = 0.5 + 0.5 * _erf(v * _SQRT1_2)
            outb[i] = gb[i] * (cdf + v * _exp(-0.5 * v * v) * _INV_SQRT_2PI)


@jit.kernel(parallel=True)
def _gelu_tanh(x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        xb, outb = x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            outb[i] = 0.5 * v * (1.0 + _tanh(_GELU_K * (v + _GELU_C * v * v * v)))


@jit.kernel(parallel=True)
def _gelu_tanh_grad(g, x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        gb, xb, outb = g[a:e], x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            v2 = v * v
            t = _tanh(_GELU_K * (v + _GELU_C * v2 * v))
            du = _GELU_K * (1.0 + 3.0 * _GELU_C * v2)
            outb[i] = gb[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du)


@jit.kernel(parallel=True)
def _silu(x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        xb, outb = x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            outb[i] = v * _sigmoid(v)


@jit.kernel(parallel=True)
def _silu_grad(g, x, out):
    n = x.size
    for blk in prange((n + _BLOCK - 1) // _BLOCK):
        a = blk * _BLOCK
        e = min(n, a + _BLOCK)
        gb, xb, outb = g[a:e], x[a:e], out[a:e]
        for i in range(e - a):
            v = np.float64(xb[i])
            s = _sigmoid(v)
            outb[i] = gb[i] * (s * (1.0 + v * (1.0 - s)))


# the serial passes, for callers that flatten small arrays themselves (sigmoid's per-op cost
# on an 8x8 tensor: each Python layer around the call adds ~0.15 us, measured)
@jit.kernel()
def sigmoid_pass(x, out):
    for i in range(x.size):
        out[i] = _sigmoid(np.float64(x[i]))


@jit.kernel()
def sigmoid_grad_pass(g, y, out):
    for i in range(y.size):
        v = y[i]
        out[i] = g[i] * ((1 - v) * v)  # torch's sigmoid_backward, in float32


def gelu(x):
    """Exact GELU x * Phi(x) of a C-contiguous float32 array."""
    return _call(_gelu, x)


def gelu_grad(g, x):
    """g * (Phi(x) + x phi(x)) for C-contiguous float32 arrays of one shape."""
    return _call(_gelu_grad, g, x)


def gelu_tanh(x):
    """GELU's tanh approximation of a C-contiguous float32 array."""
    return _call(_gelu_tanh, x)


def gelu_tanh_grad(g, x):
    """The gradient of :func:`gelu_tanh`, times ``g``."""
    return _call(_gelu_tanh_grad, g, x)


def silu(x):
    """x * sigmoid(x) of a C-contiguous float32 array."""
    return _call(_silu, x)


def silu_grad(g, x):
    """g * sigmoid(x) (1 + x (1 - sigmoid(x))) for C-contiguous float32 arrays."""
    return _call(_silu_grad, g, x)


def sigmoid(x):
    """1 / (1 + exp(-x)) of a C-contiguous float32 array, computed in float64 and rounded
    once to float32; cut among the kernel threads from :data:`PARALLEL_MIN` elements. On an
    8x8 tensor it is one compiled call (0.7 us) where NumPy's four ufuncs and their warning
    guard take 2.1 us; on 1M elements 0.63 ms against NumPy's 1.55 ms at one thread
    (measured)."""
    return _split_call(sigmoid_pass, x)


def sigmoid_grad(g, y):
    """g * (1 - y) * y from the sigmoid's output ``y``, for C-contiguous float32 arrays of
    one shape."""
    return _split_call(sigmoid_grad_pass, g, y)


@_inline
def _softmax_row(x, out, i):
    # one row's three passes, in L1 (float32 only: the polynomial exp)
    d = x.shape[1]
    mx = x[i, 0]
    for j in range(1, d):
        v = x[i, j]
        mx = v if v > mx or v != v else mx  # NaN wins, as max
    s = 0.0
    for j in range(d):
        e = _exp(np.float64(x[i, j] - mx))
        out[i, j] = e
        s += e
    r = 1.0 / s
    for j in range(d):
        out[i, j] = out[i, j] * r


@_inline
def _softmax_row_grad(g, y, out, i):
    d = y.shape[1]
    s = 0.0
    for j in range(d):
        s += np.float64(g[i, j]) * y[i, j]
    for j in range(d):
        out[i, j] = y[i, j] * (g[i, j] - s)


# Serial only: the kernels serve small and medium inputs, where NumPy's five ufunc calls cost
# more than the work; on large ones NumPy's float32 exp (AVX-512) beats the polynomial here.
@jit.kernel()
def _softmax_rows(x, out):
    for i in range(x.shape[0]):
        _softmax_row(x, out, i)


@jit.kernel()
def _softmax_rows_grad(g, y, out):
    for i in range(y.shape[0]):
        _softmax_row_grad(g, y, out, i)


def _rows(a):
    return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])


def softmax_last(x):
    """softmax along the last dim of a C-contiguous float32 array of at least one dim and
    one element."""
    out = np.empty(x.shape, x.dtype)
    _softmax_rows(_rows(x), _rows(out))
    return out


def softmax_last_grad(g, y):
    """y * (g - sum(g * y)) along the last dim (softmax's backward), C-contiguous float32."""
    out = np.empty(y.shape, y.dtype)
    _softmax_rows_grad(_rows(g), _rows(y), _rows(out))
    return out
