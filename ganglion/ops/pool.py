"""Pooling, as torch.nn.functional: ``max_pool1d/2d/3d``, ``avg_pool1d/2d/3d``,
``adaptive_avg_pool1d/2d/3d``, ``adaptive_max_pool1d/2d/3d``, ``max_unpool1d/2d/3d``,
``lp_pool1d/2d``. The ops (vectorised over windows) are in ``pool_kernels``.

Max pooling returns torch's indices (flat ``h * W + w`` within each (n, c) plane, of the first
maximum in the window; a NaN wins over numbers) and sends the gradient to that element.

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.max_pool2d(ganglion.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
"""
from __future__ import annotations

import numpy as np

from ganglion.ops._util import check_tensor, shape_str
from ganglion.ops.pool_adaptive import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                        adaptive_avg_pool3d, adaptive_max_pool1d,
                                        adaptive_max_pool2d, adaptive_max_pool3d)
from ganglion.ops.pool_kernels import AvgPool, IndexScatter, MaxPool
from ganglion.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d"]


def _ntuple(v, nd, op, name):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * nd
        if len(v) != nd:
            raise RuntimeError(f"{op}: {name} must be a single int or a tuple of {nd} ints, got "
                               f"{name}={tuple(v)}.")
        return tuple(int(i) for i in v)
    return (int(v),) * nd


def _batched(op, nd, input):
    check_tensor(input, op)
    if input.ndim not in (nd + 1, nd + 2) or 0 in input.shape[-nd:]:
        raise RuntimeError(f"{op}: expected a non-empty {nd + 1}D (unbatched) or {nd + 2}D "
                           f"(batched) input, but got input of shape {shape_str(input.shape)}.")
    return (input.unsqueeze(0), True) if input.ndim == nd + 1 else (input, False)


def _out_size(n, k, p, s, d, ceil_mode):
    """torch's pooling_output_shape: the last window must start inside input or left pad."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _geometry(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode):
    k = _ntuple(kernel_size, nd, op, "kernel_size")
    s = k if stride is None or stride == [] or stride == () else _ntuple(stride, nd, op,
                                                                          "stride")
    p = _ntuple(padding, nd, op, "padding")
    d = _ntuple(dilation, nd, op, "dilation")
    if min(k) <= 0 or min(s) <= 0 or min(d) <= 0:
        raise RuntimeError(f"{op}: kernel_size, stride and dilation must be greater than zero, "
                           f"but got kernel_size={k}, stride={s}, dilation={d}.")
    if any(pi < 0 or pi > (di * (ki - 1) + 1) // 2 for pi, ki, di in zip(p, k, d)):
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but "
                           f"got padding={p}, kernel_size={k} and dilation={d}.")
    sp = x.shape[2:]
    out = tuple(_out_size(*a, ceil_mode) for a in zip(sp, k, p, s, d))
    if min(out) <= 0:
        raise RuntimeError(f"{op}: given input of shape {shape_str(x.shape)}, the calculated "
                           f"output size {out} is too small (kernel_size={k}, stride={s}, "
                           f"padding={p}, dilation={d}).")
    # right padding also covers the extra window of ceil_mode
    pads = tuple((pi, pi + max(0, (o - 1) * si + di * (ki - 1) + 1 - n - 2 * pi))
                 for n, o, ki, pi, si, di in zip(sp, out, k, p, s, d))
    return k, s, pads, d, out


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(op, nd, input)
    if x.array.dtype.kind not in "fiu":
        raise RuntimeError(f"{op}: expected a numeric input, got {input.dtype}.")
    k, s, pads, d, out_sp = _geometry(op, nd, x, kernel_size, stride, padding, dilation,
                                      ceil_mode)
    out, idx = MaxPool.apply(x, k, s, pads, d, out_sp)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L), as ``torch.nn.functional.max_pool1d``.

    Args:
        input: (N, C, L) or (C, L).
        kernel_size, stride (default: kernel_size), padding, dilation: int or 1-tuple.
        ceil_mode: round the output length up (a last partial window).
        return_indices: also return the argmax positions (for ``max_unpool1d``).

    Returns:
        (N, C, L_out), and the int64 indices when ``return_indices``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.max_pool1d(ganglion.tensor([[[1., 3., 2., 5., 4.]]]), 2,
        ...                                   ceil_mode=True)
        tensor([[[3., 5., 4.]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W), as ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default: kernel_size), padding, dilation: int or pair.
        ceil_mode: round the output size up.
        return_indices: also return the flat per-plane argmax ``h * W + w``.

    Returns:
        (N, C, H_out, W_out), and the int64 indices when ``return_indices``.

    Raises:
        RuntimeError: padding above half the (dilated) kernel, an output of size 0.

    Example:
        >>> import ganglion
        >>> x = ganglion.arange(16.0).reshape(1, 1, 4, 4)
        >>> ganglion.nn.functional.max_pool2d(x, 2, return_indices=True)[1]
        tensor([[[[ 5,  7],
                  [13, 15]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W), as ``torch.nn.functional.max_pool3d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.max_pool3d(ganglion.ones(1, 2, 4, 4, 4), 2).shape
        ganglion.Size([1, 2, 2, 2, 2])
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _divisor(sp, k, s, p, out_sp, count_include_pad):
    """torch's per-window divisor: the window clipped to the padded input (or to the input)."""
    div = None
    for ax, (n, ki, si, pi, o) in enumerate(zip(sp, k, s, p, out_sp)):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, n + pi)
        size = end - start if count_include_pad else (np.minimum(end, n)
                                                      - np.maximum(start, 0))
        size = size.reshape((-1,) + (1,) * (len(sp) - ax - 1))
        div = size if div is None else div * size
    return div


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, unbatched = _batched(op, nd, input)
    if x.array.dtype.kind not in "fiu":
        raise RuntimeError(f"{op}: expected a numeric input, got {input.dtype}.")
    k, s, pads, _, out_sp = _geometry(op, nd, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero, got divisor_override=0.")
        div = np.asarray(divisor_override)
    else:
        div = _divisor(x.shape[2:], k, s, [lo for lo, _ in pads], out_sp, count_include_pad)
    out = AvgPool.apply(x, k, s, pads, out_sp, div)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """1-D average pooling over (N, C, L), as ``torch.nn.functional.avg_pool1d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.avg_pool1d(ganglion.tensor([[[1., 3., 2., 6.]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling over (N, C, H, W), as ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default: kernel_size), padding: int or pair.
        ceil_mode: round the output size up.
        count_include_pad: count the zero padding in the divisor.
        divisor_override: divide every window sum by this instead.

    Returns:
        (N, C, H_out, W_out).

    Example:
        >>> import ganglion
        >>> x = ganglion.ones(1, 1, 3, 3)
        >>> ganglion.nn.functional.avg_pool2d(x, 2, padding=1, count_include_pad=True)[0, 0]
        tensor([[0.2500, 0.5000],
                [0.5000, 1.0000]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """3-D average pooling over (N, C, D, H, W), as ``torch.nn.functional.avg_pool3d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.avg_pool3d(ganglion.ones(1, 1, 4, 4, 4), 2).shape
        ganglion.Size([1, 1, 2, 2, 2])
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(op, nd, input)
    check_tensor(indices, op, "indices")
    if tuple(indices.shape) != tuple(input.shape) or indices.array.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected int64 indices of the input's shape "
                           f"{shape_str(input.shape)}, but got {indices.dtype} indices of shape "
                           f"{shape_str(indices.shape)}.")
    k = _ntuple(kernel_size, nd, op, "kernel_size")
    s = k if stride is None else _ntuple(stride, nd, op, "stride")
    p = _ntuple(padding, nd, op, "padding")
    default = tuple((n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(x.shape[2:], s, p, k))
    size = default
    if output_size is not None:
        size = tuple(int(v) for v in tuple(output_size)[-nd:])
        if len(tuple(output_size)) not in (nd, nd + 2) or any(
                not d - si < v < d + si for v, d, si in zip(size, default, s)):
            raise ValueError(f"{op}: invalid output_size {tuple(output_size)}: expected "
                             f"{nd} sizes, each within stride of the default {default}.")
    plane = int(np.prod(size))
    idx = indices.array if not unbatched else indices.array[None]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise RuntimeError(f"{op}: found an invalid max index {int(idx.max())} (output planes "
                           f"are of size {'x'.join(map(str, size))}).")
    out = IndexScatter.apply(x, idx, tuple(x.shape[:2]) + size, "assign")
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool1d``: each value goes back to its argmax, zeros elsewhere.

    Example:
        >>> import ganglion
        >>> import ganglion.nn.functional as F
        >>> out, idx = F.max_pool1d(ganglion.tensor([[[1., 3., 5., 2.]]]), 2,
        ...                         return_indices=True)
        >>> F.max_unpool1d(out, idx, 2)
        tensor([[[0., 3., 5., 0.]]])
    """
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool2d`` (torch's ``max_unpool2d``).

    Args:
        input: pooled values (N, C, H, W) or (C, H, W).
        indices: the int64 indices ``max_pool2d(..., return_indices=True)`` gave.
        kernel_size, stride (default: kernel_size), padding: as given to the pooling.
        output_size: the size to restore (default (H - 1) stride - 2 padding + kernel_size).

    Example:
        >>> import ganglion
        >>> import ganglion.nn.functional as F
        >>> out, idx = F.max_pool2d(ganglion.ones(1, 1, 4, 4), 2, return_indices=True)
        >>> F.max_unpool2d(out, idx, 2).sum().item()
        4.0
    """
    return _unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool3d`` (torch's ``max_unpool3d``).

    Example:
        >>> import ganglion
        >>> import ganglion.nn.functional as F
        >>> out, idx = F.max_pool3d(ganglion.ones(1, 1, 2, 2, 2), 2, return_indices=True)
        >>> F.max_unpool3d(out, idx, 2).shape
        ganglion.Size([1, 1, 2, 2, 2])
    """
    return _unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


def _lp_pool(op, nd, input, norm_type, kernel_size, stride, ceil_mode):
    k = _ntuple(kernel_size, nd, op, "kernel_size")
    pool = avg_pool1d if nd == 1 else avg_pool2d
    out = pool(input.pow(norm_type), k, stride, 0, ceil_mode)
    # torch: sign(out) * relu(|out|), times the window size, to the power 1 / p
    return (out.sign() * out.abs().relu()).mul(int(np.prod(k))).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average pooling ``(sum x^p)^(1/p)`` over windows, as torch's ``lp_pool1d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.lp_pool1d(ganglion.tensor([[[3., 4.]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """2-D power-average pooling, as torch's ``lp_pool2d``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.lp_pool2d(ganglion.ones(1, 1, 2, 2), 2, 2)
        tensor([[[[2.]]]])
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)
