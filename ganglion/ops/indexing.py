"""Indexing: ``x[key]``, ``x[key] = value``, ``index_put``, ``take``/``put``; the rest of the
family lives in ``indexing_core`` (key parsing and the index ops), ``indexing_scatter``
(gather/scatter/index_*), ``indexing_mask`` (masked_*, nonzero, one_hot) and ``indexing_sort``
(sort/topk/unique/searchsorted), whose methods and names are merged here.

Keys follow torch: ints/slices/None/Ellipsis give views; integer, bool, list and NumPy index
arrays give copies with torch's result layout. The gradient of ``x[key]`` is scattered into zeros
of ``x``'s shape with repeated indices summed; that op's own backward is ``g[key]``, so second
derivatives work.

Example:
    >>> import ganglion
    >>> x = ganglion.arange(12.).reshape(3, 4)
    >>> x[1], x[:, [0, 0, 3]].shape, x[x > 9]
    (tensor([4., 5., 6., 7.]), ganglion.Size([3, 3]), tensor([10., 11.]))
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.backend.device import get_array_module
from ganglion.ops import indexing_mask as _mask
from ganglion.ops import indexing_scatter as _scatter
from ganglion.ops import indexing_sort as _sort
from ganglion.ops.indexing_core import (AdvancedIndex, Index, IndexPut, basic_key, parse_key,
                                        split_key, torch_index_error, write)
from ganglion.ops.indexing_mask import *  # noqa: F401,F403
from ganglion.ops.indexing_mask import one_hot  # noqa: F401 - for ganglion.nn.functional
from ganglion.ops.indexing_scatter import *  # noqa: F401,F403
from ganglion.ops.indexing_sort import *  # noqa: F401,F403
from ganglion.tensor import Tensor, inplace_update

__all__ = ["index_put", "take", "put"]

_ELL = Ellipsis
_ELL_KEY = (Ellipsis,)
_INT64 = np.dtype(np.int64)


# -- public functions ---------------------------------------------------------------------
def _getitem(self: Tensor, key) -> Tensor:
    """``x[key]`` with torch's semantics: basic keys give views, index tensors give copies."""
    k1 = basic_key(key)
    if k1 is None:
        if type(key) is Tensor and key.array.dtype == _INT64 and key.array.ndim:
            return AdvancedIndex.apply1(self, _ELL_KEY, (key.array,))  # x[idx]: skip parsing
        k1, k2 = split_key(key, self.array.shape)
        if k2 is not None:
            return AdvancedIndex.apply1(self, k1, k2)
    if self._rg and STATE.enabled:
        return Index.apply1(self, k1)
    # the hot path, nothing to record: the view Tensor is built here without a graph node
    # (what Op.apply would do for a view op: share the version counter, remember the base)
    try:
        arr = self.array[k1]
    except IndexError as e:
        raise torch_index_error(e) from None
    out = _new_tensor(arr, vc=self._vc)
    base = getattr(self, "_base", None)
    out._base = self if base is None else base
    return out


def _value_for(self: Tensor, value):
    """``value`` as a Tensor of self's dtype (a differentiable cast) or a 0-d array."""
    xp = get_array_module(self.array)
    if isinstance(value, Tensor):
        return value if value.array.dtype == self.array.dtype else value.to(self.dtype)
    try:
        return xp.asarray(value, dtype=self.array.dtype)
    except (TypeError, ValueError):
        raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}; pass a "
                        f"number or a Tensor.") from None


def _setitem(self: Tensor, key, value) -> None:
    """``x[key] = value`` in place (value: a number or a tensor broadcast to ``x[key]``)."""
    k1, k2 = parse_key(key, self.array.shape)
    if STATE.enabled and (self._rg or (isinstance(value, Tensor) and value._rg)):
        v = _value_for(self, value)
        inplace_update(self, "__setitem__", IndexPut.apply, v, k1, k2, False)
        return
    # not recorded: write straight into the buffer (NumPy casts the value to self's dtype)
    arr = value.array if isinstance(value, Tensor) else value
    if isinstance(arr, (list, tuple)):
        arr = _value_for(self, arr)
    write(self.array, k1, k2, arr, False)
    self._vc[0] += 1


def _indices_key(indices, op: str):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}(): argument 'indices' must be a tuple of Tensors, not "
                        f"{type(indices).__name__}")
    # in index_put a None entry means 'all of this dim' (torch's optional tensors)
    return tuple(slice(None) if i is None else i for i in indices)


def index_put(input, indices, values, accumulate=False) -> Tensor:
    """``input`` with ``input[indices] = values`` (``+=`` with repeats summed if ``accumulate``).

    Args:
        input: the tensor (not modified; ``Tensor.index_put_`` is the in-place form).
        indices: a tuple of index tensors (int64/int32 or bool), one per leading dim.
        values: a tensor of input's dtype, broadcast to the indexed shape.
        accumulate: add into the tensor instead of overwriting.

    Example:
        >>> import ganglion
        >>> x = ganglion.zeros(4)
        >>> x.index_put((ganglion.tensor([0, 0, 2]),), ganglion.tensor(1.), accumulate=True)
        tensor([2., 0., 1., 0.])
    """
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    if values.array.dtype != input.array.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{input.dtype} for the destination and {values.dtype} for the "
                           f"source.")
    k1, k2 = split_key(_indices_key(indices, "index_put"), input.array.shape)
    return IndexPut.apply(input, values, k1, k2, bool(accumulate))


def _flat_index(input, index, op: str):
    if not isinstance(index, Tensor) or index.array.dtype != np.int64:
        got = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {got}")
    idx, n = index.array, input.array.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].ravel()[0]
        raise IndexError(f"{op}(): out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    return idx


def take(input, index) -> Tensor:
    """Elements of ``input`` viewed as 1-D at ``index`` (negative indices count from the end).

    Example:
        >>> import ganglion
        >>> ganglion.take(ganglion.tensor([[4., 3.], [5., 6.]]), ganglion.tensor([0, 3, 0]))
        tensor([4., 6., 4.])
    """
    idx = _flat_index(input, index, "take")
    return AdvancedIndex.apply(input.reshape(-1), (_ELL,), (idx,))


def put(input, index, source, accumulate=False) -> Tensor:
    """``input`` (viewed as 1-D) with ``source`` written at ``index`` (``Tensor.put_`` is the
    in-place form); repeats sum when ``accumulate``.

    Example:
        >>> import ganglion
        >>> ganglion.zeros(2, 2).put(ganglion.tensor([3, 0]), ganglion.tensor([1., 2.]))
        tensor([[2., 0.],
                [0., 1.]])
    """
    idx = _flat_index(input, index, "put")
    if source.array.size != idx.size:
        raise RuntimeError(f"put(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source.array.size}, "
                           f"index.numel() = {idx.size}")
    if source.array.dtype != input.array.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {input.dtype} and source.dtype = {source.dtype}")
    flat = IndexPut.apply(input.reshape(-1), source.reshape(-1), (_ELL,), (idx.ravel(),),
                          bool(accumulate))
    return flat.reshape(input.shape)


TENSOR_METHODS = {"__getitem__": _getitem, "__setitem__": _setitem, "index_put": index_put,
                  "take": take, "put": put}
for _m in (_scatter, _mask, _sort):
    TENSOR_METHODS.update(_m.TENSOR_METHODS)
    __all__ += _m.__all__
del _m
