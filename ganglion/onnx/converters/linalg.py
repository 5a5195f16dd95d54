"""Matrix products: linear (Gemm for 2-D inputs), matmul, einsum, embedding lookups."""
from __future__ import annotations

import numpy as np

from ganglion.onnx.converters._registry import register
from ganglion.ops import embedding, linalg_einsum, linalg_matmul
from ganglion.ops.linalg_addmm import Linear

__all__: list = []


@register(Linear)
def _linear(em, ev):
    x, w, b = ev.args
    g = em.g
    xn, wn = em.name(x, ev), em.name(w, ev)
    bn = None if b is None else em.name(b, ev)
    if x.array.ndim == 2:
        return g.node("Gemm", [xn, wn] + ([bn] if bn else []), transB=1)
    wt = g.node("Transpose", [wn], perm=[1, 0])
    y = g.node("MatMul", [xn, wt])
    return g.node("Add", [y, bn]) if bn else y


@register(linalg_matmul.MatMul, linalg_matmul.Dot)
def _matmul(em, ev):
    return em.g.node("MatMul", [em.name(a, ev) for a in ev.args[:2]])


@register(linalg_einsum.Einsum)
def _einsum(em, ev):
    spec = ev.args[0]
    return em.g.node("Einsum", [em.name(a, ev) for a in ev.args[1:]],
                     equation=spec.replace(" ", ""))


@register(embedding.Embedding)
def _embedding(em, ev):
    w, idx = ev.args[:2]
    return em.g.node("Gather", [em.name(w, ev), em.cast(em.name(idx, ev), idx.dtype, np.int64)],
                     axis=0)
