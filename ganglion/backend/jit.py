"""Compiled CPU kernels (numba) for the loops NumPy can neither fuse nor spread over cores.

A kernel is an acceleration, never the only implementation: every op keeps its NumPy path,
which runs for CuPy arrays, when numba is not installed, under ``GANGLION_JIT=0``, inside
:func:`disabled`, in threads other than the main thread, and in forked child processes. The
test suite runs both paths and compares each with PyTorch.

Parallel kernels use numba's ``workqueue`` threading layer (unless ``NUMBA_THREADING_LAYER``
says otherwise). GNU OpenMP, the layer numba would pick here, spins its idle threads after each
loop; on 2 cores they fought OpenBLAS's spinning threads between every kernel and GEMM, and
W3's training step took 6580 ms at 2 threads against 1217 ms with workqueue. Workqueue allows
one launching thread at a time, hence kernels run only in the main thread (other threads and
forked children take the NumPy paths, which are always correct).

Parallel kernels run on ``GANGLION_KERNEL_THREADS`` threads when set; otherwise on 1. Between
OpenBLAS's multi-threaded GEMMs, whose idle threads keep spinning on the other core for about
0.1 s, a 2-thread kernel lost its second core: W3's step at 2 BLAS threads was 1141 ms with
1-thread kernels, 1217 ms with 2 (workqueue) and 6580 ms with 2 (OpenMP). But for a
second after a convolution ran its batch blocks on ganglion's own threads
(``backend.parallel``), which also bands the large linear GEMMs so that OpenBLAS's threads
sleep, kernels get ``ganglion.get_num_threads()`` threads (W2's step: 121 ms with 1, 113 ms
with 2).

Kernels sit in their own ``*_jit.py`` modules, imported by the op only when it uses them, so
``import ganglion`` never imports numba; each is compiled on its first call for a given argument
type and cached on disk next to its module (``__pycache__``), so a second process starts warm. ``FASTMATH`` allows reassociation and contraction (results stay within float32 rounding)
but never assumes away NaN or infinity: NaNs propagate as in NumPy and PyTorch.

Example:
    >>> import numpy as np
    >>> from ganglion.backend import jit
    >>> x = np.arange(3, dtype=np.float32)
    >>> if jit.enabled_for(x):
    ...     @jit.kernel(cache=False)
    ...     def _twice(a, out):
    ...         for i in range(a.size):
    ...             out[i] = 2 * a[i]
    ...     y = np.empty_like(x); _twice(x, y)
    ... else:
    ...     y = 2 * x
    >>> y.tolist()
    [0.0, 2.0, 4.0]
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import threading

import numpy as np

__all__ = ["AVAILABLE", "FASTMATH", "kernel", "enabled", "enabled_for", "disabled",
           "set_enabled"]

AVAILABLE = importlib.util.find_spec("numba") is not None
# IEEE-safe subset of LLVM's fast-math flags: no 'nnan'/'ninf' (NaN must propagate), no 'afn'
# (approximate exp/log/tanh would move results by more than float32 rounding)
FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})

_env_off = os.environ.get("GANGLION_JIT", "1").strip().lower() in ("0", "false", "off", "no")
_state = {"on": AVAILABLE and not _env_off}
_local = threading.local()
_local.off = False  # set here so that enabled()'s read finds it: a missing attribute with a
# getattr default raises inside and costs 0.37 us, more than a small op's ufunc
_main_id = threading.main_thread().ident
_get_ident = threading.get_ident


def _after_fork_in_child():
    # the child keeps NumPy paths: see the module docstring
    _state["on"] = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def enabled() -> bool:
    """Whether compiled kernels run in this thread now (only ever in the main thread)."""
    return (_state["on"] and _get_ident() == _main_id
            and not getattr(_local, "off", False))


def enabled_for(*arrays) -> bool:
    """Compiled kernels are on and every array given is a NumPy array (not CuPy)."""
    if not enabled():
        return False
    return all(type(a) is np.ndarray for a in arrays)


def set_enabled(flag: bool) -> None:
    """Turn compiled kernels on or off process-wide (on needs numba installed)."""
    if flag and not AVAILABLE:
        raise RuntimeError("ganglion.backend.jit.set_enabled(True): numba is not installed; "
                           "install it with `pip install numba`")
    _state["on"] = bool(flag)


@contextlib.contextmanager
def disabled():
    """Run the NumPy paths inside the block (this thread only): for tests and debugging.

    Example:
        >>> from ganglion.backend import jit
        >>> with jit.disabled():
        ...     jit.enabled()
        False
    """
    prev = getattr(_local, "off", False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = prev


def kernel_threads() -> int:
    """Threads of the parallel kernels: ``GANGLION_KERNEL_THREADS`` when set; else 1, or
    ``ganglion.get_num_threads()`` while convolutions keep the GEMMs off OpenBLAS's spinning
    threads (``backend.parallel.gemms_claimed``; see the module docstring)."""
    env = os.environ.get("GANGLION_KERNEL_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    from ganglion.backend import parallel  # noqa: PLC0415

    return parallel.threads() if parallel.gemms_claimed() else 1


def apply_kernel_threads() -> None:
    """Give numba :func:`kernel_threads` threads now (if numba is loaded yet)."""
    import sys  # noqa: PLC0415

    numba = sys.modules.get("numba")
    if numba is not None and _state["on"]:
        numba.set_num_threads(min(kernel_threads(), numba.config.NUMBA_NUM_THREADS))


def kernel(*, parallel: bool = False, fastmath: bool = True, cache: bool = True,
           nogil: bool = True):
    """Decorator: ``numba.njit`` with ganglion's options (compiled on first call, cached).

    Kernels live in their own ``*_jit.py`` modules, which import numba at their top; an op
    imports its kernel module inside the function, only after :func:`enabled_for` said yes, so
    ``import ganglion`` never pays numba's import. ``parallel=True`` lets ``numba.prange``
    loops run on ``ganglion.get_num_threads()`` cores.
    """
    import numba  # noqa: PLC0415

    if "NUMBA_THREADING_LAYER" not in os.environ:  # see the module docstring
        numba.config.THREADING_LAYER = "workqueue"
    numba.set_num_threads(min(kernel_threads(), numba.config.NUMBA_NUM_THREADS))
    return numba.njit(parallel=parallel, cache=cache, nogil=nogil, error_model="numpy",
                      fastmath=set(FASTMATH) if fastmath else False)
