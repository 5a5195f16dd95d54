"""Scaled dot-product attention (the fused op behind F.scaled_dot_product_attention and
nn.MultiheadAttention) as MatMul, Softmax, MatMul with its masks."""
from __future__ import annotations

import numpy as np

from ganglion.onnx._trace import TraceError
from ganglion.onnx.converters._registry import register
from ganglion.ops.attention import Attention

__all__: list = []


@register(Attention)
def _attention(em, ev):
    q, k, v, mask, scale, causal, dropout_p, safe, need_weights = ev.args
    if dropout_p:
        raise TraceError(f"export: attention with dropout_p={dropout_p} (training mode) has no "
                         f"deterministic ONNX form; call model.eval() before export.")
    g = em.g
    dt = q.dtype
    nd = len(k.shape)
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    kt = g.node("Transpose", [em.name(k, ev)], perm=perm)
    s = g.node("Mul", [g.node("MatMul", [em.name(q, ev), kt]), g.scalar(scale, dt)])
    masked = causal or mask is not None
    if causal:  # keep the lower triangle (top-left aligned, as torch)
        qs, ks = em.name(q, ev), em.name(k, ev)
        size = g.node("Concat", [g.node("Shape", [qs], start=-2, end=-1),
                                 g.node("Shape", [ks], start=-2, end=-1)], axis=0)
        ones = g.node("ConstantOfShape", [size], value=_one(dt))
        keep = g.node("Cast", [g.node("Trilu", [ones], upper=0)], to=9)  # bool
        s = g.node("Where", [keep, s, g.scalar(-np.inf, dt)])
    elif mask is not None and mask.dtype == np.bool_:
        s = g.node("Where", [em.name(mask, ev), s, g.scalar(-np.inf, dt)])
    elif mask is not None:
        s = g.node("Add", [s, em.operand(ev, mask, dt)])
    p = g.node("Softmax", [s], axis=-1)
    if safe and masked:  # rows with every key masked: 0 (SDPA), not nan
        p = g.node("Where", [g.node("IsNaN", [p]), g.scalar(0, dt), p])
    out = g.node("MatMul", [p, em.name(v, ev)])
    return (out, p) if need_weights else out


def _one(dt):
    from ganglion.onnx._deps import onnx  # noqa: PLC0415

    return onnx.numpy_helper.from_array(np.ones(1, dtype=dt))
