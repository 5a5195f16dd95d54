"""Attention over encoder states for recurrent encoder-decoders: ``BahdanauAttention``
(additive, Bahdanau et al. 2015, https://arxiv.org/abs/1409.0473) and ``LuongAttention``
(multiplicative "general" and "dot" scores, Luong et al. 2015,
https://arxiv.org/abs/1508.04025).

Both split the work in two: ``keys(memory)`` projects the encoder states once per source
batch, ``forward(query, keys, memory, padding_mask)`` scores T decoder queries against them,
masks source padding, and returns the contexts and the attention weights.

Example:
    >>> import ganglion
    >>> attn = BahdanauAttention(query_size=8, key_size=6, attention_size=5)
    >>> memory = ganglion.randn(2, 4, 6)                        # (N, S, key_size)
    >>> pad = ganglion.tensor([[False] * 4, [False, False, True, True]])
    >>> context, weights = attn(ganglion.randn(2, 3, 8), attn.keys(memory), memory, pad)
    >>> context.shape, weights[1, 0, 2:].tolist()
    (ganglion.Size([2, 3, 6]), [0.0, 0.0])
"""
from __future__ import annotations

import ganglion.nn.functional as F
from ganglion.nn.layers.linear import Linear
from ganglion.nn.module import Module

__all__ = ["BahdanauAttention", "LuongAttention"]


def _attend(scores, memory, padding_mask):
    """Softmax over the source positions (padding excluded), then the weighted memory."""
    if padding_mask is not None:
        scores = scores.masked_fill(padding_mask[:, None, :], float("-inf"))
    weights = F.softmax(scores, dim=-1)  # (N, T, S)
    return weights @ memory, weights


def _check_query(layer, query, size):
    if query.ndim != 3 or query.shape[-1] != size:
        raise ValueError(f"{layer}: query must be (N, T, {size}), got shape "
                         f"{tuple(query.shape)}")


class BahdanauAttention(Module):
    """Additive attention: ``score(s, h) = v^T tanh(W s + U h)``.

    Args:
        query_size: decoder state size (s).
        key_size: encoder state size (h).
        attention_size: the hidden size of the score MLP.

    Shape:
        query (N, T, query_size), memory (N, S, key_size), padding_mask (N, S) bool (True at
        padding) -> context (N, T, key_size), weights (N, T, S).
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size
        self.query_proj = Linear(query_size, attention_size, bias=False)
        self.key_proj = Linear(key_size, attention_size)
        self.v = Linear(attention_size, 1, bias=False)

    def keys(self, memory):
        """U h for every encoder state: (N, S, attention_size)."""
        return self.key_proj(memory)

    def forward(self, query, keys, memory, padding_mask=None):
        _check_query("BahdanauAttention", query, self.query_size)
        # (N, T, 1, A) + (N, 1, S, A): every query against every key in one broadcast.
        hidden = (self.query_proj(query)[:, :, None, :] + keys[:, None, :, :]).tanh()
        return _attend(self.v(hidden).squeeze(-1), memory, padding_mask)


class LuongAttention(Module):
    """Multiplicative attention: ``score(h_t, h_s) = h_t^T W_a h_s`` ("general") or
    ``h_t^T h_s`` ("dot", which needs equal sizes).

    Args:
        query_size: decoder state size.
        key_size: encoder state size.
        score: ``"general"`` or ``"dot"``.

    Shape: as ``BahdanauAttention``.

    Raises:
        ValueError: an unknown score, or "dot" with different sizes.
    """

    def __init__(self, query_size: int, key_size: int, score: str = "general"):
        super().__init__()
        if score not in ("general", "dot"):
            raise ValueError(f"LuongAttention: score must be 'general' or 'dot', got {score!r}")
        if score == "dot" and query_size != key_size:
            raise ValueError(f"LuongAttention: the 'dot' score needs query_size == key_size, "
                             f"got {query_size} and {key_size}; use score='general' (or a "
                             f"unidirectional encoder of the decoder's size)")
        self.query_size, self.key_size, self.score = query_size, key_size, score
        # W_a h_s is computed once per source (W_a maps key_size -> query_size).
        self.key_proj = Linear(key_size, query_size, bias=False) if score == "general" else None

    def keys(self, memory):
        return memory if self.key_proj is None else self.key_proj(memory)

    def forward(self, query, keys, memory, padding_mask=None):
        _check_query("LuongAttention", query, self.query_size)
        return _attend(query @ keys.transpose(1, 2), memory, padding_mask)

    def extra_repr(self) -> str:
        return f"score={self.score!r}"
