"""``DatasetFolder`` and ``ImageFolder``: one sub-directory per class, as torchvision's::

    root/dog/xxx.png
    root/dog/xxy.png
    root/cat/123.png

Classes are the sorted sub-directory names; samples are ``(path, class_index)`` pairs found
by a sorted walk. Images load with Pillow (the ``ganglion[vision]`` extra), imported only when
an image is opened, so scanning a folder and custom loaders work without it.

Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, cls))
    ...     open(os.path.join(root, cls, "a.npy"), "wb").close()
    >>> ds = DatasetFolder(root, loader=lambda p: p, extensions=(".npy",))
    >>> ds.classes, [t for _, t in ds.samples]
    (['cat', 'dog'], [0, 1])
"""
from __future__ import annotations

import os

from ganglion.data._base import VisionDataset

__all__ = ["IMG_EXTENSIONS", "DatasetFolder", "ImageFolder", "default_loader", "pil_loader",
           "find_classes", "make_dataset", "has_file_allowed_extension"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _pil_image():
    try:
        from PIL import Image  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError("loading images needs Pillow: pip install 'ganglion[vision]' (or pip "
                          "install Pillow), or pass loader= to read the files another "
                          "way") from None
    return Image


def pil_loader(path: str):
    """Open an image file with Pillow and convert it to RGB."""
    image_module = _pil_image()
    with open(path, "rb") as f:
        img = image_module.open(f)
        return img.convert("RGB")


def default_loader(path: str):
    return pil_loader(path)


def has_file_allowed_extension(filename: str, extensions) -> bool:
    """True when ``filename`` ends with one of ``extensions`` (case-insensitive)."""
    exts = extensions if isinstance(extensions, str) else tuple(extensions)
    return filename.lower().endswith(exts)


def find_classes(directory) -> tuple:
    """The sorted class folder names of ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {cls_name: i for i, cls_name in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None,
                 allow_empty: bool = False) -> list:
    """The ``(path, class_index)`` pairs under ``directory``, class by class, sorted."""
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(x: str) -> bool:  # noqa: F811 - torchvision's structure
            return has_file_allowed_extension(x, extensions)

    instances, found = [], set()
    for target_class in sorted(class_to_idx):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    found.add(target_class)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            exts = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {exts}"
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """Samples ``(loader(path), class_index)`` from a folder per class.

    Args:
        root: the directory holding one folder per class.
        loader: reads a sample from its path.
        extensions: accepted file endings (or pass ``is_valid_file``).
        transform: applied to the loaded sample.
        target_transform: applied to the class index.
        is_valid_file: ``f(path) -> bool`` choosing the files.
        allow_empty: allow class folders without valid files.
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                    allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty: bool = False) -> list:
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory) -> tuple:
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """A ``DatasetFolder`` of images (``IMG_EXTENSIONS``) loaded as RGB PIL images.

    Args:
        root: the directory holding one folder per class.
        transform: applied to the PIL image (e.g. ``transforms.ToTensor()``).
        target_transform: applied to the class index.
        loader: reads an image from its path (default: Pillow, RGB).
        is_valid_file: ``f(path) -> bool`` choosing the files (replaces the extension test).
        allow_empty: allow class folders without images.

    Example:
        >>> IMG_EXTENSIONS[:3]
        ('.jpg', '.jpeg', '.png')
    """

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
