"""Run the independent pieces of one op on ganglion's threads, BLAS on one thread meanwhile.

An op whose work splits into pieces that each do a GEMM plus memory passes (the convolution's
batch blocks: im2col, GEMM, scatter) runs fastest when every core takes whole pieces: each
thread's GEMM runs single-threaded in its own cache, and the compiled memory passes, which run
on one core inside a multi-threaded GEMM sequence, run on all of them. While the pieces run,
the BLAS library is held to one thread (two threads each asking a 2-thread OpenBLAS for a GEMM
would queue on its one server), then set back. Only OpenBLAS's pthreads build (NumPy's wheels)
can be held so; with another BLAS :func:`run_parts` runs the pieces one after another on the
calling thread, as before.

The pool's threads call only ``nogil`` serial kernels and NumPy (no parallel numba kernels:
see ``backend.jit``), so they may run beside the main thread. ``optim._fused`` shares the pool.

Example:
    >>> from ganglion.backend import parallel
    >>> parallel.run_parts(lambda part: sum(part), [range(0, 50), range(50, 100)])
    [1225, 3725]
"""
from __future__ import annotations

import ctypes
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["run_parts", "run_split", "get_pool", "split", "threads"]

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()
_busy = threading.local()


def get_pool(workers: int) -> ThreadPoolExecutor:
    """The shared executor with ``workers`` threads (made again after a fork or a resize)."""
    # A forked child (DataLoader worker) inherits the executor object but not its threads:
    # make a new one there instead of queueing work that nobody runs.
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid() or _pool._max_workers != workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ganglion")
            _pool_pid = os.getpid()
        return _pool


def threads() -> int:
    """``ganglion.get_num_threads()``: how many parts an op should cut its work into."""
    from ganglion.optim import _fused  # noqa: PLC0415

    return _fused.NUM_THREADS


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into at most ``parts`` contiguous ranges of near-equal length.

    >>> split(5, 2)
    [range(0, 2), range(2, 5)]
    """
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:]) if b > a]


_blas = []  # [setters or None], looked up once (see _blas_setters)


def _blas_setters():
    """The (get, set) thread-count functions of every loaded BLAS, or None when one of them
    is not an OpenBLAS with a process-wide (pthreads) pool that can be held to one thread."""
    if not _blas:
        _blas.append(_find_blas_setters())
    return _blas[0]


def _find_blas_setters():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415
    except ImportError:  # pragma: no cover - a core dependency
        return None
    setters = []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.internal_api != "openblas" or getattr(lib, "threading_layer", None) == "openmp":
            return None  # MKL, BLIS, or OpenBLAS with per-thread (OpenMP) pools
        try:
            dll = ctypes.CDLL(lib.filepath)
        except OSError:
            return None
        for pre, suf in itertools.product(("", "scipy_"), ("", "64_", "_64")):
            get = getattr(dll, f"{pre}openblas_get_num_threads{suf}", None)
            put = getattr(dll, f"{pre}openblas_set_num_threads{suf}", None)
            if get is not None and put is not None:
                setters.append((get, put))
                break
        else:
            return None
    return setters


def run_parts(fn, parts: list, hold_blas: bool = True) -> list:
    """``[fn(p) for p in parts]``, the parts shared among ganglion's threads (see above).

    The calling thread and ``get_num_threads() - 1`` pool threads each take the next part not
    yet taken until none is left, so a thread slowed by another process (or by BLAS threads
    still spinning on its core) takes fewer parts; results come back in ``parts``' order. Every
    part has finished when this returns, or raises the first failed part's error. Nested calls,
    one part or one thread, a BLAS that cannot be held to one thread, and calls from threads
    other than the main one (the BLAS setting is process-wide) run the parts in order here.
    ``hold_blas=False``: parts that call no BLAS (compiled memory passes) leave its threads
    as they are.
    """
    workers = min(threads(), len(parts)) - 1
    if (workers < 1 or getattr(_busy, "on", False)
            or threading.current_thread() is not threading.main_thread()):
        return [fn(p) for p in parts]
    handles = _blas_setters() if hold_blas else []
    if handles is None:
        return [fn(p) for p in parts]
    results = [None] * len(parts)
    order = itertools.count()  # next() on it is atomic under the GIL
    failed = []

    def drain():
        for k in order:
            if k >= len(parts) or failed:
                return
            try:
                results[k] = fn(parts[k])
            except BaseException:
                failed.append(k)  # the other threads stop at their next part
                raise

    before = [get() for get, _ in handles]
    for _, put in handles:
        put(1)
    _busy.on = True
    try:
        pool = get_pool(max(1, threads() - 1))
        futures = [pool.submit(drain) for _ in range(workers)]
        errors = []
        try:
            drain()
        except BaseException as e:  # noqa: BLE001 - re-raised below, after all joined
            errors.append(e)
        for f in futures:
            try:
                f.result()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
        if errors:
            raise errors[0]
        return results
    finally:
        _busy.on = False
        for (_, put), n in zip(handles, before):
            put(n)


def run_split(fn, n: int, parts: int, align: int = 16) -> None:
    """``fn(lo, hi)`` over ``range(n)`` cut into ``parts`` pieces whose bounds are multiples of
    ``align``, run as :func:`run_parts` without holding BLAS: for nogil serial kernels.

    The calling thread takes a piece itself. numba's own parallel loops (workqueue) make it
    wait while two workers run: in W3's inference their batch-norm and ReLU passes took 1.8
    and 1.7 ms a call against 1.36 and 1.44 ms split here, and the whole forward 279.5 against
    255 ms (A/B in one process, 2 threads).

    >>> seen = []
    >>> run_split(lambda lo, hi: seen.append((lo, hi)), 40, 2)
    >>> sorted(seen)
    [(0, 16), (16, 40)]
    """
    step = max(align, (n // max(1, parts)) // align * align)
    bounds = list(range(0, n, step))[:parts] + [n]
    pieces = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
    run_parts(lambda p: fn(*p), pieces, hold_blas=False)


MATMUL_MIN_FLOPS = 1 << 25  # below ~30 MFLOP (~0.2 ms) one BLAS call costs less than a split
CLAIM_SECONDS = 1.0  # how long after a convolution's parts :func:`matmul` keeps banding
# when the last convolution's parts ran on ganglion's threads, and whether the compiled kernels
# were given all threads because of it (see :func:`claim_gemms`)
_claim = {"until": 0.0, "raised": False}


def matmul(a, b):
    """``a @ b`` of 2-D arrays: for large NumPy float arrays cut into row (or column) bands on
    ganglion's threads (see :func:`run_parts`), else one plain ``a @ b`` (any array type).

    Banding only pays beside ops that run on ganglion's threads: on its own a band per thread
    runs 10-40% slower than OpenBLAS's own 2-thread GEMM (which shares packed panels between
    its threads), but OpenBLAS's threads keep spinning for about 0.1 s after each call, on the
    core that the next convolution's parts need (W2's step, linear layers beside convolutions,
    took 145 ms so against 122 ms with banded GEMMs). So it bands only within
    ``CLAIM_SECONDS`` of a convolution that ran its parts on ganglion's threads
    (:func:`claim_gemms`), never for a model of linear layers only (W1: 15.8 ms a step with
    OpenBLAS's threads, 25.5 ms banded).

    >>> import numpy as np
    >>> a, b = np.ones((3, 2), np.float32), np.ones((2, 4), np.float32)  # small: one call
    >>> matmul(a, b).tolist()[0]
    [2.0, 2.0, 2.0, 2.0]
    """
    m, k = a.shape
    n = b.shape[1]
    t = threads()
    if (not _claimed_now() or t < 2 or 2 * m * n * k < MATMUL_MIN_FLOPS
            or type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype
            or a.dtype not in (np.float32, np.float64) or max(m, n) < 64 * t):
        return a @ b
    out = np.empty((m, n), a.dtype)
    if m >= n:
        bands = [slice(r.start, r.stop) for r in split(m, t)]
        run_parts(lambda s: np.matmul(a[s], b, out=out[s]), bands)
    else:
        bands = [slice(r.start, r.stop) for r in split(n, t)]
        run_parts(lambda s: np.matmul(a, b[:, s], out=out[:, s]), bands)
    return out


def claim_gemms() -> None:
    """For the next ``CLAIM_SECONDS``, :func:`matmul` bands large GEMMs on ganglion's threads
    (see there) and the compiled kernels use all of ganglion's threads (``jit.kernel_threads``);
    a convolution calls this each time it runs its blocks on the threads."""
    _claim["until"] = time.perf_counter() + CLAIM_SECONDS
    if not _claim["raised"]:
        _claim["raised"] = True
        from ganglion.backend import jit  # noqa: PLC0415

        jit.apply_kernel_threads()


def _claimed_now() -> bool:
    """:func:`gemms_claimed`, first giving the kernels back their default threads once the
    last convolution is ``CLAIM_SECONDS`` old (linear layers call this every step)."""
    claimed = gemms_claimed()
    if not claimed and _claim["raised"]:
        _claim["raised"] = False
        from ganglion.backend import jit  # noqa: PLC0415

        jit.apply_kernel_threads()
    return claimed


def gemms_claimed() -> bool:
    """Whether a convolution ran its blocks on ganglion's threads in the last
    ``CLAIM_SECONDS``."""
    return time.perf_counter() < _claim["until"]
