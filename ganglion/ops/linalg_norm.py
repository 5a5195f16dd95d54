"""Norms: ``linalg.vector_norm``, ``linalg.matrix_norm``, ``linalg.norm`` and ``torch.norm``
(``Tensor.norm``), part of the 'linalg' family (see ganglion/ops/linalg.py).

Vector norms are one op whose backward follows torch's formulas, including its choices at the
kinks: the gradient is 0 where the norm is 0 (ord 2 and p > 1), ``sign(x)`` for ord 1 (0 at 0),
and for ord +-inf it is split evenly among the entries that attain the max/min. Matrix norms are
built from vector norms (the 1 and inf norms are the max of absolute column/row sums) and, for
ord 2, -2 and 'nuc', from singular values.

Example:
    >>> import ganglion
    >>> ganglion.linalg.vector_norm(ganglion.tensor([3., 4.]))
    tensor(5.)
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops._util import check_tensor, norm_dims
from ganglion.tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm", "linalg_norm"]

_INF = math.inf


class VectorNorm(Op):
    """``forward(ctx, x, ord, axes, keepdim)``: the ord-norm of ``x`` over ``axes``."""

    @staticmethod
    def forward(ctx, x, ord, axes, keepdim):  # noqa: A002 - torch's name
        xp = get_array_module(x)
        ctx.ord, ctx.axes, ctx.keepdim = ord, axes, keepdim
        kw = {"axis": axes, "keepdims": keepdim}
        if ord == 2:
            out = xp.sqrt(xp.sum(x * x, **kw))
        elif ord == 1:
            out = xp.sum(xp.abs(x), **kw)
        elif ord == _INF:
            out = xp.max(xp.abs(x), **kw)
        elif ord == -_INF:
            out = xp.min(xp.abs(x), **kw)
        elif ord == 0:
            out = xp.sum(x != 0, **kw).astype(x.dtype)
        else:
            with np.errstate(divide="ignore", over="ignore"):
                out = xp.sum(xp.abs(x) ** x.dtype.type(ord), **kw) ** x.dtype.type(1.0 / ord)
        out = xp.asarray(out, dtype=x.dtype)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p = ctx.ord
        if not ctx.keepdim and ctx.axes:
            shape = list(x.shape)
            for a in ctx.axes:
                shape[a] = 1
            g, out = g.reshape(tuple(shape)), out.reshape(tuple(shape))
        return _norm_grad(x, out, g, p, ctx.axes)


def _norm_grad(x, norm, g, p, axes):
    """torch's linalg_vector_norm_backward, written with differentiable Tensor ops."""
    from ganglion.ops.arith import where  # noqa: PLC0415 - sibling family

    zero = g * 0
    if p == 0:
        return x.sign() * zero  # piecewise constant: a zero gradient of x's shape
    if p == 1:
        return x.sign() * g
    if p == 2:
        # 0 where the norm is 0 (torch's masked_fill): the subgradient at the origin
        return x * where(norm == 0, zero, g / norm)
    if abs(p) == _INF:
        mask = (x.abs() == norm) | x.isnan()
        count = mask.sum(dim=axes, keepdim=True).to(x.dtype)
        return x.sign() * where(mask, g / count, zero)
    if p < 1:
        scaled = where(x == 0, x * 0, x.sign() * x.abs() ** (p - 1))
        return scaled * g * norm ** (1 - p)
    scale = where(norm == 0, zero, g / norm ** (p - 1))
    if p < 2:
        return x.sign() * x.abs() ** (p - 1) * scale
    return x * x.abs() ** (p - 2) * scale


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None) -> Tensor:  # noqa: A002
    """The vector ``ord``-norm over ``dim`` (all dims when None).

    Args:
        x: a floating tensor.
        ord: 2 (default), 1, inf, -inf, 0 (number of nonzeros) or any other real p:
            ``sum(|x|**p)**(1/p)``.
        dim: int or tuple of dims to reduce; None flattens.
        keepdim: keep the reduced dims with size 1.
        dtype: cast the input to this floating dtype first.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.vector_norm(ganglion.tensor([[3., -4.]]), ord=1, dim=-1)
        tensor([7.])
    """
    check_tensor(x, "linalg.vector_norm", "input")
    if isinstance(ord, str) or isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg.vector_norm(): argument 'ord' must be a number, not "
                        f"{type(ord).__name__} ({ord!r}); use linalg.matrix_norm for 'fro'/'nuc'")
    if dtype is not None:
        dtype = _dt.to_dtype(dtype)
        if not dtype.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, "
                               f"but got {dtype}")
        x = x.to(dtype)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype}; convert with x.float()")
    axes = norm_dims(dim, x.ndim, "linalg.vector_norm")
    if isinstance(dim, (list, tuple)) and not dim:
        axes = tuple(range(x.ndim))
    if ord in (_INF, -_INF) and any(x.shape[a] == 0 for a in axes):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor "
                           f"because the operation does not have an identity (input shape "
                           f"{tuple(x.shape)}, dim {dim})")
    return VectorNorm.apply(x, float(ord), axes, bool(keepdim))


def _matrix_dims(A, dim, op):
    if not isinstance(dim, (list, tuple)) or len(dim) != 2:
        n = 1 if isinstance(dim, int) else len(dim) if isinstance(dim, (list, tuple)) else dim
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {n}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions (got shape "
                           f"{tuple(A.shape)})")
    d0, d1 = (norm_dims(d, A.ndim, op)[0] for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None,  # noqa: A002
                out=None) -> Tensor:
    """The matrix ``ord``-norm over the two dims ``dim`` (batched over the others).

    Args:
        A: a floating tensor with at least 2 dims.
        ord: 'fro' (default), 'nuc', 1 / -1 (max / min absolute column sum), inf / -inf (max /
            min absolute row sum), 2 / -2 (largest / smallest singular value).
        dim: the two dims holding the matrices.
        keepdim: keep the reduced dims with size 1.
        dtype: cast the input to this floating dtype first.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.matrix_norm(ganglion.tensor([[1., -2.], [3., 4.]]), ord=1)
        tensor(6.)
    """
    check_tensor(A, "linalg.matrix_norm", "A")
    d0, d1 = _matrix_dims(A, dim, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        return _svd_norm(A, ord, d0, d1, keepdim)
    if ord not in (1, -1, _INF, -_INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported; use 'fro', 'nuc', "
                           f"1, -1, 2, -2, inf or -inf")
    # 1-norm: max over columns of the absolute column sums; inf-norm: the same for rows.
    inner, outer = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = A.abs().sum(dim=inner, keepdim=True)
    res = vector_norm(sums, _INF if ord > 0 else -_INF, dim=outer, keepdim=True)
    return res if keepdim else res.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def _svd_norm(A, ord, d0, d1, keepdim):
    from ganglion.ops.linalg_decomp import svdvals  # noqa: PLC0415 - optional, heavier module

    nd = A.ndim
    rest = [d for d in range(nd) if d not in (d0, d1)]
    s = svdvals(A.permute(*(rest + [d0, d1])))
    if ord == "nuc":
        res = s.sum(-1)
    else:
        res = vector_norm(s, _INF if ord == 2 else -_INF, dim=-1)
    if keepdim:
        res = res.reshape(tuple(1 if d in (d0, d1) else A.shape[d] for d in range(nd)))
    return res


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, out=None,  # noqa: A002
                dtype=None) -> Tensor:
    """``linalg.norm``: a vector norm or a matrix norm, chosen from ``ord`` and ``dim``.

    With ``dim`` None: ``ord`` None gives the 2-norm of the flattened input; otherwise the input
    must be 1-D (vector norm) or 2-D (matrix norm). An int ``dim`` gives a vector norm, a
    2-tuple a matrix norm.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.norm(ganglion.tensor([[3., 0.], [0., 4.]]))
        tensor(5.)
    """
    check_tensor(A, "linalg.norm", "A")
    if dim is not None and not isinstance(dim, (list, tuple)):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if len(dim) == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: ord {ord!r} is a matrix norm and needs a 2-tuple "
                               f"dim, got dim={tuple(dim)}")
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                           f"Got {list(dim)}")
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None) -> Tensor:
    """``torch.norm`` / ``Tensor.norm``: a vector p-norm over ``dim`` (all dims when None).

    A numeric ``p`` always gives a vector norm (over every dim in ``dim``); 'fro' is the 2-norm
    and 'nuc' the nuclear norm of matrices over ``dim`` (default the last two dims).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([[3., 4.], [0., 0.]]).norm(dim=1)
        tensor([5., 0.])
    """
    check_tensor(input, "norm", "input")
    if p == "nuc":
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(p, str) and p != "fro":
        raise RuntimeError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    return vector_norm(input, 2 if p in ("fro", None) else p, dim, keepdim, dtype=dtype)

