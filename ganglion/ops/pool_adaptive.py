"""Adaptive pooling, as torch.nn.functional: ``adaptive_avg_pool1d/2d/3d`` and
``adaptive_max_pool1d/2d/3d``.

Output cell ``i`` of an axis of size ``n`` pooled to ``m`` covers torch's window
``[floor(i n / m), ceil((i + 1) n / m))``. Equal windows (``m`` divides ``n``) use the plain
box-sum average pool; uneven ones weighted taps per axis (``Resample``), one vectorised pass per
tap (at most ``ceil(n / m) + 1`` of them).

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.adaptive_avg_pool2d(ganglion.ones(2, 3, 7, 5), (3, None)).shape
    ganglion.Size([2, 3, 3, 5])
"""
from __future__ import annotations

import numpy as np

from ganglion.ops._util import check_tensor, shape_str
from ganglion.ops.pool_kernels import AdaptiveMaxPool, AvgPool, Resample
from ganglion.tensor import Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_windows"]


def adaptive_windows(n, m):
    """(start, end) arrays of torch's adaptive windows for ``n`` inputs pooled to ``m``."""
    i = np.arange(m)
    return (i * n) // m, ((i + 1) * n + m - 1) // m


def _taps(n, m, average):
    """(idx, w) of shape (taps, m): window indices, short windows repeating their last one."""
    start, end = adaptive_windows(n, m)
    size = end - start
    t = np.arange(size.max() if m else 1)[:, None]
    idx = np.minimum(start + t, end - 1)
    w = np.where(t < size, 1.0 / size, 0.0) if average else None
    return idx, w


def _prepare(op, nd, input, output_size):
    check_tensor(input, op)
    if input.ndim not in (nd + 1, nd + 2) or 0 in input.shape[-nd:]:
        raise RuntimeError(f"{op}: expected a {nd + 1}D or {nd + 2}D input with non-zero "
                           f"spatial sizes, but got input of shape {shape_str(input.shape)}.")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) == 1:
            output_size = tuple(output_size) * nd
        if len(output_size) != nd:
            raise RuntimeError(f"{op}: output_size must have {nd} elements, got "
                               f"{tuple(output_size)}.")
        size = tuple(output_size)
    else:
        size = (output_size,) * nd
    sp = tuple(input.shape[-nd:])
    size = tuple(n if s is None else int(s) for s, n in zip(size, sp))  # None keeps the size
    if min(size) < 0:
        raise RuntimeError(f"{op}: output_size must be non-negative, got {size}.")
    unbatched = input.ndim == nd + 1
    return (input.unsqueeze(0) if unbatched else input), unbatched, sp, size


def _adaptive_avg(op, nd, input, output_size):
    x, unbatched, sp, size = _prepare(op, nd, input, output_size)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}.")
    if all(m and n % m == 0 for n, m in zip(sp, size)):  # equal windows: a plain average pool
        k = tuple(n // m for n, m in zip(sp, size))
        out = AvgPool.apply(x, k, k, ((0, 0),) * nd, size, np.asarray(int(np.prod(k))))
    else:
        axes = tuple(None if n == m else _taps(n, m, True) for n, m in zip(sp, size))
        out = Resample.apply(x, axes, True)  # torch keeps the gradient attached to x
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average over torch's adaptive windows of (N, C, L) to length ``output_size``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.adaptive_avg_pool1d(ganglion.tensor([[[1., 2., 3.]]]), 2)
        tensor([[[1.5000, 2.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average over torch's adaptive windows of (N, C, H, W) to ``output_size``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (H_out, W_out); None in the pair keeps that input size.

    Returns:
        (N, C, H_out, W_out).

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.adaptive_avg_pool2d(ganglion.ones(2, 8, 7, 7), 1).shape
        ganglion.Size([2, 8, 1, 1])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """Average over torch's adaptive windows of (N, C, D, H, W) to ``output_size``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.adaptive_avg_pool3d(ganglion.ones(1, 2, 5, 4, 3), 2).shape
        ganglion.Size([1, 2, 2, 2, 2])
    """
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(op, nd, input, output_size, return_indices):
    x, unbatched, sp, size = _prepare(op, nd, input, output_size)
    if x.array.dtype.kind not in "fiu":
        raise RuntimeError(f"{op}: expected a numeric input, got {input.dtype}.")
    axes = tuple(_taps(n, m, False)[0] for n, m in zip(sp, size))
    out, idx = AdaptiveMaxPool.apply(x, axes)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows of (N, C, L), as ``adaptive_max_pool1d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.adaptive_max_pool1d(ganglion.tensor([[[1., 5., 3.]]]), 2)
        tensor([[[5., 5.]]])
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows of (N, C, H, W), as ``adaptive_max_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (H_out, W_out); None keeps that input size.
        return_indices: also return the flat per-plane argmax (first maximum, row-major).

    Example:
        >>> import ganglion
        >>> x = ganglion.arange(9.0).reshape(1, 1, 3, 3)
        >>> ganglion.nn.functional.adaptive_max_pool2d(x, 2, return_indices=True)[1]
        tensor([[[[4, 5],
                  [7, 8]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows of (N, C, D, H, W), as ``adaptive_max_pool3d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.adaptive_max_pool3d(ganglion.ones(1, 1, 3, 3, 3), 2).shape
        ganglion.Size([1, 1, 2, 2, 2])
    """
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)
