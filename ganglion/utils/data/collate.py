"""Batch assembly with torch's rules: ``default_collate`` (a list of samples -> a batch) and
``default_convert`` (NumPy -> tensors, no batching), plus the extensible ``collate`` with a
``collate_fn_map`` from type to function, as in ``torch.utils.data._utils.collate``.

Rules of ``default_collate``: tensors are stacked on a new first dimension; NumPy arrays and
NumPy scalars become tensors (then stacked); Python floats become a float64 tensor, ints an
int64 tensor, bools a bool tensor; strings and bytes stay a list; mappings, namedtuples and
sequences are collated element by element (a tuple of fields becomes a list, as torch does).

Example:
    >>> import ganglion
    >>> from ganglion.utils.data import default_collate
    >>> batch = default_collate([(ganglion.zeros(3), 1), (ganglion.ones(3), 0)])
    >>> batch[0].shape, batch[1]
    (ganglion.Size([2, 3]), tensor([1, 0]))
"""
from __future__ import annotations

import collections.abc
import copy

import numpy as np

import ganglion
from ganglion.backend.device import get_array_module
from ganglion.ops.creation import finalize
from ganglion.tensor import Tensor

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn"]

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")

_NP_STRING_KINDS = "SaUO"  # string, bytes and object arrays cannot become tensors


def _stack_error(batch) -> RuntimeError:
    shapes = [tuple(t.shape) for t in batch]
    first = shapes[0]
    bad = next(i for i, s in enumerate(shapes) if s != first)
    return RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                        f"{list(first)} at entry 0 and {list(shapes[bad])} at entry {bad}; all "
                        f"samples of a batch must have the same shape (pad them, or pass a "
                        f"custom collate_fn)")


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Stack equally shaped tensors on a new dimension 0 (differentiably if any needs grad)."""
    shape = batch[0].shape
    if any(t.shape != shape for t in batch):
        raise _stack_error(batch)
    if any(t.requires_grad for t in batch):
        return ganglion.stack(list(batch), 0)
    # One array-module stack (NumPy, or CuPy for GPU tensors): the cheap path for data that
    # does not need gradients.
    xp = get_array_module(batch[0].array)
    return finalize(xp.stack([t.array for t in batch]))


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if elem.dtype.kind in _NP_STRING_KINDS:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    shape = elem.shape
    if any(b.shape != shape for b in batch):
        raise _stack_error(batch)
    return ganglion.from_numpy(np.stack(batch))


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return ganglion.from_numpy(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return ganglion.tensor(batch, dtype=ganglion.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    # bool is an int subclass: torch.tensor([True, False]) infers a bool tensor, so do we.
    return ganglion.tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    np.bool_: collate_numpy_scalar_fn,
    np.number: collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _collate_mapping(batch, elem, collate_fn_map):
    def fields():
        return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                for key in elem}

    try:
        if isinstance(elem, collections.abc.MutableMapping):
            # Keep the mapping's type and extra attributes (e.g. an OrderedDict subclass).
            clone = copy.copy(elem)
            clone.update(fields())
            return clone
        return type(elem)(fields())
    except TypeError:
        return fields()


def _collate_sequence(batch, elem, collate_fn_map):
    it = iter(batch)
    elem_size = len(next(it))
    if not all(len(e) == elem_size for e in it):
        raise RuntimeError(f"each element in list of batch should be of equal size (got lengths "
                           f"{[len(e) for e in batch]})")
    transposed = list(zip(*batch))
    fields = [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    if isinstance(elem, tuple):
        return fields  # torch returns a list for tuples (backwards compatibility)
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, f in enumerate(fields):
                clone[i] = f
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` (a list of samples) with the function that ``collate_fn_map``
    registers for the samples' type (exact type first, then ``isinstance`` in order);
    containers are collated field by field.

    Example:
        >>> collate([{"a": "x"}, {"a": "y"}], collate_fn_map={str: collate_str_fn})
        {'a': ['x', 'y']}
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch, elem, collate_fn_map)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        return _collate_sequence(batch, elem, collate_fn_map)
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Merge a list of samples into a batch with torch's rules (see the module docstring).

    Example:
        >>> import numpy as np
        >>> out = default_collate([{"x": np.zeros(2, np.float32), "y": 1.5}] * 4)
        >>> out["x"].shape, out["x"].dtype, out["y"].dtype
        (ganglion.Size([4, 2]), ganglion.float32, ganglion.float64)
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Turn NumPy arrays and scalars inside ``data`` into tensors, without batching (the
    ``collate_fn`` of a ``DataLoader`` with ``batch_size=None``).

    Example:
        >>> import numpy as np
        >>> default_convert({"x": np.arange(3), "name": "a"})
        {'x': tensor([0, 1, 2]), 'name': 'a'}
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _NP_STRING_KINDS else ganglion.as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return ganglion.as_tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return type(data)({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
