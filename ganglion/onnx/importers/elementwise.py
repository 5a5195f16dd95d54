"""Elementwise ONNX ops: arithmetic, math, activations, comparisons, logic, selection."""
from __future__ import annotations

import functools
import numpy as np

import ganglion
import ganglion.nn.functional as F
from ganglion.onnx.importers._registry import register, unsupported

__all__: list = []


def _int_div(a, b):
    return ganglion.div(a, b, rounding_mode="trunc")  # ONNX Div truncates integers


@register("Add")
def _add(ins, attrs):
    return ins[0] + ins[1]


@register("Sub")
def _sub(ins, attrs):
    return ins[0] - ins[1]


@register("Mul")
def _mul(ins, attrs):
    return ins[0] * ins[1]


@register("Div")
def _div(ins, attrs):
    a, b = ins
    if a.dtype.is_floating_point:
        return a / b
    return _int_div(a, b)


@register("Pow")
def _pow(ins, attrs):
    a, b = ins
    if b.ndim == 0 and b.dtype.is_floating_point and float(b.item()) == 2.0:
        return a * a
    return a ** b.to(a.dtype)


_UNARY = {
    "Neg": lambda x: -x, "Abs": ganglion.abs, "Exp": ganglion.exp, "Log": ganglion.log,
    "Sqrt": ganglion.sqrt, "Reciprocal": ganglion.reciprocal, "Erf": ganglion.erf,
    "Sin": ganglion.sin, "Cos": ganglion.cos, "Tan": ganglion.tan, "Tanh": ganglion.tanh,
    "Sinh": ganglion.sinh, "Cosh": ganglion.cosh, "Asin": ganglion.asin,
    "Acos": ganglion.acos, "Atan": ganglion.atan, "Asinh": ganglion.asinh,
    "Acosh": ganglion.acosh, "Atanh": ganglion.atanh, "Sigmoid": ganglion.sigmoid,
    "Relu": F.relu, "Floor": ganglion.floor, "Ceil": ganglion.ceil, "Round": ganglion.round,
    "Sign": ganglion.sign, "Softsign": F.softsign, "Identity": lambda x: x,
    "Not": ganglion.logical_not, "IsNaN": ganglion.isnan, "HardSwish": F.hardswish,
    "Mish": F.mish, "BitwiseNot": ganglion.bitwise_not,
}


def _unary(fn):
    def run(ins, attrs):
        return fn(ins[0])

    return run


for _op, _fn in _UNARY.items():
    register(_op)(_unary(_fn))


@register("IsInf")
def _isinf(ins, attrs):
    x = ins[0]
    pos, neg = attrs.get("detect_positive", 1), attrs.get("detect_negative", 1)
    if pos and neg:
        return ganglion.isinf(x)
    return ganglion.isposinf(x) if pos else ganglion.isneginf(x)


@register("LeakyRelu")
def _leaky(ins, attrs):
    return F.leaky_relu(ins[0], attrs.get("alpha", 0.01))


@register("Elu")
def _elu(ins, attrs):
    return F.elu(ins[0], attrs.get("alpha", 1.0))


@register("Celu")
def _celu(ins, attrs):
    return F.celu(ins[0], attrs.get("alpha", 1.0))


@register("Selu")
def _selu(ins, attrs):
    alpha = attrs.get("alpha", 1.67326319217681884765625)
    gamma = attrs.get("gamma", 1.05070102214813232421875)
    x = ins[0]
    return F.relu(x) * gamma + (ganglion.exp(ganglion.minimum(x, ganglion.zeros_like(x))) - 1) \
        * (alpha * gamma)


@register("Softplus")
def _softplus(ins, attrs):
    return F.softplus(ins[0])


@register("HardSigmoid")
def _hard_sigmoid(ins, attrs):
    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    return ganglion.clamp(ins[0] * alpha + beta, 0.0, 1.0)


@register("Gelu")
def _gelu(ins, attrs):
    return F.gelu(ins[0], approximate=attrs.get("approximate", "none"))


@register("PRelu")
def _prelu(ins, attrs):
    x, slope = ins
    return ganglion.where(x > 0, x, x * slope)


@register("Shrink")
def _shrink(ins, attrs):
    x = ins[0]
    lambd, bias = attrs.get("lambd", 0.5), attrs.get("bias", 0.0)
    return ganglion.where(x < -lambd, x + bias, ganglion.where(x > lambd, x - bias,
                                                               ganglion.zeros_like(x)))


@register("ThresholdedRelu")
def _thresholded(ins, attrs):
    x = ins[0]
    return ganglion.where(x > attrs.get("alpha", 1.0), x, ganglion.zeros_like(x))


@register("Clip")
def _clip(ins, attrs):
    x = ins[0]
    lo = ins[1] if len(ins) > 1 else None
    hi = ins[2] if len(ins) > 2 else None
    lo = attrs.get("min") if lo is None else lo.item()  # opset < 11 has attributes
    hi = attrs.get("max") if hi is None else hi.item()
    return ganglion.clamp(x, lo, hi)


def _variadic(fn):
    def run(ins, attrs):
        return functools.reduce(fn, ins)

    return run


register("Max")(_variadic(ganglion.maximum))
register("Min")(_variadic(ganglion.minimum))
register("Sum")(_variadic(lambda a, b: a + b))


@register("Mean")
def _mean(ins, attrs):
    return functools.reduce(lambda a, b: a + b, ins) / len(ins)


_COMPARE = {"Equal": ganglion.eq, "Less": ganglion.lt, "LessOrEqual": ganglion.le,
            "Greater": ganglion.gt, "GreaterOrEqual": ganglion.ge,
            "And": ganglion.logical_and, "Or": ganglion.logical_or,
            "Xor": ganglion.logical_xor, "BitwiseAnd": ganglion.bitwise_and,
            "BitwiseOr": ganglion.bitwise_or, "BitwiseXor": ganglion.bitwise_xor}

for _op, _fn in _COMPARE.items():
    register(_op)(_variadic(_fn))


@register("Where")
def _where(ins, attrs):
    return ganglion.where(ins[0], ins[1], ins[2])


@register("Cast")
def _cast(ins, attrs):
    from ganglion.onnx._deps import onnx  # noqa: PLC0415

    np_dt = onnx.helper.tensor_dtype_to_np_dtype(attrs["to"])
    return ins[0].to(_ganglion_dtype(np_dt))


def _ganglion_dtype(np_dt):
    from ganglion.backend import dtypes  # noqa: PLC0415

    try:
        return dtypes.DTYPE_OF[np.dtype(np_dt)]
    except KeyError:
        unsupported("Cast", f"target type {np.dtype(np_dt)}")
