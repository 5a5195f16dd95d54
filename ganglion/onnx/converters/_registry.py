"""The table from ganglion ops (Op classes, or pseudo-op names) to ONNX converters.

A converter is ``fn(em, ev)``: it reads the recorded event ``ev`` (its args, with arrays as
:class:`~ganglion.onnx._trace.Value`) through the :class:`~ganglion.onnx._emit.Emitter` ``em``,
appends nodes to ``em.g`` and returns the ONNX name of each output (None for an output it
does not produce).
"""
from __future__ import annotations

from ganglion.onnx._trace import Value

__all__ = ["CONVERTERS", "register", "is_value"]

CONVERTERS: dict = {}


def register(*ops):
    def deco(fn):
        for op in ops:
            CONVERTERS[op] = fn
        return fn

    return deco


def is_value(a) -> bool:
    return isinstance(a, Value)
