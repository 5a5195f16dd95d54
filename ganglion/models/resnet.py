"""ResNets (He et al., 2015, https://arxiv.org/abs/1512.03385): ResNet-18 with torchvision's
layout and state_dict names, and the CIFAR ResNet-20 (3 stages of 3 basic blocks, 16-32-64
channels, projection shortcuts).

Example:
    >>> import ganglion
    >>> from ganglion.models import resnet20
    >>> resnet20()(ganglion.randn(2, 3, 32, 32)).shape
    ganglion.Size([2, 10])
"""
from __future__ import annotations

from ganglion import nn

__all__ = ["BasicBlock", "ResNet", "resnet18", "CifarResNet", "resnet20"]


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm; a 1x1 projection shortcut when the shape changes."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def _layer(inplanes, planes, blocks, stride):
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                   nn.BatchNorm2d(planes))
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def _init(model):
    # torchvision's init: kaiming normal (fan_out, relu) for convs, BN weight 1 / bias 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlocks (ResNet-18/34)."""

    def __init__(self, layers=(2, 2, 2, 2), num_classes=1000, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, layers[0], 1)
        self.layer2 = _layer(64, 128, layers[1], 2)
        self.layer3 = _layer(128, 256, layers[2], 2)
        self.layer4 = _layer(256, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        _init(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(num_classes=1000, in_channels=3) -> ResNet:
    return ResNet((2, 2, 2, 2), num_classes, in_channels)


class CifarResNet(nn.Module):
    """ResNet for 32x32 input: conv3x3(16), three stages of ``n`` blocks, global pool, fc."""

    def __init__(self, n=3, num_classes=10, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _layer(16, 16, n, 1)
        self.layer2 = _layer(16, 32, n, 2)
        self.layer3 = _layer(32, 64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        _init(self)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def resnet20(num_classes=10, in_channels=3) -> CifarResNet:
    return CifarResNet(3, num_classes, in_channels)
