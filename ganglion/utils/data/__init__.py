"""``ganglion.utils.data``: datasets, samplers, collation and ``DataLoader`` under torch's
import paths, so ``from torch.utils.data import DataLoader`` ports by changing the package.

Example:
    >>> import ganglion
    >>> from ganglion.utils.data import DataLoader, TensorDataset
    >>> x, y = ganglion.randn(8, 3), ganglion.arange(8)
    >>> xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=5)))
    >>> xb.shape, yb.shape
    (ganglion.Size([5, 3]), ganglion.Size([5]))
"""
from ganglion.utils.data._worker import get_worker_info
from ganglion.utils.data.collate import default_collate, default_convert
from ganglion.utils.data.dataloader import DataLoader
from ganglion.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,
                                         StackDataset, Subset, TensorDataset, random_split)
from ganglion.utils.data.sampler import (BatchSampler, RandomSampler, Sampler,
                                         SequentialSampler, SubsetRandomSampler,
                                         WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "default_collate", "default_convert", "get_worker_info", "random_split"]
