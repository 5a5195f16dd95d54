"""LeNet-5 (LeCun et al., 1998, http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf), in the
common modern form: ReLU and max pooling, for 1x28x28 (padded to 32) or 1x32x32 input.

Example:
    >>> import ganglion
    >>> from ganglion.models import LeNet5
    >>> LeNet5()(ganglion.randn(2, 1, 28, 28)).shape
    ganglion.Size([2, 10])
"""
from __future__ import annotations

import ganglion.nn.functional as F
from ganglion import nn

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        if x.shape[-1] == 32:  # 32x32 input: the original LeNet had no padding in conv1
            x = x[..., 2:-2, 2:-2]
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
