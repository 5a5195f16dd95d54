"""Compiled optimizer updates (numba): one pass over each parameter, on all cores.

NumPy needs about a dozen passes over memory per parameter for an Adam step (each ufunc reads
and writes whole arrays) on one core; these kernels read ``p, g, m, v`` once and write them
once, with torch's operation order per element (``lerp_``, ``mul_`` + ``addcmul_``,
``sqrt / bc2_sqrt + eps``, ``addcdiv_``) and the arithmetic in the arrays' own dtype (the
scalars arrive as a small array of that dtype), so float32 trajectories agree with torch's to
rounding. The NumPy kernels in ``adam.py`` remain the reference and the fallback.

Arrays reach these kernels flattened to 1-D, C-contiguous, all of one dtype (float32 or
float64): two signatures per kernel. Small parameters take the serial kernel (a parallel
region costs more than it gives under ~64k elements).

Example:
    >>> import numpy as np
    >>> from ganglion.optim import _fused_jit
    >>> p, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    >>> m, v = np.zeros(3, np.float32), np.zeros(3, np.float32)
    >>> sc = _fused_jit.adam_scalars(p.dtype, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
    ...                              weight_decay=0.0, decay=1.0, step=1)
    >>> _fused_jit.adam(p, g, m, v, None, sc, maximize=False)
    >>> [round(float(x), 4) for x in p]
    [0.9, 0.9, 0.9]
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ganglion.backend import jit

__all__ = ["adam", "adam_scalars", "sgd", "PARALLEL_MIN"]

PARALLEL_MIN = 1 << 16   # elements: below, one thread (the parallel launch costs more)
_BLOCK = 1 << 13         # elements per parallel work item (L1/L2-sized slices of 4 arrays)


@numba.njit(inline="always", fastmath=set(jit.FASTMATH), error_model="numpy")
def _adam_at(gi, pi, mi, vi, vm, s0, s1, s2, s3, s4, s5, s6, s7, s8, maximize, wd, decay, ams,
             lerp_lo):
    """One element of an Adam step in torch's single-tensor order; returns the new
    (param, exp_avg, exp_avg_sq, max_exp_avg_sq)."""
    if maximize:
        gi = -gi
    if decay:
        pi = pi * s4                         # param.mul_(1 - lr * wd)   (AdamW)
    if wd:
        gi = gi + s3 * pi                    # grad.add(param, alpha=wd) (L2)
    d = gi - mi                              # exp_avg.lerp_(grad, 1 - beta1)
    if lerp_lo:
        mi = mi + s0 * d
    else:
        mi = gi - d * s8
    vi = v_new = vi * s1 + (s2 * gi) * gi    # exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2)
    if ams and not (vi > vm or vi != vi):    # torch.maximum(max_exp_avg_sq, v): NaN wins
        vi = vm
    denom = np.sqrt(vi) / s5 + s6            # v.sqrt() / bc2_sqrt + eps
    return pi + s7 * mi / denom, mi, v_new, vi   # param.addcdiv_(m, denom, -step_size)


@jit.kernel()
def _adam_serial(p, g, m, v, vmax, sc, maximize, wd, decay, ams, lerp_lo):
    # the scalars as locals of the arrays' dtype: loads from ``sc`` inside the loop would
    # keep LLVM from vectorizing it (sc might alias the arrays written)
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7], sc[8]
    for i in range(p.size):
        p[i], m[i], v[i], vx = _adam_at(g[i], p[i], m[i], v[i], vmax[i], s0, s1, s2, s3, s4, s5,
                                        s6, s7, s8, maximize, wd, decay, ams, lerp_lo)
        if ams:  # a separate store: without amsgrad vmax is v itself
            vmax[i] = vx


@jit.kernel(parallel=True)
def _adam_parallel(p, g, m, v, vmax, sc, maximize, wd, decay, ams, lerp_lo):
    # each work item runs the serial kernel on its slice: loops written inline in a prange
    # body are not vectorized by numba
    n = p.size
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        _adam_serial(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vmax[lo:hi], sc, maximize, wd,
                     decay, ams, lerp_lo)


@numba.njit(inline="always", fastmath=set(jit.FASTMATH), error_model="numpy")
def _sgd_at(gi, pi, bi, s0, s1, s2, s3, maximize, wd, momentum, fresh, damp, nesterov):
    """One element of an SGD step in torch's order; returns (param, momentum_buffer)."""
    if maximize:
        gi = -gi
    if wd:
        gi = gi + s0 * pi                    # grad.add(param, alpha=wd)
    b = bi
    if momentum:
        if fresh:
            b = gi                           # buf = clone(grad)
        elif damp:
            b = bi * s1 + s2 * gi            # buf.mul_(momentum).add_(grad, alpha=1 - damp)
        else:
            b = bi * s1 + gi
        if nesterov:
            gi = gi + s1 * b                 # grad.add(buf, alpha=momentum)
        else:
            gi = b
    return pi + s3 * gi, b                   # param.add_(grad, alpha=-lr)


@jit.kernel()
def _sgd_serial(p, g, buf, sc, maximize, wd, momentum, fresh, damp, nesterov):
    s0, s1, s2, s3 = sc[0], sc[1], sc[2], sc[3]
    for i in range(p.size):
        p[i], b = _sgd_at(g[i], p[i], buf[i], s0, s1, s2, s3, maximize, wd, momentum, fresh,
                          damp, nesterov)
        if momentum:  # without momentum buf is p itself: no second store
            buf[i] = b


@jit.kernel(parallel=True)
def _sgd_parallel(p, g, buf, sc, maximize, wd, momentum, fresh, damp, nesterov):
    n = p.size
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        _sgd_serial(p[lo:hi], g[lo:hi], buf[lo:hi], sc, maximize, wd, momentum, fresh, damp,
                    nesterov)


def sgd(p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, maximize, fresh):
    """One SGD step on same-dtype, same-size C-contiguous arrays, in place (``buf`` None
    without momentum; ``fresh``: the buffer is new and takes this step's gradient)."""
    sc = np.array([weight_decay, momentum, 1.0 - dampening, -lr], dtype=p.dtype)
    kernel = _sgd_parallel if p.size >= PARALLEL_MIN else _sgd_serial
    kernel(p.reshape(-1), g.reshape(-1), (p if buf is None else buf).reshape(-1), sc,
           bool(maximize), weight_decay != 0, buf is not None, bool(fresh), dampening != 0,
           bool(nesterov))


def adam_scalars(dtype, *, lr, beta1, beta2, eps, weight_decay, decay, step):
    """The kernel's scalar vector for one parameter at step ``step`` (torch's bias
    corrections in Python floats, then cast to ``dtype`` as torch casts scalars)."""
    bc1 = 1.0 - beta1 ** step
    bc2_sqrt = (1.0 - beta2 ** step) ** 0.5
    sc = np.array([1.0 - beta1, beta2, 1.0 - beta2, weight_decay, decay, bc2_sqrt, eps,
                   -(lr / bc1), 0.0], dtype=dtype)
    sc[8] = 1 - sc[0]  # lerp's 1 - weight, taken in the dtype as torch's kernel takes it
    return sc


def adam(p, g, m, v, vmax, sc, *, maximize):
    """One Adam step on same-dtype, same-size C-contiguous arrays, in place (any ndim)."""
    kernel = _adam_parallel if p.size >= PARALLEL_MIN else _adam_serial
    kernel(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
           (v if vmax is None else vmax).reshape(-1), sc, bool(maximize), bool(sc[3] != 0),
           bool(sc[4] != 1), vmax is not None, abs(float(sc[0])) < 0.5)
