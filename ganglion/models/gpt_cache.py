"""``KVCache``: the keys and values of every attention layer of a ``GPT``, kept between
generation steps so that each new token attends over the stored prefix instead of
recomputing it.

The buffers are allocated once at full length, ``(batch, n_head, block_size, head_dim)``
per layer, and each step writes its new keys/values in place: no re-allocation or copy of
the prefix per step. Attention then reads the view of the first ``length`` positions.

Example:
    >>> import ganglion
    >>> cache = KVCache(n_layer=2, batch_size=3, n_head=4, block_size=16, head_dim=8)
    >>> k = v = ganglion.randn(3, 4, 5, 8)
    >>> keys, values, mask = cache.update(0, k, v)
    >>> keys.shape, mask is None, cache.length
    (ganglion.Size([3, 4, 5, 8]), True, 0)
    >>> cache.advance(5)
    >>> cache.length
    5
"""
from __future__ import annotations

import ganglion
from ganglion.models.text_classifier_inputs import check_positive_int

__all__ = ["KVCache"]


class KVCache:
    """Preallocated key/value buffers for ``n_layer`` attention layers.

    Args:
        n_layer: number of attention layers.
        batch_size: sequences generated side by side.
        n_head: attention heads per layer.
        block_size: the most positions the cache can hold (the model's context length).
        head_dim: size of each head's keys and values.
        dtype: buffer dtype (the model's parameter dtype). Default: float32.

    Attributes:
        length: positions already stored (the position of the next token written).

    The model calls ``update(layer, k, v)`` in every layer with the new tokens' keys and
    values, then ``advance(T)`` once the whole forward has run, so all layers write the same
    positions.
    """

    def __init__(self, n_layer: int, batch_size: int, n_head: int, block_size: int,
                 head_dim: int, dtype=None) -> None:
        check_positive_int("KVCache", n_layer=n_layer, batch_size=batch_size, n_head=n_head,
                           block_size=block_size, head_dim=head_dim)
        dtype = ganglion.float32 if dtype is None else dtype
        shape = (batch_size, n_head, block_size, head_dim)
        self.keys = [ganglion.zeros(*shape, dtype=dtype) for _ in range(n_layer)]
        self.values = [ganglion.zeros(*shape, dtype=dtype) for _ in range(n_layer)]
        self.batch_size, self.block_size, self.length = batch_size, block_size, 0

    def check_room(self, batch_size: int, new_tokens: int, op: str = "KVCache") -> None:
        """Raise if ``new_tokens`` more positions do not fit or the batch size differs."""
        if batch_size != self.batch_size:
            raise ValueError(f"{op}: the kv_cache was made for batch size {self.batch_size}, "
                             f"got a batch of {batch_size}; make a new cache for this batch")
        if self.length + new_tokens > self.block_size:
            raise ValueError(f"{op}: {new_tokens} new tokens after the {self.length} the "
                             f"kv_cache holds exceed block_size={self.block_size}; crop the "
                             f"sequence to its last tokens and start a fresh cache")

    def update(self, layer: int, k, v):
        """Store ``k``/``v`` (``(B, H, T, D)``) at positions ``length .. length + T - 1`` of
        ``layer`` and return ``(keys, values, attn_mask)`` for attention over everything
        stored so far. ``attn_mask`` is None when plain causal (or no) masking fits, i.e.
        with an empty cache or a single new token; otherwise a bool mask that lets new
        token i see the prefix and new tokens up to i (a bottom-right aligned causal mask).
        """
        start, t = self.length, k.shape[2]
        end = start + t
        with ganglion.no_grad():
            self.keys[layer][:, :, start:end] = k
            self.values[layer][:, :, start:end] = v
        keys, values = self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
        mask = None
        if start > 0 and t > 1:
            mask = ganglion.arange(end)[None, :] <= (ganglion.arange(t)[:, None] + start)
        return keys, values, mask

    def advance(self, new_tokens: int) -> None:
        """Mark ``new_tokens`` more positions as stored (after every layer wrote them)."""
        self.length += new_tokens

    def __repr__(self) -> str:
        return (f"KVCache(n_layer={len(self.keys)}, batch_size={self.batch_size}, "
                f"length={self.length}, block_size={self.block_size})")
