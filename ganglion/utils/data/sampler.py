"""Samplers with ``torch.utils.data`` semantics: they yield dataset indices (or, for
``BatchSampler``, lists of indices).

Random samplers draw from their ``generator`` (a ``ganglion.Generator``) or, without one,
from a fresh generator seeded from the global one, so ``ganglion.manual_seed`` makes every
epoch's order reproducible while successive epochs still differ.

Example:
    >>> import ganglion
    >>> from ganglion.utils.data import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
"""
from __future__ import annotations

import itertools

import numpy as np

import ganglion
from ganglion.backend import random as _random

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _rng(generator):
    """The NumPy Generator of ``generator``; without one, a new stream seeded from the global
    generator (as torch draws a fresh seed each epoch)."""
    if generator is not None:
        return generator.numpy
    seed = int(_random.default_generator.numpy.integers(0, 2 ** 63 - 1))
    return np.random.Generator(np.random.PCG64(seed))


class Sampler:
    """Base class: subclasses define ``__iter__`` over indices (and optionally ``__len__``).

    Example:
        >>> class Evens(Sampler):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(0, self.n, 2))
        >>> list(Evens(5))
        [0, 2, 4]
    """

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Example:
        >>> list(SequentialSampler("abc"))
        [0, 1, 2]
    """

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation (repeated to reach ``num_samples``) without replacement,
    independent uniform draws with it.

    Args:
        data_source: the dataset to sample from.
        replacement: draw with replacement. Default: False.
        num_samples: how many indices per epoch (default: ``len(data_source)``).
        generator: the ``ganglion.Generator`` to draw from.

    Example:
        >>> import ganglion
        >>> s = RandomSampler(range(5), generator=ganglion.Generator().manual_seed(0))
        >>> sorted(s)
        [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if (not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool)
                or self.num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        # The dataset's size may change after construction: read it at use time, as torch.
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, k = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, size=k).tolist())
        reps = [rng.permutation(n) for _ in range(k // n)]
        reps.append(rng.permutation(n)[:k % n])
        return iter(np.concatenate(reps).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new permutation every epoch).

    Example:
        >>> sorted(SubsetRandomSampler([7, 3, 5]))
        [3, 5, 7]
    """

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        # torch draws this permutation from the given or the global generator directly.
        rng = (self.generator or _random.default_generator).numpy
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices ``0..len(weights)-1`` drawn with probabilities proportional to ``weights``.

    Args:
        weights: a 1-d sequence of non-negative weights (need not sum to 1).
        num_samples: how many indices per epoch.
        replacement: draw with replacement (default); without it, ``num_samples`` must not
            exceed the number of non-zero weights.
        generator: the ``ganglion.Generator`` to draw from.

    Example:
        >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3))
        [1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = weights.array if hasattr(weights, "array") else weights
        weights_tensor = ganglion.as_tensor(np.asarray(w, dtype=np.float64))
        if weights_tensor.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_tensor.shape)}")
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        drawn = ganglion.multinomial(self.weights, self.num_samples, self.replacement,
                                     generator=self.generator)
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``).

    Example:
        >>> list(BatchSampler(range(7), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
