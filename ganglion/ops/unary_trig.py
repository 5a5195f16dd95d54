"""Trigonometric and hyperbolic functions, ``sigmoid``/``logit`` and the error functions.

All are float functions: integer and bool inputs give the default float dtype (torch).
Re-exported by ``ganglion.ops.unary``.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([0.0], requires_grad=True)
    >>> x.sin().sum().backward(); x.grad
    tensor([1.])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.backend import jit
from ganglion.backend.device import get_array_module
from ganglion.ops import _special
from ganglion.ops.activation_pointwise import _kernels as _act_kernels
from ganglion.ops.unary_common import UnaryOp, apply_float, half_via_float32
from ganglion.tensor import Tensor

__all__ = ["sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "asinh",
           "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
           "sigmoid", "logit", "erf", "erfc", "erfinv"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0


class Sin(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.sin(x))
    derivative = staticmethod(lambda g, x: g * x.cos())


class Cos(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.cos(x))
    derivative = staticmethod(lambda g, x: -g * x.sin())


class Tan(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.tan(x))
    derivative = staticmethod(lambda g, y: g * (y * y + 1))


class Tanh(UnaryOp):
    quiet = False
    saves = "y"
    compute = staticmethod(lambda xp, x: xp.tanh(x))
    derivative = staticmethod(lambda g, y: g * (1 - y * y))


class Sinh(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.sinh(x))
    derivative = staticmethod(lambda g, x: g * x.cosh())


class Cosh(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.cosh(x))
    derivative = staticmethod(lambda g, x: g * x.sinh())


class Asin(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arcsin(x))
    derivative = staticmethod(lambda g, x: g * (1 - x * x).rsqrt())


class Acos(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arccos(x))
    derivative = staticmethod(lambda g, x: -g * (1 - x * x).rsqrt())


class Atan(UnaryOp):
    quiet = False
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arctan(x))
    derivative = staticmethod(lambda g, x: g / (x * x + 1))


class Asinh(UnaryOp):
    quiet = False
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arcsinh(x))
    derivative = staticmethod(lambda g, x: g * (x * x + 1).rsqrt())


class Acosh(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arccosh(x))
    derivative = staticmethod(lambda g, x: g * (x * x - 1).rsqrt())


class Atanh(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: xp.arctanh(x))
    derivative = staticmethod(lambda g, x: g / (1 - x * x))


_F32 = np.dtype(np.float32)


def _stable_sigmoid(xp, x):
    # torch's formula: exp(-x) overflows to inf only where the result is 0 (x < -88 in
    # float32), and 1 / (1 + inf) is exactly that limit; no inf/inf anywhere. Four array ops
    # instead of the eight of a two-branch form.
    return 1.0 / (1.0 + xp.exp(-x))


class Sigmoid(UnaryOp):
    """float32 NumPy arrays take one compiled pass each way (``activation_jit``): on small
    tensors the per-op cost is the number of ufunc calls, four forward and three backward."""

    quiet = True  # the exp above may overflow (harmlessly): no NumPy warning for it
    saves = "y"
    compute = staticmethod(_stable_sigmoid)
    derivative = staticmethod(lambda g, y: g * (y * (1 - y)))

    @classmethod
    def forward(cls, ctx, x):
        if type(x) is np.ndarray and x.dtype == _F32 and x.flags.c_contiguous \
                and jit.enabled():
            k = _act_kernels()
            if x.size < k.PARALLEL_MIN:  # the serial pass directly (see activation_jit)
                y = np.empty(x.shape, _F32)
                k.sigmoid_pass(x.ravel(), y.ravel())
            else:
                y = k.sigmoid(x)
            ctx.save_for_backward(y)
            return y
        return super().forward(ctx, x)

    @staticmethod
    def raw_backward(ctx, g):
        (y,) = ctx.saved_arrays()
        if type(g) is np.ndarray and g.dtype == _F32 and type(y) is np.ndarray \
                and y.dtype == _F32 and g.shape == y.shape and g.flags.c_contiguous \
                and y.flags.c_contiguous and jit.enabled():
            k = _act_kernels()
            if y.size >= k.PARALLEL_MIN:
                return k.sigmoid_grad(g, y)
            out = np.empty(y.shape, _F32)
            k.sigmoid_grad_pass(g.ravel(), y.ravel(), out.ravel())
            return out
        return UnaryOp.raw_backward(ctx, g)


class Logit(UnaryOp):
    """log(z / (1 - z)), z = x clamped to [eps, 1 - eps] when eps >= 0 (torch's kernel:
    ``x < lo ? lo : (x > hi ? hi : x)``, so lo wins if eps > 0.5)."""

    raw_backward = None  # its own backward (Tensor rule) replaces derivative()

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        with np.errstate(all="ignore"):
            return half_via_float32(_logit, get_array_module(x), x, eps)

    @staticmethod
    def backward(ctx, g):
        from ganglion.ops.arith import where  # noqa: PLC0415 - sibling family

        (x,) = ctx.saved_tensors
        d = g / (x * (1 - x))
        eps = ctx.eps
        if eps is None or eps < 0:
            # torch: NaN outside [0, 1], where the forward is NaN too
            return where((x < 0) | (x > 1), math.nan, d), None
        # clamped region: the output does not move with x, torch gives 0 (bounds included)
        return where((x < eps) | (x > 1 - eps), 0.0, d), None


def _logit(xp, x, eps):
    if eps is not None and eps >= 0:
        lo, hi = x.dtype.type(eps), x.dtype.type(1 - eps)
        x = xp.where(x < lo, lo, xp.where(x > hi, hi, x))
    return xp.log(x / (1 - x))


class Erf(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: _special.erf(x))
    derivative = staticmethod(lambda g, x: g * (-x * x).exp() * _TWO_OVER_SQRT_PI)


class Erfc(UnaryOp):
    saves = "x"
    compute = staticmethod(lambda xp, x: _special.erfc(x))
    derivative = staticmethod(lambda g, x: g * (-x * x).exp() * -_TWO_OVER_SQRT_PI)


class Erfinv(UnaryOp):
    saves = "y"
    compute = staticmethod(lambda xp, x: _special.erfinv(x))
    derivative = staticmethod(lambda g, y: g * (y * y).exp() * _SQRT_PI_OVER_TWO)


def sin(input, *, out=None) -> Tensor:
    """Elementwise sine (radians).

    Example:
        >>> import ganglion
        >>> ganglion.sin(ganglion.tensor([0.0, 1.5707963]))
        tensor([0., 1.])
    """
    return apply_float(Sin, input, "sin", out)


def cos(input, *, out=None) -> Tensor:
    """Elementwise cosine (radians).

    Example:
        >>> import ganglion
        >>> ganglion.cos(ganglion.tensor([0, 0]))
        tensor([1., 1.])
    """
    return apply_float(Cos, input, "cos", out)


def tan(input, *, out=None) -> Tensor:
    """Elementwise tangent (radians).

    Example:
        >>> import ganglion
        >>> ganglion.tan(ganglion.tensor([0.0, 0.7853982]))
        tensor([0., 1.])
    """
    return apply_float(Tan, input, "tan", out)


def tanh(input, *, out=None) -> Tensor:
    """Hyperbolic tangent; its gradient ``1 - tanh(x)**2`` is computed from the output.

    Example:
        >>> import ganglion
        >>> ganglion.tanh(ganglion.tensor([0.0, 100.0]))
        tensor([0., 1.])
    """
    return apply_float(Tanh, input, "tanh", out)


def sinh(input, *, out=None) -> Tensor:
    """Hyperbolic sine.

    Example:
        >>> import ganglion
        >>> ganglion.sinh(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 1.1752])
    """
    return apply_float(Sinh, input, "sinh", out)


def cosh(input, *, out=None) -> Tensor:
    """Hyperbolic cosine.

    Example:
        >>> import ganglion
        >>> ganglion.cosh(ganglion.tensor([0.0, 1.0]))
        tensor([1.0000, 1.5431])
    """
    return apply_float(Cosh, input, "cosh", out)


def asin(input, *, out=None) -> Tensor:
    """Inverse sine; NaN outside [-1, 1].

    Example:
        >>> import ganglion
        >>> ganglion.asin(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 1.5708])
    """
    return apply_float(Asin, input, "asin", out)


def acos(input, *, out=None) -> Tensor:
    """Inverse cosine; NaN outside [-1, 1].

    Example:
        >>> import ganglion
        >>> ganglion.acos(ganglion.tensor([1.0, 0.0]))
        tensor([0.0000, 1.5708])
    """
    return apply_float(Acos, input, "acos", out)


def atan(input, *, out=None) -> Tensor:
    """Inverse tangent.

    Example:
        >>> import ganglion
        >>> ganglion.atan(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7854])
    """
    return apply_float(Atan, input, "atan", out)


def asinh(input, *, out=None) -> Tensor:
    """Inverse hyperbolic sine.

    Example:
        >>> import ganglion
        >>> ganglion.asinh(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8814])
    """
    return apply_float(Asinh, input, "asinh", out)


def acosh(input, *, out=None) -> Tensor:
    """Inverse hyperbolic cosine; NaN below 1.

    Example:
        >>> import ganglion
        >>> ganglion.acosh(ganglion.tensor([1.0, 2.0]))
        tensor([0.0000, 1.3170])
    """
    return apply_float(Acosh, input, "acosh", out)


def atanh(input, *, out=None) -> Tensor:
    """Inverse hyperbolic tangent; +-inf at +-1, NaN outside [-1, 1].

    Example:
        >>> import ganglion
        >>> ganglion.atanh(ganglion.tensor([0.0, 0.5]))
        tensor([0.0000, 0.5493])
    """
    return apply_float(Atanh, input, "atanh", out)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def sigmoid(input, *, out=None) -> Tensor:
    """Logistic function ``1 / (1 + exp(-input))``, without overflow for large ``|input|``.

    Example:
        >>> import ganglion
        >>> ganglion.sigmoid(ganglion.tensor([-200.0, 0.0, 200.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return apply_float(Sigmoid, input, "sigmoid", out)


def logit(input, eps=None, *, out=None) -> Tensor:
    """Inverse sigmoid ``log(p / (1 - p))``.

    Args:
        input: probabilities.
        eps: if given (and >= 0), ``input`` is first clamped to ``[eps, 1 - eps]``; the
            gradient is 0 where the clamp is active.

    Example:
        >>> import ganglion
        >>> ganglion.logit(ganglion.tensor([0.5, 0.0, 1.0]), eps=1e-6).abs() < 14
        tensor([True, True, True])
    """
    if eps is not None and not isinstance(eps, (int, float)):
        raise TypeError(f"logit(): argument 'eps' must be float or None, not "
                        f"{type(eps).__name__}")
    return apply_float(Logit, input, "logit", out, None if eps is None else float(eps))


def erf(input, *, out=None) -> Tensor:
    """Error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt``.

    Example:
        >>> import ganglion
        >>> ganglion.erf(ganglion.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8427])
    """
    return apply_float(Erf, input, "erf", out)


def erfc(input, *, out=None) -> Tensor:
    """Complementary error function ``1 - erf(x)``, accurate far in the tail.

    Example:
        >>> import ganglion
        >>> ganglion.erfc(ganglion.tensor(10.0, dtype=ganglion.float64)).item() > 0  # 1 - erf: 0
        True
    """
    return apply_float(Erfc, input, "erfc", out)


def erfinv(input, *, out=None) -> Tensor:
    """Inverse error function on [-1, 1] (+-inf at +-1, NaN outside).

    Example:
        >>> import ganglion
        >>> ganglion.erfinv(ganglion.tensor([0.0, 0.5, 1.0]))
        tensor([0.0000, 0.4769,    inf])
    """
    return apply_float(Erfinv, input, "erfinv", out)


TENSOR_METHODS = {name: globals()[name] for name in __all__}
