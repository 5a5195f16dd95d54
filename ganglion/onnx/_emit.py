"""Turning recorded runs into ONNX nodes: value names, constants, sizes, and the converters.

Run 0 is the trace at the example's sizes: its events become the graph. The other runs (same
ops, other sizes of the dynamic axes, other input values) only tell which sizes and constants
follow the inputs; see ``_dims``.
"""
from __future__ import annotations

import numpy as np

from ganglion.onnx._deps import onnx, tensor_type
from ganglion.onnx._trace import TraceError, Value

__all__ = ["Emitter"]


class Emitter:
    """What converters use: ``name(value)``, ``per_run``, ``shape_tensor``, ``cast``, ``g``."""

    def __init__(self, runs, graph, dims, opset, converters, state_names):
        self.runs, self.g, self.dims, self.opset = runs, graph, dims, opset
        self.converters = converters
        self.state_names = state_names  # value index -> state_dict name, for params/buffers
        self.names: dict[int, str] = {}
        self.used_state: list[str] = []

    # -- values -------------------------------------------------------------------------
    def peers(self, ev):
        return [r.events[ev.index] for r in self.runs]

    def per_run(self, ev, get):
        return [get(e) for e in self.peers(ev)]

    def shapes(self, v):
        """The shape of value ``v`` in every run."""
        return [r.values[v.index].shape for r in self.runs]

    def name(self, v, ev=None) -> str:
        """The ONNX name of a Value (creating the initializer or constant on first use)."""
        n = self.names.get(v.index)
        if n is not None:
            return n
        if v.kind in ("param", "buffer"):
            n = self.g.initializer(self.state_names[v.index], v.array)
            self.used_state.append(n)
        elif v.kind == "const":
            n = self._const(v, ev)
        elif v.kind == "op":
            raise TraceError(f"export: output {v.out_idx} of {v.event.name} is used, but its "
                             f"converter does not produce it (shape {v.shape}).")
        else:
            raise TraceError(f"export: internal error: value {v} has no name")
        self.names[v.index] = n
        return n

    def _const(self, v, ev):
        arrs = [r.values[v.index].array for r in self.runs]
        a0 = arrs[0]
        if all(a.shape == a0.shape and np.array_equal(a, a0, equal_nan=a.dtype.kind == "f")
               for a in arrs[1:]):
            return self.g.const(a0)
        who = f"a tensor of shape {a0.shape} given to {ev.name if ev else 'the graph'}"
        if all(a.size and (a == a.flat[0]).all() and a.flat[0] == a0.flat[0] for a in arrs):
            shape = self.dims.shape([a.shape for a in arrs], who)
            fill = onnx.numpy_helper.from_array(np.asarray([a0.flat[0]], dtype=a0.dtype))
            return self.g.node("ConstantOfShape", [shape], value=fill)
        if all(a.ndim == 1 and a.size >= 2 for a in arrs):
            start, step = a0[0], a0[1] - a0[0]
            if all(np.array_equal(a, start + step * np.arange(a.size, dtype=a.dtype))
                   for a in arrs) and step != 0:
                n = self.dims.scalar_dim([a.size for a in arrs], who)
                limit = self.g.node("Squeeze", [n, self.g.ints([0])])
                if step != 1 or start != 0:
                    limit = self.g.node("Add", [self.g.node(
                        "Mul", [limit, self.g.const(np.asarray(step, np.int64))]),
                        self.g.const(np.asarray(start, np.int64))])
                limit = self.cast(limit, np.int64, a0.dtype)
                return self.g.node("Range", [self.g.scalar(start, a0.dtype), limit,
                                             self.g.scalar(step, a0.dtype)])
        raise TraceError(
            f"export: {who} was built from the input's values or sizes outside the traced ops "
            f"(it differs between the traced runs, and is neither a filled tensor nor an "
            f"arange). Build it with ganglion ops on the input, or pass it as an input.")

    def inp(self, ev, i) -> str:
        a = ev.args[i]
        if a is None:
            return None
        return self.name(a, ev)

    # -- helpers --------------------------------------------------------------------------
    def shape_tensor(self, ev, get, what, minus_one=False) -> str:
        """A 1-D int64 tensor for the shape ``get(event)`` (a tuple of ints) of every run."""
        return self.dims.shape(self.per_run(ev, lambda e: tuple(get(e))), what, minus_one)

    def cast(self, name, src_dtype, dst_dtype) -> str:
        if np.dtype(src_dtype) == np.dtype(dst_dtype):
            return name
        return self.g.node("Cast", [name], to=tensor_type(np.dtype(dst_dtype)))

    def operand(self, ev, a, dtype) -> str:
        """An elementwise operand (Value or Python number) as ONNX name of dtype ``dtype``."""
        if isinstance(a, Value):
            return self.cast(self.name(a, ev), a.dtype, dtype)
        return self.g.scalar(a, dtype)

    # -- driving --------------------------------------------------------------------------
    def emit(self, ev):
        conv = self.converters.get(ev.op)
        if conv is None and not isinstance(ev.op, str):  # op subclasses (Max of Extreme, ...)
            conv = next((self.converters[c] for c in ev.op.__mro__ if c in self.converters),
                        None)
        if conv is None:
            raise TraceError(f"export: the op {ev.name} (from "
                             f"{getattr(ev.op, '__module__', 'ganglion')}) has no ONNX converter;"
                             f" supported ops: {', '.join(sorted(self.converter_names()))}.")
        outs = conv(self, ev)
        if isinstance(outs, str):
            outs = (outs,)
        for v, n in zip(ev.outs, outs):
            if v is not None and n is not None:
                self.names[v.index] = n

    def converter_names(self):
        return {k if isinstance(k, str) else k.__name__ for k in self.converters}
