"""Datasets with ``torch.utils.data`` semantics: map-style ``Dataset`` (``__getitem__`` and
``__len__``), ``IterableDataset`` (``__iter__``), and the wrappers ``TensorDataset``,
``Subset``, ``ConcatDataset``, ``ChainDataset``, ``StackDataset`` and ``random_split``.

Example:
    >>> import ganglion
    >>> from ganglion.utils.data import TensorDataset, random_split
    >>> ds = TensorDataset(ganglion.arange(10), ganglion.arange(10) * 2)
    >>> ds[3]
    (tensor(3), tensor(6))
    >>> [len(s) for s in random_split(ds, [0.7, 0.3])]
    [7, 3]
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings

import numpy as np

from ganglion.backend import random as _random
from ganglion.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]


class Dataset:
    """An abstract map-style dataset: subclasses define ``__getitem__`` (and usually
    ``__len__``, which samplers and ``DataLoader.__len__`` need).

    ``a + b`` concatenates two datasets into a ``ConcatDataset``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i * i
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An abstract iterable-style dataset: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker process iterates its own copy; split the work with
    ``get_worker_info()`` inside ``__iter__`` (see ``DataLoader``), otherwise each sample is
    returned once per worker.

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: "Dataset") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are tuples of the i-th rows of the given tensors (all of the same length).

    Example:
        >>> import ganglion
        >>> x, y = ganglion.zeros(5, 3), ganglion.arange(5)
        >>> ds = TensorDataset(x, y)
        >>> len(ds), ds[1][0].shape, ds[1][1]
        (5, ganglion.Size([3]), tensor(1))
    """

    def __init__(self, *tensors: Tensor) -> None:
        if any(not hasattr(t, "shape") or len(t.shape) == 0 for t in tensors):
            raise ValueError("TensorDataset: every argument must be a tensor with at least one "
                             "dimension (the sample dimension); got shapes "
                             f"{[tuple(getattr(t, 'shape', ())) for t in tensors]}")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between tensors: TensorDataset needs the same size "
                             f"in dimension 0, got sizes {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0


class StackDataset(Dataset):
    """Samples that combine the i-th samples of several datasets of equal length, as a tuple
    (positional datasets) or a dict (keyword datasets).

    Example:
        >>> ds = StackDataset(image=[10, 11], label=[0, 1])
        >>> ds[1]
        {'image': 11, 'label': 1}
    """

    def __init__(self, *args, **kwargs) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: supported either ``tuple``- (via ``args``) or "
                             "``dict``- (via ``kwargs``) like input/output, but both types "
                             "are given.")
        datasets = list(args) or list(kwargs.values())
        if not datasets:
            raise ValueError("StackDataset: at least one dataset should be passed")
        lengths = [len(d) for d in datasets]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"StackDataset: size mismatch between datasets: {lengths}")
        self._length = lengths[0]
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """The concatenation of map-style datasets; index ``i`` goes to the dataset that holds it.

    Example:
        >>> ds = ConcatDataset([[0, 1, 2], [10, 11]])
        >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
        (5, 10, 11, [3, 5])
    """

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        if dataset_idx >= len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of "
                             f"length {len(self)}")
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Iterates over several iterable datasets one after the other.

    Example:
        >>> class R(IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n))
        >>> list(ChainDataset([R(2), R(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets) -> None:
        super().__init__()
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Example:
        >>> s = Subset([10, 11, 12, 13], [3, 0])
        >>> len(s), s[0], s[1]
        (2, 13, 10)
    """

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        # Batched fetch: pass through to the wrapped dataset's own __getitems__ when it has one.
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[idx] for idx in indices])
        return [self.dataset[self.indices[idx]] for idx in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _fraction_lengths(n: int, fractions) -> list:
    """torch's rule: floor(n * f) each, then the remainder one by one, round robin."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          f"dataset.", stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=_random.default_generator) -> list:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths, or of
    the given fractions (summing to 1: ``floor(frac * len)`` each, the remainder handed out
    one at a time to the first splits).

    Args:
        dataset: a map-style dataset.
        lengths: lengths or fractions of the splits.
        generator: the ``ganglion.Generator`` for the permutation (default: the global one,
            so ``ganglion.manual_seed`` makes the split reproducible).

    Example:
        >>> import ganglion
        >>> a, b = random_split(range(10), [3, 7], generator=ganglion.Generator().manual_seed(0))
        >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
        (3, 7, True)
    """
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fraction_lengths(n, lengths)
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    rng = (generator or _random.default_generator).numpy
    indices = rng.permutation(n).tolist()
    offsets = np.cumsum([0] + [int(x) for x in lengths]).tolist()
    return [Subset(dataset, indices[offsets[i]:offsets[i + 1]]) for i in range(len(lengths))]
