"""Attention: ``scaled_dot_product_attention`` as one fused op.

softmax(q @ k^T * scale + mask) @ v runs as two batched GEMMs around an in-place, max-shifted
softmax (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762). The backward uses the attention
weights saved by the forward; under ``create_graph=True`` it is rebuilt from differentiable
Tensor ops instead, so gradients of gradients work.

Semantics follow torch 2.13: a boolean mask marks with True the positions that *take part*; a
float mask is added to the scores; ``is_causal`` uses the top-left aligned lower triangle; a row
whose every position is masked gives zeros (torch's "safe softmax"), not nan.

Example:
    >>> import ganglion
    >>> q = k = v = ganglion.randn(2, 4, 5, 8)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    ganglion.Size([2, 4, 5, 8])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import jit
from ganglion.backend.device import get_array_module
from ganglion.ops._util import check_tensor
from ganglion.ops.random_dropout import _keep_mask  # dropout's parallel counter-based bits
from ganglion.tensor import Tensor

__all__ = ["scaled_dot_product_attention"]

_OP = "scaled_dot_product_attention"


def _disallowed(xp, mask, causal, L, S):
    """Boolean 'masked out' array (broadcastable to the scores) or None: ~bool mask or the
    strict upper triangle of an is_causal call (top-left aligned, as torch)."""
    if causal:
        return xp.triu(xp.ones((L, S), dtype=bool), 1)
    if mask is not None and mask.dtype == np.bool_:
        return ~mask
    return None


def _full_rows(xp, mask, off):
    """Rows where every position is masked out (keepdims), or None when there are none."""
    if off is not None:
        full = off.all(axis=-1, keepdims=True)
    elif mask is not None:  # float mask: a row of -inf everywhere
        full = (mask == -np.inf).all(axis=-1, keepdims=True)
    else:
        return None
    return full if full.any() else None


def _softmax_rows(xp, s, full):
    """In-place softmax over the last axis of the scores ``s``; rows in ``full`` become 0."""
    if s.shape[-1] == 0:
        return s
    if full is not None:
        xp.copyto(s, 0, where=full)  # uniform first, zeroed below: no nan from -inf - -inf
    with np.errstate(invalid="ignore"):  # an all -inf row without 'full' gives nan, as torch
        s -= s.max(axis=-1, keepdims=True)
        xp.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
    if full is not None:
        xp.copyto(s, 0, where=full)
    return s


class Attention(Op):
    """out = dropout(softmax(q @ k^T * scale + mask)) @ v, one node.

    ``safe``: all-masked rows give 0 (SDPA) instead of nan (nn.MultiheadAttention's weights
    path). ``need_weights``: also return the (dropped-out) attention weights as an output.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, causal, dropout_p, safe, need_weights):
        xp = get_array_module(q)
        out_dtype = q.dtype
        inputs = (q, k, v, mask)  # saved as given: graph-connected under create_graph
        if q.dtype == np.float16:  # half works in float32, as torch's CPU kernels
            q, k, v = (a.astype(np.float32) for a in (q, k, v))
        L, S = q.shape[-2], k.shape[-2]
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        off = _disallowed(xp, mask, causal, L, S)
        ctx.keep = ctx.pd = None
        full = drop = None
        if mask is None and dropout_p < 1 and _jit_ok(q, k, v):
            p = s
            pd = jit_softmax(ctx, p, scale, causal, dropout_p)
        else:
            s *= scale
            if off is not None:
                xp.copyto(s, -np.inf, where=off)
            elif mask is not None:
                s += mask
            full = _full_rows(xp, mask, off) if safe else None
            p = _softmax_rows(xp, s, full)
            if dropout_p > 0:
                drop = _scaled_keep(xp, _keep_mask(p.shape, dropout_p), dropout_p, p.dtype)
            pd = p * drop if drop is not None else p
        ctx.dropout_p = dropout_p
        out = xp.matmul(pd, v).astype(out_dtype, copy=False)
        ctx.scale, ctx.causal, ctx.off, ctx.full, ctx.drop = scale, causal, off, full, drop
        ctx.mask_dtype = None if mask is None else mask.dtype
        ctx.out_dtype = out_dtype
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*inputs, p)
        if need_weights:
            return out, pd.astype(out_dtype, copy=False)
        return out

    @staticmethod
    def backward(ctx, g, gw=None):
        q, k, v, mask, p = ctx.saved_tensors
        if STATE.enabled:  # create_graph=True: rebuild the rule from differentiable ops
            return _backward_graph(ctx, q, k, v, mask, g, gw)
        return _backward_arrays(ctx, q.array, k.array, v.array, p.array, g, gw)


def _jit_ok(*arrays) -> bool:
    """The compiled softmax takes these: NumPy float32/float64 arrays (float16 and CuPy keep
    the NumPy path)."""
    return jit.enabled_for(*arrays) and arrays[0].dtype in (np.float32, np.float64)


def _scaled_keep(xp, keep, dropout_p, dtype):
    """The dropout multiplier: keep / (1 - p) (all zeros at p == 1), on keep's device."""
    drop = xp.asarray(keep, dtype=dtype)  # the host-drawn mask, on p's device
    drop *= 1.0 / (1.0 - dropout_p) if dropout_p < 1 else 0.0
    return drop


def _drop_of(ctx, xp, dtype):
    """The forward's dropout multiplier (None without dropout), rebuilt from the compiled
    forward's keep mask when the NumPy or graph backward needs it."""
    if ctx.drop is None and ctx.keep is not None:
        ctx.drop = _scaled_keep(xp, ctx.keep, ctx.dropout_p, dtype)
    return ctx.drop


def jit_softmax(ctx, s, scale, causal, dropout_p):
    """Scores ``s`` become the probabilities in place, in one compiled pass per row (scale,
    causal cut, softmax, dropout); keeps the dropout mask and weights on ``ctx`` (``keep``,
    ``pd``) and returns the weights the values are averaged with."""
    from ganglion.ops import attention_jit  # noqa: PLC0415 - numba only when used

    ctx.keep = ctx.pd = None
    if dropout_p > 0:
        ctx.keep = _keep_mask(s.shape, dropout_p)
        ctx.pd = np.empty_like(s)
    ctx.dropout_p = dropout_p
    attention_jit.softmax_forward(s, scale, causal, ctx.keep, dropout_p, ctx.pd)
    return s if ctx.pd is None else ctx.pd


def jit_grads(ctx, q, k, v, p, g, need, out=(None, None, None)):
    """dq, dk, dv (those ``need`` asks for) from the probabilities ``p`` of ``jit_softmax``,
    with the softmax backward as one compiled pass that folds in the score scale, so dq and
    dk are plain GEMMs; ``out`` may give (strided) arrays to write them into."""
    from ganglion.ops import attention_jit  # noqa: PLC0415 - numba only when used

    pd = p if ctx.pd is None else ctx.pd
    dv = np.matmul(np.swapaxes(pd, -1, -2), g, out=out[2]) if need[2] else None
    if not (need[0] or need[1]):
        return None, None, dv
    ds = np.matmul(g, np.swapaxes(v, -1, -2))
    attention_jit.softmax_backward(ds, p, ctx.scale, ctx.keep, ctx.dropout_p)
    dq = np.matmul(ds, k, out=out[0]) if need[0] else None
    dk = np.matmul(np.swapaxes(ds, -1, -2), q, out=out[1]) if need[1] else None
    return dq, dk, dv


def _backward_jit(ctx, q, k, v, p, g):
    dq, dk, dv = jit_grads(ctx, q, k, v, p, g, ctx.needs_input_grad[:3])
    return _wrap(dq, ctx.out_dtype), _wrap(dk, ctx.out_dtype), _wrap(dv, ctx.out_dtype), None


def _backward_arrays(ctx, q, k, v, p, g, gw):
    """The standard rules on arrays: dv = P^T g, dP = g v^T, dS = P (dP - rowsum(dP P))."""
    xp = get_array_module(p)
    nig = ctx.needs_input_grad
    dt = p.dtype
    if (g is not None and gw is None and not nig[3] and ctx.full is None
            and _jit_ok(p, q, k, v, g.array) and g.array.dtype == dt):
        return _backward_jit(ctx, q, k, v, p, g.array)
    q, k, v = (a.astype(dt, copy=False) for a in (q, k, v))
    g = None if g is None else g.array.astype(dt, copy=False)
    drop = _drop_of(ctx, xp, dt)
    pd = p * drop if drop is not None else p
    dv = None
    if nig[2] and g is not None:
        dv = xp.matmul(xp.swapaxes(pd, -1, -2), g)
    if not (nig[0] or nig[1] or nig[3]):
        return None, None, _wrap(dv, ctx.out_dtype)
    dpd = xp.matmul(g, xp.swapaxes(v, -1, -2)) if g is not None else xp.zeros_like(p)
    if gw is not None:
        dpd += gw.array
    if drop is not None:
        dpd *= drop
    ds = dpd
    ds -= xp.einsum("...ij,...ij->...i", ds, p)[..., None]  # row dots without a temporary
    ds *= p
    dq = xp.matmul(ds, k) * ctx.scale if nig[0] else None
    dk = xp.matmul(xp.swapaxes(ds, -1, -2), q) * ctx.scale if nig[1] else None
    od = ctx.out_dtype
    dm = _wrap(ds, ctx.mask_dtype) if nig[3] else None
    return _wrap(dq, od), _wrap(dk, od), _wrap(dv, od), dm


def _wrap(a, dtype):
    return None if a is None else _new_tensor(a.astype(dtype, copy=False))


def _backward_graph(ctx, q, k, v, mask, g, gw):
    """The same rules as Tensor ops on the recomputed weights, so the graph reaches q, k, v."""
    s = q.matmul(k.transpose(-2, -1)) * ctx.scale
    if ctx.off is not None:
        s = s.masked_fill(_new_tensor(ctx.off), float("-inf"))
    elif mask is not None:
        s = s + mask
    if ctx.full is not None:
        s = s.masked_fill(_new_tensor(ctx.full), 0.0)
    p = s.softmax(-1)
    if ctx.full is not None:
        p = p.masked_fill(_new_tensor(ctx.full), 0.0)
    drop = _drop_of(ctx, get_array_module(p.array), p.array.dtype)
    drop = None if drop is None else _new_tensor(drop.astype(p.array.dtype))
    pd = p if drop is None else p * drop
    dpd = None if g is None else g.matmul(v.transpose(-2, -1))
    if gw is not None:
        dpd = gw if dpd is None else dpd + gw
    dv = None if g is None else pd.transpose(-2, -1).matmul(g)
    if dpd is None:
        return None, None, dv, None
    dp = dpd if drop is None else dpd * drop
    ds = p * (dp - (dp * p).sum(-1, keepdim=True))
    dq = ds.matmul(k) * ctx.scale
    dk = ds.transpose(-2, -1).matmul(q) * ctx.scale
    dm = None
    if mask is not None and mask.array.dtype.kind == "f":
        dm = ds.to(mask.dtype)  # a float32 mask of a float64 call gets a float32 gradient
    return dq, dk, dv, dm


def _check_qkv(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(t, _OP, name)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"{_OP}: expected query, key and value to be at least 2-D (..., L, E),"
                           f" got shapes {tuple(query.shape)}, {tuple(key.shape)} and "
                           f"{tuple(value.shape)}")
    dts = {t.array.dtype for t in (query, key, value)}
    if len(dts) != 1:
        raise RuntimeError(f"{_OP}: Expected query, key, and value to have the same dtype, but "
                           f"got query.dtype: {query.dtype} key.dtype: {key.dtype} and "
                           f"value.dtype: {value.dtype} instead.")
    if query.array.dtype.kind != "f":
        raise RuntimeError(f"{_OP}: expected floating point query, key and value, got "
                           f"{query.dtype}; convert them with .float()")
    if key.shape[-1] != query.shape[-1] or value.shape[-2] != key.shape[-2]:
        raise RuntimeError(f"{_OP}: query (..., L, E), key (..., S, E) and value (..., S, Ev) "
                           f"do not fit: got shapes {tuple(query.shape)}, {tuple(key.shape)} "
                           f"and {tuple(value.shape)}")


def _batch_shape(query, key, value):
    try:
        return np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{_OP}: the batch dims of query {tuple(query.shape)}, key "
                           f"{tuple(key.shape)} and value {tuple(value.shape)} do not broadcast"
                           f" (use enable_gqa=True for fewer key/value heads)") from None


def _check_mask(mask, query, scores_shape):
    check_tensor(mask, _OP, "attn_mask")
    dt = mask.array.dtype
    if not (dt == np.bool_ or dt == np.float32 or dt == query.array.dtype):
        raise RuntimeError(f"{_OP}: Expected attn_mask dtype to be bool or float or to match "
                           f"query dtype, but got attn_mask.dtype: {mask.dtype} and "
                           f"query.dtype: {query.dtype} instead.")
    try:
        ok = np.broadcast_shapes(tuple(mask.shape), scores_shape) == scores_shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{_OP}: attn_mask of shape {tuple(mask.shape)} does not broadcast to "
                           f"the attention scores' shape {scores_shape} (batch..., L, S)")


def _expand_heads(query, key, value):
    """enable_gqa: repeat each key/value head for its group of query heads (dim -3)."""
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        return key, value
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hk == 0 or hv == 0 or hq % hk or hq % hv:
        raise RuntimeError(f"{_OP}: Number of heads in key and value must divide the number of "
                           f"heads in query; got {hq} query, {hk} key and {hv} value heads")
    if hk != hq:
        key = key.repeat_interleave(hq // hk, dim=-3)
    if hv != hq:
        value = value.repeat_interleave(hq // hv, dim=-3)
    return key, value


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, as one fused op.

    Args:
        query: (..., L, E) queries.
        key: (..., S, E) keys; its batch dims broadcast with the query's.
        value: (..., S, Ev) values.
        attn_mask: a bool mask (True = the position takes part) or a float mask added to the
            scores; it must broadcast to (..., L, S). Not allowed together with ``is_causal``.
        dropout_p: dropout probability on the attention weights (always applied when > 0:
            pass 0.0 in evaluation, as torch).
        is_causal: mask position j > i (top-left aligned lower triangle).
        scale: score scale; default 1 / sqrt(E).
        enable_gqa: grouped-query attention: key/value may have fewer heads (dim -3) that
            divide the query's heads.

    Returns:
        (..., L, Ev). A row whose positions are all masked gives zeros, as torch.

    Raises:
        RuntimeError: bad shapes or dtypes, ``attn_mask`` with ``is_causal``.
        ValueError: ``dropout_p`` outside [0, 1].

    Example:
        >>> import ganglion
        >>> q, k, v = ganglion.randn(3, 8), ganglion.randn(5, 8), ganglion.randn(5, 2)
        >>> mask = ganglion.ones(3, 5, dtype=ganglion.bool).tril()
        >>> scaled_dot_product_attention(q, k, v, attn_mask=mask).shape
        ganglion.Size([3, 2])
    """
    _check_qkv(query, key, value)
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{_OP}: Explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_OP}: dropout probability has to be between 0 and 1, but got "
                         f"{dropout_p}")
    if enable_gqa:
        key, value = _expand_heads(query, key, value)
    batch = _batch_shape(query, key, value)
    if attn_mask is not None:
        _check_mask(attn_mask, query, tuple(batch) + (query.shape[-2], key.shape[-2]))
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else math.inf
    return Attention.apply(query, key, value, attn_mask, float(scale), bool(is_causal),
                           float(dropout_p), True, False)
