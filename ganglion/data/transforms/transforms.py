"""Transform classes with ``torchvision.transforms`` (v1) names, arguments and semantics:
composition, conversion, normalization, resizing, cropping and flips. The random ones draw
from ganglion's global generator at call time, so ``ganglion.manual_seed`` makes them
reproducible (and DataLoader workers, seeded per worker, draw differently).

Example:
    >>> import numpy as np
    >>> t = Compose([CenterCrop(2), ToTensor(), Normalize((0.5,), (0.5,))])
    >>> t(np.full((4, 4), 255, np.uint8)).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
"""
from __future__ import annotations

import math
import numbers

from ganglion.data.transforms import functional as F
from ganglion.data.transforms._image import InterpolationMode, get_dimensions, rng

__all__ = ["Transform", "Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize",
           "Resize", "CenterCrop", "Pad", "Lambda", "RandomApply", "RandomChoice",
           "RandomOrder", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Grayscale", "RandomGrayscale"]


class Transform:
    """Base class: ``t(img)`` calls ``t.forward(img)``; the repr shows ``extra_repr()``."""

    def __call__(self, *args):
        return self.forward(*args)

    def forward(self, img):
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply ``transforms`` in order.

    Example:
        >>> Compose([Lambda(lambda x: x + 1), Lambda(lambda x: x * 10)])(1)
        20
    """

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def forward(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class ToTensor(Transform):
    """PIL image or ``(H, W[, C])`` array -> ``(C, H, W)`` tensor; ``uint8`` scaled to [0, 1].

    Example:
        >>> import numpy as np
        >>> ToTensor()(np.zeros((28, 28), np.uint8)).shape
        ganglion.Size([1, 28, 28])
    """

    def forward(self, pic):
        return F.to_tensor(pic)


class PILToTensor(Transform):
    """PIL image -> ``(C, H, W)`` tensor of the same dtype (no scaling)."""

    def forward(self, pic):
        return F.pil_to_tensor(pic)


class ToPILImage(Transform):
    """Tensor or array -> PIL image (needs Pillow, the ``ganglion[vision]`` extra)."""

    def __init__(self, mode=None) -> None:
        self.mode = mode

    def forward(self, pic):
        return F.to_pil_image(pic, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode}" if self.mode is not None else ""


class Normalize(Transform):
    """``(x - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor.

    Example:
        >>> import ganglion
        >>> Normalize([0.5], [0.25])(ganglion.ones(1, 1, 2)).tolist()
        [[[2.0, 2.0]]]
    """

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def forward(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Resize(Transform):
    """Resize to ``size`` (``(h, w)``, or an int for the smaller edge); see ``F.resize``.

    Example:
        >>> import numpy as np
        >>> Resize((2, 3))(np.zeros((4, 6, 3), np.uint8)).shape
        (2, 3, 3)
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias: bool = True) -> None:
        if not isinstance(size, (int, list, tuple)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def extra_repr(self) -> str:
        mode = getattr(self.interpolation, "value", self.interpolation)
        return (f"size={self.size}, interpolation={mode}, max_size={self.max_size}, "
                f"antialias={self.antialias}")


def _setup_size(size, error_msg: str) -> tuple:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return tuple(size)


class CenterCrop(Transform):
    """The central ``size`` window (zero-padded when the image is smaller).

    Example:
        >>> import numpy as np
        >>> CenterCrop(2)(np.arange(16).reshape(4, 4)).tolist()
        [[5, 6], [9, 10]]
    """

    def __init__(self, size) -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def forward(self, img):
        return F.center_crop(img, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}"


class Pad(Transform):
    """Pad the borders; see ``F.pad`` for ``padding``, ``fill`` and ``padding_mode``."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        if not isinstance(padding, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate padding arg")
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate fill arg")
        if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
            raise ValueError("Padding mode should be either constant, edge, reflect or "
                             "symmetric")
        if isinstance(padding, (tuple, list)) and len(padding) not in [1, 2, 4]:
            raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                             f"{len(padding)} element tuple")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class Lambda(Transform):
    """Apply a user function.

    Example:
        >>> Lambda(lambda x: x * 2)(3)
        6
    """

    def __init__(self, lambd) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got "
                            f"{repr(type(lambd).__name__)}")
        self.lambd = lambd

    def forward(self, img):
        return self.lambd(img)


class RandomApply(Transform):
    """Apply all ``transforms`` with probability ``p``."""

    def __init__(self, transforms, p: float = 0.5) -> None:
        self.transforms, self.p = list(transforms), p

    def forward(self, img):
        if self.p < rng().random():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def extra_repr(self) -> str:
        return f"p={self.p}, transforms={self.transforms}"


class RandomChoice(Transform):
    """Apply one of ``transforms``, chosen with probabilities ``p`` (default uniform)."""

    def __init__(self, transforms, p=None) -> None:
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        self.transforms = list(transforms)
        total = sum(p) if p is not None else len(transforms)
        self.p = [x / total for x in p] if p is not None else [1.0 / total] * len(transforms)

    def forward(self, *inputs):
        idx = int(rng().choice(len(self.transforms), p=self.p))
        return self.transforms[idx](*inputs)


class RandomOrder(Transform):
    """Apply ``transforms`` in a random order."""

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def forward(self, img):
        for i in rng().permutation(len(self.transforms)).tolist():
            img = self.transforms[i](img)
        return img


class RandomCrop(Transform):
    """A random ``size`` window, after optional padding.

    Args:
        size: ``(h, w)`` or an int.
        padding: padded on all borders first (see ``F.pad``).
        pad_if_needed: pad an image smaller than ``size`` (both sides, as torchvision).
        fill: the constant of constant padding.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.

    Example:
        >>> import numpy as np
        >>> RandomCrop(24, padding=4)(np.zeros((24, 24, 3), np.uint8)).shape
        (24, 24, 3)
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple:
        """``(top, left, h, w)`` of a uniformly random crop of ``output_size``."""
        _, h, w = get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        i = int(rng().integers(0, h - th + 1))
        j = int(rng().integers(0, w - tw + 1))
        return i, j, th, tw

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class RandomResizedCrop(Transform):
    """A random crop of random area fraction (``scale``) and aspect ratio (``ratio``,
    log-uniform), resized to ``size``; torchvision's 10 tries, then a central crop.

    Example:
        >>> import numpy as np
        >>> RandomResizedCrop(8)(np.zeros((32, 20, 3), np.uint8)).shape
        (8, 8, 3)
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool = True) -> None:
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        if not isinstance(scale, (list, tuple)):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, (list, tuple)):
            raise TypeError("Ratio should be a sequence")
        self.scale, self.ratio = scale, ratio
        self.interpolation, self.antialias = interpolation, antialias

    @staticmethod
    def get_params(img, scale, ratio) -> tuple:
        """``(top, left, h, w)`` of the crop."""
        _, height, width = get_dimensions(img)
        area = height * width
        for _ in range(10):
            target_area = area * rng().uniform(scale[0], scale[1])
            aspect = F.log_uniform_ratio(ratio, rng().random())
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                i = int(rng().integers(0, height - h + 1))
                j = int(rng().integers(0, width - w + 1))
                return i, j, h, w
        in_ratio = float(width) / float(height)  # fallback: the central crop
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, list(self.size), self.interpolation,
                              antialias=self.antialias)

    def extra_repr(self) -> str:
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``.

    Example:
        >>> import numpy as np
        >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
        [[3, 2, 1]]
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img):
        return F.hflip(img) if rng().random() < self.p else img

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    def forward(self, img):
        return F.vflip(img) if rng().random() < self.p else img


class Grayscale(Transform):
    """Convert to greyscale with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def extra_repr(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class RandomGrayscale(Transform):
    """Convert to greyscale (keeping the channel count) with probability ``p``."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def forward(self, img):
        if rng().random() < self.p:
            return F.rgb_to_grayscale(img, get_dimensions(img)[0])
        return img

    def extra_repr(self) -> str:
        return f"p={self.p}"
