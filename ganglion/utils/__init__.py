"""Utilities under torch's import paths: ``ganglion.utils.data`` (datasets, samplers, loader).

Example:
    >>> from ganglion.utils.data import DataLoader, TensorDataset
    >>> import ganglion
    >>> len(DataLoader(TensorDataset(ganglion.arange(10)), batch_size=4))
    3
"""
from ganglion.utils import data  # noqa: F401
