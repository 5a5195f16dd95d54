"""``save``/``load`` (torch's signatures) and ``save_file``/``load_file`` on safetensors files.

Every checkpoint is a standard safetensors file: the arrays under path keys
(``"model.fc.weight"``, ``"optimizer.state.0.exp_avg"``) and, in the header's ``__metadata__``
under ``"ganglion.structure"``, a JSON document describing the containers and scalars around
them (see ``ganglion.io.serialize``). There is no pickle anywhere, so loading a file can never
run code; ``weights_only`` is accepted for torch compatibility and is always effectively True.
A flat ``{name: tensor}`` state_dict saved with ``save`` is also a plain safetensors state_dict
that ``safetensors.torch.load_file`` reads directly.

Example:
    >>> import io, ganglion
    >>> buf = io.BytesIO()
    >>> ganglion.io.save({"w": ganglion.ones(2, 3), "step": 7}, buf)
    >>> _ = buf.seek(0)
    >>> ckpt = ganglion.io.load(buf)
    >>> ckpt["w"].shape, ckpt["step"]
    (ganglion.Size([2, 3]), 7)
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
import warnings

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import cuda_is_available, device as _device, to_device_array
from ganglion.io.errors import CheckpointError
from ganglion.io.serialize import flatten, host_array, unflatten
from ganglion.io.torch_checkpoint import load_torch, sniff
from ganglion.io.torch_storage import bfloat16_to_float32
from ganglion.tensor import Tensor

__all__ = ["save", "load", "save_file", "load_file", "STRUCTURE_KEY"]

_SNIFF_BYTES = 262  # enough to tell zip, pickle and tar files from safetensors ones
STRUCTURE_KEY = "ganglion.structure"  # the __metadata__ entry that holds the JSON structure
# safetensors dtype tags -> little-endian NumPy dtypes (for mmap=True, which maps the file)
_ST_DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2",
              "U32": "<u4", "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2",
              "F32": "<f4", "F64": "<f8", "C64": "<c8", "BF16": "<u2"}
# phrases in the library's errors -> what they mean to a user
_HINTS = (("header too small", "the file is empty or too short to be a safetensors file"),
          ("header too large", "its first 8 bytes are not a valid safetensors header length: "
                               "it is not a safetensors file, or it is corrupted"),
          ("invalid header length", "the file is truncated inside its header"),
          ("not fully covered", "the file is truncated, or its header does not match its data"),
          ("json", "the header is corrupted"),
          ("offset", "the header is corrupted (a tensor's shape, dtype or offsets do not match "
                     "the data)"),
          ("utf", "the header is corrupted"))


def _library():
    try:
        import safetensors.numpy  # noqa: PLC0415 - imported when first used
    except ImportError:
        raise ImportError("ganglion.save/load need the 'safetensors' package: "
                          "pip install safetensors") from None
    return safetensors


# -- saving -----------------------------------------------------------------------------------
def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False) -> None:
    """Save tensors, arrays, state_dicts, optimizer states and whole checkpoints to a file.

    The file is a standard safetensors file (see the module docstring); writing to a path is
    atomic: a temporary file in the same directory is renamed over ``f`` once it is complete,
    so a crash never leaves a half-written checkpoint.

    Args:
        obj: a Tensor, a NumPy array, or nested dicts/OrderedDicts/lists/tuples of tensors,
            arrays, NumPy scalars, Python numbers (ints of any size), strings, bytes, None,
            sets, ``ganglion.Size``/``dtype``/``device``. Parameters are stored as tensors
            with their ``requires_grad`` flag; ``.grad`` is not stored (as in torch).
        f: a path (``str`` or ``os.PathLike``) or a binary file object with ``write``.
        pickle_module, pickle_protocol, _use_new_zipfile_serialization,
            _disable_byteorder_record: accepted for torch compatibility; ignored (ganglion
            never uses pickle).

    Raises:
        TypeError: ``obj`` holds an object that cannot be stored (the message says where).
        ValueError: ``obj`` contains itself.

    Example:
        >>> import io, ganglion
        >>> buf = io.BytesIO()
        >>> ganglion.io.save({"state": {0: {"step": 3}}, "betas": (0.9, 0.999)}, buf)
        >>> _ = buf.seek(0)
        >>> ganglion.io.load(buf)
        {'state': {0: {'step': 3}}, 'betas': (0.9, 0.999)}
    """
    arrays, structure = flatten(obj)
    _write(arrays, {STRUCTURE_KEY: structure}, f, "save")


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Save a flat ``{name: tensor}`` dict as a standard safetensors file.

    The counterpart of ``safetensors.torch.save_file``: the file holds only the tensors (made
    contiguous) and ``metadata``, so any safetensors reader (PyTorch, JAX, ...) loads it.
    Writing is atomic. Tensors that share memory are each written in full and load as
    separate tensors (use ``ganglion.save`` to keep the sharing).

    Args:
        tensors: ``{str: Tensor or np.ndarray}``.
        filename: the path to write.
        metadata: optional ``{str: str}`` stored in the header's ``__metadata__``.

    Example:
        >>> import os, tempfile, ganglion
        >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
        >>> ganglion.io.save_file({"fc.weight": ganglion.ones(2, 3)}, path, {"format": "pt"})
        >>> ganglion.io.load_file(path)["fc.weight"].shape
        ganglion.Size([2, 3])
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_file: expected a dict of str -> Tensor, got "
                        f"{type(tensors).__name__}; for nested checkpoints use ganglion.save.")
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError("save_file: metadata must be a dict of str -> str (safetensors stores "
                        "only text there); convert values with str() or json.dumps().")
    _write({name: _flat_array(name, t) for name, t in tensors.items()}, metadata, filename,
           "save_file")


def _flat_array(name, t):
    if not isinstance(name, str) or name == "__metadata__":
        raise ValueError(f"save_file: tensor names must be strings other than '__metadata__', "
                         f"got {name!r}.")
    if not isinstance(t, (Tensor, np.ndarray)):
        raise TypeError(f"save_file: {name!r} is a {type(t).__name__}, expected a Tensor or "
                        f"np.ndarray; for other values use ganglion.save.")
    host = host_array(t.array if isinstance(t, Tensor) else t)
    if host is None:
        raise TypeError(f"save_file: {name!r} has dtype {t.dtype}, which "
                        f"safetensors cannot store.")
    return host


def _write(arrays, metadata, f, who):
    lib = _library()
    try:
        if isinstance(f, (str, os.PathLike)):
            _atomic_write(os.fspath(f), lambda tmp: lib.numpy.save_file(arrays, tmp, metadata),
                          who)
        elif callable(getattr(f, "write", None)):
            if isinstance(f, io.TextIOBase):
                raise TypeError(f"{who}: f is a text-mode file; open it in binary mode ('wb').")
            f.write(lib.numpy.save(arrays, metadata))
        else:
            raise TypeError(f"{who}: f must be a path (str or os.PathLike) or a binary file "
                            f"object with write(), got {type(f).__name__}.")
    except lib.SafetensorError as e:  # e.g. disk full: torch raises RuntimeError here too
        raise RuntimeError(f"{who}: could not write {f!r}: {e}") from None


def _atomic_write(path, write, who):
    if os.path.islink(path):  # write through the link, as open(path, "wb") would
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"{who}: parent directory {directory} does not exist.")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the rename makes it visible
        finally:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # keep an old file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- loading ----------------------------------------------------------------------------------
def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by ``save``, any safetensors file (a flat dict of tensors) or a
    PyTorch checkpoint written by ``torch.save`` (``.pt``/``.pth``/``.bin``).

    Tensors come back as ganglion Tensors (Parameters as plain tensors with their
    ``requires_grad`` flag), NumPy arrays as arrays, and every container, key type and order,
    number and string exactly as saved. Loading never runs code: torch files are read by a
    restricted unpickler that allows only what ``torch.load(weights_only=True)`` allows and
    raises ``CheckpointError`` naming anything else (see ``ganglion.io.torch_checkpoint``;
    there, saved Parameters load as ``nn.Parameter`` and bfloat16 tensors as float32).

    Args:
        f: a path or a binary file object with ``read`` (read from its current position).
        map_location: where tensors go, as in torch: None (the device each was saved from),
            a device or string (``"cpu"``), a dict mapping saved locations to new ones
            (``{"cuda:0": "cpu"}``), or a callable ``fn(tensor, location)`` returning a Tensor
            (or None for the default). NumPy arrays stay NumPy arrays.
        pickle_module, weights_only, pickle_load_args: accepted for torch compatibility and
            ignored: a load is always weights-only safe (``weights_only=False`` too).
        mmap: map the file into memory instead of reading it (``f`` must be a path; for torch
            files, the zip layout). Tensors are copy-on-write views of the file: pages are
            read when touched, and writes to a tensor never reach the file.

    Raises:
        CheckpointError (a RuntimeError and ValueError): the file is truncated, corrupted,
            neither a safetensors nor a torch file, its structure metadata is malformed, or
            a torch file asks for a global, opcode or dtype that is not allowed.
        FileNotFoundError: ``f`` is a path that does not exist.

    Example:
        >>> import io, ganglion
        >>> buf = io.BytesIO()
        >>> ganglion.io.save([ganglion.tensor([1.0, 2.0]), (3, None)], buf)
        >>> _ = buf.seek(0)
        >>> ganglion.io.load(buf, map_location="cpu")
        [tensor([1., 2.]), (3, None)]
    """
    place = _placer(map_location)
    source, head, where = _source(f, bool(mmap), "load")
    kind = sniff(head)
    if kind is not None:  # a torch.save file (or another pickle, refused there)
        return load_torch(source, kind, place, bool(mmap), where)
    arrays, metadata, where = _read(source, bool(mmap), "load", where, head)
    structure = (metadata or {}).get(STRUCTURE_KEY)
    if structure is None:  # a plain safetensors file: its flat dict of tensors
        return _flat_tensors(arrays, place, where, "load")
    return unflatten(structure, arrays, place, where)


def load_file(filename, device="cpu") -> dict:
    """Load a safetensors file as ``{name: Tensor}`` (``safetensors.torch.load_file``).

    Reads any standard safetensors file of the dtypes ganglion has (float16/32/64, int8/16/32/64,
    uint8, bool), e.g. one written by ``safetensors.torch.save_file``.

    Args:
        filename: the path to read.
        device: where to put the tensors. Default: ``"cpu"``.

    Example:
        >>> import os, tempfile, ganglion
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> ganglion.io.save_file({"b": ganglion.zeros(3, dtype=ganglion.int64)}, path)
        >>> ganglion.io.load_file(path)
        {'b': tensor([0, 0, 0])}
    """
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"load_file: filename must be a path (str or os.PathLike), got "
                        f"{type(filename).__name__}; for file objects use ganglion.load.")
    path, head, where = _source(filename, False, "load_file")
    arrays, _, where = _read(path, False, "load_file", where, head)
    return _flat_tensors(arrays, _placer(device), where, "load_file")


def _flat_tensors(arrays, place, where, who):
    out, widened = {}, []
    for name, arr in arrays.items():
        if arr.dtype.name == "bfloat16":  # from ml_dtypes (which safetensors uses if present)
            arr = bfloat16_to_float32(arr)
            widened.append(name)
        if arr.dtype not in _dt.DTYPE_OF:
            raise CheckpointError(f"{who}: {where}: tensor {name!r} has dtype {arr.dtype}, "
                                  f"which ganglion tensors do not support; read it with "
                                  f"safetensors.numpy.load_file.")
        out[name] = place(arr, "cpu", False)
    _warn_bfloat16(widened, where, who, 4)
    return out


def _warn_bfloat16(names, where, who, stacklevel):
    if names:  # the same policy as for torch files (ganglion.io.torch_storage)
        warnings.warn(f"{who}: {where}: ganglion has no bfloat16 dtype, so {len(names)} "
                      f"bfloat16 tensor(s) ({names[0]!r}, ...) were widened exactly to "
                      f"float32.", stacklevel=stacklevel)


def _placer(map_location):
    """``place(array, saved_location, requires_grad) -> Tensor`` that applies map_location."""
    # Devices are parsed here, so a user mistake (map_location="gpu") is reported as one and
    # not as a complaint about the file.
    fixed, mapping, fn = None, {}, None
    if isinstance(map_location, (str, _device)):
        fixed = _device(map_location)
    elif isinstance(map_location, dict):
        mapping = {str(_device(k)): _device(v) for k, v in map_location.items()}
    elif callable(map_location):
        fn = map_location
    elif map_location is not None:
        raise TypeError(f"load: map_location must be None, a device, a string, a dict or a "
                        f"callable, got {type(map_location).__name__}.")

    def place(arr, location, requires_grad):
        t = _new_tensor(arr)
        if fn is not None:
            moved = fn(t, location)
            if moved is not None:
                return moved.requires_grad_(True) if requires_grad else moved
        dev = fixed or mapping.get(location) or _saved_device(location)
        if dev.type == "cuda":
            if not cuda_is_available():
                raise RuntimeError(
                    "load: attempting to deserialize a tensor on a CUDA device but "
                    "ganglion.cuda.is_available() is False. On a CPU-only machine, use "
                    "ganglion.load with map_location='cpu' to map your tensors to the CPU.")
            t = _new_tensor(to_device_array(arr, dev))
        return t.requires_grad_(True) if requires_grad else t

    return place


def _saved_device(location):
    try:
        return _device(location)
    except ValueError:  # the file's location string, e.g. a torch file saved on 'mps'
        raise CheckpointError(f"load: a tensor was saved on device {location!r}, which "
                              f"ganglion does not have; pass map_location='cpu'.") from None


def _source(f, mmap, who):
    """``(path or the file's bytes, its first bytes, name for messages)`` from a path or a
    binary file object (read from its current position)."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:  # FileNotFoundError, IsADirectoryError, ... as open's
            head = fh.read(_SNIFF_BYTES)
        return path, head, repr(path)
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"{who}: f must be a path (str or os.PathLike) or a binary file object "
                        f"with read(), got {type(f).__name__}.")
    if mmap:
        raise ValueError(f"{who}: mmap=True needs f to be a file path, got a "
                         f"{type(f).__name__}.")
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{who}: f.read() returned {type(data).__name__}; open the file in "
                        f"binary mode ('rb').")
    data = bytes(data)
    where = repr(f.name) if isinstance(getattr(f, "name", None), str) else "<file object>"
    return data, data[:_SNIFF_BYTES], where


def _read(source, mmap, who, where, head):
    """``(arrays, metadata or None, where)`` of the safetensors file at ``source`` (a path or
    the file's bytes, from ``_source``)."""
    lib = _library()
    if isinstance(source, str):
        path = source
        if mmap or _has_bfloat16(path):  # NumPy has no bfloat16: read the bits ourselves
            return _read_mmap(lib, path, where, who, head[:8], mmap)
        with _library_errors(where, who, head), lib.safe_open(path, framework="np") as handle:
            metadata = handle.metadata()
            arrays = {k: handle.get_tensor(k) for k in handle.keys()}
        return arrays, metadata, where
    data = source
    with _library_errors(where, who, data[:8]):
        arrays = lib.numpy.load(data)
        # the library checked the header (length, JSON, str -> str metadata) while loading
        metadata = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    return arrays, metadata.get("__metadata__"), where


def _has_bfloat16(path) -> bool:
    """Whether the safetensors header at ``path`` names BF16 tensors (False if unreadable:
    the library then reports the damage)."""
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n > 100_000_000:
            return False
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            return False
    return isinstance(header, dict) and any(
        isinstance(v, dict) and v.get("dtype") == "BF16" for v in header.values())


def _read_mmap(lib, path, where, who, head, mapped=True):
    """Like ``_read``, parsing the header here; ``mapped=False`` reads the file into memory
    (a load without mmap must not keep views of a file that may be rewritten later)."""
    with _library_errors(where, who, head):
        with lib.safe_open(path, framework="np") as handle:  # validates header vs file size
            metadata = handle.metadata()
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
        # mode "c": copy-on-write pages, so tensors are writable and the file never changes
        buf = (np.memmap(path, dtype=np.uint8, mode="c").view(np.ndarray) if mapped else
               np.fromfile(path, dtype=np.uint8))
        arrays, widened = {}, []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = (8 + n + o for o in info["data_offsets"])
            arr = buf[begin:end].view(_ST_DTYPES[info["dtype"]]).reshape(info["shape"])
            if info["dtype"] == "BF16":  # widened: a copy, not a view of the file
                arr = bfloat16_to_float32(arr.astype(np.uint16))
                widened.append(name)
            arrays[name] = arr
    _warn_bfloat16(widened, where, who, 5)
    return arrays, metadata, where


def _hint(e, head):
    if head.startswith(b"PK\x03\x04"):
        return ("it is a zip archive, such as a file written by torch.save; load_file reads "
                "only safetensors files, ganglion.load reads torch.save files too")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return ("it is a pickle file (such as a legacy torch.save file); load_file reads only "
                "safetensors files, ganglion.load reads torch.save files too")
    text = str(e).lower()
    # safetensors.numpy has no NumPy dtype for the tag (KeyError 'BF16' or NumPy's TypeError)
    if isinstance(e, KeyError) or isinstance(e, TypeError) and "not understood" in text:
        return ("it holds tensors of a dtype that NumPy cannot represent (such as bfloat16); "
                "pass the file's path instead of a file object to have bfloat16 widened to "
                "float32, or convert the tensors to float32 first")
    return next((hint for phrase, hint in _HINTS if phrase in text), "it is damaged")


@contextlib.contextmanager
def _library_errors(where, who, head):
    """Turn anything the safetensors library raises about a file into a CheckpointError."""
    try:
        yield
    except (CheckpointError, OSError):
        raise
    except Exception as e:  # noqa: BLE001 - SafetensorError, KeyError for an unknown dtype...
        raise CheckpointError(f"{who}: {where} is not a readable safetensors file: "
                              f"{_hint(e, head)} (safetensors: {e}).") from None
