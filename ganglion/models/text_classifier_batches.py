"""``TokenBatches``: tokenized texts of varying length served as padded batches, grouped by
length so that a batch of short phrases is not padded to the longest text of the data set.

Bucketing as torchtext's ``BucketIterator`` did it: shuffle, cut the order into pools of
``pool_batches`` batches, sort each pool by length, cut it into batches and shuffle the
batches. Each batch is padded only to its own longest sequence, with one vectorized gather.

Example:
    >>> b = TokenBatches([[5, 6, 7], [8], [9, 10]], labels=[1, 0, 1], batch_size=2)
    >>> ids, mask, y = next(iter(b))
    >>> ids.tolist(), mask.tolist(), y.tolist()
    ([[8, 0], [9, 10]], [[1, 0], [1, 1]], [0, 1])
"""
from __future__ import annotations

import numpy as np

import ganglion

__all__ = ["TokenBatches"]


class TokenBatches:
    """Padded, length-bucketed batches of token-id sequences (and their labels).

    Args:
        sequences: a list of token-id lists (e.g. ``Tokenizer.encode_batch(texts,
            padding=False, return_tensors=None)["input_ids"]``); each needs >= 1 id.
        labels: one int per sequence, or None.
        batch_size: sequences per batch.
        shuffle: a new bucketed order every pass (training); False: batches of
            length-sorted sequences in a fixed order (evaluation).
        pad_id: the id that fills the padding.
        pool_batches: batches per sorted pool when shuffling (larger: less padding, less
            randomness).
        seed: seeds the shuffling (NumPy's generator, reproducible per instance).

    Iterating yields ``(input_ids, attention_mask, labels)``: int64 tensors (B, L), (B, L)
    (1 on tokens, right-padded) and (B,) (None without labels).

    Raises:
        ValueError: an empty sequence, a bad batch size, or labels of another length.
    """

    def __init__(self, sequences, labels=None, batch_size: int = 64, shuffle: bool = False,
                 pad_id: int = 0, pool_batches: int = 50, seed: int = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"TokenBatches: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        self.lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
        if (self.lengths == 0).any():
            raise ValueError(f"TokenBatches: sequence {int(np.argmin(self.lengths))} is "
                             f"empty; every text needs at least one token")
        self.flat = np.fromiter((t for s in sequences for t in s), np.int64,
                                int(self.lengths.sum()))
        self.starts = np.cumsum(self.lengths) - self.lengths
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != self.lengths.shape:
                raise ValueError(f"TokenBatches: {len(self.lengths)} sequences but labels of "
                                 f"shape {labels.shape}")
        self.labels, self.batch_size, self.shuffle = labels, batch_size, shuffle
        self.pad_id, self.pool_batches = pad_id, pool_batches
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def index_batches(self) -> list:
        """The sequence indices of each batch, in this pass's order."""
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i:i + size] for i in range(0, n, size)]
        order = self._rng.permutation(n)
        pool = size * self.pool_batches
        batches = []
        for p in range(0, n, pool):
            chunk = order[p:p + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i:i + size] for i in range(0, len(chunk), size))
        return [batches[i] for i in self._rng.permutation(len(batches))]

    def collate(self, index):
        """The padded ``(input_ids, attention_mask, labels)`` of the given sequences."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        positions = np.arange(int(lengths.max()))
        mask = positions < lengths[:, None]
        gather = np.where(mask, self.starts[index][:, None] + positions, 0)
        ids = np.where(mask, self.flat[gather], self.pad_id)
        labels = None if self.labels is None else ganglion.from_numpy(self.labels[index])
        return (ganglion.from_numpy(ids), ganglion.from_numpy(mask.astype(np.int64)), labels)

    def __iter__(self):
        for index in self.index_batches():
            yield self.collate(index)

    def padding_fraction(self) -> float:
        """The share of padding in one pass's batches (bucketing keeps it small)."""
        batches = self.index_batches()
        tokens = sum(int(self.lengths[b].sum()) for b in batches)
        padded = sum(len(b) * int(self.lengths[b].max()) for b in batches)
        return 1.0 - tokens / padded
