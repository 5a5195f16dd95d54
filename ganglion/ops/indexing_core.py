"""Core of the indexing family: key parsing and the ops ``Index`` (basic key, a view),
``AdvancedIndex`` (index arrays, a copy), ``IndexGrad`` (the adjoint: scatter-add into zeros) and
``IndexPut`` (out-of-place ``x[key] = v`` / ``+= v``). Public functions are in ``indexing.py``.

A key is split in two stages, as torch applies it: first the basic part (ints, slices, None,
Ellipsis) as a view, then the advanced part (integer/bool index arrays) on the dims of that view.
That is why ``x[0, :, [1, 2]]`` has shape ``(6, 2)`` for ``x`` of shape ``(5, 6, 7)`` as in torch
(NumPy, which treats the int as an advanced index, gives ``(2, 6)``).

Example:
    >>> from ganglion.ops.indexing_core import split_key
    >>> split_key((0, slice(None), [1, 2]), (5, 6, 7))[1]
    (slice(None, None, None), array([1, 2]))
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.tensor import Tensor

__all__ = ["basic_key", "split_key", "parse_key", "index_with", "Index", "AdvancedIndex",
           "IndexGrad", "IndexPut", "write", "torch_index_error"]

_ELL = Ellipsis


# -- key parsing ----------------------------------------------------------------------------
def _check_slice(s: slice) -> None:
    if s.step is not None and s.step <= 0:
        raise ValueError("step must be greater than zero")


def basic_key(key):
    """The NumPy key for a key made only of ints, slices, None and Ellipsis, else None.

    An Ellipsis is appended to a key of ints only, so that NumPy returns a (0-d) view, never a
    scalar copy (a slice, None or Ellipsis in the key makes the result a view already).
    """
    tk = type(key)
    if tk is int:
        return (key, _ELL)
    if tk is slice:
        if key.step is not None and key.step <= 0:
            _check_slice(key)
        return (key,)
    if key is None or key is _ELL:
        return (key,)
    if tk is not tuple:
        return None
    view = False
    for k in key:
        tk = type(k)
        if tk is int:
            continue
        if tk is slice:
            if k.step is not None and k.step <= 0:
                _check_slice(k)
        elif k is not None and k is not _ELL:
            return None
        view = True
    return key if view else key + (_ELL,)


def _seq_as_tuple(key) -> bool:
    """torch's (and old NumPy's) rule: a short list holding sequences, slices, None or ``...``
    is a tuple of indices, not one index."""
    if not isinstance(key, list) or len(key) >= 32:
        return False
    return any(isinstance(k, (Tensor, list, tuple, slice, np.ndarray)) or k is None or k is _ELL
               for k in key)


def _index_array(arr):
    """Validate an index array (from a Tensor, ndarray or list); 0-d ints become Python ints.

    Dtypes are told apart by ``kind``/``itemsize`` (comparing dtypes costs ~1 us each)."""
    dt = arr.dtype
    kind, size = dt.kind, dt.itemsize
    if not (kind == "b" or (kind == "i" and size in (4, 8)) or (kind == "u" and size == 1)):
        if arr.size == 0 and kind == "f":  # x[[]]: an empty list is an empty int64 index
            return arr.astype(np.int64)
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if kind == "u":
        warnings.warn("indexing with dtype ganglion.uint8 is now deprecated, please use a dtype "
                      "ganglion.bool instead.", UserWarning, stacklevel=4)
        arr = arr.astype(np.bool_)
        kind = "b"
    if arr.ndim == 0:
        return bool(arr) if kind == "b" else int(arr)
    return arr


def _normalize_entry(k):
    if isinstance(k, Tensor):
        return _index_array(k.array)
    if isinstance(k, (bool, np.bool_)):
        return bool(k)
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, slice):
        _check_slice(k)
        return k
    if k is None or k is _ELL:
        return k
    if isinstance(k, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray([_normalize_entry(e) if isinstance(e, Tensor) else e for e in k]
                             if isinstance(k, (list, tuple)) else k)
        except ValueError as e:
            raise IndexError(f"index: could not build an index tensor from {k!r} ({e})") from None
        return _index_array(arr)
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(k).__name__})")


def _consumed(k) -> int:
    """How many dims of the indexed tensor an (already normalized) key entry uses up."""
    if k is None or k is _ELL or type(k) is bool:
        return 0
    if type(k) is np.ndarray and k.dtype.kind == "b":
        return k.ndim
    return 1


def split_key(key, shape):
    """``(k1, k2)``: the basic NumPy key (a view) and the advanced key applied to that view, or
    ``None`` when there is no advanced part. Also checks ellipsis count, index count and masks."""
    if type(key) is not tuple:
        key = tuple(key) if _seq_as_tuple(key) else (key,)
    entries = [_normalize_entry(k) for k in key]
    ndim, n_ell = len(shape), 0
    used = [_consumed(k) for k in entries]
    for k in entries:
        n_ell += k is _ELL
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_rest = ndim - sum(used)  # the dims an Ellipsis (or the end of the key) stands for
    if n_rest < 0:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    k1, advs, pos, dim = [], [], 0, 0
    for k, c in zip(entries, used):
        if type(k) is int:
            k1.append(k)
        elif k is None or type(k) is slice:
            k1.append(k)
            pos += 1
        elif k is _ELL:
            k1.append(_ELL)
            pos += n_rest
            dim += n_rest
        else:  # an index array or a bool scalar (c == 0)
            if c and k.dtype.kind == "b" and k.shape != tuple(shape[dim:dim + c]):
                raise IndexError(f"The shape of the mask {list(k.shape)} at index {dim} does not "
                                 f"match the shape of the indexed tensor {list(shape)} at index "
                                 f"{dim}")
            k1.extend([slice(None)] * c)
            advs.append((pos, k, c))
            pos += c
        dim += c
    if not n_ell:
        k1.append(_ELL)
    if not advs:
        return tuple(k1), None
    k2, d = [], 0
    for p, a, c in advs:
        k2.extend([slice(None)] * (p - d))
        k2.append(a)
        d = p + c
    return tuple(k1), tuple(k2)


def parse_key(key, shape):
    k1 = basic_key(key)
    return (k1, None) if k1 is not None else split_key(key, shape)


def torch_index_error(e: IndexError) -> IndexError:
    """NumPy's IndexError texts in torch's words (axis -> dimension, array -> tensor)."""
    msg = str(e)
    m = re.match(r"too many indices for array: array is (\d+)-dimensional", msg)
    if m:
        return IndexError(f"too many indices for tensor of dimension {m.group(1)}")
    msg = msg.replace("for axis", "for dimension").replace("indexing arrays", "indexing tensors")
    return IndexError(msg)


def _apply_key(x, k1, k2):
    try:
        v = x[k1]
        return v if k2 is None else v[k2]
    except IndexError as e:
        raise torch_index_error(e) from None


# -- ops ------------------------------------------------------------------------------------
class Index(Op):
    """``x[key]`` for a basic key (ints, slices, None, ...): a view sharing x's memory."""

    view = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        try:
            return x[key]
        except IndexError as e:
            raise torch_index_error(e) from None

    @staticmethod
    def backward(ctx, g):
        return IndexGrad.apply(g, ctx.shape, ctx.key, None)

    @staticmethod
    def raw_backward(ctx, g):
        return _index_grad(g, ctx.shape, ctx.key, None)


class AdvancedIndex(Op):
    """``x[k1][k2]`` with integer/bool index arrays in ``k2``: a copy."""

    @staticmethod
    def forward(ctx, x, k1, k2):
        ctx.shape, ctx.k1, ctx.k2 = x.shape, k1, k2
        return _apply_key(x, k1, k2)

    @staticmethod
    def backward(ctx, g):
        return IndexGrad.apply(g, ctx.shape, ctx.k1, ctx.k2)

    @staticmethod
    def raw_backward(ctx, g):
        return _index_grad(g, ctx.shape, ctx.k1, ctx.k2)


class IndexGrad(Op):
    """The adjoint of ``x[key]``: zeros of ``shape`` with ``g`` added at ``key``; repeated
    indices sum (``xp.add.at``, unbuffered). Its own backward is ``gg[key]``."""

    @staticmethod
    def forward(ctx, g, shape, k1, k2):
        ctx.k1, ctx.k2 = k1, k2
        return _index_grad(g, shape, k1, k2)

    @staticmethod
    def backward(ctx, gg):
        return index_with(gg, ctx.k1, ctx.k2)


def _index_grad(g, shape, k1, k2):
    xp = np if type(g) is np.ndarray else get_array_module(g)
    z = xp.zeros(shape, g.dtype)
    if k2 is None:
        z[k1] = g
    else:
        xp.add.at(z[k1], k2, g)
    return z


def write(out, k1, k2, v, accumulate: bool) -> None:
    """``out[k1][k2] = v`` (``+=`` with repeats summed when ``accumulate``), broadcasting v."""
    xp = get_array_module(out)
    dst = out[k1]
    try:
        if k2 is None:
            if accumulate:
                dst += v
            else:
                dst[...] = v
        elif accumulate:
            xp.add.at(dst, k2, v)
        else:
            dst[k2] = v
    except IndexError as e:
        raise torch_index_error(e) from None
    except ValueError as e:
        if "read-only" in str(e):
            raise RuntimeError("index_put_: unsupported operation: the tensor is read-only or an "
                               "expanded view whose elements share memory; clone() it "
                               "first.") from None
        slot = dst.shape if k2 is None else dst[k2].shape
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot "
                           f"be broadcast to indexing result of shape {list(slot)}") from None


class IndexPut(Op):
    """``x`` with ``x[k1][k2] = v`` (or ``+= v`` when ``accumulate``); ``x`` itself is kept."""

    @staticmethod
    def forward(ctx, x, v, k1, k2, accumulate):
        ctx.k1, ctx.k2, ctx.acc, ctx.vnd = k1, k2, accumulate, v.ndim
        out = x.copy()
        write(out, k1, k2, v, accumulate)
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_v = ctx.needs_input_grad[:2]
        gx = gv = None
        if need_x:
            # overwritten positions do not reach the output; accumulated ones do
            zero = get_array_module(g.array).zeros((), g.array.dtype)
            gx = g if ctx.acc else IndexPut.apply(g, zero, ctx.k1, ctx.k2, False)
        if need_v:
            gv = index_with(g, ctx.k1, ctx.k2)
            if gv.ndim < ctx.vnd:  # a value with extra leading 1-dims (torch strips them)
                gv = gv.reshape((1,) * (ctx.vnd - gv.ndim) + tuple(gv.shape))
        return gx, gv


def index_with(x: Tensor, k1, k2) -> Tensor:
    """``x[k1][k2]`` for an already parsed key (see ``split_key``)."""
    return Index.apply(x, k1) if k2 is None else AdvancedIndex.apply(x, k1, k2)
