"""torch.save files (zip and legacy layouts) load through ganglion.load without torch's
unpickler: values, dtypes, shared storages, strides, byte order, map_location, mmap, and
torch models' state_dicts give the same outputs in the matching ganglion models."""
import io
import zipfile

import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.io import CheckpointError, load

torch = pytest.importorskip("torch")
tnn = torch.nn
LAYOUTS = [True, False]  # torch.save's _use_new_zipfile_serialization: zip, legacy


def _save(obj, path, zip_layout=True, **kwargs):
    torch.save(obj, path, _use_new_zipfile_serialization=zip_layout, **kwargs)
    return path


def _same(g, t):
    t = t.detach()
    assert tuple(g.shape) == tuple(t.shape)
    np.testing.assert_array_equal(g.detach().numpy(), t.numpy())


# -- models: torch state_dict -> torch.save -> ganglion.load -> load_state_dict ---------------
def _check_model(tmodel, gmodel, x, tmp_path, zip_layout):
    tmodel.eval()
    path = _save(tmodel.state_dict(), tmp_path / "m.pt", zip_layout)
    state = load(path)
    assert list(state) == list(tmodel.state_dict())
    assert gmodel.load_state_dict(state).missing_keys == []
    gmodel.eval()
    with torch.no_grad():
        want = tmodel(torch.from_numpy(x))
    got = gmodel(ganglion.from_numpy(x))
    if isinstance(want, tuple):  # LSTM: (output, (h, c))
        want, got = [want[0], *want[1]], [got[0], *got[1]]
    else:
        want, got = [want], [got]
    for w, g in zip(want, got):
        np.testing.assert_allclose(g.detach().numpy(), w.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_sequential_mlp_with_batchnorm(tmp_path, zip_layout):
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(6, 16), tnn.BatchNorm1d(16), tnn.ReLU(), tnn.Linear(16, 3))
    tm.train()
    tm(torch.randn(32, 6) * 3 + 1)  # non-trivial running statistics
    gm = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    _check_model(tm, gm, x, tmp_path, zip_layout)


@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_conv_net(tmp_path, zip_layout):
    torch.manual_seed(1)
    tm = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(),
                        tnn.MaxPool2d(2), tnn.Conv2d(8, 4, 3, stride=2), tnn.Flatten(),
                        tnn.Linear(4 * 3 * 3, 5))
    tm.train()
    tm(torch.randn(4, 3, 16, 16))
    gm = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                       nn.MaxPool2d(2), nn.Conv2d(8, 4, 3, stride=2), nn.Flatten(),
                       nn.Linear(4 * 3 * 3, 5))
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    _check_model(tm, gm, x, tmp_path, zip_layout)


@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_bidirectional_lstm(tmp_path, zip_layout):
    torch.manual_seed(2)
    tm = tnn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    gm = nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(np.float32)
    _check_model(tm, gm, x, tmp_path, zip_layout)


def test_whole_training_checkpoint(tmp_path):
    torch.manual_seed(3)
    model = tnn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7,
            "best": 0.25, "name": "run-1", "history": [1.5, 0.5], "shape": torch.Size([3, 2])}
    got = load(_save(ckpt, tmp_path / "ckpt.pt"))
    assert (got["epoch"], got["best"], got["name"], got["history"]) == (7, 0.25, "run-1",
                                                                       [1.5, 0.5])
    assert got["shape"] == ganglion.Size([3, 2]) and type(got["shape"]) is ganglion.Size
    sd = opt.state_dict()
    assert got["optimizer"]["param_groups"] == sd["param_groups"]
    for k in ("exp_avg", "exp_avg_sq", "step"):
        _same(got["optimizer"]["state"][0][k], sd["state"][0][k])
    # the state_dict keeps torch's _metadata (module versions), as torch.load returns it
    assert got["model"]._metadata == model.state_dict()._metadata


# -- dtypes -----------------------------------------------------------------------------------
SAME_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "bool"]


@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_every_dtype_ganglion_has(tmp_path, zip_layout):
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for name in SAME_DTYPES:
        base = torch.randn(3, 4, generator=gen) * 60
        tensors[name] = base > 0 if name == "bool" else base.to(getattr(torch, name))
    got = load(_save(tensors, tmp_path / "d.pt", zip_layout))
    for name, t in tensors.items():
        assert got[name].dtype == getattr(ganglion, name), name
        _same(got[name], t)


@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_bfloat16_uint16_uint32_are_widened_exactly(tmp_path, zip_layout):
    gen = torch.Generator().manual_seed(0)
    bf = (torch.randn(50, generator=gen) * 1e3).to(torch.bfloat16)
    u16 = torch.tensor([0, 1, 40000, 65535], dtype=torch.uint16)
    u32 = torch.tensor([0, 7, 2**32 - 1], dtype=torch.uint32)
    path = _save({"bf": bf, "u16": u16, "u32": u32, "bf_view": bf[10:20:2]}, tmp_path / "w.pt",
                 zip_layout)
    with pytest.warns(UserWarning, match=r"bfloat16 -> float32, uint16 -> int32, "
                                         r"uint32 -> int64"):
        got = load(path)
    assert got["bf"].dtype == ganglion.float32
    np.testing.assert_array_equal(got["bf"].numpy(), bf.float().numpy())  # bit-exact
    np.testing.assert_array_equal(got["bf_view"].numpy(), bf[10:20:2].float().numpy())
    assert got["u16"].dtype == ganglion.int32 and got["u16"].tolist() == u16.tolist()
    assert got["u32"].dtype == ganglion.int64 and got["u32"].tolist() == u32.tolist()


@pytest.mark.parametrize("tensor, name", [
    (lambda: torch.ones(2, dtype=torch.complex64), "complex64"),
    (lambda: torch.ones(2, dtype=torch.uint64), "uint64"),
    (lambda: torch.ones(2).to(torch.float8_e4m3fn), "float8_e4m3fn"),
])
def test_dtypes_ganglion_lacks_are_refused(tmp_path, tensor, name):
    path = _save({"w": tensor()}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=rf"torch\.{name}.*cannot load"):
        load(path)


def test_dtype_values(tmp_path):
    got = load(_save({"a": torch.float16, "b": torch.int64, "dev": torch.device("cpu")},
                     tmp_path / "v.pt"))
    assert got == {"a": ganglion.float16, "b": ganglion.int64, "dev": ganglion.device("cpu")}
    with pytest.raises(CheckpointError, match=r"dtype torch\.bfloat16 as a value"):
        load(_save({"a": torch.bfloat16}, tmp_path / "bf.pt"))


# -- storages, views, strides -----------------------------------------------------------------
@pytest.mark.parametrize("zip_layout", LAYOUTS)
def test_views_share_one_storage_with_their_strides(tmp_path, zip_layout):
    base = torch.arange(24.0).reshape(4, 6)
    views = {"base": base, "t": base.t(), "cols": base[1:, ::2], "row": base[2],
             "expanded": torch.arange(3.0).expand(4, 3), "empty": base[:0],
             "scalar": base[3, 5]}
    got = load(_save(views, tmp_path / "v.pt", zip_layout))
    for name, t in views.items():
        _same(got[name], t)
        assert got[name].stride() == t.stride(), name
    got["base"].array[1, 2] = -1.0  # the views see the write, as torch's would
    assert got["t"].array[2, 1] == -1.0 and got["cols"].array[0, 1] == -1.0
    assert np.shares_memory(got["row"].array, got["base"].array)


def test_parameters_and_requires_grad(tmp_path):
    p = tnn.Parameter(torch.arange(3.0))
    frozen = tnn.Parameter(torch.ones(2), requires_grad=False)
    got = load(_save({"p": p, "frozen": frozen, "rg": torch.ones(2, requires_grad=True),
                      "plain": torch.ones(2)}, tmp_path / "p.pt"))
    assert isinstance(got["p"], nn.Parameter) and got["p"].requires_grad
    assert isinstance(got["frozen"], nn.Parameter) and not got["frozen"].requires_grad
    assert got["rg"].requires_grad and not isinstance(got["rg"], nn.Parameter)
    assert not got["plain"].requires_grad
    _same(got["p"], p)
    root = load(_save(torch.arange(5), tmp_path / "t.pt"))  # a tensor saved on its own
    assert type(root) is ganglion.Tensor and root.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols(tmp_path, protocol):
    obj = {"w": torch.arange(4.0), "s": {1, 2}, "fs": frozenset({3}), "b": b"\x00\xff",
           "ba": bytearray(b"ab"), "c": 1 - 2j, "big": -(2**70), "t": (None, True, 1.5),
           "nested": [[1], {"k": "v" * 300}]}
    got = load(_save(obj, tmp_path / "p.pt", pickle_protocol=protocol))
    _same(got.pop("w"), obj.pop("w"))
    assert got == obj


def test_big_endian_byteorder_record(tmp_path):
    # torch on a big-endian machine writes 'big' and native-order storages: rewrite a
    # little-endian archive into that form and expect the same values back
    tensors = {"f": torch.randn(3, 2), "d": torch.randn(4).double(), "i": torch.arange(-3, 3),
               "h": torch.randn(5).half(), "s": torch.arange(4).short(),
               "bf": torch.randn(3).bfloat16(), "u8": torch.arange(5).to(torch.uint8)}
    src = _save(tensors, tmp_path / "le.pt")
    sizes = {}  # storage key -> element size, from the torch side
    for i, t in enumerate(tensors.values()):
        sizes[str(i)] = t.element_size()
    dst = tmp_path / "be.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in info.filename:
                size = sizes[info.filename.rsplit("/", 1)[1]]
                data = np.frombuffer(data, f"<u{size}").astype(f">u{size}").tobytes()
            zout.writestr(info, data)
    with pytest.warns(UserWarning, match="bfloat16"):
        got = load(dst)
    for name, t in tensors.items():
        want = t.float() if name == "bf" else t
        np.testing.assert_array_equal(got[name].numpy(), want.numpy(), err_msg=name)
        assert got[name].array.dtype.isnative


# -- sources and options ----------------------------------------------------------------------
def test_file_objects_map_location_and_mmap(tmp_path):
    sd = tnn.Linear(3, 2).state_dict()
    path = _save(sd, tmp_path / "l.pt")
    buf = io.BytesIO(path.read_bytes())
    for got in (load(buf), load(str(path), map_location="cpu"),
                load(path, map_location={"cpu": "cpu"}),
                load(path, map_location=lambda t, loc: t * 2 if loc == "cpu" else None)):
        assert list(got) == ["weight", "bias"]
    _same(got["weight"], sd["weight"] * 2)
    before = path.read_bytes()
    mapped = load(path, mmap=True)
    _same(mapped["bias"], sd["bias"])
    mapped["bias"].array[:] = 5.0  # copy-on-write: the file is untouched
    assert path.read_bytes() == before
    with pytest.raises(CheckpointError, match="mmap=True needs the zip layout"):
        load(_save(sd, tmp_path / "legacy.pt", False), mmap=True)


def test_compressed_records_are_read(tmp_path):
    sd = {"w": torch.randn(40, 40)}
    src = _save(sd, tmp_path / "a.pt")
    dst = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    _same(load(dst)["w"], sd["w"])
    _same(load(dst, mmap=True)["w"], sd["w"])  # deflated records are read, not mapped


# -- what is refused, with what message -------------------------------------------------------
def test_whole_pickled_model_is_refused(tmp_path):
    path = _save(tnn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"refused GLOBAL torch\.nn\.modules\.linear\."
                                              r"Linear.*torch\.save\(model\)"):
        load(path)


def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(tnn.Linear(2, 2)), str(path))
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        load(path)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="zip archive without exactly one"):
        load(path)


def test_legacy_tar_layout_is_refused(tmp_path):
    import tarfile

    path = tmp_path / "old.pt"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("sys_info")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(CheckpointError, match="pre-1.0 tar format"):
        load(path)


def test_placement_errors_are_the_callers_not_the_files(tmp_path):
    # a map_location or device problem is raised as itself, not as a damaged file
    path = _save({"w": torch.ones(2)}, tmp_path / "w.pt")

    def broken(tensor, location):
        raise ZeroDivisionError("inside map_location")

    with pytest.raises(ZeroDivisionError, match="inside map_location"):
        load(path, map_location=broken)
    if not ganglion.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'") as info:
            load(path, map_location={"cpu": "cuda:0"})
        assert not isinstance(info.value, CheckpointError)
    # a file saved on a device ganglion lacks (torch on a Mac: 'mps') needs map_location
    mps = tmp_path / "mps.pt"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(mps, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data.replace(b"cpu", b"mps") if
                          info.filename.endswith("/data.pkl") else data)
    with pytest.raises(CheckpointError, match=r"saved on device 'mps'.*map_location='cpu'"):
        load(mps)
    assert load(mps, map_location="cpu")["w"].tolist() == [1.0, 1.0]
