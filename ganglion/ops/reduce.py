"""Reductions over one or more dims (``dim`` int or tuple, ``keepdim``): ``sum``, ``mean``, ...

Example:
    >>> import ganglion
    >>> x = ganglion.ones(2, 3, requires_grad=True)
    >>> x.sum(dim=1), x.mean()
    (tensor([3., 3.], grad_fn=<SumBackward0>), tensor(1., grad_fn=<MeanBackward0>))
"""
from __future__ import annotations

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dims
from ganglion.tensor import Tensor

__all__ = ["sum", "mean"]


def _expand_back(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim and axes:
        shape = list(in_shape)
        for a in axes:
            shape[a] = 1
        g = g.reshape(tuple(shape))
    return g.expand(in_shape)


class Sum(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return get_array_module(x).sum(x, axis=axes, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim)


class Mean(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        n = 1
        for a in axes:
            n *= x.shape[a]
        ctx.n = n
        return get_array_module(x).mean(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / ctx.n, ctx.in_shape, ctx.axes, ctx.keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None). Integer and bool inputs sum as int64 (torch)."""
    axes = norm_dims(dim, input.array.ndim, "sum")
    np_dtype = _dt.to_dtype(dtype).np if dtype is not None else (
        None if input.array.dtype.kind == "f" else _dt.int64.np)
    return Sum.apply(input, axes, keepdim, np_dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean over ``dim``; needs a floating input (or ``dtype=``), as in torch."""
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype}")
    axes = norm_dims(dim, input.array.ndim, "mean")
    return Mean.apply(input, axes, keepdim)


TENSOR_METHODS = {"sum": sum, "mean": mean}
