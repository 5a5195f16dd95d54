"""Packed and padded sequences, as ``torch.nn.utils.rnn``: ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pad_sequence``, ``unpad_sequence``,
``pack_sequence``, ``unpack_sequence``, ``invert_permutation``.

A ``PackedSequence`` holds the steps of variable-length sequences one after the other, time
major: ``batch_sizes[t]`` sequences (the longest first) are still running at step ``t``, and
``data`` holds their ``sum(batch_sizes)`` rows. Packing and padding are each ONE gather
(``index_select``) with an index map computed in NumPy, so gradients flow through both.

Example:
    >>> import ganglion
    >>> from ganglion.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> p = pack_sequence([ganglion.tensor([1, 2, 3]), ganglion.tensor([4, 5])])
    >>> p.data, p.batch_sizes
    (tensor([1, 4, 2, 5, 3]), tensor([2, 2, 1]))
    >>> pad_packed_sequence(p, batch_first=True)
    (tensor([[1, 2, 3],
            [4, 5, 0]]), tensor([3, 2]))
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ganglion.ops.creation import full, tensor
from ganglion.ops.movement_join import cat
from ganglion.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The data and ``batch_sizes`` of a packed batch of variable-length sequences.

    Made by :func:`pack_padded_sequence` or :func:`pack_sequence`, accepted by ``nn.RNN``,
    ``nn.LSTM`` and ``nn.GRU``. ``sorted_indices`` (how the batch was sorted by decreasing
    length) and its inverse ``unsorted_indices`` are None when the input was already sorted.

    Example:
        >>> import ganglion
        >>> p = PackedSequence(ganglion.ones(3, 2), ganglion.tensor([2, 1]))
        >>> p.batch_sizes, p.sorted_indices
        (tensor([2, 1]), None)
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), ...) as torch allows
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: pass (data, batch_sizes), or data and "
                                "batch_sizes as two arguments.")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)`` (dtype and/or device); the index tensors follow the device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(device=data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return type(self)(self.data.cuda(*args, **kwargs), self.batch_sizes,
                          self.sorted_indices, self.unsorted_indices)

    def pin_memory(self):
        return self

    def double(self):
        return self.to(dtype=_dtypes().float64)

    def float(self):
        return self.to(dtype=_dtypes().float32)

    def half(self):
        return self.to(dtype=_dtypes().float16)

    def long(self):
        return self.to(dtype=_dtypes().int64)

    def int(self):
        return self.to(dtype=_dtypes().int32)

    def short(self):
        return self.to(dtype=_dtypes().int16)

    def char(self):
        return self.to(dtype=_dtypes().int8)

    def byte(self):
        return self.to(dtype=_dtypes().uint8)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _dtypes():
    from ganglion.backend import dtypes  # only the conversions need it

    return dtypes


def _ints(t):
    """A Tensor or sequence of ints as a 1-D int64 NumPy array."""
    a = t.array if isinstance(t, Tensor) else t
    return np.asarray(a, dtype=np.int64).reshape(-1)


def _long(a):
    return tensor(np.ascontiguousarray(a, dtype=np.int64))


def invert_permutation(permutation):
    """The inverse of a permutation (None stays None).

    Example:
        >>> import ganglion
        >>> invert_permutation(ganglion.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    p = _ints(permutation)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return _long(inv)


def _batch_sizes(lengths):
    """batch_sizes[t] = how many of the (decreasing) lengths exceed t."""
    steps = np.arange(int(lengths.max()) if lengths.size else 0)
    return (lengths[None, :] > steps[:, None]).sum(1)


def _check_lengths(input, lengths, batch_first, enforce_sorted):
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have at least 2 dimensions "
                         f"((T, B, *), or (B, T, *) with batch_first), got shape "
                         f"{tuple(input.shape)}")
    T, B = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={B})")
    if enforce_sorted and np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lengths.size and lengths.max() > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({int(lengths.max())}) exceeds the "
                           f"padded input's sequence length {T} (input shape "
                           f"{tuple(input.shape)}, batch_first={batch_first}).")
    return T, B


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given ``lengths`` into a :class:`PackedSequence`.

    Args:
        input: padded batch.
        lengths: length of each sequence (list or CPU int tensor).
        batch_first: the input is (B, T, *).
        enforce_sorted: the lengths must be decreasing; with False the batch is sorted here
            (and ``sorted_indices`` records how).

    Raises:
        RuntimeError: unsorted lengths with ``enforce_sorted``, a length <= 0 or longer than
            the input, or as many lengths as the batch has sequences.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]])
        >>> p = pack_padded_sequence(x, [2, 1, 3], batch_first=True, enforce_sorted=False)
        >>> p.data, p.batch_sizes, p.sorted_indices
        (tensor([4, 1, 3, 5, 2, 6]), tensor([3, 2, 1]), tensor([2, 0, 1]))
    """
    lengths = _ints(lengths)
    T, B = _check_lengths(input, lengths, batch_first, enforce_sorted)
    order = None
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")  # decreasing; ties keep the batch order
        lengths = lengths[order]
    batch_sizes = _batch_sizes(lengths)
    # the packed rows are the (t, b) with b < batch_sizes[t], in time-major order
    t_idx, b_idx = np.nonzero(np.arange(B)[None, :] < batch_sizes[:, None])
    if order is not None:
        b_idx = order[b_idx]
    flat = b_idx * T + t_idx if batch_first else t_idx * B + b_idx
    rows = input.reshape((T * B,) + tuple(input.shape[2:]))
    data = rows.index_select(0, _long(flat))
    sorted_indices = None if order is None else _long(order)
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def _gather_padded(rows, index, shape, padding_value):
    """rows[index] with index == len(rows) meaning padding: ONE index_select on the rows plus
    a padding row (gradients flow to ``rows``)."""
    pad = full((1,) + tuple(rows.shape[1:]), padding_value, dtype=rows.dtype,
               device=rows.device)
    ext = cat([rows, pad], 0)
    out = ext.index_select(0, _long(index.reshape(-1)))
    return out.reshape(tuple(shape) + tuple(rows.shape[1:]))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo :func:`pack_padded_sequence`: returns (padded, lengths), the batch in its
    original order, padded with ``padding_value`` to the longest length (or ``total_length``).

    Raises:
        ValueError: ``total_length`` shorter than the longest sequence.

    Example:
        >>> import ganglion
        >>> p = pack_padded_sequence(ganglion.ones(3, 2, 4), [3, 1])
        >>> padded, lengths = pad_packed_sequence(p, total_length=5)
        >>> padded.shape, lengths
        (ganglion.Size([5, 2, 4]), tensor([3, 1]))
    """
    bs = _ints(sequence.batch_sizes)
    T = bs.size
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and "
                             f"max sequence length being {T}")
        T = total_length
    B = int(bs[0]) if bs.size else 0
    data = sequence.data
    n = data.shape[0]
    active = np.arange(B)[None, :] < np.pad(bs, (0, T - bs.size))[:, None]  # (T, B)
    index = np.full((T, B), n, np.int64)
    index[active] = np.arange(n)
    lengths = active.sum(0)
    if sequence.unsorted_indices is not None:
        unsorted = _ints(sequence.unsorted_indices)
        index, lengths = index[:, unsorted], lengths[unsorted]
    if batch_first:
        index = index.T
    return _gather_padded(data, index, index.shape, padding_value), _long(lengths)


def _check_sequences(sequences):
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    elif not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    rest = tuple(sequences[0].shape[1:])
    for k, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim == 0:
            got = "a 0-d Tensor" if isinstance(s, Tensor) else type(s).__name__
            raise TypeError(f"pad_sequence: sequence {k} must be a Tensor of shape (L, *), got "
                            f"{got}")
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: sequence {k} has shape {tuple(s.shape)}; all "
                               f"sequences must have the same trailing dimensions {rest} as "
                               f"sequence 0 ({tuple(sequences[0].shape)}).")
    return sequences


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into one (T, B, *) tensor (or (B, T, *) with
    ``batch_first``), padded with ``padding_value`` on ``padding_side`` ('right' or 'left').

    Example:
        >>> import ganglion
        >>> pad_sequence([ganglion.tensor([1, 2, 3]), ganglion.tensor([4, 5])],
        ...              batch_first=True, padding_side="left")
        tensor([[1, 2, 3],
                [0, 4, 5]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    sequences = _check_sequences(sequences)
    lengths = np.array([s.shape[0] for s in sequences], np.int64)
    T, n = int(lengths.max()), int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(T)[:, None]
    pos = t - (T - lengths[None, :]) if padding_side == "left" else t + 0 * lengths[None, :]
    index = np.where((pos >= 0) & (pos < lengths[None, :]), starts[None, :] + pos, n)
    if batch_first:
        index = index.T
    return _gather_padded(cat(list(sequences), 0), index, index.shape, padding_value)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded (T, B, *) batch (or (B, T, *)) back into a list of (L_i, *) tensors.

    Example:
        >>> import ganglion
        >>> parts = unpad_sequence(ganglion.zeros(4, 2, 3), ganglion.tensor([4, 2]))
        >>> [p.shape[0] for p in parts]
        [4, 2]
    """
    padded = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [padded[b, :int(n)] for b, n in enumerate(_ints(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (decreasing lengths unless ``enforce_sorted=False``).

    Example:
        >>> import ganglion
        >>> pack_sequence([ganglion.tensor([1, 2]), ganglion.tensor([3, 4, 5])],
        ...               enforce_sorted=False).data
        tensor([3, 1, 4, 2, 5])
    """
    sequences = _check_sequences(sequences)
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Unpack a :class:`PackedSequence` into the list of its sequences (original order).

    Example:
        >>> import ganglion
        >>> unpack_sequence(pack_sequence([ganglion.tensor([1, 2]), ganglion.tensor([3])]))
        [tensor([1, 2]), tensor([3])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
