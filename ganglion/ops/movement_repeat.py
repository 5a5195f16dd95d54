"""Copies that rearrange elements (part of the movement family): ``repeat``, ``tile``,
``repeat_interleave``, ``flip``, ``fliplr``/``flipud``, ``roll``.

Example:
    >>> import ganglion
    >>> ganglion.arange(3).repeat(2), ganglion.arange(3).repeat_interleave(2)
    (tensor([0, 1, 2, 0, 1, 2]), tensor([0, 0, 1, 1, 2, 2]))
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim, norm_dims
from ganglion.tensor import Tensor, _sizes

__all__ = ["tile", "repeat_interleave", "flip", "fliplr", "flipud", "roll"]


class Repeat(Op):
    @staticmethod
    def forward(ctx, x, sizes):
        lead = (1,) * (len(sizes) - x.ndim) + x.shape
        ctx.in_shape, ctx.lead, ctx.sizes = x.shape, lead, sizes
        return get_array_module(x).tile(x.reshape(lead), sizes)

    @staticmethod
    def backward(ctx, g):
        if not ctx.sizes:
            return g
        inter = []
        for r, s in zip(ctx.sizes, ctx.lead):
            inter += [r, s]
        # out[k * s + i] = x[i]: view dim k as (repeat, size) and sum over the repeats
        gs = g.reshape(tuple(inter)).sum(dim=tuple(range(0, len(inter), 2)))
        return gs.reshape(ctx.in_shape)


class RepeatInterleave(Op):
    """Each element ``r`` times along ``dim`` (an int ``r``)."""

    @staticmethod
    def forward(ctx, x, r, dim):
        ctx.shape, ctx.r, ctx.dim = x.shape, r, dim
        return get_array_module(x).repeat(x, r, axis=dim)

    @staticmethod
    def backward(ctx, g):
        s, d = ctx.shape, ctx.dim
        return g.reshape(s[:d] + (s[d], ctx.r) + s[d + 1:]).sum(dim=d + 1)


class RepeatInterleaveT(Op):
    """Element ``i`` repeated ``reps[i]`` times along ``dim`` (``reps``: an integer array)."""

    @staticmethod
    def forward(ctx, x, reps, dim):
        ctx.reps, ctx.dim = reps, dim
        return get_array_module(x).repeat(x, reps, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return SegmentSum.apply(g, ctx.reps, ctx.dim)


class SegmentSum(Op):
    """Sums of consecutive runs of ``reps[i]`` entries along ``dim`` (zero for empty runs)."""

    @staticmethod
    def forward(ctx, g, reps, dim):
        ctx.reps, ctx.dim = reps, dim
        xp = get_array_module(g)
        shape = list(g.shape)
        shape[dim] = len(reps)
        out = xp.zeros(shape, g.dtype)
        nz = reps > 0
        if nz.any():
            starts = xp.cumsum(reps) - reps
            # reduceat sums g[starts[k]:starts[k+1]]; empty runs are left out (it would not
            # give 0 for them) and keep their zeros
            out[(slice(None),) * dim + (nz,)] = xp.add.reduceat(g, starts[nz], axis=dim)
        return out

    @staticmethod
    def backward(ctx, gg):
        return RepeatInterleaveT.apply(gg, ctx.reps, ctx.dim)


class Flip(Op):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return get_array_module(x).flip(x, axes).copy()  # torch's flip is a copy, not a view

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, ctx.axes)


class Roll(Op):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return get_array_module(x).roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        neg = -ctx.shifts if ctx.axes is None else tuple(-s for s in ctx.shifts)
        return Roll.apply(g, neg, ctx.axes)


def _repeat(self, *sizes) -> Tensor:
    """Tile the tensor ``sizes[k]`` times along dim k (extra leading sizes add dims).

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 3).repeat(4, 1, 2).shape
        ganglion.Size([4, 2, 6])
    """
    sizes = _sizes(sizes, "repeat")
    shape = self.array.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"repeat: Number of dimensions of repeat dims can not be smaller than "
                           f"number of dimensions of tensor (got {len(sizes)} sizes {sizes} for "
                           f"a tensor of shape {tuple(shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat: Trying to create tensor with negative dimension: repeats "
                           f"{list(sizes)} for shape {tuple(shape)}")
    return Repeat.apply(self, sizes)


def tile(input, dims) -> Tensor:
    """``repeat`` where ``dims`` may be shorter than ``input.ndim`` (ones are prepended).

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 3).tile((2,)).shape
        ganglion.Size([2, 6])
    """
    dims = _sizes((dims,) if isinstance(dims, (tuple, list)) else (dims,), "tile")
    nd = input.array.ndim
    if len(dims) < nd:
        dims = (1,) * (nd - len(dims)) + dims
    return _repeat(input, dims)


def _tile_method(self, *dims) -> Tensor:
    return tile(self, _sizes(dims, "tile"))


def _int_repeats(repeats, n, d):
    r = repeats.array if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.dtype.kind not in "iu":
        raise RuntimeError(f"repeat_interleave: repeats has to be Long or Int tensor, got "
                           f"{r.dtype}")
    if r.ndim > 1:
        raise RuntimeError(f"repeat_interleave: repeats must be 0-dim or 1-dim tensor, got "
                           f"shape {tuple(r.shape)}")
    if r.size == 1 and n != 1:
        r = r.reshape(())
    if r.ndim == 0:
        if int(r) < 0:
            raise RuntimeError(f"repeat_interleave: Repeats must be non-negative, got {int(r)}")
        return int(r)
    if r.shape[0] != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along "
                           f"dim, but got repeats.size(0) = {r.shape[0]} and input.size({d}) = "
                           f"{n}")
    if (r < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    return r.astype(np.int64)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element) along ``dim``
    (of the flattened input when None). ``repeat_interleave(counts)`` gives the indices
    ``0, 0, ..., 1, ...`` repeated by ``counts``.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1, 2], [3, 4]])
        >>> x.repeat_interleave(ganglion.tensor([1, 2]), dim=0)
        tensor([[1, 2],
                [3, 4],
                [3, 4]])
    """
    if repeats is None:
        counts = _int_repeats(input, input.array.size, 0)
        xp = get_array_module(input.array)
        return _new_tensor(xp.repeat(xp.arange(input.array.size), counts))
    if dim is None:
        input, d = input.reshape(-1), 0
    elif input.array.ndim == 0:
        raise IndexError(f"repeat_interleave: Dimension out of range (expected to be in range "
                         f"of [-1, 0], but got {dim}) for a 0-d input")
    else:
        d = norm_dim(dim, input.array.ndim, "repeat_interleave")
    n = input.array.shape[d]
    r = _int_repeats(repeats, n, d)
    total = n * r if isinstance(r, int) else int(r.sum())
    if output_size is not None and int(output_size) != total:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {total} but got "
                           f"{output_size}")
    if isinstance(r, int):
        return RepeatInterleave.apply(input, r, d)
    return RepeatInterleaveT.apply(input, get_array_module(input.array).asarray(r), d)


def flip(input, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy).

    Example:
        >>> import ganglion
        >>> ganglion.arange(4).flip(0)
        tensor([3, 2, 1, 0])
    """
    axes = norm_dims(dims if isinstance(dims, (tuple, list)) else (dims,), input.array.ndim,
                     "flip")
    return Flip.apply(input, axes)


def _flip_method(self, *dims) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return flip(self, dims)


def fliplr(input) -> Tensor:
    """Flip dim 1 (left/right) of an at least 2-D tensor.

    Example:
        >>> import ganglion
        >>> ganglion.arange(4).reshape(2, 2).fliplr()
        tensor([[1, 0],
                [3, 2]])
    """
    if input.array.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got shape {tuple(input.array.shape)}.")
    return flip(input, (1,))


def flipud(input) -> Tensor:
    """Flip dim 0 (up/down) of an at least 1-D tensor.

    Example:
        >>> import ganglion
        >>> ganglion.arange(4).reshape(2, 2).flipud()
        tensor([[2, 3],
                [0, 1]])
    """
    if input.array.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d, got a 0-d tensor.")
    return flip(input, (0,))


def roll(input, shifts, dims=None) -> Tensor:
    """Shift elements cyclically by ``shifts`` along ``dims`` (of the flattened tensor when
    ``dims`` is None).

    Example:
        >>> import ganglion
        >>> ganglion.arange(5).roll(2)
        tensor([3, 4, 0, 1, 2])
    """
    shifts = tuple(int(s) for s in shifts) if isinstance(shifts, (tuple, list)) else \
        (int(shifts),)
    dims = () if dims is None else (tuple(dims) if isinstance(dims, (tuple, list)) else (dims,))
    if not shifts:
        raise RuntimeError("roll: `shifts` required")
    if not dims and len(shifts) == 1:
        return Roll.apply(input, shifts[0], None)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    axes = tuple(norm_dim(d, input.array.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts, axes)


TENSOR_METHODS = {"repeat": _repeat, "tile": _tile_method,
                  "repeat_interleave": repeat_interleave, "flip": _flip_method,
                  "fliplr": fliplr, "flipud": flipud, "roll": roll}
