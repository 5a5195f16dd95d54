"""dtypes with torch's names and torch's type-promotion rules.

A ganglion dtype is a thin named wrapper over a NumPy dtype. Tensors store plain NumPy (or CuPy)
arrays, so the dtype of a tensor is read off its array: ``DTYPE_OF[array.dtype]``.

Example:
    >>> from ganglion.backend.dtypes import float32, int64, promote_types
    >>> promote_types(int64, float32)
    ganglion.float32
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "half", "float", "double", "uint8", "int8",
    "int16", "int32", "int64", "short", "int", "long", "bool", "promote_types",
    "get_default_dtype", "set_default_dtype", "to_dtype", "result_type_of", "DTYPE_OF",
]

_CATEGORY_BOOL, _CATEGORY_INT, _CATEGORY_FLOAT = 0, 1, 2


class dtype:
    """A tensor element type (``ganglion.float32``, ...), mirroring ``torch.dtype``."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "category")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "if"
        self.category = {"b": _CATEGORY_BOOL, "u": _CATEGORY_INT, "i": _CATEGORY_INT,
                         "f": _CATEGORY_FLOAT}[self.np.kind]

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ganglion.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))


float16 = half = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - torch's name
float = float32  # noqa: A001 - torch.float is float32
int = int32  # noqa: A001 - torch.int is int32

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
DTYPE_OF = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "short": int16,
                 "int": int32, "long": int64})

_default = [float32]


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}.")
    _default[0] = d


def to_dtype(d) -> dtype:
    """Turn a ganglion dtype, NumPy dtype, Python type or name into a ganglion dtype."""
    if type(d) is dtype:
        return d
    if d is None:
        return _default[0]
    if isinstance(d, str):
        name = d.split(".")[-1]
        if name in _BY_NAME:
            return _BY_NAME[name]
    elif d is _pyfloat:
        return _default[0]
    elif d is _pyint:
        return int64
    elif d is _pybool:
        return bool
    else:
        try:
            npd = np.dtype(d)
        except TypeError:
            npd = None
        if npd is not None and npd in DTYPE_OF:
            return DTYPE_OF[npd]
    raise TypeError(f"unsupported dtype {d!r}; expected one of ganglion.float16/float32/float64/"
                    f"uint8/int8/int16/int32/int64/bool.")


_pyfloat, _pyint, _pybool = type(0.5), type(1), type(True)
_promote_cache: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both ``a`` and ``b`` convert to safely.

    Unlike NumPy, an integer meeting a float gives that float (int64 + float16 -> float16).
    """
    key = (a, b)
    r = _promote_cache.get(key)
    if r is None:
        if a.is_floating_point != b.is_floating_point:
            r = a if a.is_floating_point else b
        else:
            r = DTYPE_OF[np.promote_types(a.np, b.np)]
        _promote_cache[key] = r
    return r


def _combine(higher, lower):
    # torch's combine_categories: a higher group wins unless a lower one is of a higher category.
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type_of(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars.

    Tensors with dimensions decide the dtype; 0-d tensors and then Python scalars only raise it
    when they are of a higher category (bool < integer < float).
    """
    dim_r = zero_r = wrap_r = None
    for x in operands:
        data = getattr(x, "array", None)
        if data is not None and hasattr(x, "grad_fn"):
            d = DTYPE_OF[data.dtype]
            if data.ndim:
                dim_r = d if dim_r is None else promote_types(dim_r, d)
            else:
                zero_r = d if zero_r is None else promote_types(zero_r, d)
        else:
            t = type(x)
            if t is _pybool or t is np.bool_:
                d = bool
            elif t is _pyint or isinstance(x, np.integer):
                d = int64
            elif t is _pyfloat or isinstance(x, np.floating):
                d = _default[0]
            else:
                raise TypeError(f"expected a Tensor or a Python number, got {t.__name__}.")
            wrap_r = d if wrap_r is None else promote_types(wrap_r, d)
    return _combine(dim_r, _combine(zero_r, wrap_r))
