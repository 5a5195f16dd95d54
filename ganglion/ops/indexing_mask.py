"""Mask ops: ``masked_fill``, ``masked_select``, ``masked_scatter`` (the mask broadcasts against
the input), ``nonzero``/``argwhere``, and ``one_hot`` (``ganglion.nn.functional.one_hot``).

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([1., -2., 3.])
    >>> x.masked_fill(x < 0, 0.0), ganglion.nonzero(x > 0).shape
    (tensor([1., 0., 3.]), ganglion.Size([2, 1]))
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops.indexing_core import AdvancedIndex, IndexGrad
from ganglion.tensor import Tensor

__all__ = ["masked_fill", "masked_select", "masked_scatter", "nonzero", "argwhere"]

_ELL = Ellipsis


def _bool_mask(mask, op):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.array.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")
    return mask.array


def _broadcast(a_shape, b_shape, op):
    try:
        return tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    except ValueError:
        raise RuntimeError(f"{op}: the mask of shape {tuple(b_shape)} cannot be broadcast to "
                           f"the input of shape {tuple(a_shape)}") from None


class MaskedFill(Op):
    """``value`` where ``mask`` else ``x`` (broadcast); ``value`` is a 0-d array or tensor."""

    @staticmethod
    def forward(ctx, x, value, mask):
        ctx.mask = mask
        return get_array_module(x).where(mask, value, x)

    @staticmethod
    def backward(ctx, g):
        need_x, need_v = ctx.needs_input_grad[:2]
        zero = get_array_module(g.array).zeros((), g.array.dtype)
        gx = MaskedFill.apply(g, zero, ctx.mask) if need_x else None
        gv = MaskedFill.apply(g, zero, ~ctx.mask).sum() if need_v else None
        return gx, gv


class MaskedScatter(Op):
    """``x`` (broadcast to ``shape``) with its masked positions filled from ``src`` in order."""

    @staticmethod
    def forward(ctx, x, src, mask, shape):
        xp = get_array_module(x)
        ctx.mask, ctx.src_shape = mask, src.shape
        out = xp.broadcast_to(x, shape).copy()
        ctx.n = n = int(mask.sum())
        out[xp.broadcast_to(mask, shape)] = src.reshape(-1)[:n]
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_src = ctx.needs_input_grad[:2]
        gx = gsrc = None
        mask = get_array_module(g.array).broadcast_to(ctx.mask, g.array.shape)
        if need_x:
            gx = MaskedFill.apply(g, get_array_module(g.array).zeros((), g.array.dtype), mask)
        if need_src:
            picked = AdvancedIndex.apply(g, (_ELL,), (mask,))
            size = int(np.prod(ctx.src_shape))
            gsrc = IndexGrad.apply(picked, (size,), (slice(0, ctx.n), _ELL), None)
            gsrc = gsrc.reshape(ctx.src_shape)
        return gx, gsrc


def masked_fill(input, mask, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` (a bool tensor broadcast against input) is True.

    Args:
        input: the tensor.
        mask: bool tensor.
        value: a number, or a 0-d tensor (which then receives a gradient).

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 2).masked_fill(ganglion.tensor([True, False]), 5.0)
        tensor([[5., 0.],
                [5., 0.]])
    """
    m = _bool_mask(mask, "masked_fill_")
    _broadcast(input.array.shape, m.shape, "masked_fill")
    if isinstance(value, Tensor):
        if value.array.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.array.ndim} dimension(s).")
        v = value if value.array.dtype == input.array.dtype else value.to(input.dtype)
    else:
        try:
            v = get_array_module(input.array).asarray(value, dtype=input.array.dtype)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(f"masked_fill(): argument 'value' must be a number or a 0-d "
                            f"Tensor, not {type(value).__name__}") from None
    return MaskedFill.apply(input, v, m)


def masked_select(input, mask) -> Tensor:
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast).

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1., 2.], [3., 4.]])
        >>> x.masked_select(x > 1.5)
        tensor([2., 3., 4.])
    """
    m = _bool_mask(mask, "masked_select")
    shape = _broadcast(input.array.shape, m.shape, "masked_select")
    x = input if input.array.shape == shape else input.expand(*shape)
    m = m if m.shape == shape else get_array_module(m).broadcast_to(m, shape)
    return AdvancedIndex.apply(x, (_ELL,), (m,))


def masked_scatter(input, mask, source) -> Tensor:
    """``input`` with the positions where ``mask`` is True filled, in row-major order, from the
    first elements of ``source``.

    Example:
        >>> import ganglion
        >>> ganglion.zeros(4).masked_scatter(ganglion.tensor([False, True, False, True]),
        ...                                  ganglion.tensor([1., 2., 3.]))
        tensor([0., 1., 0., 2.])
    """
    m = _bool_mask(mask, "masked_scatter_")
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter(): argument 'source' must be Tensor, not "
                        f"{type(source).__name__}")
    if source.array.dtype != input.array.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {input.dtype} and {source.dtype}")
    shape = _broadcast(input.array.shape, m.shape, "masked_scatter")
    mb = m if m.shape == shape else get_array_module(m).broadcast_to(m, shape)
    n = int(mb.sum())
    if n > source.array.size:
        raise RuntimeError(f"masked_scatter: Number of elements of source ({source.array.size}) "
                           f"< number of ones in mask ({n})")
    return MaskedScatter.apply(input, source, mb, shape)


def nonzero(input, *, out=None, as_tuple=False):
    """Indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or with ``as_tuple``
    one 1-D tensor per dim. Not differentiable.

    Example:
        >>> import ganglion
        >>> ganglion.nonzero(ganglion.tensor([[0, 1], [2, 0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    a = input.array
    xp = get_array_module(a)
    if a.ndim == 0:  # torch treats a 0-d tensor as 1-d here; NumPy 2 refuses
        (i,) = xp.nonzero(a.reshape(1))
        return (_new_tensor(i.astype(np.int64)),) if as_tuple else _new_tensor(
            xp.zeros((i.size, 0), np.int64))
    idx = tuple(i.astype(np.int64, copy=False) for i in xp.nonzero(a))
    if as_tuple:
        return tuple(_new_tensor(i) for i in idx)
    return _new_tensor(xp.stack(idx, axis=1) if idx[0].size else xp.zeros((0, a.ndim),
                                                                            np.int64))


def argwhere(input) -> Tensor:
    """``nonzero(input)``: an ``(n, ndim)`` int64 tensor of the indices of non-zero elements.

    Example:
        >>> import ganglion
        >>> ganglion.argwhere(ganglion.tensor([0., 3., 0., 4.]))
        tensor([[1],
                [3]])
    """
    return nonzero(input)


def one_hot(tensor, num_classes=-1) -> Tensor:
    """``(*, num_classes)`` int64 tensor with a 1 at each class index (``num_classes=-1``:
    ``max + 1``). Lives in ``ganglion.nn.functional``.

    Example:
        >>> import ganglion
        >>> from ganglion.ops.indexing_mask import one_hot
        >>> one_hot(ganglion.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    if not isinstance(tensor, Tensor) or tensor.array.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor.array
    xp = get_array_module(a)
    if a.size == 0 and num_classes <= 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    if a.size:
        if a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(a.max()) + 1
        elif a.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _new_tensor((a[..., None] == xp.arange(num_classes)).astype(np.int64))


TENSOR_METHODS = {"masked_fill": masked_fill, "masked_select": masked_select,
                  "masked_scatter": masked_scatter, "nonzero": nonzero, "argwhere": argwhere}
