"""Reductions, scans and arg-reductions (axes as an input from opset 18, an attribute before)."""
from __future__ import annotations

import numpy as np

from ganglion.onnx.converters._registry import register
from ganglion.ops import reduce as red, reduce_scan, reduce_stats

__all__ = ["reduce"]

# ReduceSum takes its axes as an input from opset 13; the others from opset 18.
_AXES_INPUT_FROM = {"ReduceSum": 13}


def reduce(em, op, x, axes, keepdims):
    """Append a Reduce* node over ``axes`` (a tuple of ints) of the ONNX value ``x``."""
    axes = [int(a) for a in axes]
    if em.opset >= _AXES_INPUT_FROM.get(op, 18):
        return em.g.node(op, [x, em.g.ints(axes)], keepdims=int(keepdims))
    return em.g.node(op, [x], axes=axes, keepdims=int(keepdims))


def _axes_reduce(onnx_op):
    def conv(em, ev):
        x, axes, keepdim = ev.args[:3]
        out_dt = ev.outs[0].dtype
        xn = em.cast(em.name(x, ev), x.dtype, out_dt)
        if not axes:  # no axes: torch sums nothing (a copy); ONNX would reduce everything
            return em.g.node("Identity", [xn])
        return reduce(em, onnx_op, xn, axes, keepdim)

    return conv


register(red.Sum)(_axes_reduce("ReduceSum"))
register(red.Mean)(_axes_reduce("ReduceMean"))
register(reduce_scan.Prod)(_axes_reduce("ReduceProd"))
register(reduce_stats.LogSumExp)(_axes_reduce("ReduceLogSumExp"))


@register(red.Extreme)
def _extreme(em, ev):
    x, axes, keepdim, is_max = ev.args[:4]
    return reduce(em, "ReduceMax" if is_max else "ReduceMin", em.name(x, ev), axes, keepdim)


@register(red.ExtremeDim)
def _extreme_dim(em, ev):
    x, d, keepdim, is_max = ev.args
    xn = em.name(x, ev)
    vals = reduce(em, "ReduceMax" if is_max else "ReduceMin", xn, (d,), keepdim)
    idx = em.g.node("ArgMax" if is_max else "ArgMin", [xn], axis=int(d), keepdims=int(keepdim))
    return vals, em.cast(idx, np.int64, ev.outs[1].dtype) if ev.outs[1] is not None else None


@register(reduce_stats.VarStd)
def _var_std(em, ev):
    x, axes, correction, keepdim, take_sqrt, with_mean = ev.args
    g = em.g
    dt = x.dtype
    xn = em.name(x, ev)
    mean = reduce(em, "ReduceMean", xn, axes, True)
    d = g.node("Sub", [xn, mean])
    ss = reduce(em, "ReduceSum", g.node("Mul", [d, d]), axes, keepdim)
    counts = em.per_run(ev, lambda e: (int(np.prod([e.args[0].shape[a] for a in e.args[1]])),))
    n = em.dims.shape(counts, "the element count of var/std")
    denom = em.cast(g.node("Sub", [n, g.ints([int(correction)])]), np.int64, dt)
    out = g.node("Div", [ss, g.node("Squeeze", [denom, g.ints([0])])])
    if take_sqrt:
        out = g.node("Sqrt", [out])
    if with_mean:
        m = mean if keepdim else g.node("Squeeze", [mean, g.ints(axes)])
        return (out, m)
    return out


@register(reduce_scan.Cumsum)
def _cumsum(em, ev):
    x, d = ev.args[:2]
    out_dt = ev.outs[0].dtype
    xn = em.cast(em.name(x, ev), x.dtype, out_dt)
    return em.g.node("CumSum", [xn, em.g.const(np.asarray(int(d), np.int64))])


@register("ArgMax", "ArgMin")
def _arg_extreme(em, ev):
    x, dim, keepdim = ev.args
    xn = em.name(x, ev)
    if dim is None:  # over the flattened tensor, as torch
        xn, dim = em.g.node("Reshape", [xn, em.g.ints([-1])]), 0
        keepdim = False
    return em.g.node(ev.op, [xn], axis=int(dim), keepdims=int(bool(keepdim)))
