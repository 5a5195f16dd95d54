"""Small helpers shared by the op families: dim normalisation, argument checks, scalar casts."""
from __future__ import annotations

import numpy as np

from ganglion.backend import dtypes as _dt

__all__ = ["norm_dim", "norm_dims", "shape_str", "check_tensor", "np_dtype", "quiet",
           "broadcast_view"]

try:  # NumPy >= 2: errstate is a context variable; setting it directly costs ~0.3 us
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # other NumPy versions: the public API
    _extobj_contextvar = None


def quiet(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings off (overflow, 0/0, log(0)): torch
    returns inf/nan silently. The same as ``with np.errstate(all="ignore")``, which costs
    about 1.6 us a call, more than a small op itself.

    >>> import numpy as np
    >>> quiet(np.divide, np.ones(1), np.zeros(1))
    array([inf])
    """
    if _extobj_contextvar is None:
        with np.errstate(all="ignore"):
            return fn(*args)
    token = _extobj_contextvar.set(_IGNORE_ALL)
    try:
        return fn(*args)
    finally:
        _extobj_contextvar.reset(token)


def shape_str(shape) -> str:
    return str(tuple(shape))


def norm_dim(dim, ndim: int, op: str) -> int:
    """Wrap a negative ``dim``; a 0-d tensor accepts dims -1 and 0, as in torch."""
    n = max(ndim, 1)
    try:
        d = int(dim)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}.")
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return d % n if ndim else 0


def norm_dims(dim, ndim: int, op: str):
    """``None`` -> all dims; int or tuple -> sorted tuple of non-negative dims (no repeats)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        out = tuple(sorted({norm_dim(d, ndim, op) for d in dim}))  # validates each dim
        if len(out) != len(dim):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of "
                               f"dims")
        return out if ndim else ()
    d = norm_dim(dim, ndim, op)  # a 0-d tensor still accepts only dims -1 and 0
    return (d,) if ndim else ()


def check_tensor(x, op: str, arg: str = "input"):
    from ganglion.tensor import Tensor  # noqa: PLC0415

    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")
    return x


def np_dtype(dtype):
    return None if dtype is None else _dt.to_dtype(dtype).np


def float_dtype_for(arr):
    """The dtype a float op on ``arr`` returns: itself if floating, else the default dtype."""
    return arr.dtype if arr.dtype.kind == "f" else _dt.get_default_dtype().np



def broadcast_view(x, shape):
    """``broadcast_to(x, shape)`` (a read-only view) for a ``shape`` that ``x`` broadcasts to.

    A C-contiguous NumPy array gets its view straight from the ndarray constructor, zero
    strides on the broadcast dims: half the cost of ``np.broadcast_to``'s iterator set-up, which
    small ops (expand, the backward of sum and mean) pay on every call.

    >>> broadcast_view(np.arange(2.0).reshape(2, 1), (3, 2, 2))[2]
    array([[0., 0.],
           [1., 1.]])
    """
    if type(x) is not np.ndarray or not x.size or not x.flags.c_contiguous:
        from ganglion.backend.device import get_array_module  # noqa: PLC0415 - rare path

        return get_array_module(x).broadcast_to(x, shape)
    strides = [0] * (len(shape) - x.ndim)
    for n, st in zip(x.shape, x.strides):
        strides.append(0 if n == 1 else st)
    out = np.ndarray(shape, x.dtype, x, 0, strides)
    out.flags.writeable = False
    return out
