"""CIFAR-10 and CIFAR-100 from the binary distribution (``cifar-10-binary.tar.gz``,
``cifar-100-binary.tar.gz``): fixed-length records of label byte(s) then 3072 pixel bytes
(1024 red, 1024 green, 1024 blue, row-major 32x32). The pickled "python version" is never
read: no pickle in a loading path.

Samples are ``(image, label)`` with the image a 32x32x3 ``uint8`` NumPy array (HWC, as
torchvision's ``.data``; torchvision returns a PIL image) and the label an ``int``.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> root = tempfile.mkdtemp()
    >>> folder = os.path.join(root, "cifar-10-batches-bin")
    >>> os.makedirs(folder)
    >>> records = np.zeros((2, 3073), np.uint8); records[:, 0] = [3, 8]
    >>> records.tofile(os.path.join(folder, "test_batch.bin"))
    >>> ds = CIFAR10(root, train=False)
    >>> len(ds), ds[1][0].shape, ds[1][1], ds.classes[8]
    (2, (32, 32, 3), 8, 'ship')
"""
from __future__ import annotations

import os

import numpy as np

from ganglion.data._base import VisionDataset
from ganglion.data.download import download_and_extract_archive

__all__ = ["CIFAR10", "CIFAR100", "read_cifar_binary"]

_PIXELS = 3 * 32 * 32


def read_cifar_binary(path, label_bytes: int, num_classes) -> tuple:
    """Read one CIFAR binary file into ``(images N x 32 x 32 x 3 uint8, labels N x
    label_bytes)``, checking the record size and the label range (``num_classes``: one bound
    per label byte).

    Raises:
        RuntimeError: naming the file, when it is empty, truncated or holds labels out of range.
    """
    record = label_bytes + _PIXELS
    size = os.path.getsize(path)
    if size == 0 or size % record:
        raise RuntimeError(f"CIFAR: {path} has {size} bytes, not a positive multiple of the "
                           f"{record}-byte record ({label_bytes} label byte(s) + {_PIXELS} "
                           f"pixels): the file is truncated or not a CIFAR binary batch")
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, record)
    labels = raw[:, :label_bytes].astype(np.int64)
    for j, bound in enumerate(num_classes):
        bad = np.flatnonzero(labels[:, j] >= bound)
        if bad.size:
            raise RuntimeError(f"CIFAR: {path} record {int(bad[0])} has label "
                               f"{int(labels[bad[0], j])} in byte {j}, expected 0..{bound - 1}: "
                               f"not a file of this dataset (CIFAR-10 has 1 label byte, "
                               f"CIFAR-100 2)")
    images = raw[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Args:
        root: the directory holding ``cifar-10-batches-bin/`` (or the ``.bin`` files).
        train: the five training batches (True) or the test batch.
        transform: applied to the image (a 32x32x3 uint8 array).
        target_transform: applied to the label (an int).
        download: fetch and extract the binary archive into ``root`` (MD5 verified).
    """

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    filename = "cifar-10-binary.tar.gz"
    tgz_md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    train_list = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_list = ["test_batch.bin"]
    meta_file = "batches.meta.txt"
    label_bytes = 1
    label_bounds = (10,)
    default_classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                       "ship", "truck"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        folder = self._folder()
        parts = [read_cifar_binary(os.path.join(folder, f), self.label_bytes, self.label_bounds)
                 for f in (self.train_list if train else self.test_list)]
        self.data = np.concatenate([p[0] for p in parts])
        self._labels = np.concatenate([p[1] for p in parts])
        self.targets = self._labels[:, -1].tolist()  # a list of ints, as torchvision
        self.classes = self._read_names(folder, self.meta_file) or list(self.default_classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _folder(self) -> str:
        files = self.train_list if self.train else self.test_list
        for folder in (os.path.join(self.root, self.base_folder), self.root):
            if all(os.path.isfile(os.path.join(folder, f)) for f in files):
                return folder
        name = self.__class__.__name__
        raise RuntimeError(f"{name}: dataset not found or incomplete: expected {files} in "
                           f"{os.path.join(self.root, self.base_folder)}. Use download=True, "
                           f"or extract {self.filename} into root.")

    @staticmethod
    def _read_names(folder: str, fname: str) -> list:
        path = os.path.join(folder, fname)
        if not os.path.isfile(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]

    def download(self) -> None:
        """Download and extract the archive unless the batch files are already there."""
        try:
            self._folder()
            return
        except RuntimeError:
            pass
        download_and_extract_archive(self.url, self.root, filename=self.filename,
                                     md5=self.tgz_md5)

    def __getitem__(self, index):
        return self._apply(self.data[index], int(self._labels[index, -1]))

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: as CIFAR-10 with 100 fine classes (the targets) grouped in 20 coarse ones
    (``coarse_targets``, names in ``coarse_classes``).

    Example:
        >>> CIFAR100.label_bytes, CIFAR100.label_bounds
        (2, (20, 100))
    """

    base_folder = "cifar-100-binary"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
    filename = "cifar-100-binary.tar.gz"
    tgz_md5 = "03b5dce01913d631647c71ecec9e9cb8"
    train_list = ["train.bin"]
    test_list = ["test.bin"]
    meta_file = "fine_label_names.txt"
    label_bytes = 2  # coarse label, then fine label
    label_bounds = (20, 100)
    default_classes = [str(i) for i in range(100)]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, train, transform, target_transform, download)
        self.coarse_targets = self._labels[:, 0].tolist()
        names = self._read_names(self._folder(), "coarse_label_names.txt")
        self.coarse_classes = names or [str(i) for i in range(20)]
