"""Helpers shared by the tokenizers of ``ganglion.data.text``: the padding argument, packing
ragged id lists into padded int64 arrays (vectorized, no loop over rows), and the output
dict in the requested tensor type.

Example:
    >>> out = pack_ids([[5, 6, 7], [8]], pad_id=0, padding="longest", max_length=None,
    ...                return_tensors="np", op="encode_batch")
    >>> out["input_ids"].tolist(), out["attention_mask"].tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
"""
from __future__ import annotations

import numpy as np

__all__ = ["padding_strategy", "pack_ids", "pack_flat", "as_output", "as_id_array",
           "as_id_rows", "check_return_tensors", "convert_ids"]

_RETURN_TENSORS = ("ganglion", "np", None)


def padding_strategy(padding, max_length, op: str):
    """Normalize Hugging Face's ``padding`` argument to None, ``"longest"`` or
    ``"max_length"``; ``"max_length"`` needs a length."""
    if padding is True or padding == "longest":
        return "longest"
    if padding is False or padding is None or padding == "do_not_pad":
        return None
    if padding == "max_length":
        if max_length is None:
            raise ValueError(f"{op}: padding='max_length' needs max_length=<int> (or a "
                             f"tokenizer with model_max_length set); use padding=True to pad "
                             f"to the longest sequence of the batch")
        return "max_length"
    raise ValueError(f"{op}: padding must be True/'longest', False/'do_not_pad' or "
                     f"'max_length', got {padding!r}")


def check_return_tensors(return_tensors, op: str) -> None:
    if return_tensors not in _RETURN_TENSORS:
        raise ValueError(f"{op}: return_tensors must be 'ganglion', 'np' or None (Python "
                         f"lists), got {return_tensors!r}")


def as_output(columns: dict, return_tensors, op: str) -> dict:
    """``columns`` maps names to lists of equal-length-or-ragged int lists, or to int64
    arrays; converts them to ``return_tensors``."""
    check_return_tensors(return_tensors, op)
    out = {}
    for name, value in columns.items():
        if isinstance(value, np.ndarray):
            arr = value
        else:
            lengths = {len(row) for row in value}
            if len(lengths) > 1:
                if return_tensors is None:
                    out[name] = [list(row) for row in value]
                    continue
                raise ValueError(f"{op}: the sequences have different lengths "
                                 f"{sorted(lengths)[:2]}... and cannot form one array; pass "
                                 f"padding=True (or padding='max_length' with truncation=True "
                                 f"and max_length), or return_tensors=None for lists")
            width = lengths.pop() if value else 0
            arr = np.array(value, dtype=np.int64).reshape(len(value), width)
        out[name] = convert_ids(arr.astype(np.int64, copy=False), return_tensors)
    return out


def convert_ids(arr: np.ndarray, return_tensors):
    """An int64 array as ``return_tensors`` ('ganglion', 'np' or None: lists)."""
    if return_tensors == "np":
        return arr
    if return_tensors is None:
        return arr.tolist()
    import ganglion  # at call time: ganglion.data loads after the tensor package
    return ganglion.from_numpy(np.ascontiguousarray(arr))


def pack_ids(rows, pad_id, padding, max_length, return_tensors, op: str, **kwargs) -> dict:
    """Truncate and pad ragged id rows (lists of ints) into ``input_ids`` /
    ``attention_mask``; see ``pack_flat``."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    flat = (np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
            if len(rows) else np.zeros(0, np.int64))
    return pack_flat(flat, lengths, pad_id, padding, max_length, return_tensors, op, **kwargs)


def pack_flat(flat, lengths, pad_id, padding, max_length, return_tensors, op: str, *,
              truncation: bool = True, padding_side: str = "right",
              pad_to_multiple_of=None) -> dict:
    """Truncate and pad sequences given as one flat id array and their lengths.

    Truncation and the scatter into the padded matrix are index arithmetic on the flat
    array: no Python loop over rows.
    """
    strategy = padding_strategy(padding, max_length, op)
    flat, lengths = np.asarray(flat, np.int64), np.asarray(lengths, np.int64)
    if truncation and max_length is not None:
        within = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = flat[within < max_length]
        lengths = np.minimum(lengths, max_length)
    if strategy is None:
        ids = ([s.tolist() for s in np.split(flat, np.cumsum(lengths)[:-1])]
               if lengths.size else [])
        return as_output({"input_ids": ids, "attention_mask": [[1] * len(s) for s in ids]},
                         return_tensors, op)
    width = int(lengths.max(initial=0))
    if strategy == "max_length":
        width = max(int(max_length), width)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    if pad_id is None and (lengths < width).any():
        raise ValueError(f"{op}: padding needs a pad token but this tokenizer has none; "
                         f"build it with a pad token in special_tokens, or pass padding=False")
    positions = np.arange(width)
    if padding_side == "left":
        mask = positions >= (width - lengths)[:, None]
    else:
        mask = positions < lengths[:, None]
    ids = np.full((lengths.size, width), -1 if pad_id is None else pad_id, dtype=np.int64)
    ids[mask] = flat  # row-major order of the mask keeps each sequence in order
    return as_output({"input_ids": ids, "attention_mask": mask.astype(np.int64)},
                     return_tensors, op)


def as_id_array(ids, op: str) -> np.ndarray:
    """One sequence of token ids (a list, 1-D array or tensor) as a 1-D int64 array."""
    arr = np.asarray(ids.detach() if hasattr(ids, "detach") else ids)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iub"):
        raise ValueError(f"{op}: expected one sequence of integer token ids, got shape "
                         f"{tuple(arr.shape)} and dtype {arr.dtype}; use decode_batch for a "
                         f"batch")
    return arr.astype(np.int64, copy=False)


def as_id_rows(ids, op: str) -> list:
    """Token ids as a list of int lists, from a 2-D tensor/array or nested lists."""
    if hasattr(ids, "tolist") and not isinstance(ids, list):
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"{op}: expected a 2-D batch of token ids, got shape "
                             f"{tuple(ids.shape)}; use decode() for one sequence")
        return ids.astype(np.int64).tolist()
    return [as_id_array(row, op).tolist() for row in ids]
