"""Op family 'embedding': ``embedding`` and ``embedding_bag``, as ``torch.nn.functional``.

Lookups are one ``take`` along the rows of ``weight``; gradients accumulate into the referenced
rows with repeated indices summed, by one sort and ``np.add.reduceat`` (no Python loop over
indices or bags). ``embedding_bag`` reduces its bags with ``reduceat`` too. Under
``create_graph=True`` the backward is written with ``index_select``/``index_add`` instead, so
gradients of gradients work.

``sparse=True`` is accepted for portability: ganglion has no sparse tensors, so the gradient
is dense (same values).

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.embedding(ganglion.tensor([[0, 2]]), ganglion.eye(3)).shape
    ganglion.Size([1, 2, 3])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.function import Op
from ganglion.autograd.grad_mode import STATE
from ganglion.ops._util import check_tensor
from ganglion.tensor import Tensor

__all__ = ["embedding", "embedding_bag"]

TENSOR_METHODS: dict = {}


class PaddingIdxError(ValueError, AssertionError):
    """A bad ``padding_idx``: torch raises AssertionError; this is both that and a ValueError."""


def _accumulate_rows(idx, src, num_rows):
    """out[r] = sum of src[j] over j with idx[j] == r: one sort and one ``reduceat``."""
    out = np.zeros((num_rows,) + src.shape[1:], src.dtype)
    if idx.size == 0:
        return out
    order = np.argsort(idx, kind="stable")
    si = idx[order]
    starts = np.flatnonzero(np.r_[True, si[1:] != si[:-1]])
    out[si[starts]] = np.add.reduceat(src[order], starts, axis=0)
    return out


def _grad_rows_tensor(idx, src, num_rows):
    """The same accumulation with differentiable Tensor ops (create_graph path)."""
    zeros = src.new_zeros((num_rows,) + tuple(src.shape[1:]))
    return zeros.index_add(0, _fn._new_tensor(idx), src)


class Embedding(Op):
    """out = weight[idx]; backward sums the output gradient into the referenced rows.

    Forward args: weight, indices, padding_idx (-1: none), scale_grad_by_freq.
    """

    @staticmethod
    def forward(ctx, w, idx, padding_idx, scale_freq):
        out = np.take(w, idx, axis=0)
        ctx.idx, ctx.num, ctx.pad, ctx.scale = idx.reshape(-1), w.shape[0], padding_idx, \
            scale_freq
        return out

    @staticmethod
    def backward(ctx, g):
        idx = ctx.idx
        coef = None  # per-occurrence factor: 0 at padding_idx, 1 / count with scale_freq
        if ctx.scale:
            coef = (1.0 / np.bincount(idx, minlength=ctx.num)[idx]).astype(g.array.dtype)
        if ctx.pad >= 0:
            keep = (idx != ctx.pad).astype(g.array.dtype)
            coef = keep if coef is None else coef * keep
        d = g.shape[-1]
        if STATE.enabled:
            src = g.reshape(-1, d)
            if coef is not None:
                src = src * _fn._new_tensor(coef[:, None])
            return _grad_rows_tensor(idx, src, ctx.num), None
        src = g.array.reshape(-1, d)
        if coef is not None:
            src = src * coef[:, None]
        return _fn._new_tensor(_accumulate_rows(idx, src, ctx.num)), None


def _check_indices(input, op):
    check_tensor(input, op)
    if input.array.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{op}: Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.dtype} instead; "
                           f"convert it with .long().")


def _check_weight(weight, op):
    check_tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise RuntimeError(f"{op}: 'weight' must be 2-D, got shape {tuple(weight.shape)} "
                           f"(expected (num_embeddings, embedding_dim)).")


def _check_range(idx, num, op):
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].flat[0]
        raise IndexError(f"{op}: index out of range in self: index {int(bad)} for a weight "
                         f"with num_embeddings={num} (valid: 0 to {num - 1}).")


def _padding_idx(padding_idx, num, op):
    """torch's normalisation: negative counts from the end; None -> -1 (no padding)."""
    if padding_idx is None:
        return -1
    if not -num <= padding_idx < num:
        raise PaddingIdxError(f"{op}: Padding_idx must be within num_embeddings: got "
                              f"padding_idx={padding_idx} for num_embeddings={num}.")
    return padding_idx + num if padding_idx < 0 else padding_idx


def _renorm_(weight, idx, max_norm, norm_type):
    """torch's embedding_renorm_: rescale each referenced row whose norm exceeds max_norm,
    in place and outside autograd."""
    rows = np.unique(idx)
    w = weight.array
    sub = w[rows]
    norms = np.linalg.norm(sub, ord=norm_type, axis=1) if norm_type != 2 else np.sqrt(
        np.einsum("ij,ij->i", sub, sub))
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sub[big] * scale[:, None]
        weight._vc[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False) -> Tensor:
    """Look up rows of ``weight`` by index: ``out[..., :] = weight[input[...], :]``.

    Args:
        input: int64/int32 indices of any shape.
        weight: ``(num_embeddings, embedding_dim)`` table.
        padding_idx: this row gets no gradient (negative counts from the end).
        max_norm: rows referenced by ``input`` whose ``norm_type``-norm exceeds it are
            rescaled to ``max_norm`` in place (as torch), before the lookup.
        norm_type: the p of that norm. Default: 2.
        scale_grad_by_freq: divide each row's gradient by its count in ``input``.
        sparse: accepted for compatibility; the gradient is dense (same values).

    Returns:
        ``input.shape + (embedding_dim,)``.

    Raises:
        RuntimeError: non-integer indices, or a weight that is not 2-D.
        IndexError: an index outside [0, num_embeddings).

    Example:
        >>> import ganglion
        >>> w = ganglion.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> embedding(ganglion.tensor([1, 1, 0]), w)
        tensor([[2., 3.],
                [2., 3.],
                [0., 1.]])
    """
    op = "embedding"
    _check_indices(input, op)
    _check_weight(weight, op)
    num = weight.shape[0]
    _check_range(input.array, num, op)
    pad = _padding_idx(padding_idx, num, op)
    if max_norm is not None:
        _renorm_(weight, input.array.reshape(-1), max_norm, norm_type)
    return Embedding.apply(weight, input.array.astype(np.int64, copy=False), pad,
                           bool(scale_grad_by_freq))



class BagPlan:
    """The integer bookkeeping of one ``embedding_bag`` call, computed once: the kept indices
    (padding dropped), their positions in the input and bags, and the bags' sizes."""

    __slots__ = ("idx", "pos", "bag", "counts", "starts", "nonempty", "n", "num", "mode", "scale")

    def __init__(self, idx, bag, n_bags, n, num, padding_idx, mode, scale):
        keep = idx != padding_idx if padding_idx >= 0 else None
        self.pos = np.flatnonzero(keep) if keep is not None else np.arange(idx.size)
        self.idx = idx[self.pos] if keep is not None else idx
        self.bag = bag[self.pos] if keep is not None else bag
        self.counts = np.bincount(self.bag, minlength=n_bags)
        self.starts = np.cumsum(self.counts) - self.counts
        self.nonempty = np.flatnonzero(self.counts)
        self.n, self.num, self.mode, self.scale = n, num, mode, scale


def _bag_coef(plan, psw, dtype):
    """Per kept element: the factor its row enters its bag with (psw, 1/count, frequency)."""
    coef = None
    if plan.mode == "mean":
        coef = (1.0 / plan.counts[plan.bag]).astype(dtype)
    elif psw is not None:
        coef = psw[plan.pos]
    if plan.scale:
        f = (1.0 / np.bincount(plan.idx, minlength=plan.num)[plan.idx]).astype(dtype)
        coef = f if coef is None else coef * f
    return coef


class EmbeddingBag(Op):
    """Sums, means or maxima of bags of embedding rows.

    Forward args: weight, per_sample_weights or None, and a ``BagPlan``.
    """

    @staticmethod
    def forward(ctx, w, psw, plan):
        rows = np.take(w, plan.idx, axis=0)
        n_bags, d = plan.counts.size, w.shape[1]
        out = np.zeros((n_bags, d), w.dtype)
        ctx.plan, ctx.first = plan, None
        if rows.shape[0] == 0:
            ctx.save_for_backward(w, psw)
            return out
        starts = plan.starts[plan.nonempty]
        if plan.mode == "max":
            out[plan.nonempty] = np.maximum.reduceat(rows, starts, axis=0)
            # the first element reaching each bag's maximum gets the gradient (torch's tie rule)
            hit = rows == out[plan.bag]
            pos = np.where(hit, np.arange(rows.shape[0])[:, None], rows.shape[0])
            ctx.first = np.minimum.reduceat(pos, starts, axis=0)
        else:
            if psw is not None:
                rows *= psw[plan.pos][:, None]
            out[plan.nonempty] = np.add.reduceat(rows, starts, axis=0)
            if plan.mode == "mean":
                out[plan.nonempty] /= plan.counts[plan.nonempty][:, None].astype(w.dtype)
        ctx.save_for_backward(w, psw)
        return out

    @staticmethod
    def backward(ctx, g):
        w, psw = ctx.saved_tensors
        plan, nig = ctx.plan, ctx.needs_input_grad
        if plan.idx.size == 0:
            return (g.new_zeros(tuple(w.shape)) if nig[0] else None,
                    g.new_zeros(tuple(psw.shape)) if psw is not None and nig[1] else None)
        if plan.mode == "max":
            return _max_bag_grad(ctx, g, w), None
        graph = STATE.enabled
        gw = gp = None
        if nig[0]:
            coef = _bag_coef(plan, None if psw is None else (psw if graph else psw.array),
                             g.array.dtype)
            if graph:
                src = g.index_select(0, _fn._new_tensor(plan.bag))
                src = src if coef is None else src * (coef.unsqueeze(1) if isinstance(
                    coef, Tensor) else _fn._new_tensor(coef[:, None]))
                gw = _grad_rows_tensor(plan.idx, src, plan.num)
            else:
                src = g.array[plan.bag]
                src = src if coef is None else src * coef[:, None]
                gw = _fn._new_tensor(_accumulate_rows(plan.idx, src, plan.num))
        if psw is not None and nig[1]:
            gp = _psw_grad(plan, g, w, graph)
        return gw, gp


def _psw_grad(plan, g, w, graph):
    """d out[bag_j] / d psw_j = weight[idx_j]: dot with the bag's gradient (0 for padding)."""
    if graph:
        vals = (g.index_select(0, _fn._new_tensor(plan.bag))
                * w.index_select(0, _fn._new_tensor(plan.idx))).sum(1)
        return vals.new_zeros((plan.n,)).index_add(0, _fn._new_tensor(plan.pos), vals)
    vals = np.einsum("jd,jd->j", g.array[plan.bag], w.array[plan.idx])
    out = np.zeros(plan.n, g.array.dtype)
    out[plan.pos] = vals
    return _fn._new_tensor(out)


def _max_bag_grad(ctx, g, w):
    """Each bag's gradient goes, per column, to the row that was the maximum."""
    plan = ctx.plan
    d = w.shape[1]
    src_rows = plan.idx[ctx.first]  # (non-empty bags, d): the winning row per column
    flat = (src_rows * d + np.arange(d)).reshape(-1)
    if STATE.enabled:
        vals = g.index_select(0, _fn._new_tensor(plan.nonempty)).reshape(-1)
        zeros = vals.new_zeros((plan.num * d,))
        return zeros.index_add(0, _fn._new_tensor(flat), vals).reshape(plan.num, d)
    vals = g.array[plan.nonempty].reshape(-1)
    out = _accumulate_rows(flat, vals, plan.num * d)
    return _fn._new_tensor(out.reshape(plan.num, d))


def _bag_layout(input, offsets, include_last_offset, op):
    """(flat indices, bag id per index, number of bags) from 2-D input or 1-D input + offsets."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2D, then offsets has to be None, as input is "
                             f"treated is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets).__name__}")
        b, length = input.shape
        return input.array.reshape(-1), np.repeat(np.arange(b), length), b
    if input.ndim != 1:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim} (shape {tuple(input.shape)})")
    if offsets is None:
        raise ValueError(f"{op}: offsets has to be a 1D Tensor but got None (1-D input needs "
                         f"the start position of each bag)")
    check_tensor(offsets, op, "offsets")
    if offsets.ndim != 1:
        raise ValueError(f"{op}: offsets has to be a 1D Tensor, got shape "
                         f"{tuple(offsets.shape)}")
    off = offsets.array.astype(np.int64)
    n = input.shape[0]
    if off.size and off[0] != 0:
        raise RuntimeError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got {off[0]}")
    if off.size and off[-1] > n:
        raise RuntimeError(f"{op}: offsets[-1] can not be greater than input's length {n} but "
                           f"got offsets[-1] of {off[-1]}")
    # the last bag runs to the end of the input even with include_last_offset (torch's CPU
    # kernel: indices after the final offset still join the last bag)
    starts = off[:-1] if include_last_offset else off
    ends = np.r_[starts[1:], n] if starts.size else starts
    lengths = ends - starts
    if (lengths < 0).any():
        raise RuntimeError(f"{op}: offsets must be non-decreasing, got {off.tolist()}")
    used = n if starts.size else 0
    return input.array[:used], np.repeat(np.arange(starts.size), lengths), starts.size


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None) -> Tensor:
    """Sums, means or maxima of bags of embeddings, without materialising the lookups per bag.

    Args:
        input: ``(B, L)`` indices (B bags of length L), or 1-D indices with ``offsets``.
        weight: ``(num_embeddings, embedding_dim)`` table.
        offsets: 1-D start position of each bag in a 1-D ``input``.
        max_norm: renormalize the referenced rows in place, as ``embedding``.
        norm_type: the p of that norm.
        scale_grad_by_freq: divide each row's gradient by its count in ``input``.
        mode: 'sum', 'mean' or 'max'. Empty bags give zeros.
        sparse: accepted for compatibility; the gradient is dense.
        per_sample_weights: weights of each index (``input``'s shape), 'sum' mode only.
        include_last_offset: ``offsets`` has B + 1 entries, the last one the end of the last bag.
        padding_idx: entries equal to it are left out of their bags (and of the mean's count).

    Returns:
        ``(B, embedding_dim)``.

    Raises:
        ValueError: inconsistent input/offsets, bad mode or options.
        NotImplementedError: per_sample_weights with a mode other than 'sum'.
        IndexError: an index outside [0, num_embeddings).

    Example:
        >>> import ganglion
        >>> w = ganglion.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> embedding_bag(ganglion.tensor([0, 1, 2]), w, ganglion.tensor([0, 2]), mode="sum")
        tensor([[1., 1.],
                [1., 1.]])
    """
    op = "embedding_bag"
    _check_indices(input, op)
    _check_weight(weight, op)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}: max mode does not support scaling the gradient by the "
                         f"frequency")
    psw = per_sample_weights
    if psw is not None:
        check_tensor(psw, op, "per_sample_weights")
        if mode != "sum":
            raise NotImplementedError(
                f"{op}: per_sample_weights was not None. per_sample_weights is only supported "
                f"for mode='sum' (got mode='{mode}'). Please open a feature request on GitHub.")
        if tuple(psw.shape) != tuple(input.shape):
            raise ValueError(f"{op}: embedding_bag: If per_sample_weights ({tuple(psw.shape)}) "
                             f"is not None, then it must have the same shape as the input "
                             f"({tuple(input.shape)})")
        psw = psw.reshape(-1)
    num = weight.shape[0]
    idx, bag, n_bags = _bag_layout(input, offsets, include_last_offset, op)
    idx = idx.astype(np.int64, copy=False)
    _check_range(idx, num, op)
    pad = _padding_idx(padding_idx, num, op)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    if psw is not None and psw.shape[0] != idx.size:
        psw = psw[:idx.size]
    plan = BagPlan(idx, bag, n_bags, idx.size, num, pad, mode, bool(scale_grad_by_freq))
    return EmbeddingBag.apply(weight, psw, plan)
