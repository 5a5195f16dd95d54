"""Keep freed large arrays in the process's heap instead of handing them back to the kernel.

A training step allocates and frees the same large activations and gradients (megabytes each)
every step. With glibc's default settings a freed block above its dynamic thresholds goes back
to the kernel (``munmap``, or a trim of the heap's top), so the next step's array of the same
size is page-faulted in again, one 4 KiB page at a time, on every pass that first writes it.
At import ganglion therefore asks glibc (``mallopt``) to serve blocks up to 32 MiB (its
maximum) from the heap and to trim the heap only above 512 MiB of free space at its top.
Measured at 2 threads: W3's training step 953 -> 841 ms, W2's 160 -> 92 ms. The cost: up to
512 MiB of freed memory may stay mapped to the process for reuse.

Nothing is changed when ``GANGLION_MALLOC_TUNING=0``, when the process already sets glibc's
malloc options (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``),
or off glibc (macOS, Windows, musl).

Example:
    >>> from ganglion.backend import allocator
    >>> allocator.tuned() in (True, False)
    True
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["tune", "tuned"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20   # glibc's largest accepted value on 64-bit
TRIM_THRESHOLD = 512 << 20
_done = []


def _left_alone() -> bool:
    """Opted out, or the user set glibc's malloc options already."""
    return (os.environ.get("GANGLION_MALLOC_TUNING", "1").strip().lower() in ("0", "off", "no",
                                                                              "false")
            or any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"))
            or "malloc" in os.environ.get("GLIBC_TUNABLES", ""))


def tune() -> bool:
    """Apply the settings above once (at ``import ganglion``); whether they are in force."""
    if not _done:
        ok = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and not _left_alone():
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                          and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):  # no loadable libc or no mallopt: leave it
                pass
        _done.append(ok)
    return _done[0]


def tuned() -> bool:
    """Whether :func:`tune` changed glibc's settings in this process."""
    return bool(_done and _done[0])
