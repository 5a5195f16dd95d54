"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): real data that
needs no download.

The images (values 0..16 in scikit-learn) are scaled to ``uint8`` 0..255 so that
``transforms.ToTensor`` maps them to [0, 1] like any other image. The split is fixed: the
first 1,437 samples (80%) train, the last 360 test.

Example:
    >>> ds = Digits(train=False)
    >>> len(ds), ds[0][0].shape, ds[0][0].dtype, ds.data.shape
    (360, (8, 8), dtype('uint8'), ganglion.Size([360, 8, 8]))
"""
from __future__ import annotations

import numpy as np

import ganglion
from ganglion.data._base import VisionDataset

__all__ = ["Digits"]

_N_TRAIN = 1437


def _load_digits():
    try:
        from sklearn.datasets import load_digits  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError("Digits needs scikit-learn, which holds the bundled digits: install "
                          "it with pip install 'ganglion[demo]' (or pip install "
                          "scikit-learn)") from None
    return load_digits()


class Digits(VisionDataset):
    """The 8x8 digits of ``sklearn.datasets.load_digits``.

    Args:
        root: unused (the data ships with scikit-learn); accepted for a uniform signature.
        train: the first 80% (True) or the last 20%.
        transform: applied to the image (an 8x8 uint8 array).
        target_transform: applied to the label (an int).
        download: unused.
    """

    classes = [str(i) for i in range(10)]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        bunch = _load_digits()
        images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
        labels = bunch.target.astype(np.int64)
        part = slice(None, _N_TRAIN) if train else slice(_N_TRAIN, None)
        self._images, self._labels = images[part].copy(), labels[part].copy()
        self.data = ganglion.from_numpy(self._images)
        self.targets = ganglion.from_numpy(self._labels)

    def __getitem__(self, index):
        return self._apply(self._images[index], int(self._labels[index]))

    def __len__(self) -> int:
        return len(self._images)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
