"""``load``: an ONNX graph as a ganglion ``nn.Module`` that runs it with ganglion ops.

Initializers become Parameters (floating point) or buffers (integers, and the ones the
exporter marked as buffers, such as batch-norm running statistics), registered under their
names: ``layer1.0.conv1.weight`` is the parameter ``weight`` of submodule ``layer1.0.conv1``,
so an exported ganglion model loads back with its own ``state_dict`` keys. The forward runs the
nodes in order with ganglion's differentiable ops, so the loaded module can be fine-tuned.

Example:
    >>> import numpy as np
    >>> from onnx import helper, numpy_helper, TensorProto
    >>> w = numpy_helper.from_array(np.eye(3, dtype=np.float32), "fc.weight")
    >>> g = helper.make_graph([helper.make_node("MatMul", ["x", "fc.weight"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])], [w])
    >>> m = load(helper.make_model(g))
    >>> [n for n, _ in m.named_parameters()]
    ['fc.weight']
    >>> import ganglion
    >>> m(ganglion.ones(2, 3)).shape
    ganglion.Size([2, 3])
"""
from __future__ import annotations

import collections
import json
import os

import numpy as np

import ganglion
from ganglion import nn
from ganglion.onnx._deps import onnx
from ganglion.onnx.export import BUFFERS_KEY
from ganglion.onnx.importers import IMPORTERS, UnsupportedONNXError
from ganglion.tensor import Tensor

__all__ = ["load", "ONNXModule", "UnsupportedONNXError"]

_BN_STAT_INPUTS = {"BatchNormalization": (3, 4)}


class _Scope(nn.Module):
    """A submodule that only holds the initializers under one name prefix."""

    def forward(self, *args):
        raise RuntimeError("this module only holds ONNX initializers; call the ONNXModule.")


def _attr(a):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode() for s in v]
    return v


def _constant_value(node):
    attrs = {a.name: a for a in node.attribute}
    if "value" in attrs:
        return onnx.numpy_helper.to_array(attrs["value"].t)
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(_attr(attrs[key]), dtype=dt)
    raise UnsupportedONNXError(f"load: Constant node {node.name!r} with attributes "
                               f"{sorted(attrs)} is not supported.")


class ONNXModule(nn.Module):
    """Runs an ONNX graph with ganglion ops (see the module docstring).

    Args:
        model: an ``onnx.ModelProto``.

    Attributes:
        input_names, output_names: the graph's inputs (initializers excluded) and outputs.
    """

    def __init__(self, model):
        super().__init__()
        graph = model.graph
        self._opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                           13)
        _check_supported(graph)
        meta = {p.key: p.value for p in model.metadata_props}
        buffers = set(json.loads(meta.get(BUFFERS_KEY, "[]")))
        for node in graph.node:
            for i in _BN_STAT_INPUTS.get(node.op_type, ()):
                if i < len(node.input):
                    buffers.add(node.input[i])
        init_names = [t.name for t in graph.initializer]
        self._paths = {}
        for t in graph.initializer:
            self._paths[t.name] = self._place(t.name, onnx.numpy_helper.to_array(t), buffers)
        self.input_names = [i.name for i in graph.input if i.name not in set(init_names)]
        self.output_names = [o.name for o in graph.output]
        self._consts = {}
        self._nodes = []
        for node in graph.node:
            if node.op_type == "Constant":
                self._consts[node.output[0]] = ganglion.tensor(np.array(_constant_value(node)))
                continue
            attrs = {a.name: _attr(a) for a in node.attribute}
            attrs["_opset"], attrs["_n_out"] = self._opset, len(node.output)
            self._nodes.append((node.op_type, list(node.input), list(node.output), attrs,
                                IMPORTERS[node.op_type]))

    def _place(self, name, arr, buffers):
        """Register one initializer at its dotted path; returns (submodule path, attribute)."""
        parts = [p or "_" for p in name.split(".")]
        mod, path = self, []
        for p in parts[:-1]:
            sub = mod._modules.get(p)
            if sub is None:
                if hasattr(mod, p):  # a name taken by a parameter or a Module attribute
                    return self._place_flat(name, arr, buffers)
                sub = _Scope()
                mod.add_module(p, sub)
            mod = sub
            path.append(p)
        attr = parts[-1]
        if hasattr(mod, attr):
            return self._place_flat(name, arr, buffers)
        _register(mod, attr, arr, name not in buffers)
        return tuple(path), attr

    def _place_flat(self, name, arr, buffers):
        flat = "onnx_" + "".join(c if c.isalnum() else "_" for c in name)
        while hasattr(self, flat):
            flat += "_"
        _register(self, flat, arr, name not in buffers)
        return (), flat

    def _initializer(self, path):
        mod = self
        for p in path[0]:
            mod = mod._modules[p]
        return getattr(mod, path[1])

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"ONNXModule: the graph takes {len(self.input_names)} inputs "
                            f"({', '.join(self.input_names)}), got {len(inputs)}.")
        env = dict(self._consts)
        for name, path in self._paths.items():
            env[name] = self._initializer(path)
        for name, x in zip(self.input_names, inputs):
            env[name] = x if isinstance(x, Tensor) else ganglion.tensor(np.asarray(x))
        for op, ins, outs, attrs, fn in self._nodes:
            try:
                args = [env[i] if i else None for i in ins]
            except KeyError as e:
                raise RuntimeError(f"ONNXModule: node {op} reads {e.args[0]!r}, which no "
                                   f"earlier node produced (the graph is not in topological "
                                   f"order).") from None
            res = fn(args, attrs)
            res = res if isinstance(res, tuple) else (res,)
            for i, o in enumerate(outs):
                if not o:
                    continue
                if i >= len(res):
                    raise UnsupportedONNXError(f"load: output {i} ({o!r}) of {op} is not "
                                               f"supported by ganglion.")
                env[o] = res[i]
        out = tuple(env[o] for o in self.output_names)
        return out[0] if len(out) == 1 else out

    def extra_repr(self) -> str:
        return (f"inputs={self.input_names}, outputs={self.output_names}, "
                f"nodes={len(self._nodes)}, opset={self._opset}")


def _register(mod, attr, arr, trainable):
    """A floating-point initializer as a Parameter unless it is a buffer; others as buffers."""
    t = ganglion.tensor(np.array(arr))
    if arr.dtype.kind == "f" and trainable:
        mod.register_parameter(attr, nn.Parameter(t))
    else:
        mod.register_buffer(attr, t)


def _check_supported(graph):
    missing = collections.Counter()
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            missing[f"{node.domain}.{node.op_type}"] += 1
        elif node.op_type != "Constant" and node.op_type not in IMPORTERS:
            missing[node.op_type] += 1
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                missing[f"{node.op_type} (with a subgraph)"] += 1
    if missing:
        listed = ", ".join(f"{op} (x{n})" for op, n in sorted(missing.items()))
        raise UnsupportedONNXError(
            f"load: the graph uses ops that ganglion cannot run: {listed}. Supported: "
            f"{', '.join(sorted(IMPORTERS))}, Constant.")


def load(f) -> ONNXModule:
    """Load an ONNX model (a path, a binary file object, bytes or an ``onnx.ModelProto``) as
    an :class:`ONNXModule`."""
    if isinstance(f, onnx.ModelProto):
        model = f
    elif isinstance(f, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(f))
    elif isinstance(f, (str, os.PathLike)):
        model = onnx.load(os.fspath(f))
    elif hasattr(f, "read"):
        model = onnx.load_from_string(f.read())
    else:
        raise TypeError(f"load: expected a path, a file object, bytes or an onnx.ModelProto, "
                        f"got {type(f).__name__}.")
    return ONNXModule(model)
