"""Tensor creation: ``tensor``, ``as_tensor``, ``from_numpy``, ``zeros``/``ones``/``full``/
``empty`` (and ``*_like``), ``arange``, ``linspace``, ``logspace``, ``eye``.

Example:
    >>> import ganglion
    >>> ganglion.arange(3), ganglion.zeros(2, 2).dtype, ganglion.tensor([1, 2]).dtype
    (tensor([0, 1, 2]), ganglion.float32, ganglion.int64)
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import device as _device, to_device_array
from ganglion.tensor import Size, Tensor, _sizes

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "from_dlpack", "zeros", "ones", "full",
           "empty", "zeros_like", "ones_like", "full_like", "empty_like", "arange",
           "range", "linspace", "logspace", "eye", "scalar_tensor"]

_SUPPORTED_KINDS = "biuf"


def _check_np_dtype(arr, who):
    if arr.dtype not in _dt.DTYPE_OF:
        raise TypeError(f"{who}: can't convert np.ndarray of type numpy.{arr.dtype}. The only "
                        f"supported types are: float64, float32, float16, int64, int32, int16, "
                        f"int8, uint8, and bool.")


def _infer_array(data, dtype, who):
    """NumPy array for ``data``: Python floats take the default dtype, ints int64 (torch rules)."""
    if isinstance(data, Tensor):
        arr = np.asarray(data.__array__())
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
            data = [d.tolist() if isinstance(d, Tensor) else d for d in data]
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"{who}: could not build a tensor from the data ({e}); nested "
                             f"lists must be rectangular.") from None
        if arr.dtype == object:
            raise TypeError(f"{who}: could not infer dtype of {type(data).__name__}; pass "
                            f"numbers, nested lists of numbers or arrays.")
        if arr.dtype.kind == "f" and dtype is None and not _has_np_float64(data):
            arr = arr.astype(_dt.get_default_dtype().np)
        elif arr.dtype.kind in "iu" and dtype is None:
            arr = arr.astype(np.int64)
    if dtype is not None:
        arr = arr.astype(_dt.to_dtype(dtype).np, copy=False)
    _check_np_dtype(arr, who)
    return arr


def _has_np_float64(data) -> bool:
    """torch keeps the dtype of NumPy float64 scalars inside lists; Python floats are float32."""
    if isinstance(data, np.floating):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)):
        return any(_has_np_float64(d) for d in data)
    return False


def finalize(arr, device=None, requires_grad=False) -> Tensor:
    """Wrap ``arr`` in a Tensor, move it to ``device`` and set ``requires_grad``."""
    if device is not None:
        dev = _device(device) if not isinstance(device, int) else _device("cuda", device)
        arr = to_device_array(arr, dev)
    t = _new_tensor(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, numbers, arrays, tensors)."""
    arr = _infer_array(data, dtype, "tensor")
    return finalize(np.array(arr, copy=True, order="C"), device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with ``data`` when dtype and device allow it."""
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    return finalize(_infer_array(data, dtype, "as_tensor"), device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    t = as_tensor(obj, dtype=dtype, device=device)
    if copy:
        t = t.clone()
    return t.requires_grad_(requires_grad) if requires_grad else t


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (no copy): writes to one show in the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    _check_np_dtype(ndarray, "from_numpy")
    return _new_tensor(ndarray)


class _Capsule:
    """A legacy DLPack capsule (``torch.utils.dlpack.to_dlpack``) as a CPU producer."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory with any DLPack-capable array (torch, CuPy, NumPy...) or a
    legacy DLPack capsule of CPU memory: writes to one show in the other.

    Example:
        >>> import numpy as np, ganglion
        >>> a = np.zeros(3, np.float32)
        >>> t = ganglion.from_dlpack(a)
        >>> a[0] = 5.0
        >>> t
        tensor([5., 0., 0.])
    """
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a torch, CuPy, "
                        f"JAX or NumPy array) or a DLPack capsule, got "
                        f"{type(ext_tensor).__name__}.")
    if hasattr(ext_tensor, "__dlpack_device__") and ext_tensor.__dlpack_device__()[0] != 1:
        from ganglion.backend.device import xp_for  # noqa: PLC0415 - GPU path only

        return _new_tensor(xp_for(_device("cuda")).from_dlpack(ext_tensor))
    arr = np.from_dlpack(ext_tensor)
    _check_np_dtype(arr, "from_dlpack")
    return _new_tensor(arr)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return finalize(np.array(s, dtype=_dt.to_dtype(dtype).np), device, requires_grad)


def _filled(size, fill, dtype, device, requires_grad, who):
    shape = _sizes(size, who)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{who}: Trying to create tensor with negative dimension: "
                           f"{list(shape)}")
    npd = _dt.to_dtype(dtype).np
    arr = np.empty(shape, npd) if fill is None else np.full(shape, fill, npd)
    return finalize(arr, device, requires_grad)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _filled(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _filled(size, 1, dtype, device, requires_grad, "ones")


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
    return _filled(size, None, dtype, device, requires_grad, "empty")


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False):
    if dtype is None:
        dtype = _dt.result_type_of(fill_value.item() if isinstance(fill_value, Tensor)
                                   else fill_value)
    return _filled((size,), fill_value, dtype, device, requires_grad, "full")


def _like(x, fill, dtype, device, requires_grad, who):
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return _filled((x.array.shape,), fill, dtype or x.dtype, device or x.device, requires_grad,
                   who)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    return _like(input, None, dtype, device, requires_grad, "empty_like")


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return _like(input, fill_value, dtype, device, requires_grad, "full_like")


def _num(v):
    return v.item() if isinstance(v, Tensor) else v


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``: int64 for ints, else float."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = _dt.result_type_of(start, end, step)
    dtype = _dt.to_dtype(dtype)
    n = max(math.ceil((end - start) / step), 0)
    if dtype.is_floating_point:
        arr = (start + step * np.arange(n, dtype=np.float64)).astype(dtype.np)
    else:
        arr = np.arange(start, start + n * step, step, dtype=np.float64).astype(dtype.np) \
            if any(isinstance(v, float) for v in (start, end, step)) else \
            np.arange(start, end, step, dtype=dtype.np)
    return finalize(arr, device, requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    """Deprecated in torch: like arange but includes ``end``; float by default."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(_dt.to_dtype(dtype).np)
    return finalize(arr, device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False) -> Tensor:
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be a non-negative int, got "
                           f"{steps!r}")
    arr = np.linspace(_num(start), _num(end), int(steps), dtype=np.float64)
    return finalize(arr.astype(_dt.to_dtype(dtype).np), device, requires_grad)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False) -> Tensor:
    arr = np.power(base, np.linspace(_num(start), _num(end), int(steps), dtype=np.float64))
    return finalize(arr.astype(_dt.to_dtype(dtype).np), device, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    return finalize(np.eye(n, m, dtype=_dt.to_dtype(dtype).np), device, requires_grad)


_ = Size
