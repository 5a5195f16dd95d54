"""``ganglion.linalg``: the ``torch.linalg`` namespace (norms, products, decompositions).

Example:
    >>> import ganglion
    >>> ganglion.linalg.norm(ganglion.tensor([3., 4.]))
    tensor(5.)
"""
from __future__ import annotations

from ganglion.ops._util import check_tensor
from ganglion.ops.linalg_decomp import (cholesky, det, inv, slogdet, solve, svd,
                                        svdvals)
from ganglion.ops.linalg_matmul import matmul
from ganglion.ops.linalg_norm import linalg_norm as norm
from ganglion.ops.linalg_norm import matrix_norm, vector_norm
from ganglion.tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "vecdot", "multi_dot", "svd",
           "svdvals", "det", "slogdet", "inv", "solve", "cholesky"]


def vecdot(x, y, *, dim=-1, out=None) -> Tensor:
    """Dot products of vectors along ``dim`` (batch dims broadcast).

    Example:
        >>> import ganglion
        >>> ganglion.linalg.vecdot(ganglion.ones(2, 3), ganglion.ones(3))
        tensor([3., 3.])
    """
    check_tensor(x, "linalg.vecdot", "x")
    check_tensor(y, "linalg.vecdot", "y")
    if x.shape[dim] != y.shape[dim]:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same size in dim {dim}, "
                           f"got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    return (x * y).sum(dim)


def multi_dot(tensors, *, out=None) -> Tensor:
    """The product of a chain of matrices (the first may be 1-D, as may the last).

    Multiplies in the cheaper of the two association orders for three matrices, left to right
    otherwise.

    Example:
        >>> import ganglion
        >>> ganglion.linalg.multi_dot([ganglion.ones(2, 3), ganglion.ones(3, 4),
        ...                            ganglion.ones(4)]).shape
        ganglion.Size([2])
    """
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"linalg.multi_dot(): expected at least 2 tensors but got "
                           f"{len(tensors)}")
    for i, t in enumerate(tensors):
        check_tensor(t, "linalg.multi_dot", f"tensors[{i}]")
        ok = t.ndim == 2 or (t.ndim == 1 and i in (0, len(tensors) - 1))
        if not ok:
            raise RuntimeError(f"linalg.multi_dot(): tensor {i} must be 2D (the first and last "
                               f"may be 1D), got shape {tuple(t.shape)}")
    if len(tensors) == 3 and all(t.ndim == 2 for t in tensors):
        a, b, c = tensors
        left = a.shape[0] * a.shape[1] * b.shape[1] + a.shape[0] * b.shape[1] * c.shape[1]
        right = b.shape[0] * b.shape[1] * c.shape[1] + a.shape[0] * a.shape[1] * c.shape[1]
        if right < left:
            return matmul(a, matmul(b, c))
    res = tensors[0]
    for t in tensors[1:]:
        res = matmul(res, t)
    return res
