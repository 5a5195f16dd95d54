"""Reading PyTorch checkpoints (``torch.save``'s ``.pt``/``.pth``/``.bin`` files) without torch
and without running code.

Two layouts are read: the zip archive torch has written since 1.6 (``<name>/data.pkl``, one
``<name>/data/<key>`` record per storage, ``<name>/byteorder``) and the older "legacy"
stream (``_use_new_zipfile_serialization=False``: a magic number, then pickles, then the raw
storages). The pickles run on the restricted VM of ``ganglion.io.torch_pickle`` with the
allowlist of ``ganglion.io.torch_globals``, so a hostile file raises ``CheckpointError``
naming what it asked for, and nothing it names is imported or called. The pre-1.0 tar layout
and TorchScript archives (``torch.jit.save``) are refused with a message saying so.

Tensors share memory the way torch's do: every tensor on one storage is a strided view of the
same array. ``ganglion.load`` dispatches here; see ``load_torch`` for the details.

Example:
    >>> import io, ganglion
    >>> from ganglion.io.torch_checkpoint import sniff
    >>> sniff(b"PK\\x03\\x04rest"), sniff(b"\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\x00{}")
    ('zip', None)
"""
from __future__ import annotations

import io
import reprlib
import struct
import warnings
import zipfile

import numpy as np

from ganglion.io.errors import CheckpointError
from ganglion.io.torch_globals import StorageType, TorchGlobals
from ganglion.io.torch_pickle import PassThrough, run
from ganglion.io.torch_storage import Storage, StorageView, dtype_spec

__all__ = ["load_torch", "sniff"]

_MAGIC = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
_LEGACY_PROTOCOL = 1001
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., name length, extra length
_MAX_PICKLE = 1 << 31  # a data.pkl larger than this is not a weights file


def sniff(head: bytes):
    """``'zip'``, ``'pickle'`` (a legacy torch file or another pickle) or None from a file's
    first bytes."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def load_torch(source, kind, place, mmap, where, who="load"):
    """Load a torch checkpoint as ganglion objects.

    Args:
        source: a path (str) or the file's bytes.
        kind: what ``sniff`` said (``'zip'``, ``'pickle'`` or ``'tar'``).
        place: ``place(array, location, requires_grad) -> Tensor`` (applies map_location).
        mmap: map storages from the file instead of reading them (zip layout, path only).
        where: the file's name for messages.

    Returns the saved object: dicts/OrderedDicts (a state_dict keeps its ``_metadata``),
    lists, tuples, numbers and strings as saved, tensors as ganglion Tensors and
    ``nn.Parameter``s, ``torch.Size`` as ``ganglion.Size``, dtypes and devices as ganglion's.
    bfloat16, uint16 and uint32 tensors are widened exactly to float32, int32 and int64 (with
    a ``UserWarning``), as ganglion has no such dtypes.
    """
    if kind == "tar":
        raise CheckpointError(f"{who}: {where} is in torch's pre-1.0 tar format, which ganglion "
                              f"does not read; load it in torch and re-save it with "
                              f"torch.save (any version since 1.6).")
    try:
        if kind == "zip":
            obj, storages = _load_zip(source, place, mmap, where)
        else:
            if mmap:
                raise CheckpointError("mmap=True needs the zip layout torch.save has written "
                                      "since 1.6 (this is the legacy layout)")
            data = source if isinstance(source, bytes) else _read_all(source)
            obj, storages = _load_legacy(data, place)
    except CheckpointError as e:
        what = "a zip archive" if kind == "zip" else "a pickle file"
        raise CheckpointError(f"{who}: {where} is {what} but not a loadable torch checkpoint: "
                              f"{e}") from None
    except PassThrough as e:  # placing a tensor failed (map_location, no CUDA)
        raise e.error from None
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/zlib/struct report damage in many ways
        # (BadZipFile for CRC errors, RuntimeError for an "encrypted" flag, zlib.error, ...)
        raise CheckpointError(f"{who}: {where} is a damaged torch checkpoint: "
                              f"{type(e).__name__}: {e}") from None
    widened = sorted({d for s in storages for d in s.widened})
    if widened:
        to = {d: dtype_spec(d)[1] for d in widened}
        warnings.warn(f"{who}: {where}: ganglion has no {' or '.join(widened)} dtype, so "
                      f"those tensors were widened exactly: "
                      f"{', '.join(f'{d} -> {to[d]}' for d in widened)}.", stacklevel=3)
    return obj


def _read_all(path):
    with open(path, "rb") as fh:
        return fh.read()


# -- the zip layout ---------------------------------------------------------------------------
def _load_zip(source, place, mmap, where):
    if mmap and not isinstance(source, str):
        raise CheckpointError("mmap=True needs f to be a file path")
    with zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source)) as zf:
        prefix, order = _zip_layout(zf)
        info = zf.getinfo(prefix + "data.pkl")
        if info.file_size > _MAX_PICKLE:
            raise CheckpointError(f"its data.pkl is {info.file_size} bytes, too large for a "
                                  f"weights file")
        data = zf.read(info)
        storages = _ZipStorages(zf, prefix, order, _MappedFile(source) if mmap else None)
        globals_ = TorchGlobals(place)
        obj, end = run(data, 0, globals_.find, storages.load)
        globals_.check_finished()
        if end != len(data):
            raise CheckpointError(f"data.pkl has {len(data) - end} bytes after its STOP opcode")
    return obj, list(storages.loaded.values())


def _zip_layout(zf):
    """``(record prefix, byte order)`` of a torch.save archive."""
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    scripted = any("/code/" in n for n in names)
    if scripted or len(pkl) != 1:
        raise CheckpointError(
            "it is a TorchScript archive (torch.jit.save): load it with torch.jit.load and "
            "save its state_dict()" if scripted else
            "it is a zip archive without exactly one <name>/data.pkl, so not a torch.save file")
    prefix = pkl[0][:-len("data.pkl")]
    order = "little"
    if prefix + "byteorder" in names:
        order = zf.read(prefix + "byteorder").decode("ascii")
        if order not in ("little", "big"):
            raise CheckpointError(f"its byteorder record says {reprlib.repr(order)}, "
                                  f"expected 'little' or 'big'")
    return prefix, order


class _ZipStorages:
    """The archive's ``persistent_load``: one ``Storage`` per ``data/<key>`` record, read
    (or mapped) when first referenced and shared by every tensor on it."""

    def __init__(self, zf, prefix, order, mapped):
        self.zf, self.prefix, self.order, self.mapped = zf, prefix, order, mapped
        self.loaded = {}

    def load(self, pid):
        stype, key, location, numel = _storage_pid(pid, 5)
        if key in self.loaded:
            if self.loaded[key].dtype != stype.dtype:
                raise CheckpointError(f"storage {key!r} is used with two dtypes")
            return self.loaded[key]
        record = self.prefix + "data/" + key
        try:
            rec = self.zf.getinfo(record)
        except KeyError:
            raise CheckpointError(f"storage {key!r} has no record {record!r}") from None
        nbytes = numel * _itemsize(stype)
        if rec.file_size != nbytes:
            raise CheckpointError(f"storage {key!r} should hold {numel} {stype.dtype} elements "
                                  f"({nbytes} bytes) but its record has {rec.file_size} bytes")
        try:
            if self.mapped is not None and rec.compress_type == zipfile.ZIP_STORED:
                raw = self.mapped.bytes_of(rec, nbytes)
            else:
                raw = np.frombuffer(self.zf.read(rec), np.uint8)
        except Exception as e:  # noqa: BLE001 - CRC errors, bad headers, bad deflate data
            raise CheckpointError(f"storage record {record!r} is damaged: "
                                  f"{type(e).__name__}: {e}") from None
        self.loaded[key] = Storage(raw, self.order, location, stype.dtype)
        return self.loaded[key]


class _MappedFile:
    """Copy-on-write maps of stored (uncompressed) zip records: pages are read when touched
    and writes to the tensors never reach the file."""

    def __init__(self, path):
        self.path = path

    def bytes_of(self, rec, nbytes):
        if nbytes == 0:
            return np.zeros(0, np.uint8)
        with open(self.path, "rb") as fh:
            fh.seek(rec.header_offset)
            sig, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
        if sig != b"PK\x03\x04":
            raise CheckpointError(f"the local header of {rec.filename!r} is damaged")
        start = rec.header_offset + 30 + name_len + extra_len
        return np.memmap(self.path, np.uint8, mode="c", offset=start, shape=(nbytes,))


def _itemsize(stype):
    code, _ = dtype_spec(stype.dtype)  # raises for dtypes ganglion cannot hold
    return np.dtype(code).itemsize


def _storage_pid(pid, length):
    """Validate ``('storage', StorageType, key, location, numel[, view_metadata])``."""
    if not (isinstance(pid, tuple) and len(pid) == length and pid[0] in ("storage", b"storage")):
        first = pid[0] if isinstance(pid, tuple) and pid else pid
        extra = (" (a 'module' id: the file pickles whole modules; save model.state_dict() "
                 "instead)") if first in ("module", b"module") else ""
        raise CheckpointError(f"refused persistent id {reprlib.repr(first)}{extra}: only "
                              f"storages may be referenced")
    stype, key, location, numel = pid[1:5]
    if isinstance(location, bytes):
        location = location.decode("ascii")
    if not (isinstance(stype, StorageType) and isinstance(key, str) and
            isinstance(location, str) and isinstance(numel, int) and numel >= 0):
        raise CheckpointError(f"a storage reference is malformed: {reprlib.repr(pid[1:5])}")
    return stype, key, location, numel


# -- the legacy layout ------------------------------------------------------------------------
def _load_legacy(data, place):
    magic, pos = run(data, 0, None, None)
    if magic != _MAGIC:
        raise CheckpointError("it is a pickle file but not a torch checkpoint (no torch magic "
                              "number); ganglion never loads arbitrary pickles, as unpickling "
                              "can run code")
    protocol, pos = run(data, pos, None, None)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"its legacy protocol version is {reprlib.repr(protocol)}, expected "
                              f"{_LEGACY_PROTOCOL}")
    _, start = run(data, pos, None, None)  # sys_info: the data is always written little-endian
    # Pass 1 finds the storages (their dtypes give the sizes of the raw data that follows the
    # pickles); pass 2 rebuilds the tensors once every storage holds its data.
    refs = {}
    dry = TorchGlobals(place, dry=True)
    _, pos = run(data, start, dry.find, lambda pid: _legacy_ref(pid, refs))
    keys, pos = run(data, pos, None, None)
    roots = _legacy_storages(data, pos, keys, refs)
    views = {}

    def persistent_load(pid):
        stype, key, location, numel = _storage_pid(pid, 6)
        if pid[5] is None:
            return roots[key]
        vkey, offset, size = pid[5]
        if vkey not in views:
            views[vkey] = StorageView(roots[key], offset, size)
        return views[vkey]

    globals_ = TorchGlobals(place)
    obj, _ = run(data, start, globals_.find, persistent_load)
    globals_.check_finished()
    return obj, list(roots.values())


def _legacy_storages(data, pos, keys, refs):
    """The raw storages after the pickles: per key, an int64 element count and the bytes."""
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError("its list of storage keys is malformed")
    roots = {}
    for key in keys:
        if key not in refs or key in roots:
            raise CheckpointError(f"storage key {key!r} is unknown or repeated")
        stype, location, numel = refs[key]
        if pos + 8 > len(data):
            raise CheckpointError("it is truncated in its storage data")
        (count,) = struct.unpack_from("<q", data, pos)
        nbytes = numel * _itemsize(stype)
        if count != numel or pos + 8 + nbytes > len(data):
            raise CheckpointError(f"storage {key!r} should hold {numel} elements; the file "
                                  f"says {count} or is truncated")
        raw = np.frombuffer(data, np.uint8, count=nbytes, offset=pos + 8)
        roots[key] = Storage(raw, "little", location, stype.dtype)
        pos += 8 + nbytes
    missing = sorted(set(refs) - set(roots))
    if missing:
        raise CheckpointError(f"storage {missing[0]!r} has no data")
    return roots


def _legacy_ref(pid, refs):
    stype, key, location, numel = _storage_pid(pid, 6)
    view = pid[5]
    if view is not None and not (isinstance(view, tuple) and len(view) == 3 and
                                 isinstance(view[0], str) and
                                 all(isinstance(v, int) and v >= 0 for v in view[1:])):
        raise CheckpointError(f"a storage view is malformed: {reprlib.repr(view)}")
    if key in refs and refs[key][0].dtype != stype.dtype:
        raise CheckpointError(f"storage {key!r} is used with two dtypes")
    refs[key] = (stype, location, numel)
    return None

