"""Nested Python structures <-> a flat ``{key: ndarray}`` dict plus a JSON structure document.

``flatten(obj)`` walks a checkpoint (tensors, NumPy arrays, numbers, strings, None, dicts,
OrderedDicts, lists, tuples, ...) and returns every array under a readable path key
(``"optimizer.state.0.exp_avg"``) plus a JSON document that records everything else: the
containers, their key types and order, scalars, and for each tensor its file key,
``requires_grad`` and device. ``unflatten`` rebuilds the object from both. The JSON is plain
data: loading it can never run code (no pickle, no ``eval``, no attribute lookup by name).

JSON encoding of a node: ``null``, booleans, strings, finite floats and integers within
+-2**53 are themselves; a list is a JSON array; everything else is an object with a type tag
``"t"``: ``tuple``, ``size``, ``dict``/``odict`` (``"k"``: key nodes, ``"v"``: value nodes, so
int and str keys stay distinct), ``set``, ``frozenset``, ``int`` (hex string: lossless for any
size, e.g. NumPy bit-generator states), ``float`` (nan/inf), ``bytes`` (base64), ``dtype``,
``device``, ``tensor``, ``ndarray`` and ``npscalar`` (``"k"``: the array's key in the file).

Example:
    >>> import ganglion
    >>> from ganglion.io.serialize import flatten
    >>> arrays, doc = flatten({"w": ganglion.zeros(2), "step": 3})
    >>> list(arrays), doc
    (['w'], '{"version":1,"root":{"t":"dict","k":["w","step"],"v":[{"t":"tensor","k":"w"},3]}}')
"""
from __future__ import annotations

import base64
import json
import math
from collections import OrderedDict

import numpy as np

from ganglion.backend import dtypes as _dt
from ganglion.backend.device import device as _device, device_of, to_device_array
from ganglion.io.errors import CheckpointError
from ganglion.tensor import Size, Tensor

__all__ = ["flatten", "unflatten", "host_array", "FORMAT_VERSION", "STORABLE_DTYPES",
           "render_path"]

FORMAT_VERSION = 1
_SAFE_INT = 2 ** 53  # JSON readers outside Python lose precision beyond this: store as hex
_RESERVED_KEYS = ("__metadata__",)  # the safetensors header's own entry
# What the safetensors NumPy API can write (complex128 and object/str arrays it cannot).
STORABLE_DTYPES = frozenset(np.dtype(n) for n in (
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "complex64"))
_STORABLE_NAMES = ", ".join(sorted(d.name for d in STORABLE_DTYPES))
_DTYPE_BY_NAME = {d.name: d for d in _dt.DTYPE_OF.values()}
_CPU = _device("cpu")
_WHAT = ("ganglion.save stores tensors, arrays, numbers, strings, None and dicts/lists/tuples "
         "of them")


class _Attr:
    """A path step that is an attribute (``._metadata``), not a subscript."""

    def __init__(self, name):
        self.name = name


def host_array(arr):
    """``arr`` as the dense, native-order NumPy array safetensors writes (no copy when it
    already is one), or None when safetensors has no dtype for it."""
    host = np.asarray(to_device_array(arr, _CPU))
    if host.dtype.byteorder == ">":  # safetensors is little-endian; store native values
        host = host.astype(host.dtype.newbyteorder("="))
    if host.dtype not in STORABLE_DTYPES:
        return None
    # safetensors.numpy reads the raw buffer through its data pointer: it must be dense
    return host if host.flags.c_contiguous else host.copy(order="C")


def render_path(path) -> str:
    """``("state", 0, "exp_avg")`` -> ``obj['state'][0]['exp_avg']`` for error messages."""
    return "obj" + "".join(f".{p.name}" if isinstance(p, _Attr) else f"[{p!r}]" for p in path)


# -- saving -----------------------------------------------------------------------------------
def flatten(obj):
    """Split ``obj`` into ``({key: contiguous little-endian ndarray}, structure JSON str)``.

    Raises:
        TypeError: ``obj`` holds something that cannot be stored; the message names its type
            and where it is (``obj['state']['fn']``).
        ValueError: ``obj`` contains itself, or is nested too deeply.
    """
    enc = _Encoder()
    try:
        root = enc.encode(obj, ())
        doc = json.dumps({"version": FORMAT_VERSION, "root": root}, separators=(",", ":"),
                         allow_nan=False)
    except RecursionError:
        raise ValueError("save: the object is nested too deeply to store (hundreds of levels "
                         "of dicts/lists); flatten it first.") from None
    return enc.arrays, doc


class _Encoder:
    def __init__(self):
        self.arrays = {}  # file key -> array to write
        self._key_of = {}  # id(source array) -> file key: an array reached twice is stored once
        self._tensor_node = {}  # id(Tensor) -> its first node (marked when seen again)
        self._pinned = []  # keeps every object whose id is a dict key alive: ids stay unique
        self._active = set()  # ids of the containers being walked (reference-cycle check)
        self._n_shared = 0
        self._in_key = 0  # > 0 while encoding a dict key or set element

    def encode(self, x, path):
        t = type(x)
        if x is None or t is bool or t is str:
            return x
        if t is int:
            return x if -_SAFE_INT < x < _SAFE_INT else {"t": "int", "v": hex(x)}
        if t is float:
            return x if math.isfinite(x) else {"t": "float", "v": repr(x)}
        if t is list:
            return self._container(x, path, lambda: self._items(x, path))
        if t is tuple:
            return self._container(x, path, lambda: {"t": "tuple", "v": self._items(x, path)})
        if t is dict or t is OrderedDict:
            return self._container(x, path, lambda: self._dict(x, path))
        if isinstance(x, Tensor):
            return self._tensor(x, path)
        if t is np.ndarray or isinstance(x, np.memmap):
            return {"t": "ndarray", "k": self._store(x, path, "NumPy array")}
        if isinstance(x, np.generic):
            return {"t": "npscalar", "k": self._store(np.asarray(x), path, "NumPy scalar")}
        special = _SPECIAL.get(t)
        if special is None:
            raise _unsupported(x, path)
        return special(self, x, path)

    def _container(self, x, path, build):
        if id(x) in self._active:
            raise ValueError(f"save: {render_path(path)} contains itself (a reference cycle); "
                             f"ganglion.save stores trees of containers.")
        self._active.add(id(x))
        try:
            return build()
        finally:
            self._active.discard(id(x))

    def _items(self, seq, path):
        return [self.encode(v, path + (i,)) for i, v in enumerate(seq)]

    def _dict(self, x, path):
        node = {"t": "odict" if type(x) is OrderedDict else "dict",
                "k": [self.key(k, path) for k in x],
                "v": [self.encode(v, path + (k,)) for k, v in x.items()]}
        meta = getattr(x, "_metadata", None)  # torch's per-module state_dict versions
        if meta is not None and type(x) is OrderedDict:
            node["meta"] = self.encode(meta, path + (_Attr("_metadata"),))
        return node

    def key(self, k, path):
        """A dict key or set element: any storable hashable value except arrays."""
        self._in_key += 1
        try:
            return self.encode(k, path)
        finally:
            self._in_key -= 1

    def _tensor(self, x, path):
        node = {"t": "tensor", "k": self._store(x.array, path, "tensor")}
        if x.requires_grad:
            node["rg"] = True
        dev = device_of(x.array)
        if dev.type != "cpu":
            node["dev"] = str(dev)
        first = self._tensor_node.get(id(x))
        if first is None:
            self._tensor_node[id(x)] = node
            self._pinned.append(x)
        else:  # one Tensor object at two places: loading returns one object for both
            if "o" not in first:
                first["o"], self._n_shared = self._n_shared, self._n_shared + 1
            node["o"] = first["o"]
        return node

    def _store(self, arr, path, what):
        if self._in_key:
            raise TypeError(f"save: a {what} cannot be a dict key or set element (at "
                            f"{render_path(path)}); use strings, numbers or tuples of them.")
        key = self._key_of.get(id(arr))
        if key is not None:
            return key
        host = host_array(arr)
        if host is None:
            raise TypeError(f"save: cannot store a {what} of dtype {arr.dtype} at "
                            f"{render_path(path)}; supported dtypes: {_STORABLE_NAMES}.")
        key = self._new_key(path)
        self.arrays[key] = host
        self._key_of[id(arr)] = key
        self._pinned.append(arr)
        return key

    def _new_key(self, path):
        base = ".".join(p.name if isinstance(p, _Attr) else str(p) for p in path) or "tensor"
        key, n = base, 1
        while key in self.arrays or key in _RESERVED_KEYS:  # e.g. {"a.b": x, "a": {"b": y}}
            key, n = f"{base}#{n}", n + 1
        return key


def _unsupported(x, path):
    name = type(x).__name__
    hint = ""
    if callable(getattr(x, "state_dict", None)):
        hint = f" To save a {name}, save its state_dict()."
    elif isinstance(x, tuple):
        hint = " For a namedtuple or other tuple subclass, store tuple(x) or x._asdict()."
    elif isinstance(x, dict):
        hint = " For a dict subclass (e.g. defaultdict), store dict(x)."
    elif isinstance(x, np.ndarray):
        hint = " For an ndarray subclass, store np.asarray(x)."
    return TypeError(f"save: cannot store object of type '{name}' at {render_path(path)}; "
                     f"{_WHAT}.{hint}")


def _encode_set(enc, x, path):
    tag = "set" if type(x) is set else "frozenset"
    return enc._container(x, path, lambda: {"t": tag, "v": [enc.key(v, path) for v in x]})


_SPECIAL = {
    Size: lambda enc, x, path: {"t": "size", "v": list(x)},
    set: _encode_set,
    frozenset: _encode_set,
    bytes: lambda enc, x, path: {"t": "bytes", "v": base64.b64encode(x).decode("ascii")},
    _dt.dtype: lambda enc, x, path: {"t": "dtype", "v": x.name},
    _device: lambda enc, x, path: {"t": "device", "v": str(x)},
}


# -- loading ----------------------------------------------------------------------------------
def unflatten(structure: str, arrays: dict, place, where: str):
    """Rebuild the object that ``flatten`` split, from its JSON document and arrays.

    Args:
        structure: the JSON document ``flatten`` returned.
        arrays: ``{key: ndarray}`` read from the file.
        place: ``place(array, location, requires_grad) -> Tensor`` makes each tensor (it applies
            ``map_location``).
        where: the file's name, for error messages.

    Raises:
        CheckpointError: the document is not valid JSON, has an unknown type tag, references
            an array that is not in the file, or is malformed in any other way.
    """
    dec = _Decoder(arrays, place, where)
    try:
        doc = json.loads(structure)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise dec.error(f"the structure metadata is not valid JSON ({e})") from None
    if type(doc) is not dict or "root" not in doc:
        raise dec.error("the structure metadata has no 'root' entry")
    version = doc.get("version")
    if type(version) is int and version > FORMAT_VERSION:
        raise dec.error(f"it was written in ganglion checkpoint format {version}, newer than "
                        f"this ganglion reads ({FORMAT_VERSION}); upgrade ganglion")
    if version != FORMAT_VERSION:
        raise dec.error(f"unrecognised checkpoint format version {version!r}")
    try:
        return dec.decode(doc["root"], ())
    except CheckpointError:
        raise
    except RecursionError:
        raise dec.error("the structure metadata is nested too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        # e.g. an unhashable dict key, a size field that is not a number
        raise dec.error(f"malformed structure metadata ({type(e).__name__}: "
                        f"{str(e).rstrip('.')})") from None


class _Decoder:
    def __init__(self, arrays, place, where):
        self.arrays, self.place, self.where = arrays, place, where
        self._shared = {}  # "o" number -> the Tensor object saved at several places

    def error(self, msg):
        return CheckpointError(f"load: {self.where}: {msg}.")

    def decode(self, node, path):
        t = type(node)
        if node is None or t is bool or t is str or t is int or t is float:
            return node
        if t is list:
            return [self.decode(v, path + (i,)) for i, v in enumerate(node)]
        tag = node.get("t") if t is dict else None
        rule = _DECODERS.get(tag) if type(tag) is str else None
        if rule is None:
            raise self.error(f"unknown type tag {tag!r} at {render_path(path)}; the file was "
                             f"written by a newer ganglion, or it is corrupted")
        return rule(self, node, path)

    def field(self, node, name, types, path):
        value = node.get(name)
        if type(value) not in types:
            raise self.error(f"malformed '{node['t']}' entry at {render_path(path)}: field "
                             f"{name!r} is {value!r}")
        return value

    def items(self, node, name, path):
        return [self.decode(v, path + (i,))
                for i, v in enumerate(self.field(node, name, (list,), path))]

    def array(self, node, path):
        key = self.field(node, "k", (str,), path)
        arr = self.arrays.get(key)
        if arr is None:
            raise self.error(f"the structure references tensor {key!r} (at {render_path(path)})"
                             f", which is not in the file")
        return arr

    def dict(self, node, path):
        keys = self.items(node, "k", path)
        values = self.field(node, "v", (list,), path)
        if len(keys) != len(values):
            raise self.error(f"malformed dict at {render_path(path)}: {len(keys)} keys but "
                             f"{len(values)} values")
        out = OrderedDict() if node["t"] == "odict" else {}
        for k, v in zip(keys, values):
            out[k] = self.decode(v, path + (k,))
        if "meta" in node and node["t"] == "odict":
            out._metadata = self.decode(node["meta"], path + (_Attr("_metadata"),))
        return out

    def tensor(self, node, path):
        arr = self.array(node, path)
        shared = node.get("o")
        if shared is not None and shared in self._shared:
            return self._shared[shared]
        rg = node.get("rg", False)
        location = node.get("dev", "cpu")
        if arr.dtype not in _dt.DTYPE_OF or type(rg) is not bool or type(location) is not str \
                or (rg and arr.dtype.kind != "f"):
            raise self.error(f"tensor {node['k']!r} at {render_path(path)} has dtype "
                             f"{arr.dtype}, requires_grad={rg!r}, device={location!r}, which a "
                             f"ganglion Tensor cannot have")
        out = self.place(arr, location, rg)
        if shared is not None:
            self._shared[shared] = out
        return out

    def npscalar(self, node, path):
        arr = self.array(node, path)
        if arr.ndim != 0:
            raise self.error(f"NumPy scalar {node['k']!r} at {render_path(path)} has shape "
                             f"{arr.shape}, expected ()")
        return arr[()]

    def size(self, node, path):
        dims = self.items(node, "v", path)
        if any(type(d) is not int for d in dims):
            raise self.error(f"malformed size at {render_path(path)}: {dims!r}")
        return Size(dims)

    def special_float(self, node, path):
        v = self.field(node, "v", (str,), path)
        if v not in ("nan", "inf", "-inf"):
            raise self.error(f"malformed float at {render_path(path)}: {v!r}")
        return float(v)

    def dtype(self, node, path):
        name = self.field(node, "v", (str,), path)
        if name not in _DTYPE_BY_NAME:
            raise self.error(f"unknown dtype {name!r} at {render_path(path)}")
        return _DTYPE_BY_NAME[name]


_DECODERS = {
    "dict": _Decoder.dict,
    "odict": _Decoder.dict,
    "tuple": lambda d, n, p: tuple(d.items(n, "v", p)),
    "set": lambda d, n, p: set(d.items(n, "v", p)),
    "frozenset": lambda d, n, p: frozenset(d.items(n, "v", p)),
    "size": _Decoder.size,
    "int": lambda d, n, p: int(d.field(n, "v", (str,), p), 16),
    "float": _Decoder.special_float,
    "bytes": lambda d, n, p: base64.b64decode(d.field(n, "v", (str,), p), validate=True),
    "dtype": _Decoder.dtype,
    "device": lambda d, n, p: _device(d.field(n, "v", (str,), p)),
    "tensor": _Decoder.tensor,
    "ndarray": _Decoder.array,
    "npscalar": _Decoder.npscalar,
}
