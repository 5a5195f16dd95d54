"""ganglion.io.save / load: every supported structure comes back exactly (types, dtypes, shapes,
bits, key order), through a path and through a file object."""
import io
import random
from collections import OrderedDict

import numpy as np
import pytest

import ganglion
import ganglion.optim
from ganglion.io import load, save
from ganglion.nn import Module, Parameter

from .compare import assert_same

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _roundtrip(obj, tmp_path, **load_kwargs):
    """Round trip through a path and through BytesIO; both must agree with ``obj``."""
    path = tmp_path / "ckpt.safetensors"
    save(obj, path)
    from_path = load(path, **load_kwargs)
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    assert_same(load(buf, **load_kwargs), obj)
    assert_same(from_path, obj)
    return from_path


def _values(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.random(shape) > 0.5)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (5,), (2, 3, 4)])
def test_tensor_dtypes_and_shapes(dtype, shape, tmp_path):
    t = ganglion.from_numpy(_values(dtype, shape))
    got = _roundtrip(t, tmp_path)
    assert got.dtype == getattr(ganglion, dtype)


def test_special_float_values_are_bit_exact(tmp_path):
    arr = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1e308, 0.1], dtype=np.float64)
    with np.errstate(over="ignore"):
        half = arr.astype(np.float16)
    _roundtrip({"f64": ganglion.from_numpy(arr), "f16": ganglion.from_numpy(half), "nd": arr},
               tmp_path)


@pytest.mark.parametrize("make", [
    lambda: ganglion.arange(12.0).reshape(3, 4).t(),  # transposed
    lambda: ganglion.arange(24).reshape(2, 3, 4)[:, ::2, 1:],  # sliced with steps
    lambda: ganglion.ones(3, 1).expand(3, 4),  # stride 0
])
def test_non_contiguous_tensors_are_saved_contiguous(make, tmp_path):
    t = make()
    got = _roundtrip({"t": t, "nd": np.arange(20.0).reshape(4, 5)[::2, ::-1]}, tmp_path)
    assert got["t"].is_contiguous() and got["nd"].flags.c_contiguous
    np.testing.assert_array_equal(got["t"].numpy(), t.numpy())


def test_requires_grad_and_parameters(tmp_path):
    p = Parameter(ganglion.randn(2, 3))
    leaf = ganglion.randn(4, requires_grad=True)
    nonleaf = leaf * 2  # torch also stores a non-leaf as a leaf that requires grad
    got = load(_save_to_bytes({"p": p, "leaf": leaf, "nonleaf": nonleaf, "plain": p.detach()}))
    for k in ("p", "leaf", "nonleaf"):
        assert type(got[k]) is ganglion.Tensor and got[k].requires_grad and got[k].is_leaf
    assert not got["plain"].requires_grad
    np.testing.assert_array_equal(got["nonleaf"].detach().numpy(), nonleaf.detach().numpy())
    # a loaded parameter takes part in autograd as a fresh leaf
    (got["p"] ** 2).sum().backward()
    np.testing.assert_allclose(got["p"].grad.numpy(), 2 * p.detach().numpy())


def _save_to_bytes(obj):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return buf


def test_scalars_strings_and_containers(tmp_path):
    obj = {
        "ints": [0, -1, 2 ** 53 - 1, 2 ** 53, -2 ** 53, 2 ** 63, -2 ** 63, 3 ** 200, -(7 ** 90)],
        "floats": [0.1, -0.0, 1e-320, float("nan"), float("inf"), -float("inf"), 1e300, 2.0],
        "misc": [True, False, None, "", "héllo \"quoted\"\n\x00 ✓", b"\x00\xff bytes", b""],
        "tuple": (1, (2.5, "x"), ()), "empty": [{}, [], (), OrderedDict(), set()],
        "sets": [{1, "a", (2, 3)}, frozenset({0.5, None})],
        "meta": [ganglion.Size([2, 3]), ganglion.Size([]), ganglion.float16, ganglion.bool,
                 ganglion.int64, ganglion.device("cpu")],
        "numpy_scalars": [np.float32(1.5), np.float64(-2.25), np.int64(-3), np.uint8(200),
                          np.bool_(True), np.float16(0.1), np.int8(-128)],
    }
    _roundtrip(obj, tmp_path)


def test_dict_key_types_and_order_are_kept(tmp_path):
    t = ganglion.ones(2)
    obj = OrderedDict([("z", 1), ("a", t), (10, "ten"), ("10", "str ten"), (2, None),
                       (-1.5, 0), ((1, "a"), [1]), (None, 2), (True, 3), (b"k", 4),
                       (frozenset({1}), 5)])
    got = _roundtrip({"b": {3: 0, 1: 1, 2: 2}, "a": obj, "": {"": t * 2}}, tmp_path)
    assert list(got["a"]) == list(obj) and list(got["b"]) == [3, 1, 2]


def test_roots_of_every_kind(tmp_path):
    for obj in (ganglion.tensor(3.5), np.arange(4), 7, None, "s", [ganglion.zeros(0)],
                (np.float32(2),), OrderedDict(w=ganglion.ones(1))):
        _roundtrip(obj, tmp_path)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "complex64", "float16",
                                   "bool", ">f8", ">i4"])
def test_numpy_arrays_of_every_storable_dtype(dtype, tmp_path):
    arr = (np.arange(12).reshape(3, 4) % 7).astype(dtype)
    got = load(_save_to_bytes({"a": arr, "zero_d": arr[0, 0].reshape(()), "empty": arr[:0]}))
    want_dtype = np.dtype(dtype).newbyteorder("=")  # stored little-endian, values equal
    assert got["a"].dtype == want_dtype and type(got["a"]) is np.ndarray
    np.testing.assert_array_equal(got["a"], arr)
    assert got["zero_d"].shape == () and got["empty"].shape == (0, 4)


def test_path_key_collisions_and_reserved_names(tmp_path):
    a, b, c = ganglion.ones(1), ganglion.zeros(1), ganglion.full((1,), 2.0)
    _roundtrip({"a.b": a, "a": {"b": b, "b#1": c}, "__metadata__": a * 3,
                "tensor": {"__metadata__": [c]}}, tmp_path)


def test_shared_tensors_are_stored_once_and_alias_after_load(tmp_path):
    from safetensors.numpy import load_file

    w = ganglion.randn(3, 2)
    view_holder = w.detach()  # another Tensor object on the same array
    arr = np.arange(5.0)
    obj = {"w": w, "again": w, "nested": [w, {"detached": view_holder}], "arr": arr,
           "arr2": arr, "tensor_of_arr": ganglion.from_numpy(arr)}
    path = tmp_path / "shared.safetensors"
    save(obj, path)
    assert sorted(load_file(str(path))) == ["arr", "w"]  # each buffer written once
    got = load(path)
    assert_same(got, obj)
    assert got["w"] is got["again"] is got["nested"][0]  # one object saved thrice
    assert got["nested"][1]["detached"] is not got["w"]
    assert got["arr"] is got["arr2"]
    got["nested"][1]["detached"].add_(1.0)  # shares memory with got["w"], as before saving
    np.testing.assert_array_equal(got["w"].numpy(), w.numpy() + 1)
    got["arr"][0] = 100.0
    assert got["tensor_of_arr"][0].item() == 100.0


class _Toy(Module):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(ganglion.randn(4, 3))
        self.bias = Parameter(ganglion.randn(4))
        self.register_buffer("steps", ganglion.tensor(5))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


def _trained(opt_cls, **kw):
    model = _Toy()
    opt = opt_cls(model.parameters(), **kw)
    for _ in range(3):
        opt.zero_grad()
        (model(ganglion.randn(8, 3)) ** 2).mean().backward()
        opt.step()
    return model, opt


@pytest.mark.parametrize("opt_name, kw", [("Adam", {"lr": 0.1, "betas": (0.8, 0.99)}),
                                          ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_model_and_optimizer_checkpoint_resumes_identically(opt_name, kw, tmp_path):
    opt_cls = getattr(ganglion.optim, opt_name)
    model, opt = _trained(opt_cls, **kw)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "rng": ganglion.get_rng_state(), "np_rng": np.random.get_state()}
    got = _roundtrip(ckpt, tmp_path)
    assert isinstance(got["model"], OrderedDict) and got["model"]._metadata is not None
    model2, opt2 = _Toy(), None
    model2.load_state_dict(got["model"])
    opt2 = opt_cls(model2.parameters(), **kw)
    opt2.load_state_dict(got["optimizer"])
    ganglion.set_rng_state(got["rng"])
    x = ganglion.randn(8, 3)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        (m(x) ** 2).mean().backward()
        o.step()
    np.testing.assert_array_equal(model2.weight.detach().numpy(), model.weight.detach().numpy())


def test_optimizer_state_dict_shape_from_the_brief(tmp_path):
    sd = {"state": {0: {"step": ganglion.tensor(3.0), "exp_avg": ganglion.randn(2, 2)},
                    1: {"step": ganglion.tensor(3.0), "exp_avg": ganglion.randn(2)}},
          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                            "foreach": None, "params": [0, 1]}]}
    got = _roundtrip(sd, tmp_path)
    assert list(got["state"]) == [0, 1] and got["param_groups"][0]["betas"] == (0.9, 0.999)


def test_rng_states_restore_the_same_draws(tmp_path):
    states = {
        "ganglion": ganglion.get_rng_state(),  # PCG64: 128-bit ints
        "pcg64": np.random.default_rng(123).bit_generator.state,
        "mt19937": np.random.Generator(np.random.MT19937(7)).bit_generator.state,  # uint32 key
        "philox": np.random.Generator(np.random.Philox(3)).bit_generator.state,
        "legacy": np.random.get_state(),
        "python": random.getstate(),
    }
    got = _roundtrip(states, tmp_path)
    for name, bitgen in (("pcg64", np.random.PCG64), ("mt19937", np.random.MT19937),
                         ("philox", np.random.Philox)):
        a, b = bitgen(), bitgen()
        a.state, b.state = states[name], got[name]
        assert np.array_equal(np.random.Generator(a).random(5), np.random.Generator(b).random(5))
    expected = ganglion.randn(3).numpy()
    ganglion.set_rng_state(got["ganglion"])
    np.testing.assert_array_equal(ganglion.randn(3).numpy(), expected)
    random.setstate(got["python"])
    r1 = random.random()
    random.setstate(states["python"])
    assert random.random() == r1


def test_mmap_load_is_copy_on_write(tmp_path):
    obj = {"w": ganglion.randn(64, 32), "i": ganglion.arange(5), "b": ganglion.tensor(True),
           "e": ganglion.zeros(0, 3), "nd": np.arange(6, dtype=np.uint16)}
    path = tmp_path / "m.safetensors"
    save(obj, path)
    before = path.read_bytes()
    got = load(path, mmap=True)
    assert_same(got, obj)
    got["w"].mul_(0.0)  # writable, but the file is not touched
    assert path.read_bytes() == before
    assert_same(load(path), obj)


def test_map_location_forms(tmp_path):
    path = tmp_path / "c.safetensors"
    save({"w": ganglion.ones(2, requires_grad=True)}, path)
    seen = []

    def fn(t, location):
        seen.append(location)
        return t * 2  # a new tensor; load restores the saved requires_grad on it

    for ml in ("cpu", ganglion.device("cpu"), {"cpu": "cpu"}, lambda t, loc: None):
        got = load(path, map_location=ml)
        assert got["w"].device == ganglion.device("cpu") and got["w"].requires_grad
    got = load(path, map_location=fn)
    assert seen == ["cpu"] and got["w"].detach().numpy().tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="unknown device type"):
        load(path, map_location="gpu")
    with pytest.raises(TypeError, match="map_location"):
        load(path, map_location=3)


def test_cuda_saved_tensors_without_cuda(tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    if ganglion.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    path = str(tmp_path / "g.safetensors")
    save({"w": ganglion.ones(2)}, path)
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    meta["ganglion.structure"] = meta["ganglion.structure"].replace(
        '"k":"w"}', '"k":"w","dev":"cuda:0"}')
    save_file(load_file(path), path, meta)
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        load(path)
    for ml in ("cpu", {"cuda:0": "cpu"}):
        assert load(path, map_location=ml)["w"].device == ganglion.device("cpu")
    locations = []
    load(path, map_location=lambda t, loc: locations.append(loc) or t)
    assert locations == ["cuda:0"]


def test_file_objects_and_torch_compat_arguments(tmp_path):
    obj = {"x": ganglion.randn(3), "n": 1}
    path = tmp_path / "f.bin"
    with open(path, "wb") as f:
        save(obj, f, pickle_protocol=4)
    with open(path, "rb") as f:
        assert_same(load(f, weights_only=False, encoding="latin1"), obj)
    assert_same(load(str(path), None, None, weights_only=True), obj)
    buf = io.BytesIO(b"prefix")  # reads from the current position, as torch does
    buf.seek(6)
    save(obj, buf)
    buf.seek(6)
    assert_same(load(buf), obj)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    import safetensors.numpy

    path = tmp_path / "ckpt.safetensors"
    save({"v": 1}, path)
    path.chmod(0o640)
    old = path.read_bytes()

    def broken(arrays, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save({"v": 2}, path)
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    monkeypatch.undo()
    save({"v": 3}, path)
    assert load(path) == {"v": 3} and (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_top_level_namespace():
    assert ganglion.save is ganglion.io.save and ganglion.load is ganglion.io.load


def test_json_stays_portable(tmp_path):
    """Ints beyond 2**53 (where non-Python JSON readers lose precision) are hex strings, int and
    str keys stay apart, and a flat state_dict's tensors keep their own names in the file."""
    import json

    from safetensors import safe_open

    path = str(tmp_path / "p.safetensors")
    save(OrderedDict([("fc.weight", ganglion.ones(1)), ("n", 2 ** 53), ("m", 2 ** 53 - 1),
                      ("neg", -(2 ** 64))]), path)
    with safe_open(path, framework="np") as f:
        doc = json.loads(f.metadata()["ganglion.structure"])
        assert list(f.keys()) == ["fc.weight"]
    assert doc == {"version": 1, "root": {"t": "odict", "k": ["fc.weight", "n", "m", "neg"], "v": [
        {"t": "tensor", "k": "fc.weight"}, {"t": "int", "v": hex(2 ** 53)}, 2 ** 53 - 1,
        {"t": "int", "v": "-0x10000000000000000"}]}}


@pytest.mark.skipif(not ganglion.cuda.is_available(), reason="needs CUDA (CuPy and a GPU)")
def test_cuda_tensors_round_trip(tmp_path):
    path = tmp_path / "gpu.safetensors"
    obj = {"w": ganglion.randn(3, 2).cuda(), "cpu": ganglion.ones(2)}
    save(obj, path)
    got = load(path)
    assert got["w"].device == ganglion.device("cuda", 0) and got["cpu"].device.type == "cpu"
    np.testing.assert_array_equal(got["w"].cpu().numpy(), obj["w"].cpu().numpy())
    assert load(path, map_location="cpu")["w"].device.type == "cpu"
    assert load(path, map_location={"cpu": "cuda:0"})["cpu"].device.type == "cuda"
