"""Small convolutional classifiers: ``SmallCNN`` for tiny images (the 8x8 digits of
``ganglion demo``) and ``MnistCNN`` for 28x28 digits (the PyTorch MNIST example's network).

Example:
    >>> import ganglion
    >>> from ganglion.models import SmallCNN
    >>> SmallCNN(image_size=8)(ganglion.randn(2, 1, 8, 8)).shape
    ganglion.Size([2, 10])
"""
from __future__ import annotations

from ganglion import nn

__all__ = ["SmallCNN", "MnistCNN"]


class SmallCNN(nn.Sequential):
    """conv3x3(16)-ReLU-conv3x3(32)-ReLU-maxpool2-Linear(64)-ReLU-Dropout-Linear."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 8,
                 dropout: float = 0.25):
        side = image_size // 2
        super().__init__(
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * side * side, 64), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(64, num_classes))


class MnistCNN(nn.Sequential):
    """The PyTorch MNIST example's network (DESIGN.md's W2): conv3x3(32)-ReLU-conv3x3(64)-ReLU-
    maxpool2-Dropout-Linear(128)-ReLU-Dropout-Linear; >= 99.2% MNIST test accuracy."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 dropout: float = 0.25):
        side = (image_size - 4) // 2
        super().__init__(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(dropout), nn.Flatten(),
            nn.Linear(64 * side * side, 128), nn.ReLU(), nn.Dropout(2 * dropout),
            nn.Linear(128, num_classes))
