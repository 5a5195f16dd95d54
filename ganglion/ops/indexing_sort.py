"""Ordering ops: ``sort``, ``argsort``, ``msort``, ``topk``, ``kthvalue`` (values are gathered
with the differentiable ``gather``, so gradients flow to the picked elements), and the
non-differentiable ``unique``, ``searchsorted``, ``bucketize``.

Ties: ganglion always sorts stably, so equal keys keep their original order (lowest index first)
in both directions, which is what torch gives with ``stable=True``. NaN counts as the largest
value: last in ascending order, first in descending order, as in torch.

Example:
    >>> import ganglion
    >>> ganglion.tensor([3., 1., 2.]).sort()
    sort(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.ops.indexing_scatter import Gather
from ganglion.tensor import Tensor

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "searchsorted",
           "bucketize"]

# torch.return_types.* equivalents: tuples with .values and .indices
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])


def _order(a, d: int, descending: bool):
    """Stable argsort along ``d``; descending keeps ties in increasing index order and puts NaN
    first (sorting the reversed array ascending, then reversing the order, does both)."""
    xp = get_array_module(a)
    if not descending:
        return xp.argsort(a, axis=d, kind="stable")
    o = xp.argsort(xp.flip(a, axis=d), axis=d, kind="stable")
    return (a.shape[d] - 1) - xp.flip(o, axis=d)


def _sorted_along(input, dim, descending, op):
    a = input.array
    d = norm_dim(dim, a.ndim, op)
    if a.ndim == 0:
        return d, get_array_module(a).zeros((), np.int64)
    return d, _order(a, d, descending).astype(np.int64, copy=False)


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """Sort along ``dim``; returns ``(values, indices)`` (a namedtuple). The sort is always
    stable (``stable`` is accepted for torch compatibility).

    Example:
        >>> import ganglion
        >>> ganglion.sort(ganglion.tensor([2., 1., 2.]), descending=True).indices
        tensor([0, 2, 1])
    """
    d, idx = _sorted_along(input, dim, descending, "sort")
    return SortResult(Gather.apply(input, d, idx), _new_tensor(idx))


def argsort(input, dim=-1, descending=False, stable=False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (stable; see ``sort``).

    Example:
        >>> import ganglion
        >>> ganglion.argsort(ganglion.tensor([3, 1, 2]))
        tensor([1, 2, 0])
    """
    return _new_tensor(_sorted_along(input, dim, descending, "argsort")[1])


def msort(input, *, out=None) -> Tensor:
    """``sort(input, dim=0).values``.

    Example:
        >>> import ganglion
        >>> ganglion.msort(ganglion.tensor([[2., 1.], [1., 3.]]))
        tensor([[1., 1.],
                [2., 3.]])
    """
    return sort(input, dim=0).values


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):  # noqa: A002 - torch's name
    """The ``k`` largest (or smallest) elements along ``dim`` as ``(values, indices)``; ties
    go to the lowest index. The result is always sorted.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([1., 5., 3., 4.]).topk(2)
        topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    a = input.array
    d = norm_dim(dim, a.ndim, "topk")
    n = a.shape[d] if a.ndim else 1
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range (k={k}, size {n} along "
                           f"dim {d})")
    _, idx = _sorted_along(input, d, bool(largest), "topk")
    if a.ndim:
        idx = idx[(slice(None),) * d + (slice(0, k),)]
    elif k == 0:
        idx = idx.reshape(1)[:0].reshape(())
    return TopkResult(Gather.apply(input, d, idx), _new_tensor(idx))


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The ``k``-th smallest element along ``dim`` (1-based) as ``(values, indices)``.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([3., 1., 2.]).kthvalue(2)
        kthvalue(values=tensor(2.), indices=tensor(2))
    """
    a = input.array
    d = norm_dim(dim, a.ndim, "kthvalue")
    n = a.shape[d] if a.ndim else 1
    if not 1 <= int(k) <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k={k}, size {n})")
    _, idx = _sorted_along(input, d, False, "kthvalue")
    if a.ndim:
        idx = idx[(slice(None),) * d + (slice(int(k) - 1, int(k)),)]
    values = Gather.apply(input, d, idx)
    if not keepdim and a.ndim:
        shape = a.shape[:d] + a.shape[d + 1:]
        values, idx = values.reshape(shape), idx.reshape(shape)
    return KthvalueResult(values, _new_tensor(idx))


def unique(input, sorted=True, return_inverse=False, return_counts=False,  # noqa: A002
           dim=None):
    """The unique elements (sorted), optionally with the inverse indices and the counts.

    Example:
        >>> import ganglion
        >>> ganglion.unique(ganglion.tensor([2, 1, 2]), return_counts=True)
        (tensor([1, 2]), tensor([1, 2]))
    """
    a = input.array
    xp = get_array_module(a)
    axis = None if dim is None else norm_dim(dim, a.ndim, "unique")
    vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=axis)
    inv = inv.reshape(a.shape if axis is None else (a.shape[axis],)).astype(np.int64)
    out = [_new_tensor(vals)]
    if return_inverse:
        out.append(_new_tensor(inv))
    if return_counts:
        out.append(_new_tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _side(right, side):
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got {side}")
    if right and side == "left":
        raise RuntimeError("searchsorted(): side and right can't be set to opposites, got side "
                           "of left while right was True")
    return side


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None) -> Tensor:
    """Insertion indices of ``input``'s values into the innermost dim of ``sorted_sequence``
    (1-D, or with leading dims matching ``input``'s). ``right``/``side='right'``: after equal
    values.

    Example:
        >>> import ganglion
        >>> ganglion.searchsorted(ganglion.tensor([1., 3., 5.]), ganglion.tensor([3., 6.]))
        tensor([1, 3])
    """
    seq = sorted_sequence.array
    xp = get_array_module(seq)
    scalar = not isinstance(input, Tensor)
    v = xp.asarray(input) if scalar else input.array
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter.array, axis=-1)
    s = _side(right, side)
    if seq.ndim == 1:
        res = xp.searchsorted(seq, v, side=s)
    else:
        if v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the "
                               f"first N-1 dimensions of boundaries tensor and input value "
                               f"tensor must match, but we got boundaries tensor "
                               f"{list(seq.shape)} and input value tensor {list(v.shape)}")
        cmp = (seq[..., None, :] <= v[..., :, None]) if s == "right" else \
            (seq[..., None, :] < v[..., :, None])
        res = cmp.sum(axis=-1)
    return _new_tensor(xp.asarray(res).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None) -> Tensor:
    """The bucket of each value of ``input`` for the 1-D sorted ``boundaries``
    (``searchsorted(boundaries, input, right=right)``).

    Example:
        >>> import ganglion
        >>> ganglion.bucketize(ganglion.tensor([0.5, 2.0, 9.0]), ganglion.tensor([1., 2., 3.]))
        tensor([0, 1, 3])
    """
    if boundaries.array.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.array.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


TENSOR_METHODS = {"sort": sort, "argsort": argsort, "msort": msort, "topk": topk,
                  "kthvalue": kthvalue, "unique": unique}
