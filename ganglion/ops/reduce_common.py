"""Helpers shared by the reduction modules (``reduce``, ``reduce_stats``, ``reduce_scan``).

Example:
    >>> from ganglion.ops.reduce_common import reduce_dims
    >>> reduce_dims((-1, 0), 3, "sum"), reduce_dims((), 2, "sum")
    ((0, 2), (0, 1))
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.ops._util import broadcast_view, norm_dim

__all__ = ["reduce_dims", "expand_back", "expand_back_raw", "keep_shape", "kept", "const", "where",
           "spread_evenly", "select_grad", "check_nonempty", "return_type"]


def reduce_dims(dim, ndim: int, op: str, empty_means_all: bool = True):
    """``dim`` (None, int, or tuple/list) -> sorted tuple of non-negative dims.

    An empty tuple/list means "all dims", as in torch's ``sum(x, dim=())`` (``all``/``any``
    pass ``empty_means_all=False``: there it reduces nothing). A 0-d tensor accepts dims 0 and
    -1 (and reduces nothing); other dims raise IndexError, as torch.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        return tuple(range(ndim)) if empty_means_all else ()
    out = [norm_dim(d, ndim, op) for d in dims]
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims "
                               f"{tuple(dims)}")
    return tuple(sorted(out)) if ndim else ()


def keep_shape(in_shape, axes) -> tuple:
    """The shape of a reduction's result with ``keepdim=True``."""
    return tuple(1 if i in axes else s for i, s in enumerate(in_shape))


def expand_back_raw(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient (an array) back to the input's shape: one view."""
    if not keepdim and axes:
        g = g.reshape(keep_shape(in_shape, axes))
    return broadcast_view(g, in_shape)


def expand_back(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient (a Tensor) back to the input's shape."""
    if not STATE.enabled:  # plain backward: one broadcast view of the array, no graph
        return _new_tensor(expand_back_raw(g.array, in_shape, axes, keepdim))
    if not keepdim and axes:
        g = g.reshape(keep_shape(in_shape, axes))
    return g.expand(in_shape)


def kept(t, in_shape, axes, keepdim):
    """A reduced Tensor reshaped to the keepdim form (so it broadcasts against the input)."""
    return t if keepdim or not axes else t.reshape(keep_shape(in_shape, axes))


def where(cond, a, b):
    """``ganglion.where``; arith is another family, so it is looked up at call time."""
    import ganglion  # noqa: PLC0415

    return ganglion.where(cond, a, b)


def const(arr):
    """A constant (graph-detached) Tensor around an array; for masks and signs in backward."""
    return _new_tensor(np.asarray(arr) if isinstance(arr, np.generic) else arr)


def spread_evenly(x, out, g, axes, keepdim, nan_ties):
    """Gradient of a reduction that picks a value (amax, full max, median): ``g`` is split
    evenly among the elements equal to the result (torch's rule), NaNs counting as equal when
    ``nan_ties``. The mask is a constant, so the rule is linear in ``g`` (double backward)."""
    xa = x.array
    oa = kept(out, xa.shape, axes, keepdim).array
    mask = xa == oa
    if nan_ties and np.isnan(oa).any():
        mask |= np.isnan(xa) & np.isnan(oa)
    count = mask.sum(axis=axes, keepdims=True).astype(xa.dtype)
    gk = kept(g, xa.shape, axes, keepdim)
    with np.errstate(divide="ignore", invalid="ignore"):
        return const(mask.astype(xa.dtype)) * (gk / const(count))


def select_grad(g, in_shape, idx_kept, d, keepdim):
    """Gradient of a reduction along ``d`` that returned the elements at ``idx_kept`` (max(dim),
    median(dim)): it goes to those positions only."""
    if not in_shape:
        return g
    mask = np.zeros(in_shape, dtype=bool)
    np.put_along_axis(mask, idx_kept, True, axis=d)
    gk = g if keepdim else g.reshape(idx_kept.shape)  # keepdim form, broadcasts
    return const(mask.astype(g.array.dtype)) * gk


def check_nonempty(shape, axes, op: str, full: bool) -> None:
    """torch's errors for reductions without an identity (max, amin, argmax, ...)."""
    if full and 0 in shape:
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument.")
    for a in axes:
        if shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size.")


def return_type(name: str, fields=("values", "indices")):
    """A named tuple like ``torch.return_types.<name>`` (indexable, unpackable, with fields)."""
    base = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"ganglion.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": "ganglion.return_types"})
    return cls
