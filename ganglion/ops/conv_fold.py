"""``unfold`` (im2col) and ``fold`` (col2im), as torch.nn.functional, and ``conv_pad``: the
input padding of Conv layers whose ``padding_mode`` is not 'zeros'.

``Unfold`` and ``Fold`` are adjoint linear maps, so each one's backward is the other one.

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> cols = F.unfold(ganglion.ones(1, 2, 4, 4), kernel_size=2)
    >>> cols.shape
    ganglion.Size([1, 8, 9])
    >>> F.fold(cols, output_size=(4, 4), kernel_size=2)[0, 0]
    tensor([[1., 2., 2., 1.],
            [2., 4., 4., 2.],
            [2., 4., 4., 2.],
            [1., 2., 2., 1.]])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.ops._util import check_tensor, shape_str
from ganglion.ops.conv_kernels import Geom, col2im, conv_out_size, im2col
from ganglion.tensor import Tensor

__all__ = ["unfold", "fold", "conv_pad"]


class Unfold(Op):
    """(N, C, H, W) -> (N, C * kH * kW, L): every sliding block as a column."""

    @staticmethod
    def forward(ctx, x, ksize, geom, out_sp):
        ctx.args = (tuple(x.shape), ksize, geom)
        cols = im2col(x, ksize, out_sp, geom)
        return cols.reshape(x.shape[0], -1, cols.shape[-1])

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, *ctx.args)


class Fold(Op):
    """(N, C * kH * kW, L) -> (N, C, H, W): sums each column back onto its block."""

    @staticmethod
    def forward(ctx, cols, x_shape, ksize, geom):
        ctx.args = (ksize, geom, conv_out_size(x_shape[2:], ksize, geom))
        n, ck, L = cols.shape
        return col2im(cols.reshape(n, 1, ck, L), x_shape, ksize, geom)

    @staticmethod
    def backward(ctx, v):
        return Unfold.apply(v, *ctx.args)


def _pair(v, op, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2 or not all(isinstance(i, int) for i in v):
            raise RuntimeError(f"{op}: {name} must be an int or a pair of ints, got {tuple(v)}.")
        return tuple(v)
    if not isinstance(v, int):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}.")
    return (v, v)


def _fold_geom(op, kernel_size, dilation, padding, stride):
    k = _pair(kernel_size, op, "kernel_size")
    d = _pair(dilation, op, "dilation")
    p = _pair(padding, op, "padding")
    s = _pair(stride, op, "stride")
    if min(k) <= 0 or min(d) <= 0 or min(s) <= 0 or min(p) < 0:
        raise RuntimeError(f"{op}: kernel_size, dilation and stride must be positive and padding "
                           f"non-negative, got kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}.")
    return k, Geom(s, tuple((i, i) for i in p), d, 1)


def _blocks(op, spatial, k, geom, shape):
    out_sp = conv_out_size(spatial, k, geom)
    if min(out_sp) <= 0:
        padded = tuple(s + 2 * p for s, (p, _) in zip(spatial, geom.pads))
        raise RuntimeError(f"{op}: the kernel {k} (dilation {geom.dilation}) is larger than the "
                           f"padded input {padded} (input shape {shape_str(shape)}): no sliding "
                           f"block fits.")
    return out_sp


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks (im2col), as ``torch.nn.functional.unfold``.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size, dilation, padding, stride: int or pair.

    Returns:
        (N, C * kH * kW, L) with L the number of blocks; channel-major, then kernel row, column.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.unfold(ganglion.ones(2, 3, 5, 5), 3, padding=1).shape
        ganglion.Size([2, 27, 25])
    """
    check_tensor(input, "unfold")
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"unfold: only 3D (unbatched) or 4D (batched) input tensors "
                                  f"are supported, got input of shape {shape_str(input.shape)}.")
    k, geom = _fold_geom("unfold", kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out = Unfold.apply(x, k, geom, _blocks("unfold", x.shape[2:], k, geom, input.shape))
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding local blocks into a tensor (col2im), as ``torch.nn.functional.fold``.

    Args:
        input: (N, C * kH * kW, L) or unbatched (C * kH * kW, L).
        output_size: (H, W) of the result.
        kernel_size, dilation, padding, stride: int or pair.

    Returns:
        (N, C, H, W); overlapping blocks add up.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.fold(ganglion.ones(1, 4, 4), (3, 3), 2)[0, 0, 1]
        tensor([2., 4., 2.])
    """
    check_tensor(input, "fold")
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"fold: only 2D (unbatched) or 3D (batched) input tensors "
                                  f"are supported, got input of shape {shape_str(input.shape)}.")
    k, geom = _fold_geom("fold", kernel_size, dilation, padding, stride)
    size = _pair(output_size, "fold", "output_size")
    unbatched = input.ndim == 2
    cols = input.unsqueeze(0) if unbatched else input
    kk = k[0] * k[1]
    if cols.shape[1] % kk:
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size {k}, but got input of shape "
                           f"{shape_str(input.shape)}.")
    out_sp = _blocks("fold", size, k, geom, input.shape)
    if cols.shape[2] != int(np.prod(out_sp)):
        raise RuntimeError(f"fold: output_size={size}, kernel_size={k}, dilation="
                           f"{geom.dilation}, padding={geom.pads[0][0], geom.pads[1][0]}, "
                           f"stride={geom.stride} give {out_sp[0]} x {out_sp[1]} = "
                           f"{int(np.prod(out_sp))} blocks, but the input (shape "
                           f"{shape_str(input.shape)}) has {cols.shape[2]} columns.")
    out = Fold.apply(cols, (cols.shape[0], cols.shape[1] // kk) + size, k, geom)
    return out.squeeze(0) if unbatched else out


def conv_pad(input, padding, kernel_size, dilation=1, padding_mode="zeros"):
    """Padding for a Conv layer: returns ``(input, padding)`` to pass on to ``F.convNd``.

    For ``padding_mode='zeros'`` both come back unchanged (the convolution pads). For
    'reflect', 'replicate' or 'circular' the input is padded with ``F.pad`` in that mode
    (torch's ``_reversed_padding_repeated_twice``; 'same' puts the odd element after) and the
    padding to pass on is 0, as torch's ``_ConvNd._conv_forward`` does.

    Example:
        >>> import ganglion
        >>> x, p = conv_pad(ganglion.ones(1, 1, 4, 4), 1, (3, 3), padding_mode="circular")
        >>> x.shape, p
        (ganglion.Size([1, 1, 6, 6]), 0)
    """
    if padding_mode == "zeros":
        return input, padding
    if padding_mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"conv: padding_mode must be one of 'zeros', 'reflect', 'replicate' or "
                         f"'circular', got {padding_mode!r}.")
    nd = len(kernel_size)
    dil = (dilation,) * nd if isinstance(dilation, int) else tuple(dilation)
    if padding == "valid":
        pairs = [(0, 0)] * nd
    elif padding == "same":
        tot = [d * (k - 1) for d, k in zip(dil, kernel_size)]
        pairs = [(t // 2, t - t // 2) for t in tot]
    else:
        p = (padding,) * nd if isinstance(padding, int) else tuple(padding)
        pairs = [(i, i) for i in p]
    flat = tuple(v for lo_hi in reversed(pairs) for v in lo_hi)
    from ganglion.ops.pad import pad  # noqa: PLC0415 - pad is a sibling family

    return pad(input, flat, mode=padding_mode), 0
