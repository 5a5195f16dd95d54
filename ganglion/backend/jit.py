"""Compiled CPU kernels (numba) for the loops NumPy can neither fuse nor spread over cores.

A kernel is an acceleration, never the only implementation: every op keeps its NumPy path,
which runs for CuPy arrays, when numba is not installed, under ``GANGLION_JIT=0``, inside
:func:`disabled`, and in forked child processes (GNU OpenMP, numba's threading layer here,
hangs in a child whose parent already ran a parallel region). The test suite runs both paths
and compares each with PyTorch.

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


def _after_fork_in_child():
    # the child keeps NumPy paths: see the module docstring
    _state["on"] = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def enabled() -> bool:
    """Whether compiled kernels run in this thread now."""
    return _state["on"] and not getattr(_local, "off", False)


def enabled_for(*arrays) -> bool:
    """Compiled kernels are on and every array given is a NumPy array (not CuPy)."""
    if not (_state["on"] and not getattr(_local, "off", False)):
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


def kernel(*, parallel: bool = False, fastmath: bool = True, cache: bool = True,
           nogil: bool = True):
    """Decorator: ``numba.njit`` with ganglion's options (compiled on first call, cached).

    Kernels live in their own ``*_jit.py`` modules, which import numba at their top; an op
    imports its kernel module inside the function, only after :func:`enabled_for` said yes, so
    ``import ganglion`` never pays numba's import. ``parallel=True`` lets ``numba.prange``
    loops run on ``ganglion.get_num_threads()`` cores.
    """
    import numba  # noqa: PLC0415

    return numba.njit(parallel=parallel, cache=cache, nogil=nogil, error_model="numpy",
                      fastmath=set(FASTMATH) if fastmath else False)
