"""Decompositions and solvers of ``ganglion.linalg``: ``svd``, ``svdvals``, ``det``, ``slogdet``,
``inv``, ``solve``, ``cholesky`` (part of the 'linalg' family; see ganglion/ops/linalg.py).

Each runs batched on LAPACK through the array module's ``linalg`` and keeps float32 as float32.
Backward rules are torch's, written with differentiable Tensor ops (matrix products, ``inv``,
``solve``), so second derivatives work. Gradients assume the generic case: invertible matrices
for ``det``/``inv``/``solve``, distinct nonzero singular values for ``svd``.

Example:
    >>> import ganglion
    >>> ganglion.linalg.det(ganglion.tensor([[2., 0.], [0., 3.]]))
    tensor(6.)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops._util import check_tensor
from ganglion.tensor import Tensor

__all__ = ["svd", "svdvals", "det", "slogdet", "inv", "solve", "cholesky"]

SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _square(A, op, arg="A"):
    check_tensor(A, op, arg)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {arg} must be batches of square matrices, but they are "
                           f"{A.shape[-2] if A.ndim >= 2 else A.ndim} by "
                           f"{A.shape[-1] if A.ndim else 0} matrices (shape {tuple(A.shape)})")
    if A.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {A.dtype}")


def _mT(x):
    return x.transpose(-2, -1)


def _lapack(fn, op):
    try:
        return fn()
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"{op}: {e}; the input is singular or not positive-definite") from None


class Inv(Op):
    @staticmethod
    def forward(ctx, A):
        xp = get_array_module(A)
        y = _lapack(lambda: xp.linalg.inv(A), "linalg.inv")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yt = _mT(y)
        return -(yt @ g @ yt)


class Det(Op):
    @staticmethod
    def forward(ctx, A):
        d = get_array_module(A).linalg.det(A)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        scale = (g * d).reshape(tuple(d.shape) + (1, 1))
        return scale * _mT(inv(A))


class Slogdet(Op):
    @staticmethod
    def forward(ctx, A):
        sign, logabs = get_array_module(A).linalg.slogdet(A)
        ctx.save_for_backward(A)
        ctx.mark_non_differentiable(sign)
        return sign, logabs

    @staticmethod
    def backward(ctx, g_sign, g_log):
        (A,) = ctx.saved_tensors
        return g_log.reshape(tuple(g_log.shape) + (1, 1)) * _mT(inv(A))


class Solve(Op):
    """X = A^-1 B for B of shape (..., n, k)."""

    @staticmethod
    def forward(ctx, A, B):
        xp = get_array_module(A)
        x = _lapack(lambda: xp.linalg.solve(A, B), "linalg.solve")
        ctx.save_for_backward(A, x)
        return x

    @staticmethod
    def backward(ctx, g):
        A, x = ctx.saved_tensors
        gb = Solve.apply(_mT(A), g)
        ga = -(gb @ _mT(x)) if ctx.needs_input_grad[0] else None
        return ga, gb


class Cholesky(Op):
    @staticmethod
    def forward(ctx, A):
        L = _lapack(lambda: get_array_module(A).linalg.cholesky(A), "linalg.cholesky")
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, gL):
        # torch's cholesky_backward: gA = L^-T sym(tril(L^T gL)) L^-1 with the diagonal halved
        (L,) = ctx.saved_tensors
        n, xp = L.shape[-1], get_array_module(L.array)
        lower = _new_tensor(xp.tril(xp.ones((n, n), dtype=L.array.dtype)))
        strict = _new_tensor(xp.tril(xp.ones((n, n), dtype=L.array.dtype), -1))
        P = (_mT(L) @ gL) * lower
        M = (P + _mT(P * strict)) * 0.5
        left = Solve.apply(_mT(L), M)  # L^-T M
        return _mT(Solve.apply(_mT(L), _mT(left)))  # (L^-T left^T)^T = left L^-1


class SVD(Op):
    """Reduced SVD A = U diag(S) Vh (or full when ``full`` and the matrices are square)."""

    @staticmethod
    def forward(ctx, A, full):
        xp = get_array_module(A)
        ctx.set_materialize_grads(False)
        ctx.full = full
        U, S, Vh = _lapack(lambda: xp.linalg.svd(A, full_matrices=full), "linalg.svd")
        ctx.save_for_backward(U, S, Vh)
        return U, S.astype(A.dtype, copy=False), Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        if ctx.full and (gU is not None or gVh is not None):
            raise RuntimeError("linalg.svd: the derivative of the singular vectors is not "
                               "defined for full_matrices=True on non-square matrices; use "
                               "full_matrices=False")
        return _svd_backward(U, S, Vh, gU, gS, gVh)


def _svd_backward(U, S, Vh, gU, gS, gVh):
    """torch's svd_backward (real case), built from differentiable ops."""
    m, n = U.shape[-2], Vh.shape[-1]
    k = S.shape[-1]
    if gU is None and gVh is None:
        if gS is None:
            return None
        return U @ (_col(gS) * Vh) if m >= n else (U * _row(gS)) @ Vh
    eye = _new_tensor(get_array_module(S.array).eye(k, dtype=S.array.dtype))
    S2 = S * S
    E = _row(S2) - _col(S2) + eye  # E[i, j] = S_j^2 - S_i^2, 1 on the diagonal
    ret = None
    if gU is not None:
        uhgu = _mT(U) @ gU
        ret = (uhgu - _mT(uhgu)) * _row(S) / E
    if gVh is not None:
        vhgv = Vh @ _mT(gVh)
        term = _col(S) * (vhgv - _mT(vhgv)) / E
        ret = term if ret is None else ret + term
    if gS is not None:
        ret = ret + _col(gS) * eye
    if m > n and gU is not None:
        ga = U @ ret
        gu_sinv = gU / _row(S)
        ga = ga + gu_sinv - U @ (_mT(U) @ gu_sinv)
        return ga @ Vh
    if m < n and gVh is not None:
        ga = ret @ Vh
        sinv_gvh = gVh / _col(S)
        ga = ga + sinv_gvh - (sinv_gvh @ _mT(Vh)) @ Vh
        return U @ ga
    return U @ (ret @ Vh)


def _row(v):
    return v.reshape(tuple(v.shape[:-1]) + (1, v.shape[-1]))


def _col(v):
    return v.reshape(tuple(v.shape) + (1,))


def inv(A, *, out=None) -> Tensor:
    """The inverse of (batches of) square matrices.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.inv(ganglion.tensor([[2., 0.], [0., 4.]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    _square(A, "linalg.inv")
    return Inv.apply(A)


def det(A, *, out=None) -> Tensor:
    """The determinant of (batches of) square matrices.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.det(ganglion.eye(3) * 2)
        tensor(8.)
    """
    _square(A, "linalg.det")
    return Det.apply(A)


def slogdet(A, *, out=None):
    """``(sign, log|det A|)``, stable where the determinant under- or overflows.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.slogdet(-ganglion.eye(3)).sign
        tensor(-1.)
    """
    _square(A, "linalg.slogdet")
    return SlogdetResult(*Slogdet.apply(A))


def solve(A, B, *, left=True, out=None) -> Tensor:
    """The solution X of ``A X = B`` (``X A = B`` with ``left=False``); B may be a vector.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.solve(ganglion.eye(2) * 2, ganglion.tensor([2., 4.]))
        tensor([1., 2.])
    """
    _square(A, "linalg.solve")
    check_tensor(B, "linalg.solve", "B")
    if A.array.dtype != B.array.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype} and B of type {B.dtype} instead")
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        B = B.reshape(tuple(B.shape) + (1,))
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{B.shape[-2]}x{B.shape[-1]}); A {tuple(A.shape)}, B "
                           f"{tuple(B.shape)}")
    shape = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])))
    A = A.expand(shape + tuple(A.shape[-2:]))
    B = B.expand(shape + tuple(B.shape[-2:]))
    x = Solve.apply(A, B)
    return x.reshape(tuple(x.shape[:-1])) if vector else x


def cholesky(A, *, upper=False, out=None) -> Tensor:
    """The Cholesky factor L (lower) of symmetric positive-definite matrices: A = L L^T.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.cholesky(ganglion.eye(2) * 4)
        tensor([[2., 0.],
                [0., 2.]])
    """
    _square(A, "linalg.cholesky")
    L = Cholesky.apply(A)
    return _mT(L) if upper else L


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``U, S, Vh`` with ``A = U @ diag(S) @ Vh``; gradients need ``full_matrices=False`` (or
    square matrices).

    Example:
        >>> import ganglion
        >>> ganglion.linalg.svd(ganglion.ones(4, 3), full_matrices=False).U.shape
        ganglion.Size([4, 3])
    """
    check_tensor(A, "linalg.svd", "A")
    if A.ndim < 2 or A.array.dtype.kind != "f":
        raise RuntimeError(f"linalg.svd: The input tensor A must have at least 2 dimensions and "
                           f"a floating dtype, got shape {tuple(A.shape)} and {A.dtype}")
    full = bool(full_matrices) and A.shape[-1] != A.shape[-2]
    return SVDResult(*SVD.apply(A, full))


def svdvals(A, *, driver=None, out=None) -> Tensor:
    """The singular values of A, in descending order.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.svdvals(ganglion.eye(2) * 3)
        tensor([3., 3.])
    """
    return svd(A, full_matrices=False).S
