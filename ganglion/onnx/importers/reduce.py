"""ONNX reductions (axes as an attribute before opset 18, as an input from it; ReduceSum from
13) and ArgMax/ArgMin."""
from __future__ import annotations

from ganglion.onnx.importers._registry import ints, register, unsupported

__all__: list = []


def _reduce_axes(ins, attrs, x):
    if len(ins) > 1 and ins[1] is not None:
        axes = ints(ins[1])
    else:
        axes = tuple(attrs.get("axes", ()))
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return None
        axes = tuple(range(x.ndim))
    return tuple(a % x.ndim for a in axes)


def _reducer(method):
    def run(ins, attrs):
        x = ins[0]
        axes = _reduce_axes(ins, attrs, x)
        if axes is None:
            return x
        keep = bool(attrs.get("keepdims", 1))
        return method(x, axes, keep)

    return run


def _prod(x, axes, keep):
    for a in sorted(axes, reverse=True):
        x = x.prod(a, keepdim=keep)
    return x


register("ReduceSum")(_reducer(lambda x, a, k: x.sum(dim=a, keepdim=k)))
register("ReduceMean")(_reducer(lambda x, a, k: x.mean(dim=a, keepdim=k)))
register("ReduceMax")(_reducer(lambda x, a, k: x.amax(dim=a, keepdim=k)))
register("ReduceMin")(_reducer(lambda x, a, k: x.amin(dim=a, keepdim=k)))
register("ReduceProd")(_reducer(_prod))
register("ReduceLogSumExp")(_reducer(lambda x, a, k: x.logsumexp(dim=a, keepdim=k)))
register("ReduceSumSquare")(_reducer(lambda x, a, k: (x * x).sum(dim=a, keepdim=k)))
register("ReduceL2")(_reducer(lambda x, a, k: (x * x).sum(dim=a, keepdim=k).sqrt()))
register("ReduceL1")(_reducer(lambda x, a, k: x.abs().sum(dim=a, keepdim=k)))


def _arg(is_max):
    def run(ins, attrs):
        if attrs.get("select_last_index", 0):
            unsupported("ArgMax" if is_max else "ArgMin", "select_last_index=1")
        x = ins[0]
        axis = attrs.get("axis", 0)
        keep = bool(attrs.get("keepdims", 1))
        return x.argmax(axis, keepdim=keep) if is_max else x.argmin(axis, keepdim=keep)

    return run


register("ArgMax")(_arg(True))
register("ArgMin")(_arg(False))
