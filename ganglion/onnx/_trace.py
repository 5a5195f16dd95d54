"""Recording a forward pass: every primitive op call, in order, with what it was given.

While a :class:`Recorder` is active (``with recorder:``), ``Op.apply`` is wrapped so that each
top-level op call appends an :class:`Event`; comparisons and logical ops, which ganglion runs as
plain array calls outside the op dispatch, are wrapped the same way. On exit the original
methods are put back, so ordinary (not traced) code pays nothing. Only the thread that traces
is recorded.

Values are tracked by the identity of their arrays: an op's argument array that the recorder
has seen (a graph input, a parameter, a buffer, an earlier op's output) refers to that value;
any other array is a constant captured as it was at the call. In-place writes
(``x.relu_()``, ``x[i] = v``) re-point ``x``'s array at the value that was written into it.

Example:
    >>> import ganglion
    >>> rec = Recorder()
    >>> x = ganglion.randn(2, 3)
    >>> _ = rec.add_value("input", x.array, "x")
    >>> with rec:
    ...     y = (x * 2).relu()
    >>> [e.op.__name__ for e in rec.events]
    ['Mul', 'Relu']
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from ganglion.autograd.function import Op
from ganglion.tensor import Tensor

# the module (``ganglion.tensor`` the attribute is the creation function)
_tensor_mod = sys.modules["ganglion.tensor"]

__all__ = ["Recorder", "Event", "Value", "TraceError"]


class TraceError(RuntimeError):
    """Raised when a forward pass cannot be expressed as a static ONNX graph."""


class Value:
    """One value of the trace: kind is "input", "param", "buffer", "const" or "op"."""

    __slots__ = ("index", "kind", "array", "name", "event", "out_idx")

    def __init__(self, index, kind, array, name=None, event=None, out_idx=0):
        self.index, self.kind, self.array, self.name = index, kind, array, name
        self.event, self.out_idx = event, out_idx

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    def __repr__(self):
        return f"Value({self.kind} #{self.index} {self.shape} {self.dtype})"


class Event:
    """One op call: ``op`` (the Op class, or a pseudo-op name for comparisons), ``args`` with
    each array argument replaced by its :class:`Value`, and ``outs`` (Values, or None for
    non-array outputs)."""

    __slots__ = ("index", "op", "args", "outs")

    def __init__(self, index, op, args, outs):
        self.index, self.op, self.args, self.outs = index, op, args, outs

    @property
    def name(self) -> str:
        return self.op if isinstance(self.op, str) else self.op.__name__

    def __repr__(self):
        return f"Event({self.name} #{self.index})"


# Tensor methods that compute outside Op.apply (bool results, never in the autograd graph):
# wrapped while tracing and recorded under these pseudo-op names.
_COMPARE_METHODS = {
    "__eq__": "Equal", "__ne__": "NotEqual", "__lt__": "Less", "__le__": "LessOrEqual",
    "__gt__": "Greater", "__ge__": "GreaterOrEqual", "eq": "Equal", "ne": "NotEqual",
    "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual",
    "logical_not": "Not", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
    "__invert__": "Not", "__and__": "And", "__or__": "Or", "__xor__": "Xor",
    "isnan": "IsNaN", "isinf": "IsInf",
}


def _traced_getitem(self_t, key):
    """``x[key]`` always through the ops (the untraced fast path builds views directly)."""
    from ganglion.ops import indexing as ix  # noqa: PLC0415

    k1 = ix.basic_key(key)
    if k1 is None:
        k1, k2 = ix.split_key(key, self_t.array.shape)
        if k2 is not None:
            return ix.AdvancedIndex.apply(self_t, k1, k2)
    return ix.Index.apply(self_t, k1)


def _traced_setitem(self_t, key, value):
    """``x[key] = value`` as the recorded out-of-place IndexPut written back in place."""
    from ganglion.ops import indexing as ix  # noqa: PLC0415

    k1, k2 = ix.parse_key(key, self_t.array.shape)
    _tensor_mod.inplace_update(self_t, "__setitem__", ix.IndexPut.apply,
                               ix._value_for(self_t, value), k1, k2, False)


class Recorder:
    """Records the ops of one forward pass (see the module docstring)."""

    def __init__(self):
        self.events: list[Event] = []
        self.values: list[Value] = []
        self._by_array: dict[int, Value] = {}
        self._keep: list = []  # arrays kept alive so that their ids stay unique
        self._thread = None
        self._depth = 0
        self._saved = None

    # -- values -------------------------------------------------------------------------
    def add_value(self, kind, array, name=None, event=None, out_idx=0) -> Value:
        v = Value(len(self.values), kind, array, name, event, out_idx)
        self.values.append(v)
        self._by_array[id(array)] = v
        self._keep.append(array)
        return v

    def value_of(self, arr) -> Value:
        """The Value an argument array refers to; an unseen array becomes a constant."""
        v = self._by_array.get(id(arr))
        if v is None:
            v = self.add_value("const", np.array(arr, copy=True))
            self._by_array[id(arr)] = v
            self._keep.append(arr)
        return v

    def lookup(self, arr):
        return self._by_array.get(id(arr))

    def _arg(self, a):
        if isinstance(a, Tensor):
            return self.value_of(a.array)
        if isinstance(a, np.ndarray):
            return self.value_of(a)
        if isinstance(a, np.generic):
            return a.item()
        if isinstance(a, (list, tuple)) and any(isinstance(x, Tensor) for x in a):
            return type(a)(self._arg(x) for x in a)
        return a

    def record(self, op, args, out):
        ev = Event(len(self.events), op, tuple(self._arg(a) for a in args), None)
        outs = out if isinstance(out, tuple) else (out,)
        ev.outs = tuple(self.add_value("op", o.array, event=ev, out_idx=i)
                        if isinstance(o, Tensor) else None for i, o in enumerate(outs))
        self.events.append(ev)

    # -- patching -------------------------------------------------------------------------
    def _mine(self) -> bool:
        return self._depth == 0 and threading.get_ident() == self._thread

    def __enter__(self):
        if self._saved is not None:
            raise TraceError("Recorder: already recording")
        rec = self
        orig_apply = Op.__dict__["apply"].__func__
        orig_write = _tensor_mod.write_array_

        def op_apply(cls, *args):
            if not rec._mine():
                return orig_apply(cls, *args)
            rec._depth += 1
            try:
                out = orig_apply(cls, *args)
            finally:
                rec._depth -= 1
            rec.record(cls, args, out)
            return out

        def write(self_t, arr, name):
            orig_write(self_t, arr, name)
            if rec._mine():
                src = rec.lookup(arr)
                if src is None or arr.shape != self_t.array.shape or arr.dtype != self_t.dtype.np:
                    raise TraceError(f"export: the in-place op {name} writes a value that "
                                     f"cannot be traced (broadcast or cast while writing into "
                                     f"shape {tuple(self_t.array.shape)}); use the out-of-place "
                                     f"form.")
                rec._by_array[id(self_t.array)] = src
                rec._keep.append(self_t.array)

        self._saved = {"apply": Op.__dict__["apply"],
                       "write": orig_write,
                       "methods": {m: Tensor.__dict__[m] for m in _COMPARE_METHODS
                                   if m in Tensor.__dict__}}
        self._thread = threading.get_ident()
        Op.apply = classmethod(op_apply)
        _tensor_mod.write_array_ = write
        for m, fn in self._saved["methods"].items():
            setattr(Tensor, m, self._wrap_compare(fn, _COMPARE_METHODS[m]))
        for m in ("argmax", "argmin"):
            self._saved["methods"][m] = Tensor.__dict__[m]
            setattr(Tensor, m, self._wrap_arg(Tensor.__dict__[m], "ArgMax" if m == "argmax"
                                              else "ArgMin"))
        self._saved["items"] = (Tensor.__dict__["__getitem__"], Tensor.__dict__["__setitem__"])
        Tensor.__getitem__ = self._mine_or(_traced_getitem, self._saved["items"][0])
        Tensor.__setitem__ = self._mine_or(_traced_setitem, self._saved["items"][1])
        return self

    def _wrap_arg(self, fn, opname):
        rec = self

        def method(self_t, dim=None, keepdim=False):
            out = fn(self_t, dim, keepdim)
            if rec._mine():
                rec.record(opname, (self_t, dim, keepdim), out)
            return out

        method.__name__ = opname.lower()
        return method

    def _mine_or(self, traced, plain):
        rec = self

        def method(*args):
            return traced(*args) if rec._mine() else plain(*args)

        return method

    def _wrap_compare(self, fn, opname):
        rec = self

        def method(self_t, *args):
            out = fn(self_t, *args)
            if rec._mine() and isinstance(out, Tensor):
                rec.record(opname, (self_t,) + args, out)
            return out

        method.__name__ = getattr(fn, "__name__", opname)
        return method

    def __exit__(self, *exc):
        saved, self._saved = self._saved, None
        Op.apply = saved["apply"]
        _tensor_mod.write_array_ = saved["write"]
        for m, fn in saved["methods"].items():
            setattr(Tensor, m, fn)
        Tensor.__getitem__, Tensor.__setitem__ = saved["items"]
        return False
