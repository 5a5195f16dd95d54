"""The allowlist of globals a torch checkpoint may name, and the functions that stand in for
them: torch's tensor rebuild functions, storage types, dtypes, ``torch.Size``/``device``,
``OrderedDict``/``Counter``, ``set``/``frozenset``/``bytearray``/``complex`` and
``_codecs.encode`` (what ``torch.load(weights_only=True)`` allows, less sparse, quantized,
nested and meta tensors). Each stand-in is written here and builds ganglion/NumPy objects;
nothing is imported or looked up by the name in the file.

Example:
    >>> from ganglion.io.torch_globals import TorchGlobals
    >>> g = TorchGlobals(place=None)
    >>> list(g.find("collections", "OrderedDict", 0).fn([("a", 1)]).items())
    [('a', 1)]
    >>> g.find("posix", "system", 7)
    Traceback (most recent call last):
    ...
    ganglion.io.errors.CheckpointError: refused GLOBAL posix.system at byte 7: it would run code...
"""
from __future__ import annotations

import reprlib
from collections import Counter, OrderedDict

from ganglion.backend import dtypes as _dt
from ganglion.backend.device import device as _device
from ganglion.io.errors import CheckpointError
from ganglion.io.torch_pickle import PassThrough, SafeGlobal, refuse_global
from ganglion.io.torch_storage import STORAGE_DTYPES, tensor_view
from ganglion.tensor import Size, Tensor

__all__ = ["TorchGlobals", "StorageType", "TorchDtype"]

_CODE_MODULES = ("os", "posix", "nt", "sys", "subprocess", "builtins", "shutil", "socket",
                 "importlib", "runpy", "code", "pty", "ctypes", "operator", "functools",
                 "types", "pickle", "_pickle", "copyreg", "marshal", "io", "webbrowser")
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "commands": "subprocess"}
_UNSUPPORTED_REBUILDS = {
    "_rebuild_sparse_tensor": "sparse tensors", "_rebuild_qtensor": "quantized tensors",
    "_rebuild_meta_tensor_no_storage": "meta tensors (they hold no data)",
    "_rebuild_nested_tensor": "nested tensors",
    "_rebuild_wrapper_subclass": "tensor subclasses",
    "_rebuild_device_tensor_from_numpy": "tensors pickled as NumPy arrays",
    "_rebuild_device_tensor_from_cpu_tensor": "tensors of non-CPU device types",
}
_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                "uint8", "bool", "uint16", "uint32", "uint64", "complex32", "complex64",
                "complex128", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
                "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                "float8_e8m0fnu", "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4",
                "bits4x2", *(f"int{i}" for i in range(1, 8)), *(f"uint{i}" for i in range(1, 8)))
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
            "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}


class StorageType:
    """``torch.FloatStorage`` and friends, as they appear in a storage's persistent id."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"<torch.{self.name}>"


class TorchDtype:
    """A torch dtype ganglion has no dtype for (bfloat16, uint16, ...): it may name the dtype
    of a ``_rebuild_tensor_v3`` tensor; as a value in the checkpoint it is refused."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self) -> str:
        return f"<torch.{self.name}>"


def _need(cond, what):
    if not cond:
        raise CheckpointError(f"a checkpoint value is malformed: {what}")


class TorchGlobals:
    """The globals one load may use; ``find`` is the VM's ``find_global``.

    Args:
        place: ``place(array, location, requires_grad) -> Tensor`` (applies map_location).
        dry: rebuild functions return None (the legacy format's first pass, which only
            collects the storages before their data is read).
    """

    def __init__(self, place, dry: bool = False):
        self.place, self.dry = place, dry
        self.loose_dtypes = []  # TorchDtype objects created; those v3 did not use are refused
        self._used_dtypes = set()
        rebuild = {"_rebuild_tensor": self._tensor_v1, "_rebuild_tensor_v2": self._tensor_v2,
                   "_rebuild_tensor_v3": self._tensor_v3,
                   "_rebuild_parameter": self._parameter,
                   "_rebuild_parameter_with_state": self._parameter_with_state}
        self._table = {("torch._utils", k): SafeGlobal(f"torch._utils.{k}", f)
                       for k, f in rebuild.items()}
        simple = {("collections", "OrderedDict"): _ordered_dict,
                  ("collections", "Counter"): _counter, ("torch", "Size"): _size,
                  ("torch", "device"): _torch_device, ("builtins", "set"): _set,
                  ("builtins", "frozenset"): _frozenset, ("builtins", "bytearray"): _bytearray,
                  ("builtins", "complex"): _complex, ("_codecs", "encode"): _encode,
                  ("torch._tensor", "_rebuild_from_type_v2"): self._from_type_v2}
        self._table.update({k: SafeGlobal(".".join(k), f) for k, f in simple.items()})
        for cls in ("torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter"):
            module, name = cls.rsplit(".", 1)
            self._table[module, name] = SafeGlobal(cls)

    # -- the VM's find_global ----------------------------------------------------------------
    def find(self, module: str, name: str, pos: int):
        module = _PY2_MODULES.get(module, module)  # protocol 2 writes Python 2's names
        hit = self._table.get((module, name))
        if hit is not None:
            return hit
        if module in ("torch", "torch.cuda", "torch.storage") and name in STORAGE_DTYPES:
            return StorageType(name, STORAGE_DTYPES[name])
        if module == "torch" and (name in _DTYPE_NAMES or name in _ALIASES):
            dtype_name = _ALIASES.get(name, name)
            if dtype_name in _dt._BY_NAME:
                return _dt._BY_NAME[dtype_name]
            marker = TorchDtype(dtype_name)
            self.loose_dtypes.append(marker)
            return marker
        raise refuse_global(module, name, pos, _why(module, name))

    def check_finished(self):
        """Refuse torch dtypes ganglion lacks that were used as values, not tensor dtypes."""
        loose = [d.name for d in self.loose_dtypes if id(d) not in self._used_dtypes]
        if loose:
            raise CheckpointError(f"the checkpoint holds the dtype torch.{loose[0]} as a value "
                                  f"(not as a tensor's dtype), and ganglion has no such "
                                  f"dtype; remove it from the saved object.")

    # -- tensors -------------------------------------------------------------------------------
    def _make(self, storage, dtype, offset, size, stride, requires_grad):
        if self.dry:
            return None
        _need(isinstance(requires_grad, bool), f"requires_grad is {reprlib.repr(requires_grad)}")
        arr = tensor_view(storage, dtype, offset, tuple(size) if isinstance(size, Size)
                          else size, stride)
        _need(not requires_grad or arr.dtype.kind == "f",
              f"a {arr.dtype} tensor requires grad (only floating point tensors can)")
        try:
            return self.place(arr, storage.location, requires_grad)
        except Exception as e:  # noqa: BLE001 - map_location's errors are the caller's
            raise PassThrough(e) from None

    def _tensor_v1(self, storage, offset, size, stride):
        return self._make(storage, None, offset, size, stride, False)

    def _tensor_v2(self, storage, offset, size, stride, requires_grad, backward_hooks,
                   metadata=None):
        _need(not metadata, f"tensor metadata {sorted(metadata)!r} is not supported"
              if isinstance(metadata, dict) else f"tensor metadata is a {type(metadata)}")
        return self._make(storage, None, offset, size, stride, requires_grad)

    def _tensor_v3(self, storage, offset, size, stride, requires_grad, backward_hooks, dtype,
                   metadata=None):
        _need(not metadata, "tensor metadata is not supported")
        if isinstance(dtype, TorchDtype):
            self._used_dtypes.add(id(dtype))
        else:
            _need(isinstance(dtype, _dt.dtype),
                  f"_rebuild_tensor_v3's dtype is {reprlib.repr(dtype)}")
        return self._make(storage, dtype.name, offset, size, stride, requires_grad)

    def _parameter(self, data, requires_grad, backward_hooks):
        if self.dry:
            return None
        from ganglion.nn.parameter import Parameter  # noqa: PLC0415 - ganglion.nn imports io

        _need(isinstance(data, Tensor) and isinstance(requires_grad, bool),
              "a Parameter wraps a non-tensor")
        return Parameter(data, requires_grad)

    def _parameter_with_state(self, data, requires_grad, backward_hooks, state):
        _need(not state, "a Parameter with Python attributes (state) is not supported")
        return self._parameter(data, requires_grad, backward_hooks)

    def _from_type_v2(self, func, new_type, args, state):
        _need(isinstance(func, SafeGlobal) and func.fn is not None and isinstance(args, tuple),
              "_rebuild_from_type_v2 needs an allowed function and a tuple")
        _need(isinstance(new_type, SafeGlobal) and new_type.fn is None and
              new_type.name in ("torch.Tensor", "torch.nn.parameter.Parameter",
                                "torch.nn.Parameter"),
              f"_rebuild_from_type_v2 rebuilds a {new_type!r} (only torch.Tensor and "
              f"Parameter are allowed)")
        _need(not state, "tensor subclasses with Python attributes (state) are not supported")
        out = func.fn(*args)
        if new_type.name != "torch.Tensor" and out is not None:
            out = self._parameter(out, out.requires_grad, None)
        return out


def _why(module, name):
    root = module.split(".", 1)[0]
    if module.startswith("torch._utils") and name in _UNSUPPORTED_REBUILDS:
        return f"ganglion cannot load {_UNSUPPORTED_REBUILDS[name]}"
    if root in _CODE_MODULES:
        return "it would run code (the file is malicious or not a weights file)"
    if root in ("torch", "__main__", "__torch__") or "." in module:
        return ("the file pickles a Python object (such as a whole model saved with "
                "torch.save(model), or an optimizer/scheduler class), which a weights-only "
                "load refuses")
    if root in ("numpy", "_codecs"):
        return "NumPy objects and codecs other than latin1 bytes are not allowed"
    return "it is not on the allowlist"


# -- stand-ins for the plain globals ----------------------------------------------------------
def _pairs_or_mapping(args, who):
    _need(len(args) <= 1, f"{who} takes at most one argument")
    if args:
        _need(isinstance(args[0], (list, tuple, dict)), f"{who} built from a {type(args[0])}")
    return args


def _ordered_dict(*args):
    return OrderedDict(*_pairs_or_mapping(args, "OrderedDict"))


def _counter(*args):
    return Counter(*_pairs_or_mapping(args, "Counter"))


def _items(args, who):
    _need(len(args) <= 1 and all(isinstance(a, (list, tuple, set, frozenset)) for a in args),
          f"{who} must be built from a list or tuple")
    return args


def _set(*args):
    return set(*_items(args, "set"))


def _frozenset(*args):
    return frozenset(*_items(args, "frozenset"))


def _bytearray(*args):
    _need(len(args) <= 1 and all(isinstance(a, (bytes, bytearray)) for a in args)
          or len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"),
          "bytearray must be built from bytes")
    return bytearray(args[0].encode("latin1")) if len(args) == 2 else bytearray(*args)


def _complex(*args):
    _need(len(args) <= 2 and all(isinstance(a, (int, float)) for a in args),
          "complex must be built from numbers")
    return complex(*args)


def _encode(text, encoding="utf-8", errors="strict"):
    # Protocol-2 pickles write bytes as _codecs.encode(str, 'latin1')
    _need(isinstance(text, str) and encoding in ("latin1", "latin-1") and errors == "strict",
          "_codecs.encode is allowed only as protocol 2's latin1 encoding of bytes")
    return text.encode("latin1")


def _size(*args):
    _need(len(args) <= 1, "torch.Size takes one argument")
    dims = tuple(args[0]) if args else ()
    _need(all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims),
          f"torch.Size{reprlib.repr(dims)} holds something other than non-negative ints")
    return Size(dims)


def _torch_device(*args):
    _need(1 <= len(args) <= 2 and isinstance(args[0], str) and
          (len(args) == 1 or args[1] is None or isinstance(args[1], int)),
          f"torch.device{reprlib.repr(args)} is malformed")
    return _device(*args)
