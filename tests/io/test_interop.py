"""Files ganglion writes load in PyTorch through safetensors.torch, and vice versa."""
import os

import numpy as np
import pytest

import ganglion
from ganglion.io import CheckpointError, load, load_file, save, save_file

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _ganglion_tensors():
    rng = np.random.default_rng(0)
    out = {}
    for i, name in enumerate(DTYPES):
        arr = rng.standard_normal((3, 4)) * 50
        out[f"layer{i}.{name}"] = ganglion.from_numpy(
            (arr > 0) if name == "bool" else arr.astype(name))
    out["scalar"] = ganglion.tensor(2.5)
    out["empty"] = ganglion.zeros(0, 5, dtype=ganglion.int64)
    out["transposed"] = ganglion.arange(6.0).reshape(2, 3).t()  # saved contiguous
    out["param"] = ganglion.nn.Parameter(ganglion.ones(2))
    return out


def _assert_equal(g, t, name):
    assert str(t.dtype) == f"torch.{g.dtype.name}", name
    assert tuple(t.shape) == tuple(g.shape), name
    np.testing.assert_array_equal(t.numpy(), g.numpy(), err_msg=name)


def test_ganglion_save_file_loads_in_torch(tmp_path):
    tensors = _ganglion_tensors()
    path = str(tmp_path / "g.safetensors")
    save_file(tensors, path, metadata={"format": "pt", "note": "from ganglion"})
    loaded = st_torch.load_file(path)
    assert sorted(loaded) == sorted(tensors)
    for name, g in tensors.items():
        _assert_equal(g.detach(), loaded[name], name)
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "from ganglion"}


def test_torch_save_file_loads_in_ganglion(tmp_path):
    gen = torch.Generator().manual_seed(0)
    tensors = {
        "w16": torch.randn(3, 2, generator=gen).half(), "w32": torch.randn(4, generator=gen),
        "w64": torch.randn(2, 2, generator=gen).double(), "i8": torch.arange(-3, 3).to(torch.int8),
        "i16": torch.arange(5).short(), "i32": torch.arange(5).int(), "i64": torch.arange(7),
        "u8": torch.arange(250, 256).to(torch.uint8), "b": torch.tensor([True, False]),
        "scalar": torch.tensor(1.5), "empty": torch.zeros(2, 0),
    }
    path = str(tmp_path / "t.safetensors")
    st_torch.save_file(tensors, path, metadata={"format": "pt"})
    for loaded in (load_file(path), load(path)):  # load() reads any safetensors file too
        assert sorted(loaded) == sorted(tensors)
        for name, t in tensors.items():
            assert type(loaded[name]) is ganglion.Tensor and not loaded[name].requires_grad
            _assert_equal(loaded[name], t, name)


def test_flat_state_dict_from_ganglion_save_is_a_plain_safetensors_state_dict(tmp_path):
    sd = {"fc.weight": ganglion.randn(3, 2), "fc.bias": ganglion.zeros(3),
          "bn.num_batches_tracked": ganglion.tensor(4)}
    path = str(tmp_path / "sd.safetensors")
    save(sd, path)
    loaded = st_torch.load_file(path)
    assert sorted(loaded) == sorted(sd)
    for name, g in sd.items():
        _assert_equal(g, loaded[name], name)
    # a torch module takes it directly
    lin = torch.nn.Linear(2, 3)
    lin.load_state_dict({"weight": loaded["fc.weight"], "bias": loaded["fc.bias"]})
    np.testing.assert_array_equal(lin.weight.detach().numpy(), sd["fc.weight"].numpy())


def test_nested_checkpoint_tensors_are_readable_by_torch_under_path_keys(tmp_path):
    ckpt = {"model": {"w": ganglion.ones(2)}, "optimizer": {"state": {0: {
        "exp_avg": ganglion.full((2,), 3.0)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}}
    path = str(tmp_path / "ckpt.safetensors")
    save(ckpt, path)
    loaded = st_torch.load_file(path)
    assert sorted(loaded) == ["model.w", "optimizer.state.0.exp_avg"]
    assert loaded["optimizer.state.0.exp_avg"].tolist() == [3.0, 3.0]


def test_bfloat16_file_from_torch_is_widened_exactly(tmp_path):
    # ganglion has no bfloat16: read from a path, such tensors become float32 (exactly, as
    # for torch.save files); a file object cannot be read without NumPy knowing the dtype
    import io

    path = str(tmp_path / "bf16.safetensors")
    w = (torch.randn(20, generator=torch.Generator().manual_seed(0)) * 1e3).bfloat16()
    st_torch.save_file({"w": w, "f": torch.ones(2)}, path)
    for read in (load_file, load, lambda p: load(p, mmap=True)):
        with pytest.warns(UserWarning, match=r"bf16\.safetensors.*widened exactly to float32"):
            got = read(path)
        assert got["w"].dtype == ganglion.float32
        np.testing.assert_array_equal(got["w"].numpy(), w.float().numpy())
    # without mmap the tensors are read into memory: rewriting the file in place later
    # leaves them unchanged
    with pytest.warns(UserWarning, match="widened"):
        got = load_file(path)
    with open(path, "r+b") as f:
        f.write(bytes(os.path.getsize(path)))
    assert got["f"].tolist() == [1.0, 1.0]
    st_torch.save_file({"w": w, "f": torch.ones(2)}, path)
    with open(path, "rb") as f, pytest.raises(CheckpointError, match="pass the file's path"):
        load(io.BytesIO(f.read()))
