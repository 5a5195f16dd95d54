"""Datasets for the ``ganglion`` command, as normalised float tensors.

The images of the supported datasets fit in memory, so they are converted once (vectorised)
into (N, C, H, W) float32 tensors scaled to [0, 1] and normalised with the training set's
per-channel mean and std, instead of running per-sample transforms every epoch.

Example:
    >>> from ganglion.cli_data import load_tensors
    >>> train, test, info = load_tensors("digits")
    >>> train.tensors[0].shape, info["num_classes"]
    (ganglion.Size([1437, 1, 8, 8]), 10)
"""
from __future__ import annotations

import numpy as np

import ganglion
from ganglion.utils.data import TensorDataset

__all__ = ["DATASETS", "load_tensors", "ShiftCollate"]

DATASETS = ("digits", "mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100")


def _raw(name: str, data_dir, train: bool):
    """(uint8 images (N, H, W) or (N, H, W, C), int64 labels) of one split."""
    from ganglion import data  # noqa: PLC0415 - the data layer sits below the CLI

    if name == "digits":
        ds = data.Digits(train=train)
    else:
        if data_dir is None:
            raise SystemExit(f"ganglion: --data-dir is needed for dataset {name!r} (a folder "
                             f"with its files, e.g. ../shared/data/mnist)")
        cls = {"mnist": data.MNIST, "fashion-mnist": data.FashionMNIST, "kmnist": data.KMNIST,
               "cifar10": data.CIFAR10, "cifar100": data.CIFAR100}[name]
        ds = cls(data_dir, train=train)
    images = np.asarray(ds.data)
    labels = np.asarray(ds.targets, dtype=np.int64)
    return images, labels


def _to_nchw(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32) / 255.0
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def load_tensors(name: str, data_dir=None, train_limit: int | None = None):
    """Train and test ``TensorDataset``s of normalised images, and facts about them."""
    if name not in DATASETS:
        raise SystemExit(f"ganglion: unknown dataset {name!r}; choose one of {DATASETS}")
    xtr, ytr = _raw(name, data_dir, True)
    xte, yte = _raw(name, data_dir, False)
    xtr, xte = _to_nchw(xtr), _to_nchw(xte)
    if train_limit:
        xtr, ytr = xtr[:train_limit], ytr[:train_limit]
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    info = {"num_classes": int(max(ytr.max(), yte.max()) + 1), "in_channels": xtr.shape[1],
            "image_size": xtr.shape[-1], "mean": mean.ravel().tolist(),
            "std": std.ravel().tolist()}
    train = TensorDataset(ganglion.from_numpy(np.ascontiguousarray(xtr)),
                          ganglion.from_numpy(ytr))
    test = TensorDataset(ganglion.from_numpy(np.ascontiguousarray(xte)),
                         ganglion.from_numpy(yte))
    return train, test, info


class ShiftCollate:
    """Collate a batch, then shift each image by up to ``max_shift`` pixels (zero fill): the
    classic translation augmentation, vectorised over the batch with one gather.

    Example:
        >>> import ganglion
        >>> x, y = ShiftCollate(1, seed=0)([(ganglion.ones(1, 4, 4), ganglion.tensor(3))] * 2)
        >>> x.shape, y.tolist()
        (ganglion.Size([2, 1, 4, 4]), [3, 3])
    """

    def __init__(self, max_shift: int = 1, seed: int = 0):
        self.max_shift = max_shift
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch):
        from ganglion.utils.data import default_collate  # noqa: PLC0415

        x, y = default_collate(batch)
        a = x.numpy()
        n, c, h, w = a.shape
        m = self.max_shift
        padded = np.pad(a, ((0, 0), (0, 0), (m, m), (m, m)))
        dy, dx = self.rng.integers(0, 2 * m + 1, (2, n))
        rows = (dy[:, None] + np.arange(h))[:, None, :, None]
        cols = (dx[:, None] + np.arange(w))[:, None, None, :]
        out = padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                     rows, cols]
        return ganglion.from_numpy(np.ascontiguousarray(out)), y
