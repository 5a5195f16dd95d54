"""Diagonals and triangles (part of the movement family): ``diagonal`` (a view), ``diag``,
``diag_embed``, ``tril``, ``triu``.

``diagonal`` and ``diag_embed`` are each other's gradient; the gradient of ``tril`` is ``tril``.

Example:
    >>> import ganglion
    >>> ganglion.arange(9).reshape(3, 3).diagonal()
    tensor([0, 4, 8])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.tensor import Tensor

__all__ = ["diagonal", "diag", "diag_embed", "tril", "triu"]


def _diag_view(x, offset, d1, d2):
    xp = get_array_module(x)
    d = xp.diagonal(x, offset, d1, d2)
    if xp is np and x.flags.writeable:
        d.flags.writeable = True  # NumPy hands out read-only diagonals; torch's are writable
    return d


class Diagonal(Op):
    view = True

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        ctx.shape, ctx.args = x.shape, (offset, d1, d2)
        return _diag_view(x, offset, d1, d2)

    @staticmethod
    def backward(ctx, g):
        return DiagScatter.apply(g, ctx.shape, *ctx.args)


class DiagScatter(Op):
    """Zeros of ``shape`` whose diagonal (``offset``, dims ``d1``, ``d2``) holds ``g``."""

    @staticmethod
    def forward(ctx, g, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        out = get_array_module(g).zeros(shape, g.dtype)
        _diag_view(out, offset, d1, d2)[...] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return Diagonal.apply(gg, *ctx.args)


class Tril(Op):
    @staticmethod
    def forward(ctx, x, k, upper):
        ctx.k, ctx.upper = k, upper
        xp = get_array_module(x)
        return xp.triu(x, k) if upper else xp.tril(x, k)

    @staticmethod
    def backward(ctx, g):
        return Tril.apply(g, ctx.k, ctx.upper)


def _diag_dims(nd, dim1, dim2, op):
    d1, d2 = norm_dim(dim1, nd, op), norm_dim(dim2, nd, op)
    if d1 == d2:
        raise RuntimeError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1) -> Tensor:
    """A view of the diagonal ``offset`` of the (``dim1``, ``dim2``) planes, as the last dim.

    Example:
        >>> import ganglion
        >>> ganglion.arange(6).reshape(2, 3).diagonal(1)
        tensor([1, 5])
    """
    d1, d2 = _diag_dims(input.array.ndim, dim1, dim2, "diagonal")
    return Diagonal.apply(input, int(offset), d1, d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1) -> Tensor:
    """Matrices (in dims ``dim1``, ``dim2`` of the result) with the last dim of ``input`` on
    diagonal ``offset``, zeros elsewhere.

    Example:
        >>> import ganglion
        >>> ganglion.diag_embed(ganglion.zeros(4, 3), offset=1).shape
        ganglion.Size([4, 4, 4])
    """
    shape = input.array.shape
    nd = len(shape) + 1
    d1, d2 = _diag_dims(nd, dim1, dim2, "diag_embed")
    n = (shape[-1] if shape else 1) + abs(int(offset))
    rest = iter(shape[:-1])
    out = tuple(n if k in (d1, d2) else next(rest) for k in range(nd))
    return DiagScatter.apply(input, out, int(offset), d1, d2)


def diag(input, diagonal=0) -> Tensor:
    """1-D input: the square matrix with it on diagonal ``diagonal``; 2-D input: that
    diagonal (a copy).

    Example:
        >>> import ganglion
        >>> ganglion.diag(ganglion.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    nd = input.array.ndim
    if nd == 1:
        return diag_embed(input, diagonal, 0, 1)
    if nd == 2:
        return Diagonal.apply(input, int(diagonal), 0, 1).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D (shape "
                       f"{tuple(input.array.shape)}); use diagonal() or diag_embed()")


def _tri(input, diagonal, upper):
    if input.array.ndim < 2:
        name = "triu" if upper else "tril"
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(input.array.shape)}")
    return Tril.apply(input, int(diagonal), upper)


def tril(input, diagonal=0) -> Tensor:
    """The lower triangle (entries with col - row <= ``diagonal``) of the last two dims.

    Example:
        >>> import ganglion
        >>> ganglion.ones(2, 2).tril()
        tensor([[1., 0.],
                [1., 1.]])
    """
    return _tri(input, diagonal, False)


def triu(input, diagonal=0) -> Tensor:
    """The upper triangle (entries with col - row >= ``diagonal``) of the last two dims.

    Example:
        >>> import ganglion
        >>> ganglion.ones(2, 2).triu(1)
        tensor([[0., 1.],
                [0., 0.]])
    """
    return _tri(input, diagonal, True)


TENSOR_METHODS = {"diagonal": diagonal, "diag": diag, "diag_embed": diag_embed, "tril": tril,
                  "triu": triu}
