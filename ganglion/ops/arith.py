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
from ganglion.backend import jit, parallel
from ganglion.backend.device import get_array_module
from ganglion.ops._util import quiet
from ganglion.ops.convert import Cast
from ganglion.ops.unary_common import finish
from ganglion.tensor import Tensor

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "pow", "atan2", "arctan2", "maximum", "minimum",
           "fmax", "fmin", "where", "lerp", "clamp", "clip", "clamp_min", "clamp_max", "addcmul",
           "addcdiv", "hypot", "xlogy", "rsub"]

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


# From this many elements a same-shape add runs in pieces on the kernel threads: NumPy's add
# releases the GIL, and one thread leaves DRAM bandwidth unused (W3's residual add of 4M
# float32 with cold inputs: 2.3 ms, in two pieces 1.2-1.5 ms, measured)
SPLIT_ADD_MIN = 1 << 18
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _split_add(a, b):
    """a + b in pieces on the kernel threads, or None when it does not apply (the caller
    checked that ``a`` is an array of at least SPLIT_ADD_MIN elements)."""
    if not (type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
            and a.dtype in _FLOATS and a.flags.c_contiguous and b.flags.c_contiguous):
        return None
    parts = jit.kernel_threads() if jit.enabled() else 1
    if parts < 2:
        return None
    out = np.empty(a.shape, a.dtype)
    af, bf, of = a.reshape(-1), b.reshape(-1), out.reshape(-1)
    parallel.run_split(lambda lo, hi: np.add(af[lo:hi], bf[lo:hi], out=of[lo:hi]), a.size,
                       parts)
    return out


class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        if type(a) is np.ndarray and a.size >= SPLIT_ADD_MIN:
            out = _split_add(a, b)
            if out is not None:
                return out
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    raw_backward = backward


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def raw_backward(ctx, g):
        return g, (-g if ctx._next[1] is not None else None)


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

    @staticmethod
    def raw_backward(ctx, g):
        a, b = ctx.saved_arrays()
        edges = ctx._next
        return (g * b if edges[0] is not None else None), \
            (g * a if edges[1] is not None else None)


def _div(a, b):
    return a / b


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return quiet(_div, a, b)  # x / 0 is inf, 0 / 0 nan, silently (torch)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g / b if need_a else None), (-g * a / (b * b) if need_b else None)

    @staticmethod
    def raw_backward(ctx, g):
        a, b = ctx.saved_arrays()
        edges = ctx._next
        return quiet(_div_grads, g, a, b, edges[0] is not None, edges[1] is not None)


def _div_grads(g, a, b, need_a, need_b):
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
        # np.floor_divide is Python's floor division, which torch's matches for floats too
        # (-0.5 // inf == -1, where floor(-0.5 / inf) would give -0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return get_array_module(a).floor_divide(a, b)


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
        xp = get_array_module(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.dtype.kind != "f":
                return xp.remainder(a, b)
            # torch's formula (fmod, then shift by b on a sign mismatch) keeps -0.0 % 3 == -0.0
            m = xp.fmod(a, b)
            return xp.where((m != 0) & ((b < 0) != (m < 0)), m + b, m)

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
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if a.dtype.kind in "iu" and (b < 0).any():
                out = _int_pow_negative(xp, a, b)
            else:
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


def _int_pow_negative(xp, a, b):
    """Integer a ** b with some b < 0, as torch: 1 ** b = 1, (-1) ** b = +-1, otherwise 0
    (the integer part of 1 / a ** -b)."""
    pos = xp.power(a, xp.where(b < 0, 0, b).astype(b.dtype, copy=False))
    odd = (b % 2) != 0
    neg_pow = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0)).astype(a.dtype)
    return xp.where(b < 0, neg_pow, pos)


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


def _binary(op_cls, op: str, a, b, out=None) -> Tensor:
    """Apply a promoted binary op; a shape mismatch becomes torch's RuntimeError."""
    try:
        result = op_cls.apply(a, b)
    except ValueError:
        sa, sb = (tuple(getattr(x, "shape", ())) for x in (a, b))
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise RuntimeError(f"{op}: The size of tensor a {sa} must match the size of tensor "
                               f"b {sb} (they cannot be broadcast together)") from None
        raise
    return finish(result, out, op)


def _is_bool(x) -> bool:
    if isinstance(x, Tensor):
        return x.array.dtype.kind == "b"
    return isinstance(x, (bool, np.bool_))


def _scaled(input, other, alpha, op: str):
    """``alpha * other`` with torch's alpha rules: no float alpha for integer results, bool
    alpha only for bool results."""
    dt = _dt.result_type_of(input, other)
    if isinstance(alpha, (float, np.floating)) and not dt.is_floating_point:
        raise RuntimeError(f"{op}: For integral input tensors, argument alpha must not be a "
                           f"floating point number (got alpha={alpha}, result dtype {dt}).")
    if isinstance(alpha, (bool, np.bool_)) and dt is not _dt.bool:
        raise RuntimeError(f"{op}: Boolean alpha only supported for Boolean results (got "
                           f"alpha={alpha}, result dtype {dt}).")
    if alpha == 1:
        return other
    alpha = bool(alpha) if dt is _dt.bool else alpha
    return mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``, broadcast, with torch's type promotion.

    Example:
        >>> import ganglion
        >>> ganglion.add(ganglion.tensor([1, 2]), ganglion.tensor([10, 20]), alpha=2)
        tensor([21, 42])
    """
    if type(alpha) is not int or alpha != 1:  # the int 1 default needs no checks
        other = _scaled(input, other, alpha, "add")
    a, b = promote(input, other, "add")
    return _binary(Add, "add", a, b, out)


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``, broadcast; bool operands raise, as in torch.

    Example:
        >>> import ganglion
        >>> ganglion.sub(ganglion.tensor([5, 5]), 1, alpha=2)
        tensor([3, 3])
    """
    bool_a, bool_b = _is_bool(input), _is_bool(other)
    if bool_a and bool_b:
        raise RuntimeError("sub: Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if bool_a or bool_b:
        raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    if type(alpha) is not int or alpha != 1:
        other = _scaled(input, other, alpha, "sub")
    a, b = promote(input, other, "sub")
    return _binary(Sub, "sub", a, b, out)


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``.

    Example:
        >>> import ganglion
        >>> ganglion.rsub(ganglion.tensor([1.0]), 3.0)
        tensor([2.])
    """
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None) -> Tensor:
    """Elementwise product, broadcast.

    Example:
        >>> import ganglion
        >>> ganglion.mul(ganglion.tensor([1, 2]), 1.5)
        tensor([1.5000, 3.0000])
    """
    a, b = promote(input, other, "mul")
    return _binary(Mul, "mul", a, b, out)


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """True division (ints give floats); ``rounding_mode`` 'trunc' or 'floor' rounds.

    Example:
        >>> import ganglion
        >>> a = ganglion.tensor([-7, 7])
        >>> a / 2, ganglion.div(a, 2, rounding_mode="trunc"), a.div(2, rounding_mode="floor")
        (tensor([-3.5000,  3.5000]), tensor([-3,  3]), tensor([-4,  3]))
    """
    if rounding_mode is None:
        a, b = promote(input, other, "div", float_result=True)
        return _binary(Div, "div", a, b, out)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    a, b = _int_division_operands(input, other, f"div_{rounding_mode}")
    return _binary(TruncDivide if rounding_mode == "trunc" else FloorDivide, "div", a, b, out)


def _int_division_operands(input, other, op: str):
    """Promote, then apply torch's checks: no bool results, no integer division by zero."""
    a, b = promote(input, other, op)
    arr = b.array if isinstance(b, Tensor) else b
    if arr.dtype.kind == "b":
        raise NotImplementedError(f"\"{op}_cpu\" not implemented for 'Bool': convert the "
                                  f"operands with .int() or .float() first.")
    if arr.dtype.kind in "iu" and (arr == 0).any():
        raise RuntimeError(f"{op}: ZeroDivisionError (integer division by zero)")
    return a, b


def floor_divide(input, other, *, out=None) -> Tensor:
    """Division rounded toward -inf (Python's ``//``).

    Example:
        >>> import ganglion
        >>> ganglion.tensor([-7, 7]) // 2
        tensor([-4,  3])
    """
    a, b = _int_division_operands(input, other, "floor_divide")
    return _binary(FloorDivide, "floor_divide", a, b, out)


def remainder(input, other, *, out=None) -> Tensor:
    """Python's ``%``: the result has the sign of the divisor.

    Example:
        >>> import ganglion
        >>> ganglion.tensor([-7, 7]) % 3
        tensor([2, 1])
    """
    a, b = _int_division_operands(input, other, "remainder")
    return _binary(Remainder, "remainder", a, b, out)


def fmod(input, other, *, out=None) -> Tensor:
    """C's ``fmod``: the result has the sign of the dividend.

    Example:
        >>> import ganglion
        >>> ganglion.fmod(ganglion.tensor([-7, 7]), 3)
        tensor([-1,  1])
    """
    a, b = _int_division_operands(input, other, "fmod")
    return _binary(Fmod, "fmod", a, b, out)


def pow(input, exponent, *, out=None) -> Tensor:  # noqa: A001 - torch's name
    """``input ** exponent``; integer tensors to a negative Python int raise, as torch.

    Example:
        >>> import ganglion
        >>> ganglion.pow(ganglion.tensor([2, 3]), 2), ganglion.pow(2, ganglion.tensor([0.5]))
        (tensor([4, 9]), tensor([1.4142]))
    """
    if (isinstance(input, Tensor) and input.array.dtype.kind in "iu"
            and isinstance(exponent, (int, np.integer)) and not isinstance(exponent, bool)
            and exponent < 0):
        raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
    if _dt.result_type_of(input, exponent) is _dt.bool:
        if isinstance(input, Tensor) and _is_bool(exponent) and not isinstance(exponent, Tensor):
            # torch's tensor ** scalar shortcuts: x ** True is x, x ** False is all True
            return finish(input.clone() if exponent else input.ne(input) | True, out, "pow")
        raise NotImplementedError("\"pow\" not implemented for 'Bool': convert the tensor with "
                                  ".int() or .float() first.")
    a, b = promote(input, exponent, "pow")
    return _binary(Pow, "pow", a, b, out)


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


def addcmul(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return add(input, div(tensor1, tensor2), alpha=value)


subtract, multiply, divide, true_divide, arctan2 = sub, mul, div, div, atan2


# The selection ops live in arith_select, which needs promote() from here: imported last.
from ganglion.ops.arith_select import (clamp, clamp_max, clamp_min, clip, fmax,  # noqa: E402
                                       fmin, lerp, maximum, minimum, where)


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
