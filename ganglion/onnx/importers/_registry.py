"""The table from ONNX op types to ganglion implementations (the loader's side).

An importer is ``fn(ins, attrs) -> Tensor or tuple``: ``ins`` are the node's inputs as ganglion
Tensors (None for an omitted optional input), ``attrs`` its attributes as Python values. Each
runs the op with ganglion's differentiable ops, so gradients flow to the initializers.
"""
from __future__ import annotations

import numpy as np

__all__ = ["IMPORTERS", "register", "ints", "UnsupportedONNXError"]

IMPORTERS: dict = {}


class UnsupportedONNXError(ValueError):
    """An ONNX graph uses ops (or op options) that ganglion cannot run."""


def register(*op_types):
    def deco(fn):
        for op in op_types:
            IMPORTERS[op] = fn
        return fn

    return deco


def ints(t) -> tuple:
    """An integer tensor (a shape, axes) as a tuple of Python ints."""
    return tuple(int(v) for v in np.asarray(t.array).reshape(-1))


def unsupported(op, what):
    raise UnsupportedONNXError(f"load: ONNX {op} with {what} is not supported by ganglion.")
