"""Binary arithmetic with full broadcasting and torch's type promotion: ``+ - * / // % **``,
``atan2``, ``maximum``/``minimum``, ``where``, ``lerp``, ``clamp``, ``addcmul``/``addcdiv``.

Operands are promoted with ``result_type_of`` (torch's rules: a dimensioned tensor decides unless
a 0-d tensor or Python number is of a higher category), then the op runs on arrays of that one
dtype. Python numbers become 0-d arrays of that dtype, so backward rules see only Tensors.
Broadcast gradients are summed back to each input's shape by the engine.

Example:
    >>> import ganglion
    >>> a = ganglion.tensor([1, 2, 3])
    >>> (a / 2).dtype, (a * 2).dtype, (a + 0.5).dtype
    (ganglion.float32, ganglion.int64, ganglion.float32)
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops.convert import Cast
from ganglion.tensor import Tensor

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "pow", "atan2", "arctan2", "maximum", "minimum",
           "fmax", "fmin", "where", "lerp", "clamp", "clip", "clamp_min", "clamp_max", "addcmul",
           "addcdiv", "hypot", "xlogy", "promote", "rsub"]

_NUMBER = (int, float, bool, np.number, np.bool_)


def promote(a, b, op: str, float_result: bool = False):
    """Return ``(a, b)`` as Tensors/0-d arrays of one dtype, torch's promoted result type.

    With ``float_result`` integer and bool operands are promoted to the default float dtype
    (true division, atan2, ...).
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a.array.dtype == b.array.dtype and (not float_result or a.array.dtype.kind == "f"):
            return a, b
        ref = a
    elif ta:
        ref = a
        if not isinstance(b, _NUMBER):
            raise TypeError(f"{op}(): argument 'other' must be Tensor or Number, not "
                            f"{type(b).__name__}")
    elif tb:
        ref = b
        if not isinstance(a, _NUMBER):
            raise TypeError(f"{op}(): argument 'input' must be Tensor or Number, not "
                            f"{type(a).__name__}")
    else:
        raise TypeError(f"{op}(): expected at least one Tensor argument, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    dt = _dt.result_type_of(a, b)
    if float_result and not dt.is_floating_point:
        dt = _dt.get_default_dtype()
    xp = get_array_module(ref.array)
    return _to(a, dt, xp), _to(b, dt, xp)


def _to(x, dt, xp):
    if isinstance(x, Tensor):
        return x if x.array.dtype == dt.np else Cast.apply(x, dt.np)
    return xp.asarray(x, dtype=dt.np)


class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)


class _Rounded(Op):
    """Integer-valued results (floor/trunc division): zero gradient, as torch."""

    @staticmethod
    def backward(ctx, g):
        z = g * 0 if any(ctx.needs_input_grad) else None
        return z, z


class FloorDivide(_Rounded):
    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind in "iu":
                return get_array_module(a).floor_divide(a, b)
            return get_array_module(a).floor(a / b).astype(a.dtype, copy=False)


class TruncDivide(_Rounded):
    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind in "iu":
                q = xp.floor_divide(a, b)
                return q + ((q < 0) & (q * b != a))  # floor -> toward zero for negatives
            return xp.trunc(a / b).astype(a.dtype, copy=False)


class Remainder(Op):
    """Python-style remainder (sign of the divisor): a - floor(a / b) * b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return get_array_module(a).remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = -g * (a / b).floor() if ctx.needs_input_grad[1] else None
        return g, gb


class Fmod(Op):
    """C-style remainder (sign of the dividend): a - trunc(a / b) * b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return get_array_module(a).fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = -g * (a / b).trunc() if ctx.needs_input_grad[1] else None
        return g, gb


class Pow(Op):
    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        if a.dtype.kind in "iu" and (b < 0).any():
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            # torch: zero where the exponent is 0 (even at a == 0, where b * a**(b-1) is nan)
            ga = where(b == 0, g * 0, g * b * a.pow(b - 1))
        if need_b:
            # torch: zero where a == 0 and b >= 0 (the limit of a**b * log(a))
            mask = (a == 0) & (b >= 0)
            gb = where(mask, g * 0, g * out * a.log())
        return ga, gb


class Atan2(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a).arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        r = g / (a * a + b * b)
        need_a, need_b = ctx.needs_input_grad
        return (r * b if need_a else None), (-r * a if need_b else None)


class _MaxMin(Op):
    """maximum/minimum: the gradient goes to the winner; ties split it in half (torch)."""

    pick = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.pick(get_array_module(a), a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = where(a == b, g / 2, g)
        a_wins = ctx.a_wins(a, b)
        b_wins = ctx.a_wins(b, a)
        need_a, need_b = ctx.needs_input_grad
        ga = where(b_wins, g * 0, half) if need_a else None
        gb = where(a_wins, g * 0, half) if need_b else None
        return ga, gb


class Maximum(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.maximum(a, b))
    a_wins = staticmethod(lambda a, b: a > b)


class Minimum(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.minimum(a, b))
    a_wins = staticmethod(lambda a, b: a < b)


class Fmax(_MaxMin):
    """Like maximum, but a NaN loses to a number."""

    pick = staticmethod(lambda xp, a, b: xp.fmax(a, b))
    a_wins = staticmethod(lambda a, b: (a > b) | b.isnan())


class Fmin(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.fmin(a, b))
    a_wins = staticmethod(lambda a, b: (a < b) | b.isnan())


class Where(Op):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return get_array_module(a).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        z = g * 0
        return None, (where(cond, g, z) if need_a else None), (where(cond, z, g) if need_b else None)


class Lerp(Op):
    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        ns, ne, nw = ctx.needs_input_grad
        return ((g * (1 - weight)) if ns else None, (g * weight) if ne else None,
                (g * (end - start)) if nw else None)


class Clamp(Op):
    """min(max(x, lo), hi) with tensor or scalar bounds; the gradient passes where
    lo <= x <= hi (bounds included, as torch); a bound gets it where it is the output."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        out = x
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        ctx.save_for_backward(x, lo, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        nx, nlo, nhi = ctx.needs_input_grad
        z = g * 0
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        gx = where(keep, g, z) if nx else None
        glo = ghi = None
        if nlo:
            m = x < lo
            if hi is not None:
                m = m & (lo <= hi)
            glo = where(m, g, z)
        if nhi:
            m = x > hi
            if lo is not None:
                m = (m & (lo <= hi)) | (lo > hi)
            ghi = where(m, g, z)
        return gx, glo, ghi


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """input + alpha * other, broadcast."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other, "add")
    return Add.apply(a, b)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """input - alpha * other, broadcast."""
    if (isinstance(input, Tensor) and input.array.dtype.kind == "b" and
            isinstance(other, Tensor) and other.array.dtype.kind == "b"):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other, "sub")
    return Sub.apply(a, b)


def rsub(input, other, *, alpha=1) -> Tensor:
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "mul")
    return Mul.apply(a, b)


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """True division (ints give floats); ``rounding_mode`` 'trunc' or 'floor' rounds."""
    if rounding_mode is None:
        a, b = promote(input, other, "div", float_result=True)
        return Div.apply(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    a, b = promote(input, other, "div")
    _check_int_zero(b, "div")
    return (TruncDivide if rounding_mode == "trunc" else FloorDivide).apply(a, b)


def _check_int_zero(b, op):
    arr = b.array if isinstance(b, Tensor) else b
    if arr.dtype.kind in "iub" and (arr == 0).any():
        raise ZeroDivisionError(f"{op}: integer division by zero")


def floor_divide(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "floor_divide")
    _check_int_zero(b, "floor_divide")
    return FloorDivide.apply(a, b)


def remainder(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "remainder")
    _check_int_zero(b, "remainder")
    return Remainder.apply(a, b)


def fmod(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "fmod")
    _check_int_zero(b, "fmod")
    return Fmod.apply(a, b)


def pow(input, exponent, *, out=None) -> Tensor:  # noqa: A001 - torch's name
    a, b = promote(input, exponent, "pow")
    return Pow.apply(a, b)


def atan2(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "atan2", float_result=True)
    return Atan2.apply(a, b)


def hypot(input, other, *, out=None) -> Tensor:
    return (input * input + other * other).sqrt()


def xlogy(input, other, *, out=None) -> Tensor:
    """x * log(y), with 0 where x == 0 (unless y is nan)."""
    a, b = promote(input, other, "xlogy", float_result=True)
    a = a if isinstance(a, Tensor) else _wrap_const(a)
    b = b if isinstance(b, Tensor) else _wrap_const(b)
    return where((a == 0) & ~b.isnan(), a * 0, a * b.log())


def _wrap_const(arr) -> Tensor:
    from ganglion.autograd.function import _new_tensor  # noqa: PLC0415

    return _new_tensor(arr)


def maximum(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "maximum")
    return Maximum.apply(a, b)


def minimum(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "minimum")
    return Minimum.apply(a, b)


def fmax(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "fmax")
    return Fmax.apply(a, b)


def fmin(input, other, *, out=None) -> Tensor:
    a, b = promote(input, other, "fmin")
    return Fmin.apply(a, b)


def where(condition, input=None, other=None, *, out=None):
    """Elementwise ``input if condition else other``; ``where(cond)`` is ``nonzero(cond,
    as_tuple=True)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not "
                        f"{type(condition).__name__}")
    if condition.array.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype}")
    a, b = promote(input, other, "where")
    return Where.apply(condition, a, b)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """input + weight * (end - input)."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError("lerp(): 'input' and 'end' must be Tensors")
    if input.array.dtype != end.array.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype} for `end` but got dtype "
                           f"{end.dtype}")
    w = weight if isinstance(weight, Tensor) else get_array_module(input.array).asarray(
        weight, dtype=input.array.dtype)
    return Lerp.apply(input, end, w)


def clamp(input, min=None, max=None, *, out=None) -> Tensor:  # noqa: A002 - torch's names
    """Limit values to [min, max]; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    dt = _dt.result_type_of(*(v for v in (input, min, max) if v is not None))
    xp = get_array_module(input.array)
    x = _to(input, dt, xp)
    lo = _to(min, dt, xp) if min is not None else None
    hi = _to(max, dt, xp) if max is not None else None
    return Clamp.apply(x, lo, hi)


clip = clamp


def clamp_min(input, min) -> Tensor:  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input, max) -> Tensor:  # noqa: A002
    return clamp(input, max=max)


def addcmul(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return add(input, div(tensor1, tensor2), alpha=value)


subtract, multiply, divide, true_divide, arctan2 = sub, mul, div, div, atan2


def _method_where(self, condition, y):
    return where(condition, self, y)


TENSOR_METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": div, "floor_divide": floor_divide, "remainder": remainder,
    "fmod": fmod, "pow": pow, "atan2": atan2, "arctan2": atan2, "hypot": hypot, "xlogy": xlogy,
    "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin, "where": _method_where,
    "lerp": lerp, "clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    "addcmul": addcmul, "addcdiv": addcdiv,
    "__add__": add, "__radd__": lambda s, o: add(o, s), "__sub__": sub,
    "__rsub__": lambda s, o: sub(o, s), "__mul__": mul, "__rmul__": lambda s, o: mul(o, s),
    "__truediv__": div, "__rtruediv__": lambda s, o: div(o, s),
    "__floordiv__": floor_divide, "__rfloordiv__": lambda s, o: floor_divide(o, s),
    "__mod__": remainder, "__rmod__": lambda s, o: remainder(o, s),
    "__pow__": pow, "__rpow__": lambda s, o: pow(o, s),
    "__iadd__": lambda s, o: s.add_(o), "__isub__": lambda s, o: s.sub_(o),
    "__imul__": lambda s, o: s.mul_(o), "__itruediv__": lambda s, o: s.div_(o),
    "__ifloordiv__": lambda s, o: s.floor_divide_(o), "__imod__": lambda s, o: s.remainder_(o),
    "__ipow__": lambda s, o: s.pow_(o),
}
