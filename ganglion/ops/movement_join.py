"""Joining and splitting (part of the movement family): ``cat``, ``stack``, ``hstack`` ...,
``split``, ``chunk``, ``tensor_split``, ``unbind``.

``cat`` and ``split`` are each other's gradient, as are ``stack`` and ``unbind``; the pieces of
``split``/``chunk``/``unbind`` are views of the input.

Example:
    >>> import ganglion
    >>> a, b = ganglion.arange(6).split([2, 4])
    >>> ganglion.cat([b, a])
    tensor([2, 3, 4, 5, 0, 1])
"""
from __future__ import annotations

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops._util import norm_dim
from ganglion.ops.convert import Cast
from ganglion.ops.pad import ConstantPad
from ganglion.tensor import Tensor

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack", "dstack",
           "column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "split", "chunk",
           "tensor_split", "hsplit", "vsplit", "dsplit", "unbind"]


def _skipped(shape):
    return len(shape) == 1 and shape[0] == 0  # torch's legacy rule: cat skips 1-D empties


class Cat(Op):
    @staticmethod
    def forward(ctx, dim, *xs):
        keep = [not _skipped(x.shape) for x in xs]
        if not any(keep):
            keep = [True] * len(xs)
        kept = [x for x, k in zip(xs, keep) if k]
        bounds, pos = [], 0
        for x in kept:
            bounds.append((pos, pos + x.shape[dim]))
            pos += x.shape[dim]
        ctx.dim, ctx.keep, ctx.bounds = dim, keep, tuple(bounds)
        return get_array_module(xs[0]).concatenate(kept, axis=dim)

    @staticmethod
    def backward(ctx, g):
        pieces = iter(Split.apply(g, ctx.bounds, ctx.dim))
        xp = get_array_module(g.array)
        return (None,) + tuple(next(pieces) if k else _new_tensor(xp.zeros((0,), g.array.dtype))
                               for k in ctx.keep)


class Split(Op):
    """Pieces ``x[..., a:b, ...]`` along ``dim`` for ``(a, b)`` in ``bounds`` (views)."""

    view = True

    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.bounds, ctx.dim, ctx.n = bounds, dim, x.shape[dim]
        pre = (slice(None),) * dim
        return tuple(x[pre + (slice(a, b),)] for a, b in bounds)

    @staticmethod
    def backward(ctx, *grads):
        b = ctx.bounds
        tiles = b[0][0] == 0 and b[-1][1] == ctx.n and all(
            b[i][1] == b[i + 1][0] for i in range(len(b) - 1))
        if tiles:
            return Cat.apply(ctx.dim, *grads)
        total = None  # overlapping or gapped pieces (tensor_split): add each one in place
        for (lo, hi), g in zip(b, grads):
            pads = [(0, 0)] * g.array.ndim
            pads[ctx.dim] = (lo, ctx.n - hi)
            p = ConstantPad.apply(g, tuple(pads), 0, False)
            total = p if total is None else total + p
        return total


class Stack(Op):
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return get_array_module(xs[0]).stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(Unbind.apply(g, ctx.dim))


class Unbind(Op):
    view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return tuple(get_array_module(x).moveaxis(x, dim, 0))

    @staticmethod
    def backward(ctx, *grads):
        return Stack.apply(ctx.dim, *grads)


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return list(tensors)


def _promote(tensors):
    """Cast all tensors to their common dtype (torch promotes the inputs of cat/stack)."""
    dt = _dt.DTYPE_OF[tensors[0].array.dtype]
    for t in tensors[1:]:
        if t.array.dtype != dt.np:
            dt = _dt.promote_types(dt, _dt.DTYPE_OF[t.array.dtype])
    return [t if t.array.dtype == dt.np else Cast.apply(t, dt.np) for t in tensors]


def _write_out(result, out):
    if out is None:
        return result
    out.copy_(result)  # shapes must agree (ganglion does not resize ``out``)
    return out


def _check_cat(tensors, dim):
    for i, t in enumerate(tensors):
        if t.array.ndim == 0:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    ref = next((t for t in tensors if not _skipped(t.array.shape)), tensors[0])
    rs = ref.array.shape
    d = norm_dim(dim, len(rs), "cat")
    for i, t in enumerate(tensors):
        s = t.array.shape
        if _skipped(s):
            continue
        if len(s) != len(rs):
            raise RuntimeError(f"cat: Tensors must have same number of dimensions: got "
                               f"{len(rs)} and {len(s)} (shapes {tuple(rs)} and {tuple(s)} at "
                               f"position {i})")
        for k in range(len(s)):
            if k != d and s[k] != rs[k]:
                raise RuntimeError(f"cat: Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {rs[k]} but got size {s[k]} for tensor "
                                   f"number {i} in the list (shapes {tuple(rs)} and "
                                   f"{tuple(s)})")
    return d


def cat(tensors, dim=0, *, out=None) -> Tensor:
    """Concatenate tensors along an existing dim (1-D empty tensors are skipped, as in torch).

    Example:
        >>> import ganglion
        >>> ganglion.cat([ganglion.zeros(2, 3), ganglion.zeros(2, 1)], dim=1).shape
        ganglion.Size([2, 4])
    """
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    d = _check_cat(tensors, dim)
    return _write_out(Cat.apply(d, *_promote(tensors)), out)


def concat(tensors, dim=0, *, out=None) -> Tensor:
    """Alias of ``cat``.

    Example:
        >>> import ganglion
        >>> ganglion.concat([ganglion.zeros(2), ganglion.zeros(3)]).shape
        ganglion.Size([5])
    """
    return cat(tensors, dim, out=out)


def concatenate(tensors, axis=0, out=None) -> Tensor:
    """Alias of ``cat`` (NumPy's name).

    Example:
        >>> import ganglion
        >>> ganglion.concatenate([ganglion.zeros(2), ganglion.zeros(3)]).shape
        ganglion.Size([5])
    """
    return cat(tensors, axis, out=out)


def stack(tensors, dim=0, *, out=None) -> Tensor:
    """Join equal-shaped tensors along a new dim ``dim``.

    Example:
        >>> import ganglion
        >>> ganglion.stack([ganglion.zeros(2, 3), ganglion.zeros(2, 3)], dim=-1).shape
        ganglion.Size([2, 3, 2])
    """
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0].array.shape
    for i, t in enumerate(tensors):
        if t.array.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} "
                               f"at entry 0 and {list(t.array.shape)} at entry {i}")
    d = norm_dim(dim, len(s0) + 1, "stack")
    return _write_out(Stack.apply(d, *_promote(tensors)), out)


def _atleast_shape(s, nd):
    if nd == 3:
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
    return (1,) * (nd - len(s)) + s


def _atleast(tensors, nd):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    res = tuple(t if t.array.ndim >= nd else t.reshape(_atleast_shape(t.array.shape, nd))
                for t in tensors)
    return res[0] if single else res


def atleast_1d(*tensors):
    """Tensors with at least 1 dim (0-d becomes shape (1,)).

    Example:
        >>> import ganglion
        >>> ganglion.atleast_1d(ganglion.tensor(1.0)).shape
        ganglion.Size([1])
    """
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Tensors with at least 2 dims (shape (n,) becomes (1, n)).

    Example:
        >>> import ganglion
        >>> ganglion.atleast_2d(ganglion.zeros(3)).shape
        ganglion.Size([1, 3])
    """
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Tensors with at least 3 dims ((n,) -> (1, n, 1), (m, n) -> (m, n, 1)).

    Example:
        >>> import ganglion
        >>> ganglion.atleast_3d(ganglion.zeros(2, 3)).shape
        ganglion.Size([2, 3, 1])
    """
    return _atleast(tensors, 3)


def hstack(tensors, *, out=None) -> Tensor:
    """Concatenate column-wise: along dim 0 for 1-D tensors, else dim 1.

    Example:
        >>> import ganglion
        >>> ganglion.hstack([ganglion.zeros(2, 1), ganglion.zeros(2, 3)]).shape
        ganglion.Size([2, 4])
    """
    ts = atleast_1d(_tensor_list(tensors, "hstack"))
    return cat(list(ts), 0 if ts and ts[0].array.ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None) -> Tensor:
    """Concatenate row-wise (1-D tensors become rows).

    Example:
        >>> import ganglion
        >>> ganglion.vstack([ganglion.zeros(3), ganglion.zeros(2, 3)]).shape
        ganglion.Size([3, 3])
    """
    return cat(list(atleast_2d(_tensor_list(tensors, "vstack"))), 0, out=out)


def row_stack(tensors, *, out=None) -> Tensor:
    """Alias of ``vstack``.

    Example:
        >>> import ganglion
        >>> ganglion.row_stack([ganglion.zeros(3), ganglion.zeros(3)]).shape
        ganglion.Size([2, 3])
    """
    return vstack(tensors, out=out)


def dstack(tensors, *, out=None) -> Tensor:
    """Concatenate depth-wise (along dim 2, after ``atleast_3d``).

    Example:
        >>> import ganglion
        >>> ganglion.dstack([ganglion.zeros(3), ganglion.zeros(3)]).shape
        ganglion.Size([1, 3, 2])
    """
    return cat(list(atleast_3d(_tensor_list(tensors, "dstack"))), 2, out=out)


def column_stack(tensors, *, out=None) -> Tensor:
    """Stack 0-d/1-d tensors as columns (and concatenate 2-D ones) along dim 1.

    Example:
        >>> import ganglion
        >>> ganglion.column_stack([ganglion.zeros(3), ganglion.zeros(3, 2)]).shape
        ganglion.Size([3, 3])
    """
    ts = [t.reshape(t.array.size, 1) if t.array.ndim <= 1 else t
          for t in _tensor_list(tensors, "column_stack")]
    return hstack(ts, out=out)


def _split_dim(tensor, dim, op):
    if tensor.array.ndim == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor")
    d = norm_dim(dim, tensor.array.ndim, op)
    return d, tensor.array.shape[d]


def _bounds(sizes):
    out, pos = [], 0
    for s in sizes:
        out.append((pos, pos + s))
        pos += s
    return tuple(out)


def split(tensor, split_size_or_sections, dim=0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the listed sizes.

    Example:
        >>> import ganglion
        >>> [p.shape[0] for p in ganglion.arange(7).split(3)]
        [3, 3, 1]
    """
    d, n = _split_dim(tensor, dim, "split")
    sec = split_size_or_sections
    if isinstance(sec, (tuple, list)):
        sizes = [int(s) for s in sec]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    else:
        s = int(sec)
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={s}")
        if s == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        k = max(-(-n // s), 1) if s else 1
        sizes = [s] * (k - 1) + [n - s * (k - 1)]
    return Split.apply(tensor, _bounds(sizes), d)


def chunk(input, chunks, dim=0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) (there may be fewer pieces).

    Example:
        >>> import ganglion
        >>> [p.shape[0] for p in ganglion.arange(6).chunk(4)]
        [2, 2, 2]
    """
    chunks = int(chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d, n = _split_dim(input, dim, "chunk")
    size = -(-n // chunks)
    if size == 0:  # an empty dim still gives ``chunks`` (empty) pieces, as in torch
        return Split.apply(input, _bounds([0] * chunks), d)
    return split(input, size, d)


def tensor_split(input, indices_or_sections, dim=0) -> tuple:
    """Split into ``sections`` near-equal pieces, or at the given indices (like slicing).

    Example:
        >>> import ganglion
        >>> [p.shape[0] for p in ganglion.arange(7).tensor_split(3)]
        [3, 2, 2]
    """
    d, n = _split_dim(input, dim, "tensor_split")
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.array.dtype.kind not in "iu" or ios.array.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor of integers, but "
                               f"got a tensor of dtype {ios.dtype} with {ios.array.ndim} dims")
        ios = ios.array.tolist()
    if isinstance(ios, (tuple, list)):
        idx = [int(i) for i in ios]
        bounds = []
        for a, b in zip([0] + idx, idx + [n]):
            a, b, _ = slice(a, b).indices(n)
            bounds.append((a, max(a, b)))
        return Split.apply(input, tuple(bounds), d)
    k = int(ios)
    if k <= 0:
        raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
    q, r = divmod(n, k)
    return Split.apply(input, _bounds([q + 1] * r + [q] * (k - r)), d)


def _dir_split(input, ios, dim, op, min_dim):
    nd = input.array.ndim
    if nd < min_dim:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dim} dimension, "
                           f"but got a tensor with {nd} dimensions!")
    if not isinstance(ios, (tuple, list, Tensor)):
        n = input.array.shape[dim]
        if int(ios) == 0 or n % int(ios):
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {n} is not divisible by the split_size "
                               f"{ios}!")
    return tensor_split(input, ios, dim)


def hsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 for 1-D); an int must divide the size.

    Example:
        >>> import ganglion
        >>> [p.shape for p in ganglion.zeros(2, 4).hsplit(2)]
        [ganglion.Size([2, 2]), ganglion.Size([2, 2])]
    """
    return _dir_split(input, indices_or_sections, 1 if input.array.ndim > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 0 of an at least 2-D tensor.

    Example:
        >>> import ganglion
        >>> [p.shape for p in ganglion.zeros(4, 2).vsplit([1])]
        [ganglion.Size([1, 2]), ganglion.Size([3, 2])]
    """
    return _dir_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 2 of an at least 3-D tensor.

    Example:
        >>> import ganglion
        >>> len(ganglion.zeros(1, 2, 4).dsplit(4))
        4
    """
    return _dir_split(input, indices_or_sections, 2, "dsplit", 3)


def unbind(input, dim=0) -> tuple:
    """The slices along ``dim``, as a tuple of views without that dim.

    Example:
        >>> import ganglion
        >>> ganglion.arange(6).reshape(2, 3).unbind(1)
        (tensor([0, 3]), tensor([1, 4]), tensor([2, 5]))
    """
    if input.array.ndim == 0:
        raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.array.ndim, "unbind")
    if input.array.shape[d] == 0:
        return ()  # no pieces (Op.apply cannot return an empty tuple from a view op)
    return Unbind.apply(input, d)


TENSOR_METHODS = {"split": split, "chunk": chunk, "tensor_split": tensor_split,
                  "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit, "unbind": unbind}
