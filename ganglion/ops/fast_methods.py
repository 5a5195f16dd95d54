"""Fast Tensor methods for the ops small models call most (``x.exp()``, ``h.relu()``,
``a @ b``, ``x.sum(dim)``, ``w.t()``, ``x.softmax(dim)``, ...).

Per-op Python overhead is what small models pay for (DESIGN.md: keep it below torch's). Each
method here handles the common case — a floating tensor and plain int arguments — with one
check and a direct ``Op.apply``; anything else (integer inputs, dtype=, out=, odd arguments,
errors) goes to the family's full function, which validates and raises torch's messages.
This family is installed last, so these methods replace the general ones on Tensor.
"""
from __future__ import annotations

from ganglion.ops import activation as _act, linalg as _lin, movement as _mov, reduce as _red
from ganglion.ops import unary as _un
from ganglion.ops.activation_pointwise import Relu as _Relu
from ganglion.ops.activation_softmax import LogSoftmax as _LogSoftmax, Softmax as _Softmax
from ganglion.ops.linalg_matmul import MatMul as _MatMul
from ganglion.ops.movement import Expand as _Expand, Permute as _Permute, Reshape as _Reshape
from ganglion.ops.reduce import Mean as _Mean, Sum as _Sum
from ganglion.ops.unary import Exp as _Exp, Log as _Log, Neg as _Neg, Sqrt as _Sqrt
from ganglion.ops.unary_trig import Sigmoid as _Sigmoid, Tanh as _Tanh
from ganglion.tensor import Size, Tensor

_view_full = _mov.TENSOR_METHODS["view"]

__all__: list = []


def _unary(op_cls, slow):
    def method(self):
        if self.array.dtype.kind == "f":
            return op_cls.apply1(self)
        return slow(self)

    method.__name__, method.__doc__, method.__module__ = (slow.__name__, slow.__doc__,
                                                          slow.__module__)
    return method


def _relu(self, inplace=False):
    if not inplace and self.array.dtype.kind == "f":
        return _Relu.apply1(self)
    return _act.relu(self, inplace)


def _dim(self, dim):
    """``dim`` as a non-negative int when it is a plain in-range int, else None."""
    if type(dim) is int:
        n = self.array.ndim
        if -n <= dim < n:
            return dim + n if dim < 0 else dim
    return None


def _sum(self, dim=None, keepdim=False, *, dtype=None):
    if dtype is None and self.array.dtype.kind == "f":
        if dim is None:
            return _Sum.apply1(self, tuple(range(self.array.ndim)), keepdim, None)
        d = _dim(self, dim)
        if d is not None:
            return _Sum.apply1(self, (d,), keepdim, None)
    return _red.sum(self, dim, keepdim, dtype=dtype)


def _mean(self, dim=None, keepdim=False, *, dtype=None):
    if dtype is None and self.array.dtype.kind == "f" and self.array.size:
        if dim is None:
            return _Mean.apply1(self, tuple(range(self.array.ndim)), keepdim)
        d = _dim(self, dim)
        if d is not None and self.array.shape[d]:
            return _Mean.apply1(self, (d,), keepdim)
    return _red.mean(self, dim, keepdim, dtype=dtype)


def _softmax_like(op_cls, slow):
    def method(self, dim=None, dtype=None, **kwargs):
        if dtype is None and not kwargs and self.array.dtype.kind == "f" and self.array.size:
            d = _dim(self, dim)
            if d is not None:
                return op_cls.apply1(self, d)
        return slow(self, dim, dtype=dtype, **kwargs)

    method.__name__, method.__doc__, method.__module__ = (slow.__name__, slow.__doc__,
                                                          slow.__module__)
    return method


def _shape_args(self, shape):
    """The target shape when given as plain ints (one may be -1) matching the size, else
    None (the full function then parses it and words the error)."""
    if len(shape) == 1 and (type(shape[0]) is tuple or type(shape[0]) is Size):
        shape = shape[0]
    n = 1
    infer = False
    for s in shape:
        if type(s) is not int:
            return None
        if s < 0:
            if s != -1 or infer:
                return None
            infer = True
        else:
            n *= s
    size = self.array.size
    if infer:
        if not n or size % n:
            return None
        return tuple(size // n if s == -1 else s for s in shape)
    return tuple(shape) if n == size else None


def _reshape(self, *shape):
    target = _shape_args(self, shape)
    if target is not None and target != self.array.shape:
        return _Reshape.apply1(self, target)
    return _mov.reshape(self, *shape)


def _view(self, *shape):
    target = _shape_args(self, shape)
    if target is not None:
        return _Reshape.apply1(self, target, True)
    return _view_full(self, *shape)


def _expand(self, *sizes):
    if len(sizes) == 1 and (type(sizes[0]) is tuple or type(sizes[0]) is Size):
        sizes = sizes[0]
    shape = self.array.shape
    if len(sizes) == len(shape):
        target = []
        for s, n in zip(sizes, shape):
            if type(s) is not int:
                break
            if s != n:
                if s == -1:
                    s = n
                elif n != 1 or s < 0:
                    break
            target.append(s)
        else:
            target = tuple(target)
            return self if target == shape else _Expand.apply1(self, target)
    return _mov.expand(self, *sizes)


def _t(self):
    if self.array.ndim == 2:
        return _Permute.apply1(self, (1, 0))
    return _mov.t(self)


def _matmul(self, other):
    if (isinstance(other, Tensor) and self.array.ndim >= 2 and other.array.ndim >= 2
            and self.array.dtype == other.array.dtype and self.array.dtype.kind == "f"
            and self.array.shape[-1] == other.array.shape[-2]):
        try:
            return _MatMul.apply(self, other)
        except RuntimeError:
            pass  # batch dims that do not broadcast: the full function words the error
    return _lin.matmul(self, other)


def _rmatmul(self, other):
    return _lin.matmul(other, self)


TENSOR_METHODS = {
    "exp": _unary(_Exp, _un.exp), "log": _unary(_Log, _un.log), "sqrt": _unary(_Sqrt, _un.sqrt),
    "tanh": _unary(_Tanh, _un.tanh), "sigmoid": _unary(_Sigmoid, _un.sigmoid),
    "__neg__": _unary(_Neg, _un.neg), "neg": _unary(_Neg, _un.neg),
    "reshape": _reshape, "view": _view, "expand": _expand, "relu": _relu, "sum": _sum, "mean": _mean, "t": _t,
    "softmax": _softmax_like(_Softmax, _act.softmax),
    "log_softmax": _softmax_like(_LogSoftmax, _act.log_softmax),
    "matmul": _matmul, "__matmul__": _matmul, "__rmatmul__": _rmatmul,
}

# The fast methods document themselves with the full functions' docstrings.
for _fast, _full in ((_reshape, _mov.reshape), (_view, _view_full), (_expand, _mov.expand),
                     (_relu, _act.relu),
                     (_sum, _red.sum), (_mean, _red.mean), (_t, _mov.t),
                     (_matmul, _lin.matmul), (_rmatmul, _lin.matmul)):
    # (and their module: the docstring examples are doctested once, where they are written)
    _fast.__doc__, _fast.__module__ = _full.__doc__, _full.__module__
