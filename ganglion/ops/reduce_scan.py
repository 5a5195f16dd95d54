"""Products and scans: ``prod``, ``cumsum``, ``cumprod`` (integer and bool inputs give int64,
as torch; ``dtype=`` casts the input first).

The gradients of ``prod`` and ``cumprod`` stay exact when the input holds zeros (torch's rule):
a product's derivative with respect to x_k is the product of the *other* factors, which the
usual ``out / x`` formula cannot give at x_k == 0. ``cumprod_grad`` below builds it from
differentiable ops, so second derivatives are right too.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([2., 0., 3.], requires_grad=True)
    >>> x.prod().backward(); x.grad
    tensor([0., 6., 0.])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.autograd.grad_mode import is_grad_enabled
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.ops.convert import Cast
from ganglion.ops.reduce_common import const, kept, where
from ganglion.tensor import Tensor

__all__ = ["prod", "cumsum", "cumprod", "diff"]

_INT64 = _dt.int64.np


def _int_to_int64(arr, np_dtype):
    """torch: scans and products of integer/bool inputs accumulate (and return) int64."""
    if np_dtype is None and arr.dtype.kind in "biu":
        return _INT64
    return np_dtype


class Cumsum(Op):
    @staticmethod
    def forward(ctx, x, d, np_dtype):
        ctx.d, ctx.in_dtype = d, x.dtype
        return get_array_module(x).cumsum(x, axis=d, dtype=np_dtype)

    @staticmethod
    def backward(ctx, g):
        out = RevCumsum.apply(g, ctx.d)  # the transpose of a running sum is a reversed one
        return out if out.array.dtype == ctx.in_dtype else Cast.apply(out, ctx.in_dtype)


class RevCumsum(Op):
    """out_k = sum_{i >= k} x_i along ``d`` (cumsum's backward; its own backward is cumsum)."""

    @staticmethod
    def forward(ctx, x, d):
        ctx.d = d
        xp = get_array_module(x)
        return xp.ascontiguousarray(xp.flip(xp.cumsum(xp.flip(x, d), axis=d), d))

    @staticmethod
    def backward(ctx, g):
        return Cumsum.apply(g, ctx.d, None)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, x, d, np_dtype):
        out = get_array_module(x).cumprod(x, axis=d, dtype=np_dtype)
        ctx.d = d
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return cumprod_grad(x, out, g, ctx.d)


def _index_along(n, d, ndim):
    return np.arange(n).reshape(tuple(n if i == d else 1 for i in range(ndim)))


def cumprod_grad(x, y, g, d):
    """Gradient of ``sum(g * y)`` for ``y = cumprod(x, d)`` w.r.t. ``x`` (Tensors), zeros included.

    Without zeros it is ``revcumsum(g * y) / x``. In a row whose first zero is at z: entries
    before z keep that formula (safe denominators); the entry z gets the gradient of the
    cumprod of ``x`` with ``x_z`` set to 1; entries after z get ``x_z`` (= 0) times that same
    gradient, which is 0 in value but carries the right second derivative. With recording on
    (``create_graph``) that inner gradient recurses, so rows with several zeros are exact too.
    """
    xa = x.array
    if xa.size == 0 or xa.shape[d] == 1:
        return g
    zeros = xa == 0
    if not zeros.any():
        return RevCumsum.apply(g * y, d) / x
    n = xa.shape[d]
    first = np.where(zeros.any(axis=d, keepdims=True), zeros.argmax(axis=d, keepdims=True), n)
    idx = _index_along(n, d, xa.ndim)
    before, at = const(idx < first), const(idx == first)
    x_one = where(at, 1, x)
    y_one = Cumprod.apply(x_one, d, None)
    if is_grad_enabled():
        g_one = cumprod_grad(x_one, y_one, g, d)
    else:  # first order: only position z of it is used (the rest is scaled by x_z == 0)
        g_one = RevCumsum.apply(g * y_one, d)
    x_z = where(at, x, 0).sum(d, keepdim=True)
    scale = where(at, 1, x_z)
    head = RevCumsum.apply(g * y, d) / where(before, x, 1)
    return where(before, head, scale * g_one)


class Prod(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.axes, ctx.keepdim = axes, keepdim
        out = get_array_module(x).prod(x, axis=axes, keepdims=keepdim, dtype=np_dtype)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape, axes = x.array.shape, ctx.axes
        if not axes:
            return g
        if not (x.array == 0).any():
            return kept(g * out, shape, axes, ctx.keepdim) / x
        # Zeros: d prod / d x_k is the product of the others. Take it from cumprod's gradient
        # with the cotangent on the last position only (prod is cumprod's last entry).
        if len(axes) > 1:  # the full product: run along the flattened input
            return _prod_zero_grad(x.reshape(-1), g.reshape(1), 0).reshape(shape)
        return _prod_zero_grad(x, kept(g, shape, axes, ctx.keepdim), axes[0])


def _prod_zero_grad(x, gk, d):
    """d/dx of sum(gk * prod(x, d, keepdim=True)) via cumprod's zero-safe gradient."""
    n = x.array.shape[d]
    last = const(_index_along(n, d, x.array.ndim) == n - 1)
    g_full = where(last, gk, 0)
    return cumprod_grad(x, Cumprod.apply(x, d, None), g_full, d)


def _cast_input(input, dtype, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if dtype is not None:  # NumPy would widen int32 accumulations to int64 without dtype=
        dtype = _dt.to_dtype(dtype)
        return input.to(dtype), dtype.np
    return input, _int_to_int64(input.array, None)


def prod(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Product of all elements, or along one int ``dim`` (torch allows no tuple here).

    Integer and bool inputs give int64. The gradient is exact with zeros in the input.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1., 2.], [3., 4.]]).prod(dim=-1)
        tensor([ 2., 12.])
    """
    x, np_dtype = _cast_input(input, dtype, "prod")
    nd = x.array.ndim
    if dim is None:
        return Prod.apply(x, tuple(range(nd)), False, np_dtype)
    if isinstance(dim, (tuple, list)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__} "
                        f"(torch's prod reduces one dim; chain .prod(d) calls for several).")
    d = norm_dim(dim, nd, "prod")
    return Prod.apply(x, (d,) if nd else (), keepdim, np_dtype)


def _scan(cls, input, dim, dtype, op):
    x, np_dtype = _cast_input(input, dtype, op)
    nd = x.array.ndim
    d = norm_dim(dim, nd, op)
    if nd == 0:  # a 0-d tensor scans as one element
        return cls.apply(x.reshape(1), 0, np_dtype).reshape(())
    return cls.apply(x, d, np_dtype)


def cumsum(input, dim, *, dtype=None) -> Tensor:
    """Running sum along ``dim``; integer and bool inputs give int64 (torch).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[1, 2, 3], [4, 5, 6]]).cumsum(dim=-1)
        tensor([[ 1,  3,  6],
                [ 4,  9, 15]])
    """
    return _scan(Cumsum, input, dim, dtype, "cumsum")


def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Running product along ``dim``; integer and bool inputs give int64 (torch). The gradient
    is exact with zeros in the input (first and second order).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([1., 2., 0., 4.]).cumprod(0)
        tensor([1., 2., 0., 0.])
    """
    return _scan(Cumprod, input, dim, dtype, "cumprod")


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim`` (``out[i] = x[i + 1] - x[i]``), after
    concatenating ``prepend`` and ``append``; bool inputs give logical xor, as torch.

    Built from narrow and subtraction, so it is differentiable to any order.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([1, 4, 9, 16]).diff()
        tensor([3, 5, 7])
    """
    import ganglion  # noqa: PLC0415 - cat/narrow belong to the movement family

    if n < 0:
        raise RuntimeError(f"diff expects n to be non-negative, got n={n}")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = ganglion.cat(parts, dim) if len(parts) > 1 else input
    d = dim % x.dim()
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = hi.logical_xor(lo) if x.dtype is _dt.bool else hi - lo
    return x


TENSOR_METHODS = {"prod": prod, "cumsum": cumsum, "cumprod": cumprod, "diff": diff}
