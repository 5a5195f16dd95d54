"""load_state_dict_file: missing, unexpected and shape-mismatched keys reported together;
strict raises listing all three, non-strict loads what matches."""
import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.io import StateDictMismatchError, StateDictReport, load_state_dict_file

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")


def _torch_source():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                               torch.nn.Linear(8, 10), torch.nn.Linear(10, 2))


def _target():  # the same trunk, a 3-class head, one layer fewer and one more
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_report_and_partial_load(fmt, tmp_path):
    src = _torch_source()
    sd = src.state_dict()
    path = tmp_path / f"src.{fmt}"
    torch.save(sd, path) if fmt == "pt" else st_torch.save_file(dict(sd), path)
    model = _target()
    model.add_module("extra", nn.Linear(3, 3))
    head_before = model[2].weight.detach().numpy().copy()
    extra_before = model.extra.weight.detach().numpy().copy()
    with pytest.raises(StateDictMismatchError) as info:
        load_state_dict_file(model, path)
    lines = str(info.value).splitlines()  # (safetensors files hold their keys sorted)
    assert "missing keys (in the model, not in the checkpoint): 'extra.weight', 'extra.bias'" \
        in lines[1]
    assert lines[2].startswith("\tunexpected keys (in the checkpoint, not in the model): ")
    assert "'3.weight'" in lines[2] and "'3.bias'" in lines[2]
    assert "'2.weight' checkpoint (10, 8) vs model (3, 8)" in lines[3]
    assert "strict=False" in lines[4]

    report = load_state_dict_file(model, path, strict=False)
    assert isinstance(report, StateDictReport) and bool(report)
    assert report.missing_keys == ["extra.weight", "extra.bias"]
    assert sorted(report.unexpected_keys) == ["3.bias", "3.weight"]
    assert sorted(report.mismatched_keys) == [("2.bias", (10,), (3,)),
                                              ("2.weight", (10, 8), (3, 8))]
    assert report == info.value.report
    for key in ("0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var"):
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), sd[key].numpy(), key)
    assert model[1].num_batches_tracked.item() == sd["1.num_batches_tracked"].item()
    np.testing.assert_array_equal(model[2].weight.detach().numpy(), head_before)
    np.testing.assert_array_equal(model.extra.weight.detach().numpy(), extra_before)


def test_everything_matching_gives_an_empty_report(tmp_path):
    src = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    path = tmp_path / "g.safetensors"
    ganglion.save(src.state_dict(), path)
    model = _target()
    report = load_state_dict_file(model, path)
    assert not report and repr(report) == "<All keys matched successfully>"
    x = ganglion.randn(5, 4)
    src.eval(), model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), src(x).detach().numpy())


def test_module_load_state_dict_keeps_torch_semantics():
    # Module.load_state_dict(strict=False) still raises on a shape mismatch, as torch's does;
    # the forgiving mode is load_state_dict_file's
    wrong = {"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(2, np.float32)}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        torch.nn.Linear(2, 2).load_state_dict({k: torch.from_numpy(v) for k, v in
                                               wrong.items()}, strict=False)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        nn.Linear(2, 2).load_state_dict(wrong, strict=False)
    assert load_state_dict_file(nn.Linear(2, 2), wrong, strict=False).mismatched_keys == [
        ("weight", (3, 2), (2, 2))]


def test_values_that_are_not_tensors_still_raise():
    with pytest.raises(RuntimeError, match="expected a Tensor"):
        load_state_dict_file(nn.Linear(2, 2), {"weight": "oops", "bias": ganglion.zeros(2)},
                             strict=False)


def test_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(2)], path)
    with pytest.raises(TypeError, match="holds a list, expected a state_dict"):
        load_state_dict_file(nn.Linear(2, 2), path)
    with pytest.raises(KeyError, match="has no entry 'model'"):
        load_state_dict_file(nn.Linear(2, 2), {"weight": ganglion.zeros(2, 2)}, key="model")
