"""torch storages as NumPy arrays: dtypes, byte order, the bfloat16/uint16/uint32 widening,
and the bounds-checked strided views that tensors are.

A torch tensor is a view (offset, sizes, strides in elements) into a flat storage; several
tensors of one checkpoint may view one storage. ``Storage.typed(dtype)`` is the storage's
array in native byte order (made once, then shared), and ``tensor_view`` returns the tensor's
strided NumPy view into it, after checking that it stays inside the storage.

dtypes: float16/32/64, int8/16/32/64, uint8 and bool load as themselves. ganglion has no
bfloat16, uint16 or uint32 dtype, so those are widened exactly: bfloat16 -> float32 (a
bfloat16 is the top half of a float32), uint16 -> int32, uint32 -> int64. Complex, uint64,
quantized, float8 and sub-byte dtypes raise ``CheckpointError``.

Example:
    >>> import numpy as np
    >>> from ganglion.io.torch_storage import Storage, tensor_view
    >>> raw = np.frombuffer(np.arange(6, dtype="<f4").tobytes(), np.uint8)
    >>> s = Storage(raw, "little", "cpu", "float32")
    >>> tensor_view(s, None, 1, (2, 2), (1, 2)).tolist()
    [[1.0, 3.0], [2.0, 4.0]]
"""
from __future__ import annotations

import reprlib
import numpy as np

from ganglion.io.errors import CheckpointError

__all__ = ["Storage", "StorageView", "tensor_view", "STORAGE_DTYPES", "dtype_spec",
           "bfloat16_to_float32"]

# torch storage class -> the dtype of its elements
STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "QInt8Storage": "qint8", "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",  # raw bytes; _rebuild_tensor_v3 names the dtype
}
# dtype name -> (NumPy code of the stored elements, the NumPy dtype ganglion holds them as)
_SPECS = {
    "float32": ("f4", None), "float64": ("f8", None), "float16": ("f2", None),
    "int64": ("i8", None), "int32": ("i4", None), "int16": ("i2", None), "int8": ("i1", None),
    "uint8": ("u1", None), "bool": ("b1", None),
    "bfloat16": ("u2", "float32"), "uint16": ("u2", "int32"), "uint32": ("u4", "int64"),
}
_WHY_NOT = {
    "complex64": "ganglion has no complex dtypes", "complex128": "ganglion has no complex dtypes",
    "complex32": "ganglion has no complex dtypes",
    "uint64": "ganglion has no uint64 dtype and int64 cannot hold every uint64 value",
}


def bfloat16_to_float32(bits):
    """bfloat16 values (their 16-bit patterns, any 2-byte dtype) as float32, exactly: a
    bfloat16 is the top half of a float32.

    Example:
        >>> import numpy as np
        >>> bfloat16_to_float32(np.array([0x3FC0, 0xC000], np.uint16)).tolist()
        [1.5, -2.0]
    """
    return (bits.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


def dtype_spec(name: str):
    """``(stored NumPy code, widened NumPy dtype or None)`` for a torch dtype name."""
    if name in _SPECS:
        return _SPECS[name]
    why = _WHY_NOT.get(name, "ganglion has no such dtype (quantized, float8 and sub-byte "
                             "dtypes are not supported)")
    raise CheckpointError(f"the checkpoint holds a tensor of dtype torch.{name}, which ganglion "
                          f"cannot load: {why}; convert it in torch first (e.g. "
                          f"tensor.float()).")


class Storage:
    """One torch storage: its raw bytes, the byte order they were saved in and its location.

    Args:
        raw: the storage's bytes as a 1-D uint8 array (read-only is fine: ``typed`` copies).
        byteorder: ``"little"`` or ``"big"``, as the checkpoint's byteorder record says.
        location: where torch had it (``"cpu"``, ``"cuda:0"``), for ``map_location``.
        dtype: the storage's element dtype name (``"float32"``; ``"uint8"`` for untyped).
    """

    def __init__(self, raw, byteorder, location, dtype):
        self.raw, self.location, self.dtype = raw, location, dtype
        self.order = "<" if byteorder == "little" else ">"
        self.widened = set()  # dtype names that typed() widened, for the load's note
        self._typed = {}

    def typed(self, dtype: str):
        """The storage as a writable, native-order array of ``dtype`` elements (cached, so
        every tensor on this storage shares it)."""
        if dtype in self._typed:
            return self._typed[dtype]
        code, widen = dtype_spec(dtype)
        stored = np.dtype(code).newbyteorder(self.order) if code[1] != "1" else np.dtype(code)
        if self.raw.nbytes % stored.itemsize:
            raise CheckpointError(f"a storage of {self.raw.nbytes} bytes cannot hold "
                                  f"{dtype} elements of {stored.itemsize} bytes")
        arr = self.raw.view(stored)
        if dtype == "bfloat16":
            arr = bfloat16_to_float32(arr.astype(np.uint16))  # native order first
        elif widen is not None:
            arr = arr.astype(widen)
        elif not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        elif not arr.flags.writeable:
            arr = arr.copy()
        if widen is not None:
            self.widened.add(dtype)
        self._typed[dtype] = arr
        return arr


class StorageView:
    """A slice of a root storage (legacy checkpoints' ``view_metadata``)."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size
        self.location, self.dtype, self.widened = root.location, root.dtype, root.widened

    def typed(self, dtype):
        arr = self.root.typed(dtype)
        if self.offset + self.size > arr.size:
            raise CheckpointError(f"a storage view [{self.offset}, {self.offset + self.size}) "
                                  f"lies outside its storage of {arr.size} elements")
        return arr[self.offset:self.offset + self.size]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def tensor_view(storage, dtype, offset, size, stride):
    """The tensor ``(offset, size, stride)`` on ``storage`` as a strided NumPy view of it.

    ``dtype`` overrides the storage's dtype (``_rebuild_tensor_v3``). Raises CheckpointError
    unless the view lies wholly inside the storage: a corrupted file never reads other memory.
    """
    if not isinstance(storage, (Storage, StorageView)):
        raise CheckpointError(f"a tensor's storage is a {type(storage).__name__}, expected a "
                              f"storage reference")
    if not (_is_int(offset) and isinstance(size, tuple) and isinstance(stride, tuple)
            and all(map(_is_int, size)) and all(map(_is_int, stride))):
        rep = reprlib.repr
        raise CheckpointError(f"a tensor has a malformed layout: offset {rep(offset)}, size "
                              f"{rep(size)}, stride {rep(stride)} (expected an int and two "
                              f"tuples of ints)")
    if len(size) != len(stride) or len(size) > 64 or offset < 0 or \
            any(v < 0 for v in size + stride):
        raise CheckpointError(f"a tensor has an invalid layout: offset {offset}, size "
                              f"{size}, stride {stride}")
    arr = storage.typed(dtype or storage.dtype)
    if 0 in size:
        last = offset - 1  # an empty tensor may sit at the storage's end
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= arr.size:
        raise CheckpointError(f"a tensor (offset {offset}, size {size}, stride {stride}) "
                              f"reaches element {last} of a storage of {arr.size} elements: "
                              f"the file is corrupted")
    return np.lib.stride_tricks.as_strided(arr[offset:], shape=size,
                                           strides=tuple(s * arr.itemsize for s in stride))
