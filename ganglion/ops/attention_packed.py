"""Self-attention on a packed q/k/v projection with no head split or merge copies.

``nn.MultiheadAttention`` on self-attention projects ``x`` once to ``qkv`` of shape
(A, B, 3E), where (A, B) is (L, N) sequence-first or (N, L) batch-first. The general path then
copies q, k and v into (N * H, L, d) head order and the attention output back into (L * N, E)
before the output projection, and every copy has a copying backward. Here the heads are
strided views of ``qkv`` that BLAS reads in place, the attention output is written straight
into an (A, B, E) array, and the backward writes dq, dk and dv straight into the slots of one
(A, B, 3E) gradient: the only memory passes left are the GEMMs and the compiled softmax.

Used by ``MultiheadAttention`` when the compiled kernels run, without masks other than the
causal one and without attention weights, and not while the ONNX exporter traces; everything
else takes the general path.

Example:
    >>> import ganglion
    >>> from ganglion.ops.attention_packed import packed_self_attention
    >>> qkv = ganglion.randn(2, 5, 3 * 8)  # batch-first (N, L, 3E), E = 8
    >>> packed_self_attention(qkv, 2, True, True, 0.0).shape
    ganglion.Size([2, 5, 8])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.ops.attention import _backward_graph, _disallowed, jit_grads, jit_softmax

__all__ = ["packed_self_attention", "PackedAttention", "tracing"]

_PLAIN_APPLY = Op.__dict__["apply"]


def tracing() -> bool:
    """Whether ``Op.apply`` is instrumented now (the ONNX exporter records primitive ops):
    callers then take the general attention path, whose every op has an ONNX form."""
    return Op.__dict__["apply"] is not _PLAIN_APPLY


def _split(a, heads, batch_first, parts):
    """(A, B, parts * E) -> ``parts`` views (N, H, L, d) (plain arrays or Tensors)."""
    A, B, F = a.shape
    d = F // parts // heads
    order = (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)
    if isinstance(a, np.ndarray):
        v = a.reshape(A, B, parts, heads, d).transpose(order)
        return [v[i] for i in range(parts)]
    v = a.reshape(A, B, parts, heads, d).permute(*order)
    return [v[i] for i in range(parts)]


class PackedAttention(Op):
    """qkv (A, B, 3E) -> softmax(q k^T / sqrt(d)) v merged to (A, B, E), one node."""

    @staticmethod
    def forward(ctx, qkv, heads, batch_first, causal, dropout_p):
        q, k, v = _split(qkv, heads, batch_first, 3)
        L, d = q.shape[-2], q.shape[-1]
        ctx.scale = 1.0 / math.sqrt(d) if d else math.inf
        s = np.matmul(q, np.swapaxes(k, -1, -2))
        pd = jit_softmax(ctx, s, ctx.scale, causal, dropout_p)
        A, B, F = qkv.shape
        out = np.empty((A, B, F // 3), dtype=qkv.dtype)
        np.matmul(pd, v, out=_split(out, heads, batch_first, 1)[0])
        ctx.p, ctx.heads, ctx.batch_first, ctx.causal = s, heads, batch_first, causal
        ctx.off, ctx.full, ctx.drop = _disallowed(np, None, causal, L, L), None, None
        ctx.out_dtype = qkv.dtype
        ctx.save_for_backward(qkv)
        return out

    @staticmethod
    def backward(ctx, g):
        (qkv,) = ctx.saved_tensors
        heads, bf = ctx.heads, ctx.batch_first
        if STATE.enabled:  # create_graph=True: the rule from differentiable Tensor ops
            q, k, v = _split(qkv, heads, bf, 3)
            dq, dk, dv, _ = _backward_graph(ctx, q, k, v, None, _split(g, heads, bf, 1)[0],
                                            None)
            from ganglion.ops.movement_join import stack  # noqa: PLC0415 - sibling family

            order = (1, 3, 0, 2, 4) if bf else (3, 1, 0, 2, 4)
            d = stack([dq, dk, dv]).permute(*order)
            return d.reshape(qkv.shape), None, None, None, None
        qkv = qkv.array
        g = np.ascontiguousarray(g.array)
        dqkv = np.empty_like(qkv)
        q, k, v = _split(qkv, heads, bf, 3)
        jit_grads(ctx, q, k, v, ctx.p, _split(g, heads, bf, 1)[0], (True, True, True),
                  out=_split(dqkv, heads, bf, 3))
        return _new_tensor(dqkv), None, None, None, None


def packed_self_attention(qkv, heads, batch_first, causal, dropout_p):
    """Multi-head self-attention of a packed projection ``qkv`` (A, B, 3E): (L, N, 3E), or
    (N, L, 3E) with ``batch_first``; returns (A, B, E). Needs NumPy float32/float64 arrays
    and the compiled kernels (``MultiheadAttention`` checks before choosing this path).
    """
    return PackedAttention.apply(qkv, int(heads), bool(batch_first), bool(causal),
                                 float(dropout_p))
