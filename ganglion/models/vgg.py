"""A small VGG (Simonyan & Zisserman, 2014, https://arxiv.org/abs/1409.1556) with
torchvision's layout and state_dict names (``features.N``, ``classifier.N``), batch-normed.

Example:
    >>> import ganglion
    >>> from ganglion.models import vgg_small
    >>> vgg_small(num_classes=10)(ganglion.randn(2, 3, 32, 32)).shape
    ganglion.Size([2, 10])
"""
from __future__ import annotations

from ganglion import nn

__all__ = ["VGG", "vgg_small", "make_layers"]


def make_layers(cfg, in_channels=3, batch_norm=True) -> nn.Sequential:
    """torchvision's builder: ints are 3x3 conv widths, 'M' a 2x2 max pool."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(in_channels, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Sequential, num_classes=10, hidden=256, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        width = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.classifier = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg_small(num_classes=10, in_channels=3, batch_norm=True) -> VGG:
    """Six conv layers (32-32-M-64-64-M-128-128-M): VGG's recipe at CIFAR/MNIST scale."""
    cfg = [32, 32, "M", 64, 64, "M", 128, 128, "M"]
    return VGG(make_layers(cfg, in_channels, batch_norm), num_classes)
