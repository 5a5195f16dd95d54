"""Multi-head attention as a function: ``multi_head_attention_forward`` (torch.nn.functional's).

The steps are torch's, one for one: canonical masks (bool -> 0/-inf float), input projection
(one GEMM when query is key is value), optional bias_k/bias_v and a zero attention slot, heads
split by views, then either the fused attention op returning the weights
(``need_weights=True``: a fully masked row gives nan, as torch's softmax) or plain SDPA
(``need_weights=False``: zeros), and the output projection.

User errors that torch reports with AssertionError raise ``AttentionArgError``, which is both
an AssertionError (as torch) and a ValueError (ganglion's convention).

Example:
    >>> import ganglion
    >>> from ganglion.ops.attention_mha import multi_head_attention_forward
    >>> E, H = 8, 2
    >>> x = ganglion.randn(5, 3, E)
    >>> w, b = ganglion.randn(3 * E, E), ganglion.zeros(3 * E)
    >>> out, attn = multi_head_attention_forward(x, x, x, E, H, w, b, None, None, False, 0.0,
    ...                                          ganglion.randn(E, E), None, training=False)
    >>> out.shape, attn.shape
    (ganglion.Size([5, 3, 8]), ganglion.Size([3, 5, 5]))
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ganglion.ops.attention import Attention, scaled_dot_product_attention
from ganglion.ops.creation import zeros, zeros_like
from ganglion.ops.linalg import linear
from ganglion.ops.movement import cat
from ganglion.ops.pad import pad

__all__ = ["multi_head_attention_forward", "AttentionArgError"]


class AttentionArgError(ValueError, AssertionError):
    """A bad argument of multi-head attention: torch raises AssertionError; this is both."""


def _is_float(t) -> bool:
    return t.array.dtype.kind == "f"


def canonical_mask(name, mask, mask_name, other, other_name, target_dtype, check_other=True):
    """torch's _canonical_mask: check the dtype, warn on a bool/float mix, bool -> 0/-inf."""
    if mask is None:
        return None
    if mask.array.dtype != np.bool_ and not _is_float(mask):
        raise AttentionArgError(f"{name}: only bool and floating types of {mask_name} are "
                                f"supported, got {mask.dtype}")
    if check_other and other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      f"same type for both instead.", UserWarning, stacklevel=4)
    if not _is_float(mask):
        mask = zeros_like(mask, dtype=target_dtype).masked_fill(mask, float("-inf"))
    return mask


def _shape_check(name, query, key, value, key_padding_mask, attn_mask, num_heads):
    """torch's _mha_shape_check: batched (3-D) or unbatched (2-D) inputs and matching masks."""
    nd = query.ndim
    if nd not in (2, 3):
        raise AttentionArgError(f"{name}: query should be unbatched 2D or batched 3D tensor but "
                                f"received {nd}-D query tensor")
    kind = "batched (3-D)" if nd == 3 else "unbatched (2-D)"
    if key.ndim != nd or value.ndim != nd:
        raise AttentionArgError(f"{name}: For {kind} `query`, expected `key` and `value` to be "
                                f"{nd}-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                f"respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != nd - 1:
        raise AttentionArgError(f"{name}: For {kind} `query`, expected `key_padding_mask` to be "
                                f"`None` or {nd - 1}-D but found {key_padding_mask.ndim}-D "
                                f"tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AttentionArgError(f"{name}: For {kind} `query`, expected `attn_mask` to be "
                                    f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                    f"instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if nd == 2 and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AttentionArgError(f"{name}: Expected `attn_mask` shape to be {expected} but "
                                    f"got {tuple(attn_mask.shape)}")
    return nd == 3


def _in_projection(name, query, key, value, w, b, separate):
    """q, k, v projections: packed ``w`` (3E, E), one GEMM for self-attention, or three."""
    E = query.shape[-1]
    if not separate:
        if key is value and query is key:
            return linear(query, w, b).chunk(3, -1)
        if key is value:
            w_q, w_kv = w.split([E, 2 * E])
            b_q, b_kv = (None, None) if b is None else b.split([E, 2 * E])
            kv = linear(key, w_kv, b_kv).chunk(2, -1)
            return linear(query, w_q, b_q), kv[0], kv[1]
        ws, bs = w.chunk(3), (None,) * 3 if b is None else b.chunk(3)
        return tuple(linear(x, wi, bi) for x, wi, bi in zip((query, key, value), ws, bs))
    wq, wk, wv = w
    bs = (None,) * 3 if b is None else b.chunk(3)
    for what, x, wi, bi in zip(("query", "key", "value"), (query, key, value), w, bs):
        if tuple(wi.shape) != (E, x.shape[-1]):
            raise AttentionArgError(f"{name}: expecting {what} weights shape of "
                                    f"{(E, x.shape[-1])}, but got {tuple(wi.shape)}")
        if bi is not None and tuple(bi.shape) != (E,):
            raise AttentionArgError(f"{name}: expecting {what} bias shape of {(E,)}, but got "
                                    f"{tuple(bi.shape)}")
    return linear(query, wq, bs[0]), linear(key, wk, bs[1]), linear(value, wv, bs[2])


def _check_attn_mask(name, attn_mask, bsz, num_heads, tgt_len, src_len):
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"{name}: The shape of the 2D attn_mask is "
                               f"{tuple(attn_mask.shape)}, but should be {(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"{name}: The shape of the 3D attn_mask is "
                               f"{tuple(attn_mask.shape)}, but should be "
                               f"{(bsz * num_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"{name}: attn_mask's dimension {attn_mask.ndim} is not supported")


def _heads(name, x, static, bsz, num_heads, head_dim, what):
    """(S, N, E) -> (N * H, S, head_dim), or the given static key/value."""
    if static is None:
        return x.reshape(x.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if static.shape[0] != bsz * num_heads:
        raise AttentionArgError(f"{name}: expecting static_{what}.size(0) of "
                                f"{bsz * num_heads}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AttentionArgError(f"{name}: expecting static_{what}.size(2) of {head_dim}, but "
                                f"got {static.shape[2]}")
    return static


def _add_kv_slots(name, k, v, bias_k, bias_v, static_k, static_v, attn_mask, kpm, bsz):
    """Append the learned bias_k/bias_v as one more key/value position (masks padded)."""
    if bias_k is None and bias_v is None:
        return k, v, attn_mask, kpm
    if bias_k is None or bias_v is None:
        which = "bias_k" if bias_v is None else "bias_v"
        other = "bias_v" if bias_v is None else "bias_k"
        raise AttentionArgError(f"{name}: {which} is set but {other} is None")
    if static_k is not None or static_v is not None:
        what = "key" if static_k is not None else "value"
        raise AttentionArgError(f"{name}: bias cannot be added to static {what}.")
    k = cat([k, bias_k.repeat(1, bsz, 1)])
    v = cat([v, bias_v.repeat(1, bsz, 1)])
    return k, v, _pad1(attn_mask), _pad1(kpm)


def _pad1(mask):
    return None if mask is None else pad(mask, (0, 1))


def _merge_padding(name, attn_mask, kpm, bsz, num_heads, src_len):
    """Fold the (N, S) key padding mask into the attention mask as (N * H, 1, S)."""
    if kpm is None:
        return attn_mask
    if kpm.shape[0] != bsz:
        raise AttentionArgError(f"{name}: Expected key_padded_mask.shape[0] to be {bsz}, but "
                                f"got {kpm.shape[0]}")
    if kpm.shape[1] != src_len:
        raise AttentionArgError(f"{name}: Expected key_padded_mask.shape[1] to be {src_len}, "
                                f"but got {kpm.shape[1]}")
    kpm = kpm.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1).reshape(
        bsz * num_heads, 1, src_len)
    return kpm if attn_mask is None else attn_mask + kpm


def _attend(q, k, v, attn_mask, dropout_p, is_causal, need_weights, bsz, num_heads):
    """(N*H, L, d) heads -> ((L, N, E) before the output projection, weights or None)."""
    tgt_len, head_dim, src_len = q.shape[1], q.shape[2], k.shape[1]
    if need_weights:
        if is_causal and attn_mask is None:
            raise AttentionArgError("FIXME: is_causal not implemented for need_weights")
        out, weights = Attention.apply(q, k, v, attn_mask, 1.0 / math.sqrt(head_dim), False,
                                       float(dropout_p), False, True)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, num_heads * head_dim)
        return out, weights.view(bsz, num_heads, tgt_len, src_len)
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    return out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, num_heads * head_dim), None


def _prepare_masks(name, query, key_padding_mask, attn_mask, is_causal, need_weights):
    """Canonical float masks and the effective is_causal, as torch decides them."""
    key_padding_mask = canonical_mask(name, key_padding_mask, "key_padding_mask", attn_mask,
                                      "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{name}: Need attn_mask if specifying the is_causal hint. You may "
                           f"use the Transformer module method `generate_square_subsequent_mask`"
                           f" to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        return key_padding_mask, None, True  # SDPA's own causal mask replaces attn_mask
    attn_mask = canonical_mask(name, attn_mask, "attn_mask", None, "", query.dtype, False)
    return key_padding_mask, attn_mask, is_causal and key_padding_mask is None


def _check_dims(name, query, key, value, embed_dim_to_check, num_heads, separate):
    embed_dim = query.shape[2]
    if embed_dim != embed_dim_to_check:
        raise AttentionArgError(f"{name}: was expecting embedding dimension of "
                                f"{embed_dim_to_check}, but got {embed_dim}")
    if embed_dim % num_heads:
        raise AttentionArgError(f"{name}: embed_dim {embed_dim} not divisible by num_heads "
                                f"{num_heads}")
    if separate and tuple(key.shape[:2]) != tuple(value.shape[:2]):
        raise AttentionArgError(f"{name}: key's sequence and batch dims {tuple(key.shape[:2])} "
                                f"do not match value's {tuple(value.shape[:2])}")
    if not separate and tuple(key.shape) != tuple(value.shape):
        raise AttentionArgError(f"{name}: key shape {tuple(key.shape)} does not match value "
                                f"shape {tuple(value.shape)}")
    return embed_dim // num_heads


def mha_forward(name, query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                out_proj_bias, training, key_padding_mask, need_weights, attn_mask,
                use_separate_proj_weight, proj_weights, static_k, static_v,
                average_attn_weights, is_causal):
    """The body of ``multi_head_attention_forward``; ``name`` prefixes every error."""
    batched = _shape_check(name, query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = (x.unsqueeze(1) for x in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz = query.shape[0], query.shape[1]
    key_padding_mask, attn_mask, is_causal = _prepare_masks(
        name, query, key_padding_mask, attn_mask, is_causal, need_weights)
    head_dim = _check_dims(name, query, key, value, embed_dim_to_check, num_heads,
                           use_separate_proj_weight)
    if use_separate_proj_weight:
        for what, w in zip("qkv", proj_weights):
            if w is None:
                raise AttentionArgError(f"{name}: use_separate_proj_weight is True but "
                                        f"{what}_proj_weight is None")
    elif in_proj_weight is None:
        raise AttentionArgError(f"{name}: use_separate_proj_weight is False but in_proj_weight "
                                f"is None")
    w = proj_weights if use_separate_proj_weight else in_proj_weight
    q, k, v = _in_projection(name, query, key, value, w, in_proj_bias,
                             use_separate_proj_weight)
    if attn_mask is not None:
        attn_mask = _check_attn_mask(name, attn_mask, bsz, num_heads, tgt_len, key.shape[0])
    k, v, attn_mask, key_padding_mask = _add_kv_slots(
        name, k, v, bias_k, bias_v, static_k, static_v, attn_mask, key_padding_mask, bsz)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(name, k, static_k, bsz, num_heads, head_dim, "k")
    v = _heads(name, v, static_v, bsz, num_heads, head_dim, "v")
    if add_zero_attn:
        k = cat([k, zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype, device=k.device)], 1)
        v = cat([v, zeros(bsz * num_heads, 1, head_dim, dtype=v.dtype, device=v.device)], 1)
        attn_mask, key_padding_mask = _pad1(attn_mask), _pad1(key_padding_mask)
    attn_mask = _merge_padding(name, attn_mask, key_padding_mask, bsz, num_heads, k.shape[1])
    out, weights = _attend(q, k, v, attn_mask, dropout_p if training else 0.0, is_causal,
                           need_weights, bsz, num_heads)
    out = linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, -1)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762), torch's
    functional form of ``nn.MultiheadAttention`` (sequence-first inputs).

    Args:
        query, key, value: (L, N, E), (S, N, Ek), (S, N, Ev); or unbatched (L, E), ...
        embed_dim_to_check: E, checked against the query.
        num_heads: number of heads (must divide E).
        in_proj_weight, in_proj_bias: packed (3E, E) projection and (3E,) bias.
        bias_k, bias_v: (1, 1, E) learned key/value appended as an extra position, or None.
        add_zero_attn: append a zero key/value position.
        dropout_p: dropout on the attention weights (only when ``training``).
        out_proj_weight, out_proj_bias: the output projection.
        training: apply dropout.
        key_padding_mask: (N, S) bool (True = ignore) or float (added).
        need_weights: also return the attention weights (else None, and SDPA is used).
        attn_mask: (L, S) or (N * num_heads, L, S), bool (True = not allowed) or float (added).
        use_separate_proj_weight: use q/k/v_proj_weight instead of ``in_proj_weight``.
        q_proj_weight, k_proj_weight, v_proj_weight: separate projections (E, E/Ek/Ev).
        static_k, static_v: (N * num_heads, S, E / num_heads) ready keys/values.
        average_attn_weights: average the returned weights over heads.
        is_causal: hint that ``attn_mask`` is the causal mask.

    Returns: (output (L, N, E), weights (N, L, S) or (N, num_heads, L, S), or None).

    Raises:
        AttentionArgError: (an AssertionError and ValueError) bad shapes or mask dtypes.
        RuntimeError: an attn_mask of the wrong shape; is_causal without attn_mask.

    Example:
        >>> import ganglion
        >>> x = ganglion.randn(4, 8)  # unbatched (L, E)
        >>> out, w = multi_head_attention_forward(
        ...     x, x, x, 8, 2, ganglion.randn(24, 8), None, None, None, False, 0.0,
        ...     ganglion.randn(8, 8), None, need_weights=False)
        >>> out.shape, w
        (ganglion.Size([4, 8]), None)
    """
    return mha_forward("multi_head_attention_forward", query, key, value, embed_dim_to_check,
                       num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                       dropout_p, out_proj_weight, out_proj_bias, training, key_padding_mask,
                       need_weights, attn_mask, use_separate_proj_weight,
                       (q_proj_weight, k_proj_weight, v_proj_weight), static_k, static_v,
                       average_attn_weights, is_causal)
