"""The model zoo: state_dict names match the usual torch definitions (torchvision's ResNet
and VGG layouts, written out here with torch.nn since torchvision is not installable), and with
the same weights the outputs agree."""
import numpy as np
import pytest

import ganglion
from ganglion import models

torch = pytest.importorskip("torch")
tnn = torch.nn


class TBasicBlock(tnn.Module):  # torchvision.models.resnet.BasicBlock
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def _tlayer(inplanes, planes, blocks, stride):
    down = None
    if stride != 1 or inplanes != planes:
        down = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                              tnn.BatchNorm2d(planes))
    return tnn.Sequential(TBasicBlock(inplanes, planes, stride, down),
                          *[TBasicBlock(planes, planes) for _ in range(1, blocks)])


class TResNet18(tnn.Module):  # torchvision.models.resnet18 layout
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1 = _tlayer(64, 64, 2, 1)
        self.layer2 = _tlayer(64, 128, 2, 2)
        self.layer3 = _tlayer(128, 256, 2, 2)
        self.layer4 = _tlayer(256, 512, 2, 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TResNet20(tnn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        self.relu = tnn.ReLU(inplace=True)
        self.layer1 = _tlayer(16, 16, 3, 1)
        self.layer2 = _tlayer(16, 32, 3, 2)
        self.layer3 = _tlayer(32, 64, 3, 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _tvgg_small(num_classes):  # torchvision's VGG: features / avgpool / classifier
    layers, c = [], 3
    for v in [32, 32, "M", 64, 64, "M", 128, 128, "M"]:
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
        else:
            layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.BatchNorm2d(v), tnn.ReLU(True)]
            c = v
    m = tnn.Module()
    m.features = tnn.Sequential(*layers)
    m.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
    m.classifier = tnn.Sequential(tnn.Linear(128, 256), tnn.ReLU(True), tnn.Dropout(0.5),
                                  tnn.Linear(256, num_classes))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


class TLeNet5(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = tnn.Linear(400, 120), tnn.Linear(120, 84), \
            tnn.Linear(84, 10)

    def forward(self, x):
        f = torch.nn.functional
        x = f.max_pool2d(f.relu(self.conv1(x)), 2)
        x = torch.flatten(f.max_pool2d(f.relu(self.conv2(x)), 2), 1)
        return self.fc3(f.relu(self.fc2(f.relu(self.fc1(x)))))


PAIRS = {
    "resnet18": (lambda: models.resnet18(num_classes=7), lambda: TResNet18(7), (2, 3, 32, 32)),
    "resnet20": (lambda: models.resnet20(), lambda: TResNet20(10), (2, 3, 32, 32)),
    "vgg_small": (lambda: models.vgg_small(), lambda: _tvgg_small(10), (2, 3, 32, 32)),
    "lenet5": (lambda: models.LeNet5(), TLeNet5, (2, 1, 28, 28)),
    "mlp": (lambda: models.MLP(784, [32, 16], 10),
            lambda: tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 32), tnn.ReLU(),
                                   tnn.Linear(32, 16), tnn.ReLU(), tnn.Linear(16, 10)),
            (2, 1, 28, 28)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_model_state_dict_names_and_outputs_match_torch(name):
    g_build, t_build, shape = PAIRS[name]
    g, t = g_build(), t_build()
    g_state, t_state = g.state_dict(), t.state_dict()
    assert list(g_state) == list(t_state)
    t.load_state_dict({k: torch.from_numpy(np.array(v.array)) for k, v in g_state.items()})
    g.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with ganglion.no_grad(), torch.no_grad():
        np.testing.assert_allclose(g(ganglion.tensor(x)).numpy(), t(torch.tensor(x)).numpy(),
                                   rtol=1e-3, atol=1e-4)


def test_get_model_registry():
    assert isinstance(models.get_model("lenet5"), models.LeNet5)
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("alexnet")
