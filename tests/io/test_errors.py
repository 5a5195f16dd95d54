"""ganglion.io errors: unsupported objects on save; damaged, foreign or hostile files on load."""
import collections
import io
import json
import os
import re

import numpy as np
import pytest
from safetensors.numpy import save as st_save, save_file as st_save_file

import ganglion
from ganglion.io import CheckpointError, load, load_file, save, save_file
from ganglion.nn import Module, Parameter

IO_DIR = os.path.join(os.path.dirname(ganglion.__file__), "io")


def _bytes(obj):
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


def _file_with_structure(tmp_path, structure, arrays=None):
    """A valid safetensors file whose ganglion structure document is ``structure``."""
    path = str(tmp_path / "hostile.safetensors")
    doc = structure if isinstance(structure, str) else json.dumps(structure)
    st_save_file(arrays or {"w": np.ones(2, np.float32)}, path, {"ganglion.structure": doc})
    return path


class _Thing:
    pass


class _Net(Module):
    def __init__(self):
        super().__init__()
        self.w = Parameter(ganglion.ones(1))


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("obj, type_name, where", [
    ({"state": {"fn": lambda x: x}}, "function", "obj['state']['fn']"),
    ({"mod": os}, "module", "obj['mod']"),
    ([1, {"a": (2, _Thing())}], "_Thing", "obj[1]['a'][1]"),
    ({"net": _Net()}, "_Net", "obj['net']"),
    ({"p": Point(1, 2)}, "Point", "obj['p']"),
    ({"d": collections.defaultdict(int)}, "defaultdict", "obj['d']"),
    ({"c": 1 + 2j}, "complex", "obj['c']"),
    (print, "builtin_function_or_method", "obj"),
])
def test_save_unsupported_object_names_type_and_path(obj, type_name, where):
    with pytest.raises(TypeError) as info:
        save(obj, io.BytesIO())
    msg = str(info.value)
    assert msg.startswith(f"save: cannot store object of type '{type_name}' at {where}; "
                          f"ganglion.save stores tensors, arrays, numbers, strings, None")
    if type_name == "_Net":
        assert "state_dict()" in msg


@pytest.mark.parametrize("obj, match", [
    ({"a": np.array(["x"])}, r"dtype <U1 at obj\['a'\]"),
    ({"a": np.zeros(2, np.complex128)}, r"dtype complex128 at obj\['a'\]"),
    ({"a": np.array([None])}, r"dtype object at obj\['a'\]"),
    ({"k": {ganglion.ones(1): 1}}, r"tensor cannot be a dict key .*obj\['k'\]"),
    ({"k": {np.float32(1): 1}}, r"NumPy scalar cannot be a dict key"),
])
def test_save_rejects_unstorable_arrays_and_keys(obj, match):
    with pytest.raises(TypeError, match=match):
        save(obj, io.BytesIO())


def test_save_rejects_cycles_and_bad_targets(tmp_path):
    cyc = {"a": []}
    cyc["a"].append(cyc)
    with pytest.raises(ValueError, match=r"obj\['a'\]\[0\] contains itself"):
        save(cyc, io.BytesIO())
    with pytest.raises(TypeError, match="f must be a path"):
        save({}, 42)
    with open(tmp_path / "t.txt", "w") as f, pytest.raises(TypeError, match="binary mode"):
        save({}, f)
    with pytest.raises(RuntimeError, match="parent directory .* does not exist"):
        save({}, tmp_path / "missing" / "x.safetensors")
    assert list(tmp_path.iterdir()) == [tmp_path / "t.txt"]


def test_a_shared_container_is_not_a_cycle():
    shared = [1, 2]
    assert load(io.BytesIO(_bytes({"a": shared, "b": shared}))) == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("cut, hint", [
    (0, "empty or too short"), (5, "empty or too short"), (30, "truncated inside its header"),
    (-3, "truncated"),
])
def test_truncated_file(cut, hint, tmp_path):
    data = _bytes({"w": ganglion.randn(4, 4), "step": 1})
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match=re.escape(repr(str(path))) + ".*" + hint):
        load(path)
    with pytest.raises(RuntimeError, match="<file object> is not a readable safetensors file"):
        load(io.BytesIO(data[:cut]))
    with pytest.raises(ValueError, match=hint):
        load(path, mmap=True)


def test_corrupted_header(tmp_path):
    data = bytearray(_bytes({"w": ganglion.randn(4)}))
    data[data.index(b'"dtype"') + 1] = ord("X")  # "dtype" -> "Xtype"
    path = tmp_path / "bad.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="header is corrupted"):
        load(path)


@pytest.mark.parametrize("content, hint", [
    (b"just some text, not a checkpoint at all", "not a safetensors file"),
    (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00", "pickle file"),
])
def test_non_safetensors_files(content, hint, tmp_path):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=hint):
        load(path)


def test_torch_save_file_loads_without_unpickling(tmp_path, monkeypatch):
    # load reads torch.save files with its own restricted VM (ganglion.io.torch_pickle);
    # load_file reads safetensors only and says where torch files go
    torch = pytest.importorskip("torch")
    import pickle

    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, lambda *a, **k: pytest.fail("pickle was used"))
    assert load(path)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(CheckpointError, match=r"zip archive, such as a file written by torch"):
        load_file(path)


@pytest.mark.parametrize("structure, match", [
    ({"version": 1, "root": {"t": "tensor", "k": "missing"}},
     r"references tensor 'missing' \(at obj\), which is not in the file"),
    ({"version": 1, "root": {"t": "dict", "k": ["a"], "v": [{"t": "tensor", "k": "nope"}]}},
     r"tensor 'nope' \(at obj\['a'\]\)"),
    ({"version": 1, "root": {"t": "__reduce__", "v": ["os.system", "echo hi"]}},
     r"unknown type tag '__reduce__' at obj"),
    ({"version": 1, "root": [1, {"x": 1}]}, r"unknown type tag None at obj\[1\]"),
    ({"version": 1, "root": {"t": "dtype", "v": "os.system"}}, "unknown dtype 'os.system'"),
    ({"version": 1, "root": {"t": "dict", "k": ["a", "b"], "v": [1]}}, "2 keys but 1 values"),
    ({"version": 1, "root": {"t": "dict", "k": [[1]], "v": [1]}}, "malformed structure"),
    ({"version": 1, "root": {"t": "int", "v": "zz"}}, "malformed structure"),
    ({"version": 1, "root": {"t": "int", "v": 5}}, r"field 'v' is 5"),
    ({"version": 1, "root": {"t": "float", "v": "1e5"}}, "malformed float"),
    ({"version": 1, "root": {"t": "bytes", "v": "***"}}, "malformed structure"),
    ({"version": 1, "root": {"t": "device", "v": "tpu"}}, "malformed structure"),
    ({"version": 1, "root": {"t": "size", "v": [1.5]}}, "malformed size"),
    ({"version": 1, "root": {"t": "tensor", "k": "w", "rg": "yes"}}, "cannot have"),
    ({"version": 1, "root": {"t": "npscalar", "k": "w"}}, r"has shape \(2,\), expected \(\)"),
    ({"version": 2, "root": None}, "format 2, newer than this ganglion"),
    ({"version": "1", "root": None}, "unrecognised checkpoint format version '1'"),
    ({"root": None}, "version None"),
    ([1, 2], "no 'root' entry"),
    ("{not json", "not valid JSON"),
])
def test_malformed_structure_metadata(structure, match, tmp_path):
    path = _file_with_structure(tmp_path, structure)
    with pytest.raises(CheckpointError, match=match) as info:
        load(path)
    assert str(info.value).startswith(f"load: {path!r}: ")


def test_integer_tensor_cannot_be_marked_requires_grad(tmp_path):
    path = _file_with_structure(tmp_path, {"version": 1, "root": {"t": "tensor", "k": "i",
                                                                  "rg": True}},
                                {"i": np.arange(3)})
    with pytest.raises(CheckpointError, match="dtype int64, requires_grad=True"):
        load(path)


def test_deeply_nested_structure_metadata(tmp_path):
    # valid JSON, deeper than the decoder (or json itself) recurses
    doc = '{"version":1,"root":' + '{"t":"tuple","v":[' * 5000 + "1" + "]}" * 5000 + "}"
    for structure in (doc, "[" * 100000):
        path = _file_with_structure(tmp_path, structure)
        with pytest.raises(CheckpointError, match="nested too deeply|not valid JSON"):
            load(path)


def test_save_nested_too_deeply():
    obj = []
    for _ in range(5000):
        obj = [obj]
    with pytest.raises(ValueError, match="nested too deeply"):
        save(obj, io.BytesIO())


def test_load_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.safetensors")
    with pytest.raises(TypeError, match="f must be a path"):
        load(3.5)
    with pytest.raises(ValueError, match="mmap=True needs f to be a file path"):
        load(io.BytesIO(_bytes({})), mmap=True)
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as f, pytest.raises(TypeError, match="binary mode"):
        load(f)


def test_plain_safetensors_with_unsupported_dtype(tmp_path):
    path = str(tmp_path / "u16.safetensors")
    st_save_file({"a": np.arange(3, dtype=np.uint16)}, path)
    with pytest.raises(CheckpointError, match="'a' has dtype uint16"):
        load_file(path)
    with pytest.raises(CheckpointError, match="'a' has dtype uint16"):
        load(path)


def test_save_file_argument_errors(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="expected a dict"):
        save_file([ganglion.ones(1)], path)
    with pytest.raises(TypeError, match="metadata must be a dict of str -> str"):
        save_file({"a": ganglion.ones(1)}, path, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="'__metadata__'"):
        save_file({"__metadata__": ganglion.ones(1)}, path)
    with pytest.raises(ValueError, match="names must be strings"):
        save_file({0: ganglion.ones(1)}, path)
    with pytest.raises(TypeError, match="'a' is a list"):
        save_file({"a": [1.0]}, path)
    with pytest.raises(TypeError, match="complex128"):
        save_file({"a": np.zeros(1, np.complex128)}, path)
    with pytest.raises(TypeError, match="filename must be a path"):
        load_file(io.BytesIO(st_save({"a": np.ones(1)})))
    assert not path.exists()


def test_no_pickle_in_ganglion_io_source():
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib|marshal|shelve"
                         r"|_pickle)\b|pickle\.(loads?|Unpickler)|allow_pickle\s*=\s*True",
                         re.MULTILINE)
    sources = [f for f in os.listdir(IO_DIR) if f.endswith(".py")]
    assert {"__init__.py", "safetensors_io.py", "serialize.py"} <= set(sources)
    for name in sources:
        with open(os.path.join(IO_DIR, name), encoding="utf-8") as f:
            assert not pattern.search(f.read()), f"ganglion/io/{name} uses pickle"


def test_load_never_calls_pickle(monkeypatch, tmp_path):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    obj = {"w": ganglion.randn(3), "nd": np.arange(3), "o": collections.OrderedDict(a=1)}
    save(obj, tmp_path / "c.safetensors")
    assert load(tmp_path / "c.safetensors")["o"] == {"a": 1}
