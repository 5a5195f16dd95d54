"""``VisionDataset``: the common base of the image datasets (root, transforms, repr).

Example:
    >>> ds = VisionDataset("data", transform=lambda x: x)
    >>> print(ds)  # doctest: +ELLIPSIS
    Dataset VisionDataset
        Root location: data
        StandardTransform
    Transform: <function <lambda> at ...>
"""
from __future__ import annotations

import os

from ganglion.utils.data import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """Base class: keeps ``root``, ``transform`` and ``target_transform`` and prints them."""

    _repr_indent = 4

    def __init__(self, root=None, transform=None, target_transform=None) -> None:
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _apply(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {self.__class__.__name__}"]
        if hasattr(self, "__len__"):
            try:
                lines.append(f"Number of datapoints: {len(self)}")
            except (TypeError, NotImplementedError, AttributeError):
                pass
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        body = [lines[0]] + [" " * self._repr_indent + line for line in lines[1:]]
        if self.transform is not None or self.target_transform is not None:
            body.append(" " * self._repr_indent + "StandardTransform")
            if self.transform is not None:
                body.append(f"Transform: {self.transform!r}")
            if self.target_transform is not None:
                body.append(f"Target transform: {self.target_transform!r}")
        return "\n".join(body)
