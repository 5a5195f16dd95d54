"""Rounding (``floor ceil round trunc fix frac``), ``nan_to_num`` and angle conversion.

Rounding keeps integer dtypes (a copy) and has a zero gradient everywhere, as torch (even at
the jumps). Re-exported by ``ganglion.ops.unary``.

Example:
    >>> import ganglion
    >>> ganglion.round(ganglion.tensor([0.5, 1.5, 2.5, -0.5]))  # half to even
    tensor([ 0.,  2.,  2., -0.])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.backend.device import get_array_module
from ganglion.ops.unary_common import (UnaryOp, ZeroGradOp, apply_float, check_input, finish,
                                       half_via_float32)
from ganglion.tensor import Tensor

__all__ = ["floor", "ceil", "round", "trunc", "fix", "frac", "nan_to_num", "deg2rad",
           "rad2deg"]


class Floor(ZeroGradOp):
    quiet = False
    compute = staticmethod(lambda xp, x: xp.floor(x))


class Ceil(ZeroGradOp):
    quiet = False
    compute = staticmethod(lambda xp, x: xp.ceil(x))


class Trunc(ZeroGradOp):
    quiet = False
    compute = staticmethod(lambda xp, x: xp.trunc(x))


class Round(ZeroGradOp):
    """Half to even (``nearbyint``); with decimals, torch's ``nearbyint(x * 10**d) / 10**d``
    (``nearbyint(x / 10**-d) * 10**-d`` for d < 0), in the input's dtype."""

    @staticmethod
    def forward(ctx, x, decimals):
        with np.errstate(all="ignore"):
            return half_via_float32(_round, get_array_module(x), x, decimals)


def _round(xp, x, decimals):
    if decimals == 0:
        return xp.rint(x)
    scale = x.dtype.type(10.0 ** abs(decimals))
    return xp.rint(x * scale) / scale if decimals > 0 else xp.rint(x / scale) * scale


class Frac(UnaryOp):
    compute = staticmethod(lambda xp, x: x - xp.trunc(x))
    derivative = staticmethod(lambda g: g)


class NanToNum(UnaryOp):
    raw_backward = None  # its own backward (Tensor rule) replaces derivative()

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        with np.errstate(all="ignore"):
            return get_array_module(x).nan_to_num(x, copy=True, nan=nan, posinf=posinf,
                                                  neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        from ganglion.ops.arith import where  # noqa: PLC0415 - sibling family

        # torch: grad * isfinite(x) -- replaced values are constants
        (x,) = ctx.saved_tensors
        return where(x.isfinite(), g, 0.0), None, None, None


class Deg2Rad(UnaryOp):
    compute = staticmethod(lambda xp, x: x * x.dtype.type(math.pi / 180.0))
    derivative = staticmethod(lambda g: g * (math.pi / 180.0))


class Rad2Deg(UnaryOp):
    compute = staticmethod(lambda xp, x: x * x.dtype.type(180.0 / math.pi))
    derivative = staticmethod(lambda g: g * (180.0 / math.pi))


def _rounding(op_cls, input, op: str, out, *args) -> Tensor:
    kind = check_input(input, op).array.dtype.kind
    if kind == "b":
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool': convert the tensor "
                                  f"first (x.int() or x.float()).")
    if kind in "iu":
        return finish(input.clone(), out, op)  # integers are already whole numbers
    return finish(op_cls.apply(input, *args), out, op)


def floor(input, *, out=None) -> Tensor:
    """Largest integer <= each element; keeps the dtype. Zero gradient.

    Example:
        >>> import ganglion
        >>> ganglion.floor(ganglion.tensor([-1.5, 1.5]))
        tensor([-2.,  1.])
    """
    return _rounding(Floor, input, "floor", out)


def ceil(input, *, out=None) -> Tensor:
    """Smallest integer >= each element; keeps the dtype. Zero gradient.

    Example:
        >>> import ganglion
        >>> ganglion.ceil(ganglion.tensor([-1.5, 1.5]))
        tensor([-1.,  2.])
    """
    return _rounding(Ceil, input, "ceil", out)


def trunc(input, *, out=None) -> Tensor:
    """Rounds toward zero; keeps the dtype. Zero gradient.

    Example:
        >>> import ganglion
        >>> ganglion.trunc(ganglion.tensor([-1.5, 1.5]))
        tensor([-1.,  1.])
    """
    return _rounding(Trunc, input, "trunc", out)


fix = trunc


def round(input, *, decimals=0, out=None) -> Tensor:  # noqa: A001 - torch's name
    """Rounds to ``decimals`` decimal places, ties to even; keeps the dtype. Zero gradient.

    Args:
        input: the tensor.
        decimals: number of decimal places (negative: to tens, hundreds, ...). Integer tensors
            only allow ``decimals=0``, as torch.

    Example:
        >>> import ganglion
        >>> ganglion.round(ganglion.tensor([1.5, 2.5, 1234.0]), decimals=-2)
        tensor([   0.,    0., 1200.])
    """
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not "
                        f"{type(decimals).__name__}")
    if decimals != 0 and check_input(input, "round").array.dtype.kind in "iub":
        raise NotImplementedError(f"round: decimals={decimals} is not implemented for integer "
                                  f"tensors ({input.dtype}); convert with .float() first.")
    return _rounding(Round, input, "round", out, int(decimals))


def frac(input, *, out=None) -> Tensor:
    """Fractional part ``input - trunc(input)`` (sign of the input); float tensors only.

    Example:
        >>> import ganglion
        >>> ganglion.frac(ganglion.tensor([-1.25, 2.5]))
        tensor([-0.2500,  0.5000])
    """
    if check_input(input, "frac").array.dtype.kind != "f":
        raise NotImplementedError(f"\"frac\" not implemented for {input.dtype}: it needs a "
                                  f"floating point tensor; convert with .float() first.")
    return finish(Frac.apply(input), out, "frac")


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None) -> Tensor:
    """Replaces NaN, +inf and -inf by finite numbers.

    Args:
        input: the tensor (integer and bool tensors are returned as a copy).
        nan: the value for NaN.
        posinf: the value for +inf; default the dtype's largest finite value.
        neginf: the value for -inf; default the dtype's lowest finite value.

    The gradient is 1 where the input was finite and 0 where a value was replaced (torch).

    Example:
        >>> import ganglion
        >>> ganglion.nan_to_num(ganglion.tensor([float("nan"), 1.0, float("-inf")]), neginf=-9)
        tensor([ 0.,  1., -9.])
    """
    for name, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if v is not None and not isinstance(v, (int, float, np.number)):
            raise TypeError(f"nan_to_num(): argument '{name}' must be float or None, not "
                            f"{type(v).__name__}")
    a = check_input(input, "nan_to_num").array
    if a.dtype.kind != "f":
        return finish(input.clone(), out, "nan_to_num")
    info = np.finfo(a.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    return finish(NanToNum.apply(input, float(nan), float(posinf), float(neginf)), out,
                  "nan_to_num")


def deg2rad(input, *, out=None) -> Tensor:
    """Degrees to radians (integers give floats).

    Example:
        >>> import ganglion
        >>> ganglion.deg2rad(ganglion.tensor([180]))
        tensor([3.1416])
    """
    return apply_float(Deg2Rad, input, "deg2rad", out)


def rad2deg(input, *, out=None) -> Tensor:
    """Radians to degrees (integers give floats).

    Example:
        >>> import ganglion
        >>> ganglion.rad2deg(ganglion.tensor([3.14159265]))
        tensor([180.])
    """
    return apply_float(Rad2Deg, input, "rad2deg", out)


TENSOR_METHODS = {name: globals()[name] for name in __all__}
