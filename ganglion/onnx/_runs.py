"""Tracing a model one or more times: the example run, and runs at other sizes and values.

The extra runs let the exporter tell what follows the inputs from what is constant: every
dynamic axis gets two other sizes (the example's tiled or cut along that axis), and float
inputs are scaled, integer inputs rolled, so that a value read out of the input by a path the
trace cannot see (``x.numpy()``, ``.item()`` then Python) shows up as a constant that changes,
which the exporter reports instead of baking it into the graph.

Example:
    >>> import numpy as np
    >>> resize(np.arange(3), 0, 5)
    array([0, 1, 2, 0, 1])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.grad_mode import no_grad
from ganglion.onnx._trace import Recorder, TraceError, Value
from ganglion.tensor import Tensor

__all__ = ["trace_model", "resize", "perturbed_inputs", "other_sizes", "check_same_structure",
           "flatten_outputs"]

# added to (small) or taken from (large) each dynamic axis's size in the extra runs
_OFFSETS = ((3, 5, 7, 9, 11, 13), (7, 2, 11, 4, 6, 10))


def resize(arr, axis, n):
    """``arr`` tiled (or cut) to size ``n`` along ``axis``."""
    return np.take(arr, np.arange(n) % arr.shape[axis], axis=axis)


def other_sizes(symbols, run):
    """The sizes of the dynamic axes in extra run ``run`` (1 or 2)."""
    out = {}
    for j, (name, size) in enumerate(symbols.items()):
        off = _OFFSETS[run - 1][j % len(_OFFSETS[0])] + j // len(_OFFSETS[0])
        out[name] = size + off if size <= 16 else max(1, size - off)
    return out


def perturbed_inputs(arrays, axes_of, sizes):
    """The inputs of an extra run: dynamic axes resized, float values scaled, ints rolled."""
    out = []
    for arr, axes in zip(arrays, axes_of):
        a = arr
        for axis, sym in axes.items():
            a = resize(a, axis, sizes[sym])
        if a.dtype.kind == "f":
            a = (a * 1.5).astype(arr.dtype)
        elif a.dtype.kind in "iu" and a.ndim:
            a = np.roll(a, 1, axis=-1)
        out.append(np.ascontiguousarray(a))
    return out


def flatten_outputs(out, who="the model"):
    """The Tensors of a (nested tuple/list/dict of) model output, in order."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flatten_outputs(o, who)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in flatten_outputs(o, who)]
    if out is None:
        return []
    raise TraceError(f"export: {who} returned a {type(out).__name__}; outputs must be Tensors "
                     f"or tuples/lists/dicts of Tensors.")


def trace_model(model, call_args, kwargs, input_pos, input_arrays, input_names, state):
    """Run ``model`` once while recording; returns (Recorder, output arrays, input Values)."""
    from ganglion.autograd.function import _new_tensor  # noqa: PLC0415

    rec = Recorder()
    args = list(call_args)
    in_values = []
    for pos, arr, name in zip(input_pos, input_arrays, input_names):
        t = _new_tensor(arr)
        args[pos] = t
        in_values.append(rec.add_value("input", t.array, name))
    for kind, name, t in state:
        if rec.lookup(t.array) is None:
            rec.add_value(kind, t.array, name)
    with no_grad(), rec:
        out = model(*args, **kwargs)
    outs = flatten_outputs(out)
    if not outs:
        raise TraceError("export: the model returned no Tensor.")
    for o in outs:  # an output no traced op made is a constant (checked across the runs)
        rec.value_of(o.array)
    return rec, [o.array for o in outs], in_values


def check_same_structure(runs):
    """Raise when a run recorded other ops than the first (control flow on values/sizes)."""
    first = runs[0]
    for r in runs[1:]:
        n = min(len(first.events), len(r.events))
        for i in range(n):
            a, b = first.events[i], r.events[i]
            if a.op is not b.op or len(a.args) != len(b.args) or len(a.outs) != len(b.outs) \
                    or any(_kind(x) != _kind(y) for x, y in zip(a.args, b.args)):
                _differs(a, b, i)
            for x, y in zip(a.args, b.args):
                if type(x) is float and x != y and not (x != x and y != y):
                    raise TraceError(
                        f"export: {a.name} (op #{i}) was given the Python number {x} in the "
                        f"example run and {y} in another: a number read out of the input "
                        f"(float(t), t.item()) would be baked into the graph. Keep it a "
                        f"tensor (use the tensor op instead of the Python number).")
        if len(first.events) != len(r.events):
            _differs(first.events[n] if n < len(first.events) else None,
                     r.events[n] if n < len(r.events) else None, n)
        if len(first.values) != len(r.values):
            raise TraceError("export: the model reads a different number of constants at other "
                             "input sizes or values; its forward depends on them outside the "
                             "traced ops.")


def _kind(a):
    return ("v", a.index) if isinstance(a, Value) else "x"


def _differs(a, b, i):
    name = lambda e: "nothing" if e is None else e.name  # noqa: E731
    raise TraceError(f"export: the model runs other ops when the input's values or dynamic "
                     f"sizes change (op #{i}: {name(a)} in the example run, {name(b)} in "
                     f"another); its control flow depends on the input, which one static ONNX "
                     f"graph cannot express. Make the branch independent of the input, or "
                     f"export without the dynamic axis that changes it.")
