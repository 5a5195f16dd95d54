"""Comparisons, logical and bitwise ops, and float predicates. Their results are bool (or
integer) tensors, so they are never part of the graph: each is one array call.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([1.0, float("nan"), 3.0])
    >>> (x > 2), x.isnan()
    (tensor([False, False,  True]), tensor([False,  True, False]))
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops.arith import promote
from ganglion.tensor import Tensor

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "equal", "isclose", "allclose", "logical_and", "logical_or",
           "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_not", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit",
           "isreal"]

_NUMBER = (int, float, bool, np.number, np.bool_)


def _arr(x):
    return x.array if isinstance(x, Tensor) else x


def _compare(ufunc_name, op):
    def compare(input, other, *, out=None):
        if not isinstance(other, (Tensor,) + _NUMBER) or not isinstance(input, (Tensor,) + _NUMBER):
            raise TypeError(f"{op}(): expected Tensors or numbers, got {type(input).__name__} "
                            f"and {type(other).__name__}")
        a, b = promote(input, other, op)
        a, b = _arr(a), _arr(b)
        try:
            r = getattr(get_array_module(a), ufunc_name)(a, b)
        except ValueError:
            raise RuntimeError(f"{op}: The size of tensor a {tuple(np.shape(a))} must match the "
                               f"size of tensor b {tuple(np.shape(b))} (broadcasting "
                               f"failed)") from None
        return _new_tensor(np.asarray(r) if isinstance(r, np.generic) else r)

    compare.__name__ = op
    compare.__doc__ = f"Elementwise ``{op}`` with broadcasting; returns a bool tensor."
    return compare


eq = _compare("equal", "eq")
ne = not_equal = _compare("not_equal", "ne")
lt = less = _compare("less", "lt")
le = less_equal = _compare("less_equal", "le")
gt = greater = _compare("greater", "gt")
ge = greater_equal = _compare("greater_equal", "ge")


def _broadcast_error(op, a, b):
    return RuntimeError(f"{op}: The size of tensor a {tuple(np.shape(a))} must match the size of "
                        f"tensor b {tuple(np.shape(b))} (broadcasting failed)")


def _logical(ufunc_name, op):
    def logical(input, other, *, out=None):
        for arg, v in (("input", input), ("other", other)):
            if not isinstance(v, Tensor):
                raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not "
                                f"{type(v).__name__}")
        a, b = input.array, other.array
        xp = get_array_module(a)
        try:
            r = getattr(xp, ufunc_name)(a.astype(bool, copy=False), b.astype(bool, copy=False))
        except ValueError:
            raise _broadcast_error(op, a, b) from None
        return _new_tensor(np.asarray(r) if isinstance(r, np.generic) else r)

    logical.__name__ = op
    return logical


logical_and = _logical("logical_and", "logical_and")
logical_or = _logical("logical_or", "logical_or")
logical_xor = _logical("logical_xor", "logical_xor")


def logical_not(input, *, out=None) -> Tensor:
    return _new_tensor(np.asarray(get_array_module(input.array).logical_not(input.array)))


def _bitwise(ufunc_name, op):
    def bitwise(input, other, *, out=None):
        if not isinstance(other, (Tensor,) + _NUMBER):
            return NotImplemented
        a, b = promote(input, other, op)
        a, b = _arr(a), _arr(b)
        if a.dtype.kind == "f":
            raise NotImplementedError(f"\"{op}_cpu\" not implemented for '{a.dtype}': bitwise "
                                      f"ops need integer or bool tensors.")
        try:
            r = getattr(get_array_module(a), ufunc_name)(a, b)
        except ValueError:
            raise _broadcast_error(op, a, b) from None
        return _new_tensor(np.asarray(r) if isinstance(r, np.generic) else r)

    bitwise.__name__ = op
    return bitwise


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(input, *, out=None) -> Tensor:
    a = input.array
    if a.dtype.kind == "f":
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{a.dtype}': use "
                                  f"logical_not, or ~ on bool/integer tensors.")
    return _new_tensor(np.asarray(get_array_module(a).invert(a)))


def _predicate(fn_name, op, int_value=False):
    def predicate(input):
        a = input.array
        xp = get_array_module(a)
        if a.dtype.kind != "f":
            return _new_tensor(xp.full(a.shape, int_value, dtype=bool))
        return _new_tensor(np.asarray(getattr(xp, fn_name)(a)))

    predicate.__name__ = op
    return predicate


isnan = _predicate("isnan", "isnan")
isinf = _predicate("isinf", "isinf")
isfinite = _predicate("isfinite", "isfinite", int_value=True)
isposinf = _predicate("isposinf", "isposinf")
isneginf = _predicate("isneginf", "isneginf")
signbit = _predicate("signbit", "signbit")


def isreal(input) -> Tensor:
    return _new_tensor(get_array_module(input.array).ones(input.array.shape, dtype=bool))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise; both tensors of one dtype.

    Example:
        >>> import ganglion
        >>> ganglion.isclose(ganglion.tensor([1.0, 2.0]), ganglion.tensor([1.0 + 1e-7, 2.1]))
        tensor([ True, False])
    """
    for arg, v in (("input", input), ("other", other)):
        if not isinstance(v, Tensor):
            raise TypeError(f"isclose(): argument '{arg}' must be Tensor, not "
                            f"{type(v).__name__}")
    a, b = input.array, other.array
    if a.dtype != b.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype}; convert one "
                           f"tensor with .to(other.dtype) first.")
    xp = get_array_module(a)
    try:
        if a.dtype.kind == "b":  # NumPy cannot subtract bools; for them close means equal
            return _new_tensor(np.asarray(xp.equal(a, b)))
        return _new_tensor(np.asarray(xp.isclose(a, b, rtol=rtol, atol=atol,
                                                 equal_nan=equal_nan)))
    except ValueError:
        raise _broadcast_error("isclose", a, b) from None


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input, other) -> bool:
    """True if both tensors have the same shape and elements."""
    return input.array.shape == other.array.shape and bool((input.array == other.array).all())


def _invert(self):
    kind = self.array.dtype.kind
    if kind == "b":
        return logical_not(self)
    if kind == "f":
        raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type "
                        f"tensors, not {self.dtype}; for a float mask use (x == 0) or "
                        f"logical_not(x).")
    return bitwise_not(self)


def _eq_method(self, other):
    if not isinstance(other, (Tensor,) + _NUMBER):
        return NotImplemented
    return eq(self, other)


def _ne_method(self, other):
    if not isinstance(other, (Tensor,) + _NUMBER):
        return NotImplemented
    return ne(self, other)


TENSOR_METHODS = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": gt,
    "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne, "equal": equal,
    "isclose": isclose, "allclose": allclose, "logical_and": logical_and,
    "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
    "bitwise_not": bitwise_not, "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "isposinf": isposinf, "isneginf": isneginf, "signbit": signbit, "isreal": isreal,
    "__eq__": _eq_method, "__ne__": _ne_method, "__lt__": lt, "__le__": le, "__gt__": gt,
    "__ge__": ge, "__and__": bitwise_and, "__rand__": lambda s, o: bitwise_and(o, s),
    "__or__": bitwise_or, "__ror__": lambda s, o: bitwise_or(o, s), "__xor__": bitwise_xor,
    "__rxor__": lambda s, o: bitwise_xor(o, s), "__invert__": _invert,
    "__iand__": lambda s, o: s.bitwise_and_(o), "__ior__": lambda s, o: s.bitwise_or_(o),
    "__ixor__": lambda s, o: s.bitwise_xor_(o),
}
