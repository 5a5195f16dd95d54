"""Activations and softmax: ONNX's own ops where their formula matches torch's, else a short
composition of elementwise ops."""
from __future__ import annotations

import math

from ganglion.onnx.converters._registry import register
from ganglion.ops import activation_pointwise as ap, activation_softmax as asm

__all__: list = []


def _x(em, ev):
    return em.name(ev.args[0], ev), ev.outs[0].dtype


def _simple(onnx_op, **attrs):
    def conv(em, ev):
        return em.g.node(onnx_op, [_x(em, ev)[0]], **attrs)

    return conv


register(ap.Relu)(_simple("Relu"))
register(ap.Softsign)(_simple("Softsign"))
register(ap.Hardsigmoid)(_simple("HardSigmoid", alpha=1.0 / 6, beta=0.5))
register(ap.Hardswish)(_simple("HardSwish"))


@register(ap.LeakyRelu)
def _leaky(em, ev):
    return em.g.node("LeakyRelu", [_x(em, ev)[0]], alpha=float(ev.args[1]))


@register(ap.Elu)
def _elu(em, ev):
    x, dt = _x(em, ev)
    alpha, scale, input_scale = (float(a) for a in ev.args[1:4])
    g = em.g
    if input_scale == 1.0:
        if scale == 1.0:
            return g.node("Elu", [x], alpha=alpha)
        return g.node("Selu", [x], alpha=alpha, gamma=scale)
    # CELU and other scalings: max(x, 0) * scale + expm1(min(x, 0) * input_scale) * alpha * scale
    neg = g.node("Mul", [g.node("Min", [x, g.scalar(0, dt)]), g.scalar(input_scale, dt)])
    neg = g.node("Sub", [g.node("Exp", [neg]), g.scalar(1, dt)])
    pos = g.node("Mul", [g.node("Relu", [x]), g.scalar(scale, dt)])
    return g.node("Add", [pos, g.node("Mul", [neg, g.scalar(alpha * scale, dt)])])


def _erf_gelu(em, x, dt):
    # 0.5 x (1 + erf(x / sqrt 2)): GELU before opset 20
    e = em.g.node("Erf", [em.g.node("Mul", [x, em.g.scalar(1 / math.sqrt(2), dt)])])
    half_x = em.g.node("Mul", [x, em.g.scalar(0.5, dt)])
    return em.g.node("Mul", [half_x, em.g.node("Add", [e, em.g.scalar(1.0, dt)])])


@register(ap.Gelu)
def _gelu(em, ev):
    x, dt = _x(em, ev)
    if em.opset >= 20:
        return em.g.node("Gelu", [x])
    return _erf_gelu(em, x, dt)


@register(ap.GeluTanh)
def _gelu_tanh(em, ev):
    x, dt = _x(em, ev)
    if em.opset >= 20:
        return em.g.node("Gelu", [x], approximate="tanh")
    g = em.g
    x3 = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [x3, g.scalar(0.044715, dt)])]),
                           g.scalar(math.sqrt(2 / math.pi), dt)])
    t = g.node("Add", [g.node("Tanh", [inner]), g.scalar(1.0, dt)])
    return g.node("Mul", [g.node("Mul", [x, g.scalar(0.5, dt)]), t])


@register(ap.Silu)
def _silu(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Mul", [x, em.g.node("Sigmoid", [x])])


@register(ap.Mish)
def _mish(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Mul", [x, em.g.node("Tanh", [em.g.node("Softplus", [x])])])


@register(ap.Softplus)
def _softplus(em, ev):
    x, dt = _x(em, ev)
    beta, threshold = float(ev.args[1]), float(ev.args[2])
    g = em.g
    bx = x if beta == 1.0 else g.node("Mul", [x, g.scalar(beta, dt)])
    sp = g.node("Softplus", [bx])
    if beta != 1.0:
        sp = g.node("Div", [sp, g.scalar(beta, dt)])
    # torch returns x itself above the threshold (log1p(exp) would overflow there)
    return g.node("Where", [g.node("Greater", [bx, g.scalar(threshold, dt)]), x, sp])


@register(ap.Hardtanh)
def _hardtanh(em, ev):
    x, dt = _x(em, ev)
    return em.g.node("Clip", [x, em.g.scalar(ev.args[1], dt), em.g.scalar(ev.args[2], dt)])


@register(ap.Threshold)
def _threshold(em, ev):
    x, dt = _x(em, ev)
    g = em.g
    return g.node("Where", [g.node("Greater", [x, g.scalar(ev.args[1], dt)]), x,
                            g.scalar(ev.args[2], dt)])


@register(ap.Logsigmoid)
def _logsigmoid(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Neg", [em.g.node("Softplus", [em.g.node("Neg", [x])])])


@register(ap.Tanhshrink)
def _tanhshrink(em, ev):
    x, _ = _x(em, ev)
    return em.g.node("Sub", [x, em.g.node("Tanh", [x])])


@register(ap.Hardshrink, ap.Softshrink)
def _shrink(em, ev):
    x, _ = _x(em, ev)
    lambd = float(ev.args[1])
    bias = lambd if ev.op is ap.Softshrink else 0.0
    return em.g.node("Shrink", [x], lambd=lambd, bias=bias)


@register(asm.Softmax)
def _softmax(em, ev):
    return em.g.node("Softmax", [_x(em, ev)[0]], axis=int(ev.args[1]))


@register(asm.LogSoftmax)
def _log_softmax(em, ev):
    return em.g.node("LogSoftmax", [_x(em, ev)[0]], axis=int(ev.args[1]))


@register(asm.PRelu)
def _prelu(em, ev):
    x, dt = _x(em, ev)
    w = ev.args[1]
    wn = em.name(w, ev)
    # ganglion broadcasts w against x's channel dim 1; ONNX broadcasts it from the right
    nd = len(ev.args[0].shape)
    if w.array.ndim == 1 and w.array.size > 1 and nd > 2:
        wn = em.g.node("Unsqueeze", [wn, em.g.ints(range(1, nd - 1))])
    return em.g.node("PRelu", [x, wn])
