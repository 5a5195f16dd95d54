"""Transfer learning: freezing and parameter groups by name prefix (checked against
torch.optim with hand-built groups), and a short MNIST -> 8x8 digits fine-tune of the recipe
in examples/transfer_digits.py (skipped without the MNIST files)."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.data.download import find_data_root
from ganglion.models.transfer import freeze, param_groups, unfreeze
from tests.examples_loader import load_example


class _Net(nn.Module):
    """Names that share a leading string ('fc' and 'fc2') to test dotted-prefix matching."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 5)
        self.fc2 = nn.Linear(5, 5)
        self.body = nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))

    def forward(self, x):
        return self.body(self.fc2(self.fc(x).relu()).relu())


def _trainable(model):
    return [n for n, p in model.named_parameters() if p.requires_grad]


def test_freeze_matches_whole_name_parts_and_blocks_gradients():
    net = _Net()
    assert freeze(net, "fc") == ["fc.weight", "fc.bias"]  # not fc2.*
    assert _trainable(net) == ["fc2.weight", "fc2.bias", "body.0.weight", "body.0.bias",
                               "body.2.weight", "body.2.bias"]
    net(ganglion.randn(3, 4)).sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert grads["fc.weight"] is None and grads["fc.bias"] is None
    assert all(grads[n] is not None for n in _trainable(net))


def test_freeze_all_but_exclude_and_unfreeze():
    net = _Net()
    frozen = freeze(net, exclude=["body.2"])
    assert _trainable(net) == ["body.2.weight", "body.2.bias"]
    assert len(frozen) == 6
    assert unfreeze(net, "body") == ["body.0.weight", "body.0.bias", "body.2.weight",
                                     "body.2.bias"]
    assert _trainable(net) == ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    unfreeze(net)
    assert len(_trainable(net)) == 8


@pytest.mark.parametrize("call", [
    lambda net: freeze(net, "fc3"),
    lambda net: freeze(net, exclude="body.5"),
    lambda net: unfreeze(net, ["fc", "bdy"]),
    lambda net: param_groups(net, {"head": {"lr": 0.1}}),
])
def test_unknown_prefix_is_an_error_naming_it(call):
    with pytest.raises(ValueError, match="match no parameter.*parameter names start with"):
        call(_Net())


@pytest.mark.parametrize("call,match", [
    (lambda net: freeze(net, ""), "freeze: each entry of prefixes"),
    (lambda net: freeze(net, "fc."), "freeze: each entry of prefixes"),
    (lambda net: param_groups(net, {"fc": 0.1}), "options of prefix 'fc' must be a dict"),
    (lambda net: param_groups(net, {"fc": {"params": []}}), "without 'params'"),
    (lambda net: param_groups(net, [("fc", {})]), "groups must be a dict"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(_Net())


def test_param_groups_longest_prefix_wins_and_rest_group_last():
    net = _Net()
    groups = param_groups(net, {"body": {"lr": 0.1}, "body.2": {"lr": 0.2}}, lr=0.01)
    ids = [[id(p) for p in g["params"]] for g in groups]
    assert ids == [[id(net.body[0].weight), id(net.body[0].bias)],
                   [id(net.body[2].weight), id(net.body[2].bias)],
                   [id(net.fc.weight), id(net.fc.bias), id(net.fc2.weight), id(net.fc2.bias)]]
    assert [g["lr"] for g in groups] == [0.1, 0.2, 0.01]
    # every parameter named, nothing left over: the rest group is omitted
    assert len(param_groups(net, {"fc": {}, "fc2": {}, "body": {}})) == 3


def test_param_groups_drive_adam_like_torch_with_hand_built_groups():
    torch = pytest.importorskip("torch")
    net = _Net()
    params = {n: torch.nn.Parameter(torch.tensor(p.detach().numpy().copy()))
              for n, p in net.named_parameters()}  # the same values, by name
    opt = ganglion.optim.Adam(param_groups(net, {"body": {"lr": 3e-2}}, lr=1e-3),
                              weight_decay=0.1)
    ref_opt = torch.optim.Adam(
        [{"params": [params[n] for n in params if n.startswith("body.")], "lr": 3e-2},
         {"params": [params[n] for n in params if not n.startswith("body.")], "lr": 1e-3}],
        weight_decay=0.1)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)

    def ref_forward(t):
        h = torch.relu(t @ params["fc.weight"].T + params["fc.bias"])
        h = torch.relu(h @ params["fc2.weight"].T + params["fc2.bias"])
        h = torch.relu(h @ params["body.0.weight"].T + params["body.0.bias"])
        return h @ params["body.2.weight"].T + params["body.2.bias"]

    for _ in range(3):
        opt.zero_grad()
        (net(ganglion.tensor(x)) ** 2).mean().backward()
        opt.step()
        ref_opt.zero_grad()
        (ref_forward(torch.tensor(x)) ** 2).mean().backward()
        ref_opt.step()
    for n, p in net.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), params[n].detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def recipe_data():
    root = find_data_root("mnist")
    if root is None:
        pytest.skip("../shared/data/mnist is absent")
    t = load_example("transfer_digits")
    mnist = t.load_mnist(root, train_limit=6000)
    return t, mnist, t.digits_tensors(*mnist[2], "pad")


def _arrays(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_pretrain_then_fine_tune_on_ten_digits_per_class(recipe_data, tmp_path):
    t, mnist, ((xd, yd), (xt, yt)) = recipe_data
    ganglion.manual_seed(0)
    model, mnist_acc = t.pretrain("lenet5", mnist, epochs=1)
    assert mnist_acc > 0.85  # 6,000 MNIST images, one epoch; chance is 0.10
    path = str(tmp_path / "lenet5.safetensors")  # the recipe's cache round trip
    ganglion.io.save({"model": model.state_dict()}, path)
    model = t.build("lenet5")
    model.load_state_dict(ganglion.io.load(path)["model"])

    rng = np.random.default_rng(0)
    idx = ganglion.from_numpy(t.few_labels(yd.numpy(), 10, rng))
    x, y = xd[idx], yd[idx]
    assert sorted(np.bincount(y.numpy()).tolist()) == [10] * 10
    hp = {**t.DEFAULTS, "stage1": 60, "stage2": 60}

    head = t.new_head(model, "fc3")
    before = _arrays(model)
    losses = t.train_head(model, x, y, rng, hp)
    after = _arrays(model)
    for name in before:
        if name.startswith("fc3."):
            assert not np.array_equal(before[name], after[name]), name
        else:  # frozen: bit-identical, and no gradient was ever computed for it
            assert np.array_equal(before[name], after[name]), name
            assert model.get_parameter(name).grad is None, name
    assert head.weight.grad is not None
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    frozen_acc = t.accuracy(model, xt, yt)

    t.stage_unfrozen(model, "fc3", x, y, rng, hp)
    staged = _arrays(model)
    assert not np.array_equal(after["conv1.weight"], staged["conv1.weight"])  # unfrozen now
    staged_acc = t.accuracy(model, xt, yt)
    # 100 labelled digits, 360 held-out ones; chance is 0.10 (the full recipe reaches ~0.9)
    assert frozen_acc > 0.7 and staged_acc > 0.7, (frozen_acc, staged_acc)
