"""get_model(name, weights=path): zoo models load torch .pt, plain safetensors and ganglion
files and then compute what the torch model computes; mismatches are listed in one error."""
import numpy as np
import pytest

import ganglion
from ganglion import models
from ganglion.io import StateDictMismatchError

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
from tests.models.test_models import TLeNet5, TResNet20  # noqa: E402 - the torch twins


def _trained_like(tmodel, shape, seed):
    """Non-default weights and BatchNorm statistics, so a load that did nothing fails."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in tmodel.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    tmodel.train()
    tmodel(torch.randn(*shape))
    return tmodel.eval()


def _save(fmt, tmodel, path):
    sd = tmodel.state_dict()
    if fmt == "pt":
        torch.save(sd, path)
    elif fmt == "safetensors":
        st_torch.save_file({k: v.contiguous() for k, v in sd.items()}, path)
    else:  # a ganglion checkpoint of the same weights
        ganglion.save({k: ganglion.from_numpy(v.numpy().copy()) for k, v in sd.items()}, path)
    return str(path)


@pytest.mark.parametrize("fmt, name, tbuild, shape", [
    *[(fmt, "lenet5", TLeNet5, (3, 1, 28, 28)) for fmt in ("pt", "safetensors", "ganglion")],
    ("pt", "resnet20", lambda: TResNet20(10), (2, 3, 32, 32)),  # BatchNorm buffers too
])
def test_weights_file_gives_torch_outputs(fmt, name, tbuild, shape, tmp_path):
    tmodel = _trained_like(tbuild(), shape, seed=len(name))
    path = _save(fmt, tmodel, tmp_path / f"w.{fmt}")
    model = models.get_model(name, weights=path).eval()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad(), ganglion.no_grad():
        np.testing.assert_allclose(model(ganglion.from_numpy(x)).numpy(),
                                   tmodel(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-4)


def test_mismatches_are_listed_in_one_error(tmp_path):
    path = _save("pt", _trained_like(TLeNet5(), (2, 1, 28, 28), 0), tmp_path / "w.pt")
    with pytest.raises(StateDictMismatchError) as info:
        models.get_model("lenet5", weights=path, num_classes=5)
    msg = str(info.value)
    assert "get_model('lenet5')" in msg and "LeNet5" in msg
    assert "'fc3.weight' checkpoint (10, 84) vs model (5, 84)" in msg
    assert "'fc3.bias' checkpoint (10,) vs model (5,)" in msg
    assert info.value.report.mismatched_keys == [("fc3.weight", (10, 84), (5, 84)),
                                                 ("fc3.bias", (10,), (5,))]
    with pytest.raises(StateDictMismatchError, match=r"missing keys .*'conv1\.weight'"):
        models.get_model("lenet5", weights={k: v for k, v in ganglion.load(path).items()
                                            if not k.startswith("conv1.")})


def test_new_head_with_strict_false(tmp_path):
    tmodel = _trained_like(TLeNet5(), (2, 1, 28, 28), 1)
    path = _save("pt", tmodel, tmp_path / "w.pt")
    model = models.get_model("lenet5", weights=path, num_classes=3, strict=False)
    np.testing.assert_array_equal(model.conv1.weight.detach().numpy(),
                                  tmodel.conv1.weight.detach().numpy())
    assert tuple(model.fc3.weight.shape) == (3, 84)  # the new head keeps its initialisation


def test_nested_checkpoint_needs_weights_key(tmp_path):
    tmodel = TLeNet5()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": tmodel.state_dict(), "epoch": 4}, path)
    with pytest.raises(TypeError, match=r"entries \['model'\].*key='model'"):
        models.get_model("lenet5", weights=path)
    model = models.get_model("lenet5", weights=path, weights_key="model")
    np.testing.assert_array_equal(model.fc1.bias.detach().numpy(), tmodel.fc1.bias.detach().numpy())


def test_registry_names_and_errors_unchanged():
    assert sorted(models.MODELS) == ["lenet5", "mlp", "mnist_cnn", "resnet18", "resnet20",
                                     "small_cnn", "vgg_small"]
    assert isinstance(models.get_model("mlp", num_classes=4), models.MLP)
    with pytest.raises(ValueError, match="unknown model 'alexnet'"):
        models.get_model("alexnet", weights="unused.pt")
    with pytest.raises(FileNotFoundError):
        models.get_model("lenet5", weights="/nonexistent/weights.pt")
