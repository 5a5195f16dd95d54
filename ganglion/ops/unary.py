"""Elementwise math on one tensor: ``neg abs sign exp log sqrt sin cos tanh sigmoid erf ...``.

Integer and bool inputs to float functions (exp, sin, ...) give the default float dtype, as in
torch; ``abs neg sign square`` and the rounding functions keep integer dtypes. Backward rules
are written with Tensor ops, so second derivatives work. This module holds the sign, exponential,
logarithm and power functions; ``unary_trig`` the trigonometric/hyperbolic ones, sigmoid, logit
and the error functions; ``unary_round`` rounding, ``nan_to_num`` and angle conversion. All are
re-exported here.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([0.0, 1.0], requires_grad=True)
    >>> x.exp().sum().backward(); x.grad
    tensor([1.0000, 2.7183])
"""
from __future__ import annotations

import math

from ganglion.ops import unary_round, unary_trig
from ganglion.ops.unary_common import UnaryOp, ZeroGradOp, apply_float, check_input, finish
from ganglion.ops.unary_round import *  # noqa: F401,F403 - re-exported
from ganglion.ops.unary_trig import *  # noqa: F401,F403 - re-exported
from ganglion.tensor import Tensor

__all__ = ["neg", "negative", "positive", "abs", "absolute", "sign", "sgn", "exp", "exp2",
           "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal"]
__all__ += unary_trig.__all__ + unary_round.__all__

_LN2, _LN10 = math.log(2.0), math.log(10.0)


class Neg(UnaryOp):
    quiet = False
    compute = staticmethod(lambda xp, x: -x)
    derivative = staticmethod(lambda g: -g)


class Abs(UnaryOp):
    quiet = False
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.abs(x))
    # subgradient 0 at x == 0 (torch: grad * sgn(x))
    derivative = staticmethod(lambda g, x: g * x.sign())


class Sign(ZeroGradOp):
    quiet = False
    # (x > 0) - (x < 0): NaN -> 0 and -0.0 -> 0.0, as torch (np.sign keeps NaN)
    compute = staticmethod(lambda xp, x: (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype))


class Sgn(Sign):
    pass


class Exp(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.exp(x))
    derivative = staticmethod(lambda g, y: g * y)


class Exp2(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.exp2(x))
    derivative = staticmethod(lambda g, y: g * y * _LN2)


class Expm1(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.expm1(x))
    derivative = staticmethod(lambda g, y: g * (y + 1))


class Log(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.log(x))
    derivative = staticmethod(lambda g, x: g / x)


class Log2(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.log2(x))
    derivative = staticmethod(lambda g, x: g / (x * _LN2))


class Log10(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.log10(x))
    derivative = staticmethod(lambda g, x: g / (x * _LN10))


class Log1P(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.log1p(x))
    derivative = staticmethod(lambda g, x: g / (x + 1))


class Sqrt(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.sqrt(x))
    derivative = staticmethod(lambda g, y: g / (y * 2))


class Rsqrt(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: 1 / xp.sqrt(x))
    derivative = staticmethod(lambda g, y: g * (y * y * y) * -0.5)


class Pow(UnaryOp):
    """square(x) (torch records it as pow(x, 2))."""

    saves = "x"
    compute = staticmethod(lambda xp, x: x * x)
    derivative = staticmethod(lambda g, x: g * x * 2)


class Reciprocal(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: 1 / x)
    derivative = staticmethod(lambda g, y: -g * (y * y))


def _no_bool(input, op: str, what: str) -> Tensor:
    check_input(input, op)
    if input.array.dtype.kind == "b":
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool': {what}")
    return input


def neg(input, *, out=None) -> Tensor:
    """Elementwise ``-input``; keeps the dtype (bool tensors raise: use ``~`` instead).

    Example:
        >>> import ganglion
        >>> ganglion.neg(ganglion.tensor([1, -2]))
        tensor([-1,  2])
    """
    if check_input(input, "neg").array.dtype.kind == "b":
        raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return finish(Neg.apply(input), out, "neg")


negative = neg


def positive(input) -> Tensor:
    """Returns ``input`` itself (``+input``); bool tensors raise, as in torch.

    Example:
        >>> import ganglion
        >>> ganglion.positive(ganglion.tensor([1, -2]))
        tensor([ 1, -2])
    """
    if check_input(input, "positive").array.dtype.kind == "b":
        raise RuntimeError("positive: the `+` operator, on a bool tensor is not supported.")
    return input


def abs(input, *, out=None) -> Tensor:  # noqa: A001 - torch's name
    """Elementwise ``|input|``; keeps integer dtypes. The gradient at 0 is 0 (torch's choice).

    Example:
        >>> import ganglion
        >>> ganglion.abs(ganglion.tensor([-1.5, 2.0]))
        tensor([1.5000, 2.0000])
    """
    _no_bool(input, "abs", "use the tensor itself, or convert it with .int() first.")
    return finish(Abs.apply(input), out, "abs")


absolute = abs


def sign(input, *, out=None) -> Tensor:
    """-1, 0 or 1 by the sign of each element (NaN gives 0); keeps the dtype. Zero gradient.

    Example:
        >>> import ganglion
        >>> ganglion.sign(ganglion.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.,  0.,  1.])
    """
    check_input(input, "sign")
    if input.array.dtype.kind == "b":
        return finish(input.clone(), out, "sign")
    return finish(Sign.apply(input), out, "sign")


def sgn(input, *, out=None) -> Tensor:
    """The sign for real tensors (torch's complex extension of :func:`sign`).

    Example:
        >>> import ganglion
        >>> ganglion.sgn(ganglion.tensor([-2, 0, 3]))
        tensor([-1,  0,  1])
    """
    check_input(input, "sgn")
    if input.array.dtype.kind == "b":
        return finish(input.clone(), out, "sgn")
    return finish(Sgn.apply(input), out, "sgn")


def exp(input, *, out=None) -> Tensor:
    """Elementwise ``e ** input``.

    Example:
        >>> import ganglion
        >>> ganglion.exp(ganglion.tensor([0.0, 1.0]))
        tensor([1.0000, 2.7183])
    """
    return apply_float(Exp, input, "exp", out)


def exp2(input, *, out=None) -> Tensor:
    """Elementwise ``2 ** input``.

    Example:
        >>> import ganglion
        >>> ganglion.exp2(ganglion.tensor([0, 3]))
        tensor([1., 8.])
    """
    return apply_float(Exp2, input, "exp2", out)


def expm1(input, *, out=None) -> Tensor:
    """Elementwise ``exp(input) - 1``, accurate for small inputs.

    Example:
        >>> import ganglion
        >>> ganglion.expm1(ganglion.tensor(1e-10, dtype=ganglion.float64)).item()
        1.00000000005e-10
    """
    return apply_float(Expm1, input, "expm1", out)


def log(input, *, out=None) -> Tensor:
    """Natural logarithm; ``-inf`` at 0 and NaN for negative inputs, as torch.

    Example:
        >>> import ganglion
        >>> ganglion.log(ganglion.tensor([1.0, 0.0, -1.0])).tolist()
        [0.0, -inf, nan]
    """
    return apply_float(Log, input, "log", out)


def log2(input, *, out=None) -> Tensor:
    """Base-2 logarithm.

    Example:
        >>> import ganglion
        >>> ganglion.log2(ganglion.tensor([1, 8]))
        tensor([0., 3.])
    """
    return apply_float(Log2, input, "log2", out)


def log10(input, *, out=None) -> Tensor:
    """Base-10 logarithm.

    Example:
        >>> import ganglion
        >>> ganglion.log10(ganglion.tensor([1.0, 10.0]))
        tensor([0., 1.])
    """
    return apply_float(Log10, input, "log10", out)


def log1p(input, *, out=None) -> Tensor:
    """Elementwise ``log(1 + input)``, accurate for small inputs.

    Example:
        >>> import ganglion
        >>> ganglion.log1p(ganglion.tensor(1e-10, dtype=ganglion.float64)).item()
        9.999999999500001e-11
    """
    return apply_float(Log1P, input, "log1p", out)


def sqrt(input, *, out=None) -> Tensor:
    """Square root (NaN for negative inputs).

    Example:
        >>> import ganglion
        >>> ganglion.sqrt(ganglion.tensor([4, 9]))
        tensor([2., 3.])
    """
    return apply_float(Sqrt, input, "sqrt", out)


def rsqrt(input, *, out=None) -> Tensor:
    """Reciprocal square root ``1 / sqrt(input)``.

    Example:
        >>> import ganglion
        >>> ganglion.rsqrt(ganglion.tensor([4.0, 0.25]))
        tensor([0.5000, 2.0000])
    """
    return apply_float(Rsqrt, input, "rsqrt", out)


def square(input, *, out=None) -> Tensor:
    """Elementwise ``input * input``; integer dtypes are kept and bool gives int64 (torch).

    Example:
        >>> import ganglion
        >>> ganglion.square(ganglion.tensor([-3, 2]))
        tensor([9, 4])
    """
    check_input(input, "square")
    if input.array.dtype.kind == "b":
        input = input.long()
    return finish(Pow.apply(input), out, "square")


def reciprocal(input, *, out=None) -> Tensor:
    """Elementwise ``1 / input`` (integers give floats).

    Example:
        >>> import ganglion
        >>> ganglion.reciprocal(ganglion.tensor([2, 4]))
        tensor([0.5000, 0.2500])
    """
    return apply_float(Reciprocal, input, "reciprocal", out)


TENSOR_METHODS = {
    "neg": neg, "negative": neg, "positive": positive, "abs": abs, "absolute": abs,
    "sign": sign, "sgn": sgn, "exp": exp, "exp2": exp2, "expm1": expm1, "log": log,
    "log2": log2, "log10": log10, "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt,
    "square": square, "reciprocal": reciprocal,
    "__neg__": neg, "__pos__": positive, "__abs__": abs,
}
TENSOR_METHODS.update(unary_trig.TENSOR_METHODS)
TENSOR_METHODS.update(unary_round.TENSOR_METHODS)
