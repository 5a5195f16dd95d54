"""One thread count for every pool ganglion computes with: ``set_num_threads``/``get_num_threads``.

As ``torch.set_num_threads`` sets torch's intra-op pool, this sets the BLAS library's threads
(through threadpoolctl), the optimizers' update threads and the parts of the ops that
``backend.parallel`` spreads (convolution blocks) together. The compiled kernels get these
threads only within a second of a convolution run on them, else ``GANGLION_KERNEL_THREADS``
(default 1; see ``backend.jit``: beside OpenBLAS's spinning threads, more measured slower).
The default is the number of cores this process may run on (at most 8), or
``GANGLION_NUM_THREADS`` / ``OMP_NUM_THREADS`` when set.

Example:
    >>> import ganglion
    >>> n = ganglion.get_num_threads()
    >>> ganglion.set_num_threads(1)
    >>> ganglion.get_num_threads()
    1
    >>> ganglion.set_num_threads(n)
"""
from __future__ import annotations

import operator

__all__ = ["set_num_threads", "get_num_threads"]

_blas_limit = []  # the live threadpoolctl limiter (kept so its setting stays in force)


def get_num_threads() -> int:
    """The thread count ganglion's pools use now."""
    from ganglion.optim import _fused  # noqa: PLC0415

    return _fused.NUM_THREADS


def set_num_threads(num: int) -> None:
    """Use ``num`` threads for BLAS, optimizer updates and ``backend.parallel`` (torch's
    name); the compiled kernels follow as described above."""
    try:
        n = operator.index(num)
    except TypeError:
        raise TypeError(f"set_num_threads: expected an int number of threads, got "
                        f"{type(num).__name__} {num!r}") from None
    if n < 1:
        raise ValueError(f"set_num_threads: the number of threads must be >= 1, got {n}")
    from ganglion.optim import _fused  # noqa: PLC0415

    _fused.NUM_THREADS = n
    from ganglion.backend import jit  # noqa: PLC0415

    jit.apply_kernel_threads()
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:  # pragma: no cover - a core dependency
        pass
    else:
        _blas_limit[:] = [threadpool_limits(limits=n, user_api="blas")]
