"""Fast paths for the arithmetic operators (``a + b``, ``x * 0.5``, ``1 - x``, ...).

Most operator calls in a model combine two tensors of one dtype, or a float tensor with a Python
number: neither needs type promotion, and NumPy keeps the dtype (a Python scalar is "weak", as in
torch). Those go straight to the op; everything else, and any error, takes the general path in
``arith.py`` (promotion, alpha, bool rules, torch's messages).
"""
from __future__ import annotations

from ganglion.ops import arith as _a
from ganglion.tensor import Tensor

__all__: list = []

_SCALARS = (float, int)


def _fast(self, other) -> bool:
    """True when ``self (op) other`` needs no promotion: same dtype, or float tensor and a
    Python float/int."""
    if isinstance(other, Tensor):
        return other.array.dtype == self.array.dtype and self.array.dtype.kind == "f"
    return type(other) in _SCALARS and self.array.dtype.kind == "f"


def _make(op_cls, slow, reflected=False):
    if reflected:
        def method(self, other):
            if _fast(self, other):
                try:
                    return op_cls.apply(other, self)
                except ValueError:  # broadcasting failed: the slow path raises torch's error
                    pass
            return slow(other, self)
    else:
        def method(self, other):
            if _fast(self, other):
                try:
                    return op_cls.apply(self, other)
                except ValueError:
                    pass
            return slow(self, other)
    return method


TENSOR_METHODS = {
    "__add__": _make(_a.Add, _a.add), "__radd__": _make(_a.Add, _a.add, True),
    "__sub__": _make(_a.Sub, _a.sub), "__rsub__": _make(_a.Sub, _a.sub, True),
    "__mul__": _make(_a.Mul, _a.mul), "__rmul__": _make(_a.Mul, _a.mul, True),
    "__truediv__": _make(_a.Div, _a.div), "__rtruediv__": _make(_a.Div, _a.div, True),
}
