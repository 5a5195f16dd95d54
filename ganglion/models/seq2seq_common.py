"""Checks and small helpers shared by the sequence-to-sequence models (``Seq2SeqGRU``,
``TransformerSeq2Seq``): token-id validation, the source padding mask, row gathering of
decoder states for beam search.

Example:
    >>> import ganglion
    >>> padding_mask("Model", ganglion.tensor([[4, 5, 0]]), None, pad_idx=0).tolist()
    [[False, False, True]]
"""
from __future__ import annotations

from ganglion.backend.dtypes import bool as bool_

__all__ = ["check_tokens", "padding_mask", "gather_rows"]


def check_tokens(op: str, tokens, name: str, vocab_size: int, max_len=None) -> None:
    """Raise a clear error unless ``tokens`` is an (N, L) integer tensor of ids in
    [0, vocab_size) with L <= max_len."""
    if tokens.ndim != 2:
        raise ValueError(f"{op}: {name} must be (N, L) token ids, got shape "
                         f"{tuple(tokens.shape)}; add a batch dimension with "
                         f"{name}.unsqueeze(0)")
    if tokens.dtype.is_floating_point or tokens.dtype == bool_:
        raise TypeError(f"{op}: {name} must hold integer token ids, got dtype {tokens.dtype}; "
                        f"convert with {name}.long()")
    if max_len is not None and tokens.shape[1] > max_len:
        raise ValueError(f"{op}: {name} has length {tokens.shape[1]} but the model supports "
                         f"max_len={max_len}; build it with a larger max_len")
    if tokens.numel():
        lo, hi = int(tokens.min()), int(tokens.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(f"{op}: {name} ids must lie in [0, {vocab_size}), got values in "
                             f"[{lo}, {hi}]; check the tokenizer's vocab_size")


def padding_mask(op: str, src, mask, pad_idx):
    """The (N, S) bool mask, True at padding: ``mask`` checked, or ``src == pad_idx``
    (None when there is no ``pad_idx``)."""
    if mask is None:
        return None if pad_idx is None else src == pad_idx
    if tuple(mask.shape) != tuple(src.shape) or mask.dtype != bool_:
        raise ValueError(f"{op}: src_key_padding_mask must be a bool tensor of src's shape "
                         f"{tuple(src.shape)} (True at padding), got {mask.dtype} of shape "
                         f"{tuple(mask.shape)}")
    return mask


def gather_rows(t, index):
    """``t[index]`` along dim 0 (the batch or batch x beam dimension)."""
    return t.index_select(0, index)
