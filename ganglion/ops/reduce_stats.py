"""Statistical reductions: ``var``, ``std``, ``var_mean``, ``std_mean``, ``logsumexp``,
``median`` (``norm`` is in ``reduce_norm``).

``var``/``std`` take torch 2.x's ``correction=`` keyword and the legacy positional ``unbiased``
bool; they are computed from mean-centred sums in the input's dtype. ``logsumexp`` shifts by the
max (with infinite maxima treated as 0, like torch, so all ``-inf`` gives ``-inf``, not nan).

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([[1., 2., 3.], [2., 4., 6.]])
    >>> x.var(dim=1), x.std(1, correction=0).shape
    (tensor([1., 4.]), ganglion.Size([2]))
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.ops.reduce_common import (check_nonempty, const, expand_back, keep_shape, kept,
                                        reduce_dims, return_type, select_grad, spread_evenly,
                                        where)
from ganglion.tensor import Tensor

__all__ = ["var", "std", "var_mean", "std_mean", "logsumexp", "median"]

median_type = return_type("median")


def _numel(shape, axes) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class VarStd(Op):
    """var or std (``take_sqrt``), optionally with the mean (``with_mean``: returns both)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim, take_sqrt, with_mean):
        xp = get_array_module(x)
        n = _numel(x.shape, axes)
        acc = np.float32 if x.dtype == np.float16 else None
        with np.errstate(invalid="ignore", divide="ignore"):
            m = xp.sum(x, axis=axes, keepdims=True, dtype=acc) / n if n else \
                xp.full(keep_shape(x.shape, axes), np.nan, acc or x.dtype)
            d = x - m
            out = xp.sum(d * d, axis=axes, keepdims=keepdim) / max(0, n - correction)
        if take_sqrt:
            out = xp.sqrt(out)
        out = xp.asarray(out).astype(x.dtype, copy=False)
        ctx.axes, ctx.keepdim, ctx.n, ctx.correction = axes, keepdim, n, correction
        ctx.take_sqrt = take_sqrt
        ctx.save_for_backward(x, out)
        if not with_mean:
            return out
        m = m if keepdim else m.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))
        return out, m.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g_out, g_mean=None):
        x, out = ctx.saved_tensors
        shape, axes, keepdim = x.array.shape, ctx.axes, ctx.keepdim
        grad = None
        if g_out is not None:
            gk = kept(g_out, shape, axes, keepdim)
            if ctx.take_sqrt:
                # d std = d var / (2 std); torch gives 0 where std == 0 (safe denominator, so
                # the unused branch of where() cannot put nan into second derivatives)
                zero = const(kept(out, shape, axes, keepdim).array == 0)
                sk = where(zero, 1, kept(out, shape, axes, keepdim))
                gk = where(zero, 0, gk / (2 * sk))
            dof = ctx.n - ctx.correction
            scale = 2.0 / dof if dof != 0 else math.inf
            # x.mean() is recorded under create_graph, so second derivatives see its dependence
            grad = (x - x.mean(axes, keepdim=True)) * (gk * scale)
        if g_mean is not None:
            gm = expand_back(g_mean / ctx.n if ctx.n else g_mean * np.nan, shape, axes, keepdim)
            grad = gm if grad is None else grad + gm
        return grad



def _var_args(op, input, dim, unbiased, correction):
    """Resolve torch's overloads: ``(input, unbiased)``, ``(input, dim, unbiased, keepdim)`` and
    ``(input, dim=None, *, correction=1, keepdim=False)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        if unbiased is not None:
            raise TypeError(f"{op}(): got unbiased twice (positionally as {dim} and as "
                            f"unbiased={unbiased}).")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): pass either unbiased={unbiased} or correction={correction}, "
                        f"not both (unbiased=True is correction=1, False is correction=0).")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{op}(): std and var only support floating point and complex "
                           f"dtypes, got {input.dtype}.")
    axes = reduce_dims(dim, input.array.ndim, op)
    n = _numel(input.array.shape, axes)
    if n - correction <= 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less "
                      f"than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return axes, correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None) -> Tensor:
    """Variance over ``dim``, divided by ``N - correction`` (default 1; ``unbiased=False`` is
    correction 0). Floating inputs only, as torch.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([1., 2., 3., 4.]).var(correction=0)
        tensor(1.2500)
    """
    axes, c = _var_args("var", input, dim, unbiased, correction)
    return VarStd.apply(input, axes, c, keepdim, False, False)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None) -> Tensor:
    """Standard deviation: the square root of :func:`var` (same arguments).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 3.], [2., 2.]]).std(dim=1, keepdim=True).shape
        ganglion.Size([2, 1])
    """
    axes, c = _var_args("std", input, dim, unbiased, correction)
    return VarStd.apply(input, axes, c, keepdim, True, False)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(var, mean)`` over ``dim`` in one pass (a plain tuple, as torch).

    Example:
        >>> import ganglion
        >>> v, m = ganglion.var_mean(ganglion.tensor([1., 2., 3.]))
        >>> v, m
        (tensor(1.), tensor(2.))
    """
    axes, c = _var_args("var_mean", input, dim, unbiased, correction)
    return VarStd.apply(input, axes, c, keepdim, False, True)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(std, mean)`` over ``dim`` in one pass (a plain tuple, as torch).

    Example:
        >>> import ganglion
        >>> s, m = ganglion.std_mean(ganglion.tensor([1., 3.]), correction=0)
        >>> s, m
        (tensor(1.), tensor(2.))
    """
    axes, c = _var_args("std_mean", input, dim, unbiased, correction)
    return VarStd.apply(input, axes, c, keepdim, True, True)


class LogSumExp(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = get_array_module(x)
        ks = keep_shape(x.shape, axes)
        if x.size and all(x.shape[a] for a in axes):
            m = xp.max(x, axis=axes, keepdims=True)
            m = xp.where(xp.isinf(m), 0, m).astype(x.dtype, copy=False)  # torch: inf max -> 0
        else:
            m = xp.zeros(ks, x.dtype)  # log(sum of nothing) = -inf
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))
        ctx.axes, ctx.keepdim = axes, keepdim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape = x.array.shape
        return kept(g, shape, ctx.axes, ctx.keepdim) * \
            (x - kept(out, shape, ctx.axes, ctx.keepdim)).exp()


def logsumexp(input, dim, keepdim=False, *, out=None) -> Tensor:
    """log(sum(exp(input))) over ``dim``, computed stably (shifted by the max). Integer inputs
    give the default float dtype.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[0., 0.], [1., 1.]]).logsumexp(dim=-1).shape
        ganglion.Size([2])
    """
    if input.array.dtype.kind != "f":
        input = input.to(_dt.get_default_dtype())
    axes = reduce_dims(dim, input.array.ndim, "logsumexp")
    return LogSumExp.apply(input, axes, keepdim)


class MedianAll(Op):
    """The lower median of all elements (NaN if any is NaN); the gradient is split evenly
    among the elements equal to it (torch)."""

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        flat = x.reshape(-1)
        if flat.size == 0 or xp.isnan(flat).any():
            out = xp.asarray(np.nan, dtype=x.dtype)
        else:
            k = (flat.size - 1) // 2
            out = xp.asarray(xp.partition(flat, k)[k])
        ctx.axes = tuple(range(x.ndim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return spread_evenly(x, out, g, ctx.axes, False, True)


class MedianDim(Op):
    """Lower median along one dim -> (values, indices): the first index holding the median (or
    the first NaN of a row with NaNs, as torch); the gradient goes to that index only."""

    @staticmethod
    def forward(ctx, x, d, keepdim):
        xp = get_array_module(x)
        x1 = x.reshape(1) if x.ndim == 0 else x
        k = (x1.shape[d] - 1) // 2
        val = xp.take(xp.partition(x1, k, axis=d), [k], axis=d)
        isnan = xp.isnan(x1)
        nan_row = isnan.any(axis=d, keepdims=True)
        val = xp.where(nan_row, np.nan, val).astype(x.dtype, copy=False)
        hit = xp.where(nan_row, isnan, x1 == val)
        idx = xp.argmax(hit, axis=d, keepdims=True)
        ctx.in_shape, ctx.d, ctx.keepdim, ctx.idx = x.shape, d, keepdim, idx
        if not keepdim or x.ndim == 0:
            val, idx = val.squeeze(d), idx.squeeze(d)
            if x.ndim == 0:
                val, idx = val.reshape(()), idx.reshape(())
        return val, idx.astype(_dt.int64.np, copy=False)

    @staticmethod
    def backward(ctx, g, _g_idx=None):
        return select_grad(g, ctx.in_shape, ctx.idx, ctx.d, ctx.keepdim)


def median(input, dim=None, keepdim=False, *, out=None):
    """The lower of the two middle values (no averaging, as torch). ``median(input)`` -> a
    value (the gradient is shared by the elements equal to it); ``median(input, dim,
    keepdim=False)`` -> named tuple ``(values, indices)``.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([4., 1., 3., 2.]).median()
        tensor(2.)
    """
    if dim is None:
        return MedianAll.apply(input)
    arr = input.array
    d = norm_dim(dim, arr.ndim, "median")
    check_nonempty(arr.shape, (d,) if arr.ndim else (), "median", full=False)
    vals, idx = MedianDim.apply(input, d, keepdim)
    return median_type(vals, idx)


# var_mean/std_mean are functions only in torch (no Tensor methods)
TENSOR_METHODS = {"var": var, "std": std, "logsumexp": logsumexp, "median": median}
