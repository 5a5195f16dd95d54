"""Image transforms with ``torchvision.transforms`` names and semantics (v1 classes, plus
``GaussianNoise``, ``MixUp`` and ``CutMix`` from v2), on ganglion tensors ``(..., C, H, W)``,
NumPy arrays ``(H, W[, C])`` and PIL images. ``functional`` holds the functional forms.

Example:
    >>> import numpy as np
    >>> import ganglion
    >>> from ganglion.data import transforms as T
    >>> _ = ganglion.manual_seed(0)
    >>> train = T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(),
    ...                    T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    >>> train(np.zeros((28, 28), np.uint8)).shape
    ganglion.Size([1, 28, 28])
"""
from ganglion.data.transforms import functional  # noqa: F401
from ganglion.data.transforms._image import InterpolationMode
from ganglion.data.transforms.augment import (ColorJitter, GaussianBlur, GaussianNoise,
                                              RandomAffine, RandomErasing, RandomRotation)
from ganglion.data.transforms.mix import CutMix, MixUp
from ganglion.data.transforms.transforms import (CenterCrop, Compose, Grayscale, Lambda,
                                                 Normalize, Pad, PILToTensor, RandomApply,
                                                 RandomChoice, RandomCrop, RandomGrayscale,
                                                 RandomHorizontalFlip, RandomOrder,
                                                 RandomResizedCrop, RandomVerticalFlip, Resize,
                                                 ToPILImage, ToTensor, Transform)

__all__ = ["InterpolationMode", "Transform", "Compose", "ToTensor", "PILToTensor", "ToPILImage",
           "Normalize", "Resize", "CenterCrop", "Pad", "Lambda", "RandomApply", "RandomChoice",
           "RandomOrder", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Grayscale", "RandomGrayscale", "RandomRotation",
           "RandomAffine", "ColorJitter", "GaussianBlur", "GaussianNoise", "RandomErasing",
           "MixUp", "CutMix", "functional"]
