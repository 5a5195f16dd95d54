"""Margin and distance losses of the 'loss' family: ``cosine_embedding_loss``,
``margin_ranking_loss``, ``hinge_embedding_loss``, ``triplet_margin_loss``,
``multi_margin_loss``, and the similarity measures ``cosine_similarity``, ``pairwise_distance``.

Each follows torch's own formula op for op (so gradients, second derivatives and the
subgradients at the hinge, 0 at max(0, z) for z == 0, are torch's).

Example:
    >>> import ganglion
    >>> from ganglion.ops.loss_margin import pairwise_distance
    >>> pairwise_distance(ganglion.tensor([[3.0, 4.0]]), ganglion.zeros(1, 2), eps=0.0)
    tensor([5.])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.ops._util import check_tensor, norm_dim
from ganglion.ops.arith_select import where
from ganglion.ops.loss_common import StraightClamp, get_reduction, reduce_loss
from ganglion.tensor import Tensor

__all__ = ["cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "triplet_margin_loss", "multi_margin_loss", "cosine_similarity", "pairwise_distance"]

_EPSILON = 1e-12  # torch's guard in cosine_embedding_loss


def cosine_similarity(x1, x2, dim=1, eps=1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast).

    As torch: each input is divided by its norm clamped at ``eps`` (the clamp passes the
    gradient through), then the products are summed.

    Args:
        x1: first input.
        x2: second input, broadcastable with ``x1``.
        dim: the dimension of the vectors. Default: 1.
        eps: lower bound of each norm.

    Returns:
        The similarities, with ``dim`` removed.

    Example:
        >>> import ganglion
        >>> cosine_similarity(ganglion.tensor([[1.0, 0.0]]), ganglion.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    op = "cosine_similarity"
    check_tensor(x1, op, "x1")
    check_tensor(x2, op, "x2")
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"{op}: x1 of shape {tuple(x1.shape)} and x2 of shape "
                           f"{tuple(x2.shape)} are not broadcastable") from None
    if x1.array.dtype.kind != "f":
        x1 = x1.float()
    if x2.array.dtype.kind != "f":
        x2 = x2.float()
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    d = norm_dim(dim, len(shape), op)
    n1 = StraightClamp.apply(x1.norm(2, d, keepdim=True), eps)
    n2 = StraightClamp.apply(x2.norm(2, d, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) -> Tensor:
    """p-norm of ``x1 - x2 + eps`` over the last dim (torch's formula).

    Args:
        x1: ``(N, D)`` or ``(D,)``.
        x2: broadcastable with ``x1``.
        p: the norm degree. Default: 2.
        eps: added to the difference (avoids a zero norm's undefined gradient).
        keepdim: keep the reduced dim.

    Returns:
        The distances.

    Example:
        >>> import ganglion
        >>> pairwise_distance(ganglion.ones(2, 3), ganglion.ones(2, 3), eps=0.0)
        tensor([0., 0.])
    """
    op = "pairwise_distance"
    check_tensor(x1, op, "x1")
    check_tensor(x2, op, "x2")
    out_dim = max(x1.ndim, x2.ndim)
    return (x1 - x2 + eps).norm(p, out_dim - 1 if out_dim else None, keepdim=keepdim)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean") -> Tensor:
    """1 - cos(x1, x2) where y == 1, max(0, cos(x1, x2) - margin) where y == -1.

    Args:
        input1: ``(N, D)`` or ``(D,)``.
        input2: same shape as ``input1``.
        target: ``(N,)`` or ``()`` labels in {1, -1}.
        margin: in [-1, 1]. Default: 0.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        RuntimeError: the target is not 0-D/1-D, or the inputs' dims do not fit it.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1.0, 0.0]])
        >>> cosine_embedding_loss(x, x, ganglion.tensor([1.0]))
        tensor(0.)
    """
    op = "cosine_embedding_loss"
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(t, op, name)
    reduction = get_reduction(size_average, reduce, reduction, op)
    td = target.ndim
    if td not in (0, 1):
        raise RuntimeError(f"{op}: 0D or 1D target tensor expected, multi-target not supported "
                           f"(got target of shape {tuple(target.shape)})")
    if input1.ndim != td + 1 or input2.ndim != td + 1:
        raise RuntimeError(f"{op}: {td}D target tensor expects {td + 1}D input tensors, but "
                           f"found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    prod = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + _EPSILON
    mag2 = (input2 * input2).sum(td) + _EPSILON
    cos = prod / (mag1 * mag2).sqrt()
    zeros = cos.new_zeros(tuple(cos.shape))
    out = where(target == 1, 1 - cos, zeros) + where(target == -1, (cos - margin).clamp_min(0),
                                                     zeros)
    return reduce_loss(out, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean") -> Tensor:
    """max(0, -y * (x1 - x2) + margin): ``x1`` should rank higher where y == 1.

    Args:
        input1: scores.
        input2: scores, same number of dims.
        target: labels in {1, -1}, same number of dims.
        margin: Default: 0.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        RuntimeError: the inputs' numbers of dims differ.

    Example:
        >>> import ganglion
        >>> margin_ranking_loss(ganglion.tensor([1.0]), ganglion.tensor([2.0]),
        ...                     ganglion.tensor([1.0]))
        tensor(1.)
    """
    op = "margin_ranking_loss"
    for name, t in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(t, op, name)
    reduction = get_reduction(size_average, reduce, reduction, op)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"{op}: All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, "
                           f"target: {tuple(target.shape)}")
    return reduce_loss((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean") -> Tensor:
    """x where y == 1, max(0, margin - x) where y == -1 (x: e.g. a distance).

    Args:
        input: any shape.
        target: labels in {1, -1}, broadcastable with ``input``.
        margin: Default: 1.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> hinge_embedding_loss(ganglion.tensor([0.3, 0.3]), ganglion.tensor([1.0, -1.0]),
        ...                      reduction="none")
        tensor([0.3000, 0.7000])
    """
    op = "hinge_embedding_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    zeros = input.new_zeros(tuple(input.shape))
    out = where(target != 1, (margin - input).clamp_min(0), zeros) + where(target != -1, input,
                                                                             zeros)
    return reduce_loss(out, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False,
                        size_average=None, reduce=None, reduction="mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the ``pairwise_distance``.

    Args:
        anchor: ``(N, D)`` or ``(D,)``.
        positive: same number of dims.
        negative: same number of dims.
        margin: Default: 1.
        p: the norm degree of the distance.
        eps: added to the differences (see ``pairwise_distance``).
        swap: use min(d(a, n), d(p, n)) as the negative distance (distance swap).
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        RuntimeError: the three inputs' numbers of dims differ.

    Example:
        >>> import ganglion
        >>> a = ganglion.zeros(1, 2)
        >>> triplet_margin_loss(a, a, a + 3.0, eps=0.0)
        tensor(0.)
    """
    op = "triplet_margin_loss"
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(t, op, name)
    reduction = get_reduction(size_average, reduce, reduction, op)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"{op}: The anchor, positive, and negative tensors are expected to "
                           f"have the same number of dimensions, but got: anchor {anchor.ndim}D, "
                           f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return reduce_loss((margin + d_pos - d_neg).clamp_min(0), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean") -> Tensor:
    """Multi-class hinge: sum_{j != y} max(0, margin - x[y] + x[j])**p * w[y] / C per sample.

    Args:
        input: ``(N, C)`` or ``(C,)`` scores.
        target: int64 class indices ``(N,)`` or ``()``.
        p: 1 or 2.
        margin: Default: 1.
        weight: ``(C,)`` per-class weights, or None.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        ValueError: ``p`` other than 1 or 2.
        RuntimeError: wrong target shape or dtype.
        IndexError: a class index out of range.

    Example:
        >>> import ganglion
        >>> multi_margin_loss(ganglion.tensor([[0.0, 2.0]]), ganglion.tensor([1]))
        tensor(0.)
    """
    op = "multi_margin_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 supported (got p={p})")
    if input.ndim not in (1, 2) or target.ndim != input.ndim - 1 or (
            input.ndim == 2 and target.shape[0] != input.shape[0]):
        raise RuntimeError(f"{op}: inconsistent target size: got input of shape "
                           f"{tuple(input.shape)} and target of shape {tuple(target.shape)}; "
                           f"expected (N, C) with (N,), or (C,) with ().")
    if target.array.dtype != np.int64:
        raise RuntimeError(f"{op}: expected target dtype Long (int64), got {target.dtype}")
    c = input.shape[-1]
    t = target.array
    if ((t < 0) | (t >= c)).any():
        raise IndexError(f"{op}: target out of range: got {int(t[(t < 0) | (t >= c)].flat[0])}"
                         f" for {c} classes.")
    idx = target.unsqueeze(-1)
    z = (margin - input.gather(-1, idx) + input).clamp_min(0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.gather(0, target.reshape(-1)).reshape(tuple(idx.shape))
    onehot = np.zeros(tuple(input.shape), bool)
    np.put_along_axis(onehot, t[..., None], True, -1)
    z = z.masked_fill(_fn._new_tensor(onehot), 0)  # the target's own term is not counted
    return reduce_loss(z.sum(-1) / c, reduction)
