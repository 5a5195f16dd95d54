"""An ONNX graph under construction: fresh names, nodes, constants and initializers.

Example:
    >>> import numpy as np
    >>> g = GraphBuilder()
    >>> c = g.const(np.array([1.0], dtype=np.float32))
    >>> y = g.node("Add", ["x", c])
    >>> [n.op_type for n in g.nodes]
    ['Constant', 'Add']
"""
from __future__ import annotations

import numpy as np

from ganglion.onnx._deps import onnx

__all__ = ["GraphBuilder"]


class GraphBuilder:
    def __init__(self):
        self.nodes = []
        self.initializers = []
        self._used: set[str] = set()
        self._consts: dict = {}

    def fresh(self, hint: str = "v") -> str:
        """A name not used yet, derived from ``hint``."""
        base = hint.replace(" ", "_") or "v"
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        if name in self._used:
            raise ValueError(f"export: the name {name!r} is used twice; give distinct "
                             f"input_names/output_names.")
        self._used.add(name)
        return name

    def node(self, op_type: str, inputs, n_out: int = 1, outputs=None, domain=None, **attrs):
        """Append a node; returns its output name (or list of names when n_out > 1)."""
        if outputs is None:
            outputs = [self.fresh(f"/{op_type}_out") for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(onnx.helper.make_node(
            op_type, [i if i is not None else "" for i in inputs], list(outputs),
            name=self.fresh(f"/{op_type}"), domain=domain, **attrs))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def const(self, array, hint: str = "const") -> str:
        """A Constant node holding ``array`` (small integer/shape constants are shared)."""
        arr = np.asarray(array)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(f"/{hint}")
        self.nodes.append(onnx.helper.make_node(
            "Constant", [], [name], name=self.fresh("/Constant"),
            value=onnx.numpy_helper.from_array(np.array(arr, order="C"), name)))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        """A 1-D int64 constant."""
        return self.const(np.asarray(list(values), dtype=np.int64), "ints")

    def scalar(self, value, dtype) -> str:
        return self.const(np.asarray(value, dtype=dtype), "scalar")

    def initializer(self, name: str, array) -> str:
        self.reserve(name)
        self.initializers.append(onnx.numpy_helper.from_array(
            np.array(array, order="C"), name))
        return name
