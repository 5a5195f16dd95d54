"""Positional encodings (ganglion's own: torch has none): ``SinusoidalPositionalEncoding``,
``LearnedPositionalEmbedding`` and ``RotaryEmbedding``.

The first two add a (max_len, d_model) table to the input; rotary embeddings rotate pairs of
query/key features by position-dependent angles, so that q_m . k_n depends only on m - n.

Example:
    >>> import ganglion
    >>> pe = SinusoidalPositionalEncoding(16, max_len=100)
    >>> pe(ganglion.zeros(10, 2, 16)).shape
    ganglion.Size([10, 2, 16])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.backend.dtypes import float64
from ganglion.nn import init
from ganglion.nn.layers.dropout import Dropout
from ganglion.nn.module import Module
from ganglion.nn.parameter import Parameter
from ganglion.ops.creation import arange, empty, from_numpy
from ganglion.ops.movement import cat

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding", "RotaryEmbedding"]


def _check_size(layer, **sizes):
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{layer}: {name} must be a positive int, got {v!r}")


def _seq_dim(layer, x, batch_first):
    """The sequence dim of (S, N, E) / (N, S, E) / unbatched (S, E) inputs."""
    if x.ndim not in (2, 3):
        raise ValueError(f"{layer}: expected a (S, N, E), (N, S, E) or (S, E) input, got shape "
                         f"{tuple(x.shape)}")
    return 1 if batch_first and x.ndim == 3 else 0


def _add_table(layer, x, table, batch_first, max_len):
    """x + table[:S], broadcast over the batch dim; a too-long sequence raises."""
    d = _seq_dim(layer, x, batch_first)
    S = x.shape[d]
    if S > max_len:
        raise ValueError(f"{layer}: sequence length {S} exceeds max_len={max_len}; build the "
                         f"layer with max_len >= {S}")
    if x.shape[-1] != table.shape[-1]:
        raise ValueError(f"{layer}: input has {x.shape[-1]} features (shape {tuple(x.shape)}) "
                         f"but d_model={table.shape[-1]}")
    pe = table[:S]
    if x.ndim == 3 and d == 0:
        pe = pe.unsqueeze(1)  # (S, 1, E) over (S, N, E)
    return x + pe.to(x.dtype)


def sinusoid_table(max_len, d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)), in
    float64 (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, section 3.5)."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div[: d_model // 2])  # odd d_model: one cos column fewer
    return pe


class SinusoidalPositionalEncoding(Module):
    """Add the fixed sinusoidal position table of Vaswani et al. (2017), then dropout.

    Args:
        d_model: feature size E.
        max_len: longest sequence supported. Default: 5000.
        dropout: dropout probability after the addition. Default: 0.0.
        batch_first: inputs are (N, S, E) instead of (S, N, E); (S, E) works either way.

    The table is the non-persistent buffer ``pe`` (max_len, d_model) (float32 unless the
    module is converted), so state_dicts don't carry it.

    Raises:
        ValueError: a sequence longer than ``max_len`` or a wrong feature size.
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False):
        super().__init__()
        _check_size("SinusoidalPositionalEncoding", d_model=d_model, max_len=max_len)
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        table = sinusoid_table(max_len, d_model).astype(np.float32)
        self.register_buffer("pe", from_numpy(table), persistent=False)

    def forward(self, x):
        x = _add_table("SinusoidalPositionalEncoding", x, self.pe, self.batch_first,
                       self.max_len)
        return self.dropout(x)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(Module):
    """Add a learned position table (BERT, GPT-2): x + weight[:S].

    Args:
        max_len: number of positions.
        d_model: feature size E.
        batch_first: inputs are (N, S, E) instead of (S, N, E); (S, E) works either way.

    ``weight`` (max_len, d_model) starts from N(0, 0.02^2), GPT-2's and BERT's choice.

    Example:
        >>> import ganglion
        >>> LearnedPositionalEmbedding(8, 4, batch_first=True)(ganglion.zeros(2, 5, 4)).shape
        ganglion.Size([2, 5, 4])
    """

    def __init__(self, max_len, d_model, batch_first=False, device=None, dtype=None):
        super().__init__()
        _check_size("LearnedPositionalEmbedding", max_len=max_len, d_model=d_model)
        self.max_len, self.d_model, self.batch_first = max_len, d_model, batch_first
        self.weight = Parameter(empty(max_len, d_model, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x):
        return _add_table("LearnedPositionalEmbedding", x, self.weight, self.batch_first,
                          self.max_len)

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.d_model}, batch_first={self.batch_first}"


def _inv_freq(dim, base):
    """base^(-2i/dim) for i < dim / 2, in float64."""
    return 1.0 / (float(base) ** (np.arange(0, dim, 2, dtype=np.float64) / dim))


def rotate_half(x):
    """(x1, x2) -> (-x2, x1) over the two halves of the last dim (GPT-NeoX / LLaMA)."""
    h = x.shape[-1] // 2
    return cat([-x[..., h:], x[..., :h]], dim=-1)


class RotaryEmbedding(Module):
    """Rotary position embedding (RoFormer, Su et al. 2021, https://arxiv.org/abs/2104.09864)
    in the rotate-half layout of GPT-NeoX and LLaMA: feature i is paired with i + dim/2 and
    rotated by position * base^(-2i/dim).

    Args:
        dim: number of rotated features (even); inputs may have more (the rest pass through,
            GPT-NeoX's partial rotary).
        base: the frequency base. Default: 10000.

    The frequencies are the non-persistent buffer ``inv_freq`` (dim / 2,).

    Example:
        >>> import ganglion
        >>> rope = RotaryEmbedding(8)
        >>> q, k = ganglion.randn(2, 4, 6, 8), ganglion.randn(2, 4, 6, 8)
        >>> q2, k2 = rope.apply_rotary(q, k)
        >>> q2.shape
        ganglion.Size([2, 4, 6, 8])
    """

    def __init__(self, dim, base=10000):
        super().__init__()
        _check_size("RotaryEmbedding", dim=dim)
        if dim % 2:
            raise ValueError(f"RotaryEmbedding: dim must be even (features are rotated in "
                             f"pairs), got dim={dim}")
        self.dim, self.base = dim, base
        inv = _inv_freq(dim, base).astype(np.float32)
        self.register_buffer("inv_freq", from_numpy(inv), persistent=False)

    def _cos_sin(self, positions, seq_len, dtype):
        if positions is None:
            positions = arange(seq_len)
        inv = self.inv_freq
        if dtype == float64:  # float64 inputs get float64 frequencies, not float32-rounded ones
            inv = from_numpy(_inv_freq(self.dim, self.base))
        ang = positions.to(inv.dtype).unsqueeze(-1) * inv  # (..., S, dim / 2)
        ang = cat([ang, ang], dim=-1)
        return ang.cos().to(dtype), ang.sin().to(dtype)

    def _rotate(self, x, cos, sin):
        if x.shape[-1] < self.dim:
            raise ValueError(f"RotaryEmbedding: input has {x.shape[-1]} features (shape "
                             f"{tuple(x.shape)}) but dim={self.dim}")
        if x.shape[-1] == self.dim:
            return x * cos + rotate_half(x) * sin
        xr, rest = x[..., :self.dim], x[..., self.dim:]
        return cat([xr * cos + rotate_half(xr) * sin, rest], dim=-1)

    def apply_rotary(self, q, k, positions=None):
        """Rotate queries and keys (..., S, features) by their positions.

        Args:
            q, k: (..., S, >= dim) tensors (e.g. (N, heads, S, head_dim)); q and k may have
                different lengths when ``positions`` is None (each uses 0..len-1).
            positions: integer positions broadcastable to (..., S), e.g. (S,) offsets for a
                KV cache. Default: 0, 1, ..., S - 1.

        Returns:
            (q_rotated, k_rotated), shapes unchanged.
        """
        out = []
        for x in (q, k):
            if x.ndim < 2:
                raise ValueError(f"RotaryEmbedding: expected (..., S, features) inputs, got "
                                 f"shape {tuple(x.shape)}")
            cos, sin = self._cos_sin(positions, x.shape[-2], x.dtype)
            out.append(self._rotate(x, cos, sin))
        return out[0], out[1]

    def forward(self, q, k, positions=None):
        return self.apply_rotary(q, k, positions)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base}"
