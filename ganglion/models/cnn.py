"""Small convolutional classifiers: ``SmallCNN`` for tiny images (the 8x8 digits of
``ganglion demo``) and ``MnistCNN`` for 28x28 digits (>= 99.2% MNIST test accuracy).

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
    """Two conv blocks (32, 64 channels; conv-BN-ReLU twice, then max pool), then
    Linear(128)-ReLU-Dropout-Linear: the classic >99% MNIST recipe."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 dropout: float = 0.3):
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]

        side = image_size // 4
        super().__init__(
            *block(in_channels, 32), *block(32, 32), nn.MaxPool2d(2),
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(128, num_classes))
