"""Fast paths for the arithmetic operators (``a + b``, ``x * 0.5``, ``1 - x``, ...).

Most operator calls in a model combine two tensors of one dtype, or a float tensor with a Python
number: neither needs type promotion, and NumPy keeps the dtype (a Python scalar is "weak", as in
torch). Those go straight to the op; everything else, and any error, takes the general path in
``arith.py`` (promotion, alpha, bool rules, torch's messages).

The in-place forms (``p.sub_(g * lr)``, ``x.mul_(0.9)``) likewise write straight into the buffer
with the ufunc's ``out=`` when nothing is recorded, instead of computing a new tensor and
copying it in.

Example:
    >>> import ganglion
    >>> x = ganglion.ones(2)
    >>> x.sub_(ganglion.tensor([0.5, 0.25])).mul_(2), x._version
    (tensor([1.0000, 1.5000]), 2)
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.grad_mode import STATE
from ganglion.ops import arith as _a
from ganglion.ops._util import quiet
from ganglion.tensor import Tensor, inplace_update

__all__: list = []

_SCALARS = (float, int)


def _make(op_cls, slow, reflected=False):
    # The check is inlined in each method (a helper call costs a tenth of the op): no type
    # promotion needed when both are Tensors of one floating dtype, or a floating Tensor and a
    # Python float/int (a "weak" scalar keeps the Tensor's dtype, in NumPy as in torch).
    if reflected:
        def method(self, other):
            kind = self.array.dtype.kind
            if (type(other) in _SCALARS or isinstance(other, Tensor)
                    and other.array.dtype == self.array.dtype) and kind == "f":
                try:
                    return op_cls.apply(other, self)
                except ValueError:  # broadcasting failed: the slow path raises torch's error
                    pass
            return slow(other, self)
    else:
        def method(self, other):
            kind = self.array.dtype.kind
            if (type(other) in _SCALARS or isinstance(other, Tensor)
                    and other.array.dtype == self.array.dtype) and kind == "f":
                try:
                    return op_cls.apply(self, other)
                except ValueError:
                    pass
            return slow(self, other)
    return method


def _make_inplace(ufunc, slow, name, silent=False):
    def method(self, other, **kwargs):
        arr = self.array
        if not kwargs and arr.dtype.kind == "f" and type(arr) is np.ndarray:
            if type(other) in _SCALARS:
                o = other
            elif isinstance(other, Tensor) and other.array.dtype == arr.dtype:
                o = other.array
                if other._rg and STATE.enabled:
                    o = None
            else:
                o = None
            if o is not None and not (self._rg and STATE.enabled):
                try:
                    if silent:  # x / 0 is inf, 0 / 0 nan, silently (torch)
                        quiet(ufunc, arr, o, arr)
                    else:
                        ufunc(arr, o, out=arr)
                except ValueError:  # read-only, or o does not broadcast into x: slow path
                    pass
                else:
                    self._vc[0] += 1
                    return self
        return inplace_update(self, name, slow, other, **kwargs)

    method.__name__ = name
    method.__doc__ = f"In-place version of :meth:`Tensor.{name[:-1]}`."
    return method


TENSOR_METHODS = {
    "__add__": _make(_a.Add, _a.add), "__radd__": _make(_a.Add, _a.add, True),
    "__sub__": _make(_a.Sub, _a.sub), "__rsub__": _make(_a.Sub, _a.sub, True),
    "__mul__": _make(_a.Mul, _a.mul), "__rmul__": _make(_a.Mul, _a.mul, True),
    "__truediv__": _make(_a.Div, _a.div), "__rtruediv__": _make(_a.Div, _a.div, True),
    "add_": _make_inplace(np.add, _a.add, "add_"),
    "sub_": _make_inplace(np.subtract, _a.sub, "sub_"),
    "mul_": _make_inplace(np.multiply, _a.mul, "mul_"),
    "div_": _make_inplace(np.true_divide, _a.div, "div_", True),
}
