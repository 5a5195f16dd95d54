"""``nn.MultiheadAttention`` (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762) with
torch's parameters, initialisation, state_dict keys and forward semantics.

Example:
    >>> import ganglion
    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> x = ganglion.randn(2, 5, 16)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (ganglion.Size([2, 5, 16]), ganglion.Size([2, 5, 5]))
"""
from __future__ import annotations

import numpy as np

import ganglion.nn.functional as F
from ganglion.backend import jit
from ganglion.nn import init
from ganglion.nn.layers.linear import Linear
from ganglion.nn.module import Module
from ganglion.nn.parameter import Parameter
from ganglion.ops.attention_mha import AttentionArgError, canonical_mask, mha_forward
from ganglion.ops.attention_packed import packed_self_attention, tracing
from ganglion.ops.creation import empty

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under torch's name for ``MultiheadAttention.out_proj`` (same repr)."""


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size embed_dim / num_heads, with input and output
    projections.

    Args:
        embed_dim: model dimension E (of the query and the output).
        num_heads: number of heads; must divide ``embed_dim``.
        dropout: dropout on the attention weights in training. Default: 0.0.
        bias: biases on the input and output projections. Default: True.
        add_bias_kv: learn a bias key/value appended as one more position.
        add_zero_attn: append a zero key/value position.
        kdim, vdim: key/value feature sizes (default ``embed_dim``); if either differs,
            separate ``q/k/v_proj_weight`` replace the packed ``in_proj_weight``.
        batch_first: inputs are (N, L, E) instead of (L, N, E).

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) -> output (L, N, E) and weights
        (N, L, S) (per head: (N, num_heads, L, S)); unbatched inputs drop N.

    Raises:
        ValueError: non-positive sizes; ``AttentionArgError`` (also an AssertionError, as
            torch) when ``embed_dim`` is not divisible by ``num_heads``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AttentionArgError(f"MultiheadAttention: embed_dim must be divisible by "
                                    f"num_heads, got embed_dim={embed_dim} and "
                                    f"num_heads={num_heads}")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **fk))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **fk))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **fk))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **fk))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **fk))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # torch's init: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/bias_v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``; returns (output, weights or None).

        ``key_padding_mask`` (N, S): True (or -inf) marks padding keys. ``attn_mask`` (L, S) or
        (N * num_heads, L, S): True (or -inf) marks pairs that may not attend. Weights are
        returned when ``need_weights`` (averaged over heads if ``average_attn_weights``).
        """
        name = "MultiheadAttention"
        batched = query.ndim == 3
        key_padding_mask = canonical_mask(name, key_padding_mask, "key_padding_mask",
                                          attn_mask, "attn_mask", query.dtype)
        attn_mask = canonical_mask(name, attn_mask, "attn_mask", None, "", query.dtype, False)
        if self._packed_path(query, key, value, key_padding_mask, need_weights, attn_mask,
                             is_causal):
            # torch drops attn_mask for the is_causal hint when no weights or padding mask
            # are asked for; the heads are views of the one projection, no copies
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            out = packed_self_attention(qkv, self.num_heads, self.batch_first, is_causal,
                                        self.dropout if self.training else 0.0)
            return self.out_proj(out), None
        if self.batch_first and batched:
            # keep the identities (query is key is value) that pick the packed projection
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = mha_forward(
            name, query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, self.training, key_padding_mask,
            need_weights, attn_mask, separate,
            (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight), None, None,
            average_attn_weights, is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def _packed_path(self, query, key, value, key_padding_mask, need_weights, attn_mask,
                     is_causal) -> bool:
        """Self-attention that ``packed_self_attention`` computes exactly: packed projection,
        no bias_k/v or zero slot, no padding mask or weights, no mask but the causal one,
        NumPy float32/float64 with the compiled kernels on."""
        if not (query is key and key is value and query.ndim == 3 and self._qkv_same_embed_dim
                and self.bias_k is None and not self.add_zero_attn and not need_weights
                and key_padding_mask is None and (attn_mask is None) != bool(is_causal)
                and query.shape[-1] == self.embed_dim and self.dropout < 1):
            return False
        a = query.array
        return (jit.enabled_for(a) and a.dtype in (np.float32, np.float64)
                and self.in_proj_weight.array.dtype == a.dtype and not tracing())
