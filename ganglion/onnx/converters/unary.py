"""Elementwise unary math: one ONNX op each, or a short composition."""
from __future__ import annotations

import math

from ganglion.onnx.converters._registry import register
from ganglion.ops import convert, unary, unary_round, unary_trig

__all__: list = []

_DIRECT = {
    unary.Neg: "Neg", unary.Abs: "Abs", unary.Sign: "Sign", unary.Exp: "Exp", unary.Log: "Log",
    unary.Sqrt: "Sqrt", unary.Reciprocal: "Reciprocal", unary_round.Floor: "Floor",
    unary_round.Ceil: "Ceil", unary_trig.Sin: "Sin", unary_trig.Cos: "Cos",
    unary_trig.Tan: "Tan", unary_trig.Tanh: "Tanh", unary_trig.Sinh: "Sinh",
    unary_trig.Cosh: "Cosh", unary_trig.Asin: "Asin", unary_trig.Acos: "Acos",
    unary_trig.Atan: "Atan", unary_trig.Asinh: "Asinh", unary_trig.Acosh: "Acosh",
    unary_trig.Atanh: "Atanh", unary_trig.Sigmoid: "Sigmoid", unary_trig.Erf: "Erf",
}


def _direct(onnx_op):
    def conv(em, ev):
        return em.g.node(onnx_op, [em.name(ev.args[0], ev)])

    return conv


for _cls, _name in _DIRECT.items():
    register(_cls)(_direct(_name))


def _x(em, ev):
    return em.name(ev.args[0], ev), ev.outs[0].dtype


@register(unary.Rsqrt)
def _rsqrt(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Reciprocal", [em.g.node("Sqrt", [x])])


@register(unary.Pow)  # square
def _square(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Mul", [x, x])


@register(unary.Log1P)
def _log1p(em, ev):
    x, dt = _x(em, ev)
    return em.g.node("Log", [em.g.node("Add", [x, em.g.scalar(1, dt)])])


@register(unary.Expm1)
def _expm1(em, ev):
    x, dt = _x(em, ev)
    return em.g.node("Sub", [em.g.node("Exp", [x]), em.g.scalar(1, dt)])


@register(unary.Log2, unary.Log10)
def _log_base(em, ev):
    x, dt = _x(em, ev)
    base = 2.0 if ev.op is unary.Log2 else 10.0
    return em.g.node("Mul", [em.g.node("Log", [x]), em.g.scalar(1 / math.log(base), dt)])


@register(unary.Exp2)
def _exp2(em, ev):
    x, dt = _x(em, ev)
    return em.g.node("Pow", [em.g.scalar(2, dt), x])


@register(unary_round.Round)
def _round(em, ev):
    x, dt = _x(em, ev)
    decimals = ev.args[1]
    if not decimals:
        return em.g.node("Round", [x])
    k = em.g.scalar(10.0 ** decimals, dt)
    return em.g.node("Div", [em.g.node("Round", [em.g.node("Mul", [x, k])]), k])


@register(convert.Cast)
def _cast(em, ev):
    x = ev.args[0]
    return em.cast(em.name(x, ev), x.dtype, ev.outs[0].dtype)


@register(convert.Clone, convert.Contiguous, convert.ToDevice)
def _identity(em, ev):
    return em.g.node("Identity", [em.name(ev.args[0], ev)])
