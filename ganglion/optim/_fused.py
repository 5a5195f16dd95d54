"""Shared machinery for the optimizers' fused updates.

Every algorithm writes its per-parameter update as a *kernel*: a function of same-shaped NumPy
arrays (parameter, gradient, state buffers) and Python-float scalars that updates them in place
with a handful of ufunc calls (``out=``, one scratch buffer, no float64 temporaries).
``launch`` runs the kernels of one step:

- small steps run serially (the per-call overhead is what matters there);
- large steps are cut into contiguous pieces of ``CHUNK`` elements (flat views of the arrays)
  and shared among ``NUM_THREADS`` threads. NumPy releases the GIL inside its ufunc loops, so
  elementwise optimizer math, which NumPy runs on one core, scales with cores (torch's eager
  kernels use its intra-op thread pool for the same reason). On one thread the arrays are not
  cut: measured on W1's shapes, cache-sized pieces gained nothing over whole-array passes (the
  32 MB L3 holds the working set) while the extra calls cost time.

The helpers below reproduce torch's in-place primitives (``lerp_``, ``addcmul_``) with the same
operation order, so float32 trajectories agree with torch's to rounding.
"""
from __future__ import annotations

import os

import numpy as np

from ganglion.backend import parallel

__all__ = ["launch", "lerp_", "addcmul_", "effective_grad", "jit_ready", "NUM_THREADS",
           "CHUNK"]


def _default_threads() -> int:
    env = os.environ.get("GANGLION_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


NUM_THREADS = _default_threads()
CHUNK = 1 << 17          # elements per piece: ~0.5 MB per float32 array, cache-sized
PARALLEL_MIN = 1 << 18   # below this many elements per step, threads cost more than they give

def _splittable(arrays) -> bool:
    shape = arrays[0].shape
    return all(a is None or (a.shape == shape and a.flags.c_contiguous
                             and isinstance(a, np.ndarray)) for a in arrays)


def _pieces(jobs):
    """Cut each job's arrays into flat views of at most CHUNK elements."""
    out = []
    for arrays, kw in jobs:
        n = arrays[0].size
        if n <= CHUNK or not _splittable(arrays):
            out.append((n, arrays, kw))
            continue
        flat = [None if a is None else a.reshape(-1) for a in arrays]
        for s in range(0, n, CHUNK):
            out.append((min(CHUNK, n - s),
                        tuple(None if a is None else a[s:s + CHUNK] for a in flat), kw))
    return out


def _run(kernel, pieces):
    for _, arrays, kw in pieces:
        kernel(*arrays, **kw)


def launch(kernel, jobs, threads: int | None = None) -> None:
    """Run ``kernel(*arrays, **kw)`` for every ``(arrays, kw)`` job, in parallel when large.

    Kernels must be elementwise: any contiguous piece of the arrays can be updated alone.
    """
    threads = NUM_THREADS if threads is None else threads
    total = 0
    for arrays, _ in jobs:
        total += arrays[0].size
    if threads < 2 or total < PARALLEL_MIN:
        for arrays, kw in jobs:
            kernel(*arrays, **kw)
        return
    pieces = _pieces(jobs)
    # contiguous runs of pieces of about equal size, one per thread
    groups, cur, acc, target = [], [], 0, total / threads
    for piece in pieces:
        cur.append(piece)
        acc += piece[0]
        if acc >= target * (len(groups) + 1) and len(groups) < threads - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    pool = parallel.get_pool(max(1, NUM_THREADS - 1))
    futures = [pool.submit(_run, kernel, g) for g in groups[1:] if g]
    try:
        _run(kernel, groups[0])
    finally:
        for f in futures:
            f.result()


def jit_ready(arrays) -> bool:
    """The compiled kernels (``_fused_jit``) take these: NumPy float32/float64 arrays (None
    for an absent buffer) of one dtype and size, all C-contiguous (a broadcast or transposed
    gradient takes the NumPy kernel)."""
    p = arrays[0]
    dt = p.dtype
    if type(p) is not np.ndarray or dt not in (np.float32, np.float64):
        return False
    return all(a is None or (type(a) is np.ndarray and a.dtype == dt and a.size == p.size
                             and a.flags.c_contiguous) for a in arrays)


def lerp_(m, g, w: float, t) -> None:
    """``m.lerp_(g, w)`` with torch's two-sided formula (exact at w == 1); ``t`` is scratch."""
    np.subtract(g, m, out=t)
    if abs(w) < 0.5:
        t *= w
        m += t
    else:
        t *= 1.0 - w
        np.subtract(g, t, out=m)


def addcmul_(v, a, b, value: float, t) -> None:
    """``v.addcmul_(a, b, value=value)``: v + value * a * b in torch's order."""
    np.multiply(a, value, out=t)
    t *= b
    v += t


def effective_grad(p, g, weight_decay: float, maximize: bool):
    """The gradient the update uses: ``-g`` under maximize, plus ``weight_decay * p`` (L2).

    Returns ``g`` itself when neither applies (it is only read), else a new array.
    """
    if weight_decay != 0:
        d = np.multiply(p, weight_decay, out=np.empty_like(p))  # 0-d safe: a real array
        if maximize:
            np.subtract(d, g, out=d)
        else:
            d += g
        return d
    if maximize:
        return np.negative(g)
    return g
