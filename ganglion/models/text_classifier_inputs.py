"""Argument and input checks shared by the text classifiers: a batch of token ids with its
attention mask becomes a bool mask and the per-sequence lengths, or a clear error naming the
model.

Example:
    >>> import ganglion
    >>> ids = ganglion.tensor([[5, 6, 0], [7, 0, 0]])
    >>> mask, lengths = check_token_batch("Model", ids, None, vocab_size=10, padding_idx=0)
    >>> mask.tolist(), lengths.tolist()
    ([[True, True, False], [True, False, False]], [2, 1])
"""
from __future__ import annotations

import numpy as np

from ganglion.tensor import Tensor

__all__ = ["check_token_batch", "check_positive_int", "check_choice", "check_dropout"]


def check_positive_int(model: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{model}: {name} must be a positive int, got {v!r}")


def check_choice(model: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{model}: {name} must be one of {list(choices)}, got {value!r}")


def check_dropout(model: str, dropout) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
            0.0 <= dropout < 1.0):
        raise ValueError(f"{model}: dropout must be a probability in [0, 1), got {dropout!r}")


def _check_ids(model: str, input_ids, vocab_size: int) -> None:
    if not isinstance(input_ids, Tensor):
        raise TypeError(f"{model}: input_ids must be a ganglion Tensor of token ids, got "
                        f"{type(input_ids).__name__}; wrap it with ganglion.tensor(ids)")
    if input_ids.dtype.is_floating_point or str(input_ids.dtype) == "ganglion.bool":
        raise TypeError(f"{model}: input_ids must hold integer token ids (int64), got dtype "
                        f"{input_ids.dtype}; convert with input_ids.long()")
    if input_ids.ndim != 2 or input_ids.shape[1] == 0:
        raise ValueError(f"{model}: input_ids must have shape (N, L) (batch, tokens) with "
                         f"L >= 1, got {tuple(input_ids.shape)}; for one sequence use "
                         f"input_ids.unsqueeze(0)")
    lo, hi = int(input_ids.min()), int(input_ids.max())
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{model}: token id {bad} is outside [0, vocab_size={vocab_size}); "
                         f"build the model with the tokenizer's vocab_size")


def _as_mask(model: str, input_ids, attention_mask, padding_idx):
    if attention_mask is None:
        if padding_idx is None:
            return input_ids == input_ids  # every position is a token
        return input_ids != padding_idx
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"{model}: attention_mask must be a Tensor (1 = token, 0 = padding), "
                        f"got {type(attention_mask).__name__}")
    if tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(f"{model}: attention_mask has shape {tuple(attention_mask.shape)} but "
                         f"input_ids has {tuple(input_ids.shape)}; they must match")
    if attention_mask.dtype.is_floating_point:
        raise TypeError(f"{model}: attention_mask must be bool or integer (1 = token, "
                        f"0 = padding), got dtype {attention_mask.dtype}")
    if str(attention_mask.dtype) == "ganglion.bool":
        return attention_mask
    if int(attention_mask.min()) < 0 or int(attention_mask.max()) > 1:
        raise ValueError(f"{model}: attention_mask must hold only 0 and 1, got values in "
                         f"[{int(attention_mask.min())}, {int(attention_mask.max())}]")
    return attention_mask != 0


def check_token_batch(model: str, input_ids, attention_mask, vocab_size: int, padding_idx,
                      right_padded: bool = False):
    """Validate a ``(N, L)`` batch of token ids and its mask.

    Args:
        model: the model's name, for the messages.
        input_ids: int tensor (N, L).
        attention_mask: None (then positions equal to ``padding_idx`` are padding), or a bool
            / 0-1 integer tensor (N, L), True / 1 on tokens.
        vocab_size: ids must lie in [0, vocab_size).
        padding_idx: the padding id, or None.
        right_padded: require every row's tokens to come first (packed recurrent layers
            need it).

    Returns:
        (mask, lengths): a bool tensor (N, L) and an int64 NumPy array (N,).

    Raises:
        TypeError, ValueError: naming ``model``, the argument and what was expected.
    """
    _check_ids(model, input_ids, vocab_size)
    mask = _as_mask(model, input_ids, attention_mask, padding_idx)
    m = mask.cpu().numpy()  # lengths drive packing, which indexes on the host
    lengths = m.sum(1).astype(np.int64)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ValueError(f"{model}: sequence(s) {empty[:5].tolist()} of the batch have no "
                         f"tokens (all padding); drop them or give each at least one token")
    if right_padded and not (m == (np.arange(m.shape[1]) < lengths[:, None])).all():
        raise ValueError(f"{model}: padding must come after the tokens of each row (right "
                         f"padding, the tokenizer's padding_side='right'); got a mask with "
                         f"padding before or between tokens")
    return mask, lengths
