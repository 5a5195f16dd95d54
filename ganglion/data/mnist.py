"""MNIST, Fashion-MNIST and Kuzushiji-MNIST from their IDX files (gzip-compressed or raw).

``read_idx`` parses any IDX file in one vectorized ``np.frombuffer`` and validates the magic
number, the dimensions and the byte count, naming the file when something is wrong.

The datasets look for the four files in ``root``, ``root/<ClassName>/raw`` (torchvision's
layout, where ``download=True`` puts them), ``root/<ClassName>`` and ``root/<classname>``.
Samples are ``(image, label)`` with the image a 28x28 ``uint8`` NumPy array (torchvision
returns a PIL image; ``transforms.ToTensor`` accepts either) and the label an ``int``.
``.data`` (uint8, N x 28 x 28) and ``.targets`` (int64) are tensors, as in torchvision.

Example:
    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

import ganglion
from ganglion.data._base import VisionDataset
from ganglion.data.download import download_from_mirrors

__all__ = ["read_idx", "MNIST", "FashionMNIST", "KMNIST"]

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # not gzip: a raw IDX file
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise RuntimeError(f"read_idx: {path} is a damaged or truncated gzip file ({e}); "
                           f"delete it and download it again") from None


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a NumPy array in native byte order.

    Raises:
        RuntimeError: naming the file, when the magic number is not IDX or the data is shorter
            or longer than the header's dimensions say.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        magic = int.from_bytes(raw[:4].ljust(4, b"\0"), "big")
        raise RuntimeError(f"read_idx: {path} is not an IDX file: magic number 0x{magic:08x}, "
                           f"expected 0x000008NN..0x00000eNN (type code, then the number of "
                           f"dimensions)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"read_idx: {path} is truncated: {len(raw)} bytes, shorter than its "
                           f"{header}-byte header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "longer than its header says"
        raise RuntimeError(f"read_idx: {path} is {kind}: the header gives shape {dims} "
                           f"({expected} bytes with the header) but the data has {len(raw)} "
                           f"bytes; delete it and download it again")
    arr = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable, native-order copy


class MNIST(VisionDataset):
    """The MNIST handwritten digits (60,000 training and 10,000 test images, 28x28).

    Args:
        root: a directory holding the IDX files (see the module docstring for where it looks).
        train: the training set (True) or the test set.
        transform: applied to the image (a 28x28 uint8 array).
        target_transform: applied to the label (an int).
        download: fetch missing files into ``root/<ClassName>/raw`` (checksums verified).

    Example:
        >>> MNIST.classes[7]
        '7 - seven'
        >>> # ds = MNIST("../shared/data/mnist", train=False); img, label = ds[0]
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        images, labels = self._load_data()
        self._images, self._labels = images, labels.astype(np.int64)
        self.data = ganglion.from_numpy(self._images)
        self.targets = ganglion.from_numpy(self._labels)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def _file_stems(self):
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def _find(self, stem: str) -> str:
        name = self.__class__.__name__
        folders = [self.root, self.raw_folder, os.path.join(self.root, name),
                   os.path.join(self.root, name.lower())]
        for folder in folders:
            for fname in (stem, stem + ".gz"):
                path = os.path.join(folder, fname)
                if os.path.isfile(path):
                    return path
        raise RuntimeError(f"{name}: dataset not found: no {stem}[.gz] in {folders}. Pass the "
                           f"directory holding the IDX files as root, or download=True.")

    def _load_data(self):
        name = self.__class__.__name__
        img_path, lbl_path = (self._find(s) for s in self._file_stems())
        images, labels = read_idx(img_path), read_idx(lbl_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise RuntimeError(f"{name}: {img_path} holds a {images.dtype} array of shape "
                               f"{images.shape}; expected uint8 images (magic 2051, N x H x W)")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise RuntimeError(f"{name}: {lbl_path} holds a {labels.dtype} array of shape "
                               f"{labels.shape}; expected uint8 labels (magic 2049, N)")
        if len(images) != len(labels):
            raise RuntimeError(f"{name}: {img_path} has {len(images)} images but {lbl_path} has "
                               f"{len(labels)} labels")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise RuntimeError(f"{name}: {lbl_path} has label {int(labels.max())}; expected "
                               f"0..{len(self.classes) - 1}")
        return images, labels

    def download(self) -> None:
        """Download the four files (kept gzip-compressed) unless they are already present."""
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            stem = filename[:-3]
            try:
                self._find(stem)
                continue
            except RuntimeError:
                pass
            download_from_mirrors(self.mirrors, filename, self.raw_folder, md5=md5)

    def __getitem__(self, index):
        return self._apply(self._images[index], int(self._labels[index]))

    def __len__(self) -> int:
        return len(self._images)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale clothing images in 10 classes, MNIST's format.

    Example:
        >>> FashionMNIST.classes[:3]
        ['T-shirt/top', 'Trouser', 'Pullover']
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 28x28 cursive Japanese characters in 10 classes, MNIST's format.

    Example:
        >>> len(KMNIST.classes)
        10
    """

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
                 ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
                 ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
                 ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
