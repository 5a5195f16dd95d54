"""``Tensor``: one backend array plus what autograd needs (``grad``, ``grad_fn``, version).

A Tensor is light: ``__slots__`` and plain assignments. Its array is ``.array`` (a NumPy or CuPy
array); ``.data``, as in torch, is a detached Tensor sharing that array. Operators and the
torch-named methods come from the op families in ``ganglion.ops``, installed at the bottom of this
file (the one place where the Tensor <-> ops import cycle is broken).

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
"""
from __future__ import annotations

import weakref

import numpy as np

from ganglion import autograd
from ganglion._tensor_str import tensor_repr
from ganglion.autograd import function as _function
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import device as _device, device_of

__all__ = ["Tensor", "Size", "inplace_update"]


class Size(tuple):
    """The shape of a tensor: a tuple with ``numel()``, as ``torch.Size``."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"ganglion.Size({list(self)})"

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r


def _sizes(args, who):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` as torch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = tuple(args[0])
    try:
        return tuple(int(s) if not isinstance(s, Tensor) else int(s.item()) for s in args)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: expected sizes as ints or one tuple of ints, got {args!r}.")


class Tensor:
    """A multi-dimensional array with automatic differentiation (see the module docstring)."""

    __slots__ = ("array", "grad", "_rg", "grad_fn", "_out_idx", "_vc", "_base", "__weakref__",
                 "__dict__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator
    # Rarely set, so class-level defaults (an instance stores its own in __dict__): reading
    # an unset slot with getattr(t, name, None) raises and catches inside, ~0.2 us a read.
    _hooks = None
    _retains_grad = False
    _post_acc_hooks = None
    _name = None

    def __init__(self, *args, requires_grad=False):
        # Legacy torch.Tensor(...) constructor: Tensor(2, 3) is uninitialised float32 of that
        # shape, Tensor([1, 2]) is float32 data. Prefer ganglion.tensor / ganglion.empty.
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0].array if isinstance(args[0], Tensor) else args[0]
            arr = np.array(data, dtype=_dt.get_default_dtype().np)
        else:
            arr = np.empty(_sizes(args, "Tensor"), dtype=_dt.get_default_dtype().np)
        self.array = arr
        self.grad = None
        self._rg = bool(requires_grad)
        self.grad_fn = None
        self._out_idx = 0
        self._vc = [0]
        self._base = None

    # -- autograd attributes --------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return self
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.dtype}); convert with .float() first.")
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        """A detached Tensor sharing this tensor's array (changes to it are not tracked)."""
        return _function._new_tensor(self.array)

    @data.setter
    def data(self, value) -> None:
        self.array = value.array if isinstance(value, Tensor) else np.asarray(value)

    @property
    def retains_grad(self) -> bool:
        return bool(getattr(self, "_retains_grad", False))

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def name(self):
        return getattr(self, "_name", None)

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self.retains_grad:
            return
        node = self.grad_fn
        node._plain = False
        if node._retained is None:
            node._retained = {}
        node._retained[self._out_idx] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self.grad_fn is None:
            hooks = getattr(self, "_hooks", None)
            if hooks is None:
                hooks = self._hooks = []
        else:
            node = self.grad_fn
            node._plain = False
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _function._RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a gradient has been accumulated into this leaf."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = getattr(self, "_post_acc_hooks", None)
        if hooks is None:
            hooks = self._post_acc_hooks = []
        hooks.append(hook)
        return _function._RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        return _function._new_tensor(self.array, vc=self._vc)

    def detach_(self) -> "Tensor":
        self.grad_fn, self._rg = None, False
        return self

    # -- shape, dtype, device ---------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self.array.shape)
        try:
            return self.array.shape[dim]
        except (IndexError, TypeError):
            raise IndexError(f"size: dimension {dim!r} out of range for a tensor with "
                             f"{self.array.ndim} dimensions.")

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    @property
    def dtype(self) -> _dt.dtype:
        return _dt.DTYPE_OF[self.array.dtype]

    @property
    def device(self) -> _device:
        return device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return type(self.array) is not np.ndarray

    @property
    def is_cpu(self) -> bool:
        return type(self.array) is np.ndarray

    @property
    def layout(self) -> str:
        return "strided"

    def element_size(self) -> int:
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def is_complex(self) -> bool:
        return False

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self.array.flags.c_contiguous)

    def stride(self, dim=None):
        st = tuple(s // self.array.itemsize for s in self.array.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        return self.array.__array_interface__["data"][0]

    def get_device(self) -> int:
        return -1 if self.is_cpu else self.device.index

    # -- conversions ------------------------------------------------------------------------
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted "
                               f"to Scalar; index it or reduce it first (x.sum().item()).")
        return self.array.item()

    def tolist(self):
        return self.cpu().array.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if type(self.array) is not np.ndarray:
            if not force:
                raise TypeError("can't convert cuda tensor to numpy. Use Tensor.cpu() to copy "
                                "the tensor to host memory first.")
            return self.array.get()
        return self.array

    def __array__(self, dtype=None, copy=None):
        # NumPy 2's protocol: copy=True must return a copy (np.array(t)), copy=False must not
        # copy (raise instead), None copies only when needed (np.asarray(t) shares memory).
        on_host = type(self.array) is np.ndarray
        arr = self.array if on_host else self.array.get()
        converts = dtype is not None and np.dtype(dtype) != arr.dtype
        if copy is False and (converts or not on_host):
            need = "dtype conversion" if converts else "device-to-host transfer"
            raise ValueError(f"__array__: copy=False, but a {need} needs a copy; pass "
                             f"copy=None.")
        if converts:
            return arr.astype(dtype)
        return arr.copy() if copy and on_host else arr

    def __dlpack__(self, *args, **kwargs):
        if self._rg:  # as torch: a consumer would bypass autograd
            raise RuntimeError("Can't export tensors that require gradient, use "
                               "tensor.detach()")
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def to(self, *args, **kwargs) -> "Tensor":
        """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``,
        ``to(device, dtype)``. ``non_blocking`` and ``memory_format`` are accepted no-ops."""
        dtype, dev = kwargs.pop("dtype", None), kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}.")
        for a in args:
            if isinstance(a, Tensor):
                dtype, dev = a.dtype, a.device
            elif isinstance(a, (str, _device)) and (not isinstance(a, str) or
                                                     a.split(":")[0] in ("cpu", "cuda")):
                dev = a
            elif isinstance(a, int) and not isinstance(a, bool):
                dev = _device("cuda", a)
            else:
                dtype = a
        out = self
        if dev is not None:
            dev = _device(dev)
            if dev != self.device:
                out = _convert.to_device(out, dev)
        if dtype is not None:
            dtype = _dt.to_dtype(dtype)
            if dtype.np != out.array.dtype:
                out = _convert.cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                     "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                     "bool": "Bool"}
            return f"ganglion.{names[self.dtype.name]}Tensor"
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def short(self):
        return self.to(_dt.int16)

    def char(self):
        return self.to(_dt.int8)

    def byte(self):
        return self.to(_dt.uint8)

    def bool(self):
        return self.to(_dt.bool)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False) -> "Tensor":
        return self.to(_device("cuda", device if isinstance(device, int) else None)
                       if not isinstance(device, (str, _device)) else device)

    def pin_memory(self) -> "Tensor":
        return self  # no pinned host memory on NumPy: a documented no-op

    def share_memory_(self) -> "Tensor":
        return self  # arrays are shared with worker processes by copy: a documented no-op

    def contiguous(self, memory_format=None) -> "Tensor":
        return self if self.array.flags.c_contiguous else _convert.contiguous(self)

    def clone(self, *, memory_format=None) -> "Tensor":
        return _convert.clone(self)

    # -- new_* factories ---------------------------------------------------------------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> "Tensor":
        from ganglion.ops.creation import tensor  # noqa: PLC0415 - created at import end

        return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def _new(self, fill, size, dtype, device, requires_grad, who):
        dtype = _dt.to_dtype(dtype) if dtype is not None else self.dtype
        xp = np if device is None and type(self.array) is np.ndarray else None
        shape = _sizes(size, who)
        arr = (xp or np).full(shape, fill, dtype=dtype.np) if fill is not None else \
            np.empty(shape, dtype=dtype.np)
        t = _function._new_tensor(arr)
        if device is not None or xp is None:
            t = t.to(device or self.device)
        return t.requires_grad_(requires_grad) if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **_):
        return self._new(0, size, dtype, device, requires_grad, "new_zeros")

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **_):
        return self._new(1, size, dtype, device, requires_grad, "new_ones")

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **_):
        return self._new(None, size, dtype, device, requires_grad, "new_empty")

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, **_):
        return self._new(fill_value, (size,), dtype, device, requires_grad, "new_full")

    # -- Python protocol ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} elements is "
                               f"ambiguous; use .any() or .all().")
        return bool(self.array.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    __hash__ = object.__hash__

    def __reduce_ex__(self, protocol):
        # Tensors cross process boundaries (DataLoader workers) as plain arrays.
        return (_rebuild, (type(self), np.asarray(self.__array__()), self._rg))

    def __deepcopy__(self, memo):
        import copy  # noqa: PLC0415 - rarely used

        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        t = _rebuild(type(self), self.array.copy(), self._rg)
        if self.grad is not None:
            t.grad = copy.deepcopy(self.grad, memo)
        t.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = t
        return t


def _rebuild(cls, array, requires_grad):
    t = cls.__new__(cls)
    t.array, t.grad, t._rg, t.grad_fn, t._out_idx, t._vc = array, None, requires_grad, None, 0, [0]
    t._base = None
    return t


def inplace_update(self: Tensor, name: str, fn, *args, **kwargs) -> Tensor:
    """Run ``self = fn(self, *args, **kwargs)`` in place, as torch's in-place ops do.

    The result is written into ``self``'s buffer (views of it see the change), its version
    counter goes up (so a backward that saved the old value raises instead of being wrong), and
    when the graph is recorded ``self`` takes the result's place in it, computed from a copy of
    the old value.
    """
    record = STATE.enabled and (self._rg or any(isinstance(a, Tensor) and a._rg for a in args))
    if record:
        if self._rg and self.grad_fn is None:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an "
                               f"in-place operation. Wrap it in `with ganglion.no_grad():` (as "
                               f"optimizers do) or use the out-of-place form.")
        if getattr(self, "_base", None) is not None:
            raise RuntimeError(f"{name}: in-place change of a view (shape {tuple(self.shape)}) "
                               f"while gradients are recorded is not supported by ganglion's "
                               f"autograd; clone() the view first, or write into the base "
                               f"tensor with base[index] = value.")
        old = _function._new_tensor(self.array.copy(), self.grad_fn, self._out_idx, self._rg)
        result = fn(old, *args, **kwargs)
    else:
        result = fn(self, *args, **kwargs)
    write_array_(self, result.array, name)
    if record:
        self.grad_fn, self._out_idx, self._rg = result.grad_fn, result._out_idx, result._rg
    return self


def write_array_(self: Tensor, arr, name: str) -> None:
    """Copy ``arr`` into ``self``'s buffer with torch's cast and shape rules; bump the version."""
    dst = self.array
    if arr.shape != dst.shape:
        if np.broadcast_shapes(arr.shape, dst.shape) != dst.shape:
            raise RuntimeError(f"{name}: output with shape {list(dst.shape)} doesn't match the "
                               f"broadcast shape {list(np.broadcast_shapes(arr.shape, dst.shape))}")
    if arr.dtype != dst.dtype:
        src_t, dst_t = _dt.DTYPE_OF[arr.dtype], _dt.DTYPE_OF[dst.dtype]
        if src_t.category > dst_t.category:
            raise RuntimeError(f"{name}: result type {src_t} can't be cast to the desired "
                               f"output type {dst_t}; convert the tensor first (x = x.float()).")
    if not dst.flags.writeable:
        raise RuntimeError(f"{name}: unsupported operation: the tensor is read-only or an "
                           f"expanded view (expand/broadcast_to) whose elements share memory; "
                           f"clone() it first.")
    dst[...] = arr
    self._vc[0] += 1


# Break the Tensor <-> autograd/ops cycle here, once: the engine and the op families need the
# Tensor class, and Tensor's methods come from the op families.
_function.Tensor = Tensor

from ganglion.ops import convert as _convert  # noqa: E402
from ganglion.ops import install_tensor_methods  # noqa: E402

install_tensor_methods(Tensor)
