"""Shape and movement ONNX ops: Shape, Reshape, Flatten, (Un)Squeeze, Concat, Split, Slice,
Gather, Transpose, Expand, Tile, Pad, Trilu, ConstantOfShape, Range, CumSum."""
from __future__ import annotations

import math

import numpy as np

import ganglion
import ganglion.nn.functional as F
from ganglion.onnx.importers._registry import ints, register, unsupported

__all__: list = []


def _int_tensor(values):
    return ganglion.tensor(np.asarray(values, dtype=np.int64))


@register("Shape")
def _shape(ins, attrs):
    shape = tuple(ins[0].shape)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    return _int_tensor(shape[slice(start, end)])


@register("Size")
def _size(ins, attrs):
    return _int_tensor(ins[0].numel())


@register("Reshape")
def _reshape(ins, attrs):
    x, shape = ins[0], list(ints(ins[1]))
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(*shape) if shape else x.reshape(())


@register("Flatten")
def _flatten(ins, attrs):
    x = ins[0]
    axis = attrs.get("axis", 1) % (x.ndim + 1) if x.ndim else 0
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _axes(ins, attrs):
    if len(ins) > 1 and ins[1] is not None:
        return ints(ins[1])
    return tuple(attrs["axes"]) if "axes" in attrs else None


@register("Squeeze")
def _squeeze(ins, attrs):
    x, axes = ins[0], _axes(ins, attrs)
    if axes is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    axes = {a % x.ndim for a in axes}
    return x.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))


@register("Unsqueeze")
def _unsqueeze(ins, attrs):
    x, axes = ins[0], _axes(ins, attrs)
    n = x.ndim + len(axes)
    axes = {a % n for a in axes}
    it = iter(x.shape)
    return x.reshape(tuple(1 if i in axes else next(it) for i in range(n)))


@register("Concat")
def _concat(ins, attrs):
    return ganglion.cat([t for t in ins if t is not None], attrs["axis"])


@register("Split")
def _split(ins, attrs, n_out=None):
    x = ins[0]
    axis = attrs.get("axis", 0) % x.ndim
    if len(ins) > 1 and ins[1] is not None:
        sizes = ints(ins[1])
    elif "split" in attrs:
        sizes = tuple(attrs["split"])
    else:
        k = attrs.get("num_outputs") or attrs["_n_out"]
        step = -(-x.shape[axis] // k)
        sizes = tuple(min(step, x.shape[axis] - i * step) for i in range(k))
    return tuple(ganglion.split(x, list(sizes), axis))


@register("Slice")
def _slice(ins, attrs):
    x = ins[0]
    if len(ins) > 1:
        starts, ends = ints(ins[1]), ints(ins[2])
        axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else range(len(starts))
        steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else (1,) * len(starts)
    else:  # opset < 10: attributes
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes", range(len(starts))), (1,) * len(starts)
    key = [slice(None)] * x.ndim
    out = x
    for a, s, e, st in zip(axes, starts, ends, steps):
        a %= x.ndim
        n = x.shape[a]
        s, e = max(min(s, n), -n - 1), max(min(e, n), -n - 1)  # ONNX clamps like Python
        if st > 0:
            key[a] = slice(s, e, st)
        else:  # a reversed slice: explicit indices (ganglion slices step forward only)
            idx = np.arange(*slice(s, e, st).indices(n))
            out = out.index_select(a, _int_tensor(idx))
    return out[tuple(key)]


@register("Gather")
def _gather(ins, attrs):
    x, idx = ins
    axis = attrs.get("axis", 0) % x.ndim
    idx_a = np.asarray(idx.array).astype(np.int64)
    idx_a = np.where(idx_a < 0, idx_a + x.shape[axis], idx_a)
    if axis == 0 and x.ndim == 2 and x.dtype.is_floating_point:
        return F.embedding(_int_tensor(idx_a), x)  # an embedding lookup: one fused op
    flat = x.index_select(axis, _int_tensor(idx_a.reshape(-1)))
    shape = tuple(x.shape[:axis]) + idx_a.shape + tuple(x.shape[axis + 1:])
    return flat.reshape(shape)


@register("Transpose")
def _transpose(ins, attrs):
    x = ins[0]
    perm = attrs.get("perm", list(reversed(range(x.ndim))))
    return x.permute(*perm)


@register("Expand")
def _expand(ins, attrs):
    x = ins[0]
    shape = np.broadcast_shapes(tuple(x.shape), ints(ins[1]))  # ONNX Expand broadcasts both
    return x.expand(*shape) if tuple(shape) != tuple(x.shape) else x


@register("Tile")
def _tile(ins, attrs):
    return ins[0].repeat(*ints(ins[1]))


@register("Pad")
def _pad(ins, attrs):
    x = ins[0]
    mode = attrs.get("mode", "constant")
    pads = ints(ins[1]) if len(ins) > 1 else tuple(attrs["pads"])
    value = ins[2].item() if len(ins) > 2 and ins[2] is not None else attrs.get("value", 0.0)
    if len(ins) > 3 and ins[3] is not None:
        unsupported("Pad", "the axes input")
    n = x.ndim
    spec = []
    for i in reversed(range(n)):
        spec += [pads[i], pads[n + i]]
    while len(spec) > 2 and spec[-2:] == [0, 0]:  # F.pad modes pad the trailing dims only
        spec = spec[:-2]
    if mode == "constant":
        return F.pad(x, tuple(spec), value=value)
    modes = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}
    if mode not in modes:
        unsupported("Pad", f"mode={mode!r}")
    return F.pad(x, tuple(spec), mode=modes[mode])


@register("Trilu")
def _trilu(ins, attrs):
    x = ins[0]
    k = int(ins[1].item()) if len(ins) > 1 and ins[1] is not None else 0
    return ganglion.triu(x, k) if attrs.get("upper", 1) else ganglion.tril(x, k)


@register("ConstantOfShape")
def _constant_of_shape(ins, attrs):
    from ganglion.onnx._deps import onnx  # noqa: PLC0415

    value = attrs.get("value")
    arr = onnx.numpy_helper.to_array(value) if value is not None else np.zeros(1, np.float32)
    return ganglion.tensor(np.full(ints(ins[0]), arr.reshape(-1)[0], dtype=arr.dtype))


@register("Range")
def _range(ins, attrs):
    start, limit, delta = (t.array.item() for t in ins)
    return ganglion.tensor(np.arange(start, limit, delta, dtype=ins[0].array.dtype))


@register("CumSum")
def _cumsum(ins, attrs):
    if attrs.get("exclusive", 0) or attrs.get("reverse", 0):
        unsupported("CumSum", "exclusive or reverse")
    return ins[0].cumsum(int(ins[1].item()))
