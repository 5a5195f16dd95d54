"""Hostile torch checkpoints: pickles built opcode by opcode that try to run code, laid out in a
zip like torch's (and in the legacy stream), raise CheckpointError naming what they asked for,
and nothing runs. Truncated and mutated real checkpoints raise only CheckpointError."""
import io
import os
import pickle
import random
import struct
import subprocess
import sys
import warnings
import zipfile

import pytest

from ganglion.io import CheckpointError, load

# -- building pickles by hand -----------------------------------------------------------------
PROTO2 = b"\x80\x02"


def u(text):  # BINUNICODE
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def short_u(text):  # SHORT_BINUNICODE (protocol 4)
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def glob(module, name):  # GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call1(module, name, arg):  # module.name(arg) with REDUCE
    return glob(module, name) + arg + b"\x85R"


def torch_zip(pkl, storages=None):
    """A zip laid out as torch.save writes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def legacy(pkl):
    """torch's legacy stream: magic, protocol, sys_info, the object pickle, the storage keys."""
    magic = PROTO2 + b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    proto = PROTO2 + b"M" + struct.pack("<H", 1001) + b"."
    sys_info = PROTO2 + b"}."
    return magic + proto + sys_info + pkl + PROTO2 + b"]."


def _shell(marker):
    return f"touch {marker}"


def _python(marker):
    return f"open({str(marker)!r}, 'w').close()"


def evil_pickles(marker):
    """(pickle bytes, the name the error must mention) for each attack."""
    sh, py = _shell(marker), _python(marker)
    getattr_chain = (glob("builtins", "getattr") + b"(" + call1("builtins", "__import__", u("os"))
                     + u("system") + b"tR" + u(sh) + b"\x85R")
    popen_list = (glob("subprocess", "Popen") + b"](" + u("touch") + u(str(marker)) + b"e\x85R")
    return {
        "os.system": (PROTO2 + call1("os", "system", u(sh)) + b".", "os.system"),
        "posix.system": (PROTO2 + call1("posix", "system", u(sh)) + b".", "posix.system"),
        "subprocess.Popen": (PROTO2 + popen_list + b".", "subprocess.Popen"),
        "subprocess.check_call": (PROTO2 + call1("subprocess", "check_call", u(sh)) + b".",
                                  "subprocess.check_call"),
        "builtins.exec": (PROTO2 + call1("builtins", "exec", u(py)) + b".", "builtins.exec"),
        "builtins.eval": (PROTO2 + call1("builtins", "eval", u(py)) + b".", "builtins.eval"),
        "py2 __builtin__.eval": (PROTO2 + call1("__builtin__", "eval", u(py)) + b".",
                                 "builtins.eval"),
        "getattr chain": (PROTO2 + getattr_chain + b".", "builtins.getattr"),
        "STACK_GLOBAL os.system": (b"\x80\x04" + short_u("os") + short_u("system") + b"\x93" +
                                   short_u(sh) + b"\x85R.", "os.system"),
        "INST os.system": (PROTO2 + b"(" + u(sh) + b"ios\nsystem\n.", "INST"),
        "OBJ": (PROTO2 + b"(}" + u(sh) + b"o.", "OBJ"),
        "NEWOBJ on an allowed class": (PROTO2 + glob("collections", "OrderedDict") +
                                       b")\x81.", "NEWOBJ"),
        "EXT1 registry lookup": (PROTO2 + b"\x82\x01" + u(sh) + b"\x85R.", "EXT1"),
        "copyreg reconstructor": (PROTO2 + call1("copyreg", "_reconstructor", b"N") + b".",
                                  "copyreg._reconstructor"),
        "torch storage from bytes": (PROTO2 + call1("torch.storage", "_load_from_bytes",
                                                    b"C\x00") + b".",
                                     "torch.storage._load_from_bytes"),
        "numpy reconstruct": (PROTO2 + call1("numpy.core.multiarray", "_reconstruct", b"N") +
                              b".", "numpy.core.multiarray._reconstruct"),
        "import side effect": (PROTO2 + glob("this", "s") + b".", "this.s"),
        "BUILD on a dict": (PROTO2 + b"}}" + u("x") + b"Nsb.", "BUILD"),
        "BUILD __class__ on an OrderedDict": (PROTO2 + glob("collections", "OrderedDict") +
                                              b")R}" + u("__class__") + b"Nsb.", "BUILD"),
        "BUILD shadowing OrderedDict.keys": (PROTO2 + glob("collections", "OrderedDict") +
                                             b")R}" + u("keys") + b"K\x01sb.", "BUILD"),
        "REDUCE on a storage type": (PROTO2 + glob("torch", "FloatStorage") + b")R.",
                                     "REDUCE"),
        "REDUCE on a string": (PROTO2 + u("os.system") + u(sh) + b"\x85R.", "REDUCE"),
        "module persistent id": (PROTO2 + b"(" + u("module") + u("os") + b"tQ.", "module"),
        "string persistent id": (PROTO2 + u(sh) + b"Q.", "persistent id"),
        "evil after valid content": (PROTO2 + b"}(" + u("w") + b"K\x01" + u("x") +
                                     call1("os", "system", u(sh)) + b"u.", "os.system"),
        "sparse tensor rebuild": (PROTO2 + call1("torch._utils", "_rebuild_sparse_tensor",
                                                 b"N") + b".", "sparse tensors"),
    }


ATTACKS = sorted(evil_pickles("m"))


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("layout", ["zip", "legacy", "bytesio"])
def test_attack_is_refused_and_nothing_runs(attack, layout, tmp_path):
    marker = tmp_path / "pwned"
    pkl, name = evil_pickles(marker)[attack]
    data = legacy(pkl) if layout == "legacy" else torch_zip(pkl)
    path = tmp_path / "evil.pt"
    path.write_bytes(data)
    had_this = "this" in sys.modules
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.").replace("(", r"\(")):
        load(io.BytesIO(data) if layout == "bytesio" else path)
    assert not marker.exists(), f"{attack}: the payload ran"
    assert had_this or "this" not in sys.modules, "a module named in the file was imported"


def test_the_attacks_work_with_a_real_unpickler(tmp_path):
    # the payloads are live: Python's unpickler runs them (so the refusals above matter)
    marker = tmp_path / "ran"
    pkl, _ = evil_pickles(marker)["os.system"]
    pickle.loads(pkl)
    assert marker.exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _SubprocessPayload(_Payload):
    def __reduce__(self):
        return (subprocess.call, (["touch", self.marker],))


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("payload", [_Payload, _SubprocessPayload])
def test_pickler_made_payload_inside_a_state_dict(protocol, payload, tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.ones(2), "evil": payload(marker)}, path,
               pickle_protocol=protocol)
    with pytest.raises(CheckpointError, match=r"refused GLOBAL (posix|os|subprocess)\.\w+"):
        load(path)
    assert not marker.exists()


def test_storage_references_are_checked(tmp_path):
    # a valid storage reference whose tensor reaches past the storage's end is refused
    # (a crafted layout must never read memory outside the file's data)
    pid = b"(" + u("storage") + glob("torch", "FloatStorage") + u("0") + u("cpu") + b"K\x02tQ"
    rebuild = (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K\x00K\x05\x85K\x01"
               b"\x85\x89" + glob("collections", "OrderedDict") + b")RtR")
    data = torch_zip(PROTO2 + rebuild + b".", {"0": b"\x00" * 8})
    with pytest.raises(CheckpointError, match="reaches element 4 of a storage of 2 elements"):
        load(io.BytesIO(data))
    short = torch_zip(PROTO2 + rebuild + b".", {"0": b"\x00" * 4})
    with pytest.raises(CheckpointError, match="should hold 2 float32 elements"):
        load(io.BytesIO(short))
    missing = torch_zip(PROTO2 + rebuild + b".")
    with pytest.raises(CheckpointError, match="has no record"):
        load(io.BytesIO(missing))


def test_non_torch_pickle_is_refused(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"a": [1, 2]}, protocol=2))
    with pytest.raises(CheckpointError, match="pickle file but not a torch checkpoint"):
        load(path)


# -- fuzzing real checkpoints -----------------------------------------------------------------
def _real_checkpoints():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    obj = {"model": model.state_dict(), "epoch": 2, "view": torch.arange(6.0).reshape(2, 3).t(),
           "names": ["a", "b"], "p": torch.nn.Parameter(torch.ones(2))}
    out = {}
    for layout, zip_layout in (("zip", True), ("legacy", False)):
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=zip_layout)
        out[layout] = buf.getvalue()
    src, buf = zipfile.ZipFile(io.BytesIO(out["zip"])), io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:  # zlib's errors too
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    out["deflated"] = buf.getvalue()
    return out


def _rezip_with(data, pkl):
    """The same archive with data.pkl replaced (valid CRCs, so the pickle VM sees the bytes)."""
    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename,
                         pkl if info.filename.endswith("/data.pkl") else src.read(info))
    return buf.getvalue()


def _only_checkpoint_errors(data, what):
    try:
        load(io.BytesIO(data))
    except CheckpointError:
        pass
    except Exception as e:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{what}: {type(e).__name__}: {e}")


def test_truncated_and_mutated_checkpoints_raise_only_checkpoint_errors():
    rng = random.Random(1234)
    files = _real_checkpoints()
    zipped = files["zip"]
    pkl = zipfile.ZipFile(io.BytesIO(zipped)).read("archive/data.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mutated storage type may widen a dtype
        for layout, data in files.items():
            for cut in sorted(rng.sample(range(len(data)), 60)):
                _only_checkpoint_errors(data[:cut], f"{layout} cut at {cut}")
            for i in range(250):
                buf = bytearray(data)
                for _ in range(rng.randint(1, 8)):
                    buf[rng.randrange(len(buf))] = rng.randrange(256)
                _only_checkpoint_errors(bytes(buf), f"{layout} mutation {i}")
        for i in range(400):  # mutations of the pickle itself, past the zip's CRC check
            buf = bytearray(pkl)
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            if i % 5 == 0:
                buf = buf[:rng.randrange(len(buf))]
            _only_checkpoint_errors(_rezip_with(zipped, bytes(buf)), f"data.pkl mutation {i}")
