"""Reductions over one or more dims (``dim`` int or tuple, ``keepdim``, negative dims): ``sum``,
``mean``, ``max``/``min`` (all three torch forms), ``amax``/``amin``, ``argmax``/``argmin``,
``all``/``any``, ``count_nonzero``, ``nansum``/``nanmean``, ``Tensor.sum_to_size``.
Statistics (``var``, ``std``, ``logsumexp``, ``median``) live in ``reduce_stats``, products and
scans (``prod``, ``cumsum``, ``cumprod``) in ``reduce_scan``; all are re-exported here.
``norm`` belongs to the linalg family (``linalg_norm``).

Tie rules follow torch: ``amax``/``amin`` and the full ``max(input)`` split the gradient evenly
among tied extremes; ``max(input, dim)`` gives it to the returned (first) index only.

Example:
    >>> import ganglion
    >>> x = ganglion.ones(2, 3, requires_grad=True)
    >>> x.sum(dim=1), x.mean()
    (tensor([3., 3.], grad_fn=<SumBackward0>), tensor(1., grad_fn=<MeanBackward0>))
"""
from __future__ import annotations

import builtins

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops import reduce_scan as _scan
from ganglion.ops import reduce_stats as _stats
from ganglion.ops._util import norm_dim, quiet
from ganglion.ops.convert import Cast
from ganglion.ops.reduce_common import (check_nonempty, const, expand_back, expand_back_raw,
                                        reduce_dims,
                                        return_type, select_grad, spread_evenly)
from ganglion.ops.reduce_scan import *  # noqa: F401,F403 - re-exported
from ganglion.ops.reduce_stats import *  # noqa: F401,F403 - re-exported
from ganglion.tensor import Tensor, _sizes

__all__ = ["sum", "mean", "amax", "amin", "max", "min", "argmax", "argmin", "all", "any",
           "count_nonzero", "nansum", "nanmean"] + _scan.__all__ + _stats.__all__

max_type = return_type("max")
min_type = return_type("min")
_INT_ACC = _dt.int64.np


_F16 = np.dtype(np.float16)


def _acc_dtype(arr):
    """Accumulator for sum/mean: int64 for ints and bools (torch), float32 for float16."""
    kind = arr.dtype.kind
    if kind in "biu":
        return _INT_ACC
    return np.float32 if arr.dtype == np.float16 else None


class Sum(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.in_shape, ctx.axes, ctx.keepdim, ctx.in_dtype = x.shape, axes, keepdim, x.dtype
        out_dtype = np_dtype if np_dtype is not None else x.dtype if x.dtype.kind == "f" else None
        acc = np_dtype if np_dtype is not None else _acc_dtype(x)
        out = x.sum(axis=axes, keepdims=keepdim, dtype=acc)  # the method: less wrapping
        return out if out_dtype is None or out.dtype == out_dtype else out.astype(out_dtype)

    @staticmethod
    def backward(ctx, g):
        if g.array.dtype != ctx.in_dtype:  # sum(..., dtype=float64) of a float32 input
            g = Cast.apply(g, ctx.in_dtype)
        return expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim)

    @staticmethod
    def raw_backward(ctx, g):
        if g.dtype != ctx.in_dtype:
            g = g.astype(ctx.in_dtype)
        return expand_back_raw(g, ctx.in_shape, ctx.axes, ctx.keepdim)


class Mean(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        shape = x.shape
        n = 1
        for a in axes:
            n *= shape[a]
        ctx.in_shape, ctx.axes, ctx.keepdim, ctx.n = shape, axes, keepdim, n
        dt = x.dtype
        s = x.sum(axis=axes, keepdims=keepdim, dtype=_acc_dtype(x) if dt == _F16 else None)
        # mean of nothing is nan (torch), silently
        out = s / n if n else quiet(np.multiply, s, np.nan)
        return out if out.dtype == dt else out.astype(dt)

    @staticmethod
    def backward(ctx, g):
        return expand_back(g / ctx.n if ctx.n else g * np.nan, ctx.in_shape, ctx.axes,
                           ctx.keepdim)

    @staticmethod
    def raw_backward(ctx, g):
        return expand_back_raw(g / ctx.n if ctx.n else g * np.nan, ctx.in_shape, ctx.axes,
                               ctx.keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None or ``()``).

    Integer and bool inputs sum as int64 (torch); ``dtype`` casts before summing.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1, 2], [3, 4]]).sum(dim=-1)
        tensor([3, 7])
    """
    axes = reduce_dims(dim, input.array.ndim, "sum")
    np_dtype = _dt.to_dtype(dtype).np if dtype is not None else None
    return Sum.apply1(input, axes, keepdim, np_dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean over ``dim``; needs a floating input (or ``dtype=``), as in torch.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 2.], [3., 4.]]).mean(0)
        tensor([2., 3.])
    """
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype}")
    axes = reduce_dims(dim, input.array.ndim, "mean")
    return Mean.apply1(input, axes, keepdim)


def nansum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """:func:`sum` treating NaN as 0 (their gradient is 0).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([1., float("nan"), 2.]).nansum()
        tensor(3.)
    """
    if input.array.dtype.kind == "f":
        input = input.where(~input.isnan(), 0)
    return sum(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """:func:`mean` over the non-NaN elements (NaN where there are none), as torch.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., float("nan"), 3.]]).nanmean(dim=1)
        tensor([2.])
    """
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{input.dtype}")
    count = sum(~input.isnan(), dim, keepdim)
    return nansum(input, dim, keepdim) / count


class Extreme(Op):
    """amax/amin and the full max/min. torch splits the gradient evenly among tied extremes;
    the full max/min also count NaNs as the extreme (amax/amin give NaN gradients there)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_max, nan_ties):
        xp = get_array_module(x)
        if not axes:  # a 0-d input: the result must be a new array, not the input itself
            out = x.copy()
        else:
            out = (xp.max if is_max else xp.min)(x, axis=axes, keepdims=keepdim)
        ctx.axes, ctx.keepdim, ctx.nan_ties = axes, keepdim, nan_ties
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return spread_evenly(x, out, g, ctx.axes, ctx.keepdim, ctx.nan_ties)


class ExtremeDim(Op):
    """max/min along one dim -> (values, indices); the gradient goes to the returned index only
    (torch), which is the first occurrence of the extreme (NaN counts as the extreme)."""

    @staticmethod
    def forward(ctx, x, d, keepdim, is_max):
        xp = get_array_module(x)
        x1 = x.reshape(1) if x.ndim == 0 else x
        idx = (xp.argmax if is_max else xp.argmin)(x1, axis=d, keepdims=True)
        val = xp.take_along_axis(x1, idx, axis=d)
        ctx.in_shape, ctx.d, ctx.keepdim, ctx.idx = x.shape, d, keepdim, idx
        if not keepdim or x.ndim == 0:
            val, idx = val.squeeze(d), idx.squeeze(d)
            if x.ndim == 0:
                val, idx = val.reshape(()), idx.reshape(())
        return val, idx.astype(_INT_ACC, copy=False)

    @staticmethod
    def backward(ctx, g, _g_idx=None):
        return select_grad(g, ctx.in_shape, ctx.idx, ctx.d, ctx.keepdim)


# one class per op, so grad_fn names read like torch's (AmaxBackward0, MaxBackward0, ...)
Amax = type("Amax", (Extreme,), {})
Amin = type("Amin", (Extreme,), {})
Max = type("Max", (Extreme,), {})
Min = type("Min", (Extreme,), {})
MaxDim = type("Max", (ExtremeDim,), {})
MinDim = type("Min", (ExtremeDim,), {})


def _amax_like(input, dim, keepdim, is_max, op):
    arr = input.array
    axes = reduce_dims(dim, arr.ndim, op)
    check_nonempty(arr.shape, axes, op, full=len(axes) == arr.ndim and arr.ndim > 0)
    return (Amax if is_max else Amin).apply(input, axes, keepdim, is_max, False)


def amax(input, dim=(), keepdim=False, *, out=None) -> Tensor:
    """Maximum over ``dim`` (all dims when ``()``); ties share the gradient evenly (torch).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 5.], [7., 2.]]).amax(dim=-1)
        tensor([5., 7.])
    """
    return _amax_like(input, dim, keepdim, True, "amax")


def amin(input, dim=(), keepdim=False, *, out=None) -> Tensor:
    """Minimum over ``dim`` (all dims when ``()``); ties share the gradient evenly (torch).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 5.], [7., 2.]]).amin(dim=(0, 1))
        tensor(1.)
    """
    return _amax_like(input, dim, keepdim, False, "amin")


def _max_like(input, dim, keepdim, is_max, op):
    if isinstance(dim, Tensor):  # max(input, other): elementwise
        return input.maximum(dim) if is_max else input.minimum(dim)
    arr = input.array
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}(): keepdim=True needs a dim; use {op}(input, dim, "
                            f"keepdim=True) or a{op}(input, keepdim=True).")
        check_nonempty(arr.shape, (), op, full=True)
        return (Max if is_max else Min).apply(input, tuple(range(arr.ndim)), False, is_max, True)
    if isinstance(dim, (tuple, list)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}(): dim must be an int or the second argument a Tensor (for the "
                        f"elementwise form), got {type(dim).__name__}; use a{op} for a tuple "
                        f"of dims.")
    d = norm_dim(dim, arr.ndim, op)
    check_nonempty(arr.shape, (d,) if arr.ndim else (), op, full=False)
    vals, idx = (MaxDim if is_max else MinDim).apply(input, d, keepdim, is_max)
    return (max_type if is_max else min_type)(vals, idx)


def max(input, dim=None, keepdim=False, *, out=None):  # noqa: A001 - torch's name
    """Three torch forms: ``max(input)`` -> the largest value; ``max(input, dim, keepdim=False)``
    -> named tuple ``(values, indices)`` (first index among ties; the gradient goes to it);
    ``max(input, other)`` -> elementwise :func:`maximum`.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1., 3.], [4., 2.]])
        >>> x.max(), x.max(dim=1).indices
        (tensor(4.), tensor([1, 0]))
    """
    return _max_like(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False, *, out=None):  # noqa: A001 - torch's name
    """The torch forms of :func:`max`, for the minimum (``values``/``indices`` named tuple).

    Example:
        >>> import ganglion
        >>> values, indices = ganglion.tensor([[1., 3.], [4., 2.]]).min(0)
        >>> values, indices
        (tensor([1., 2.]), tensor([0, 1]))
    """
    return _max_like(input, dim, keepdim, False, "min")


def _argmax_like(input, dim, keepdim, is_max, op):
    arr = input.array
    xp = get_array_module(arr)
    fn = xp.argmax if is_max else xp.argmin
    if dim is None:
        if arr.size == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        r = fn(arr)
        if keepdim:
            r = xp.reshape(r, (1,) * arr.ndim)
    else:
        d = norm_dim(dim, arr.ndim, op)
        if arr.ndim == 0:
            r = xp.zeros((), _INT_ACC)
        else:
            check_nonempty(arr.shape, (d,), op, full=False)
            r = fn(arr, axis=d, keepdims=keepdim)
    return const(xp.asarray(r, dtype=_INT_ACC))


def argmax(input, dim=None, keepdim=False) -> Tensor:
    """Index of the largest value (of the flattened input when ``dim`` is None); the first one
    among ties, as torch. Not differentiable (int64 result).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 3., 3.], [4., 2., 4.]]).argmax(dim=1)
        tensor([1, 0])
    """
    return _argmax_like(input, dim, keepdim, True, "argmax")


def argmin(input, dim=None, keepdim=False) -> Tensor:
    """Index of the smallest value (first among ties), as :func:`argmax`.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([2., 1., 1.]).argmin()
        tensor(1)
    """
    return _argmax_like(input, dim, keepdim, False, "argmin")


def _logical_reduce(input, dim, keepdim, op):
    arr = input.array
    # torch: dim=() reduces nothing here (unlike sum), leaving an elementwise truth test
    axes = reduce_dims(dim, arr.ndim, op, empty_means_all=False)
    xp = get_array_module(arr)
    r = (xp.all if op == "all" else xp.any)(arr, axis=axes, keepdims=keepdim)
    r = xp.asarray(r)
    return const(r.astype(np.uint8) if arr.dtype == np.uint8 else r)  # uint8 stays uint8


def all(input, dim=None, keepdim=False, *, out=None) -> Tensor:  # noqa: A001
    """True where every element along ``dim`` is nonzero (bool; uint8 for uint8, as torch).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1, 0], [2, 3]]).all(dim=1)
        tensor([False,  True])
    """
    return _logical_reduce(input, dim, keepdim, "all")


def any(input, dim=None, keepdim=False, *, out=None) -> Tensor:  # noqa: A001
    """True where some element along ``dim`` is nonzero (bool; uint8 for uint8, as torch).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[0., 0.], [0., 1.]]).any()
        tensor(True)
    """
    return _logical_reduce(input, dim, keepdim, "any")


def count_nonzero(input, dim=None) -> Tensor:
    """Number of nonzero elements over ``dim`` (int or tuple; all dims when None), int64.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[0, 1, 2], [3, 0, 0]]).count_nonzero(dim=1)
        tensor([2, 1])
    """
    arr = input.array
    axes = reduce_dims(dim, arr.ndim, "count_nonzero")
    xp = get_array_module(arr)
    r = xp.count_nonzero(arr, axis=axes if arr.ndim else None)
    return const(xp.asarray(r, dtype=_INT_ACC))


def sum_to_size(self, *size) -> Tensor:
    """Sum this tensor down to ``size``, which must broadcast (expand) to this tensor's shape.

    Example:
        >>> import ganglion
        >>> ganglion.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
    """
    size = _sizes(size, "sum_to_size")
    shape = tuple(self.array.shape)
    lead = len(shape) - len(size)
    if lead < 0 or not builtins.all(s in (1, shape[lead + i]) for i, s in enumerate(size)):
        raise RuntimeError(f"sum_to_size: size {list(size)} is not expandable to size "
                           f"{list(shape)}.")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size)
                                      if s == 1 and shape[lead + i] != 1)
    if not axes:
        return self if lead == 0 else self.reshape(size)
    return Sum.apply(self, axes, True, None).reshape(size)


TENSOR_METHODS = {"sum": sum, "mean": mean, "amax": amax, "amin": amin, "max": max, "min": min,
                  "argmax": argmax, "argmin": argmin, "all": all, "any": any,
                  "count_nonzero": count_nonzero, "sum_to_size": sum_to_size,
                  "nansum": nansum, "nanmean": nanmean,
                  **_scan.TENSOR_METHODS, **_stats.TENSOR_METHODS}
