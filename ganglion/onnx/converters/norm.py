"""Normalizations: BatchNormalization (eval, with the running statistics as initializers),
LayerNormalization, and the others (group, instance, RMS norm) as reduce-mean compositions."""
from __future__ import annotations

import math

import numpy as np

from ganglion.onnx.converters._registry import register
from ganglion.onnx.converters.reduce import reduce
from ganglion.onnx._trace import TraceError
from ganglion.ops.norm_fused import NormEval, Normalize

__all__: list = []


def _find_running_stats(em, mean, inv, eps, w):
    """The (running_mean, running_var) buffer Values whose statistics these are, or None:
    those of the weight's module first (fresh layers all hold zeros and ones)."""
    values = em.runs[0].values
    by_name = {em.state_names[v.index]: v for v in values if v.kind == "buffer"}
    names = list(by_name)
    if w is not None and w.kind == "param":
        prefix = em.state_names[w.index][:-len("weight")]
        names.sort(key=lambda n: n != prefix + "running_mean")
    for name in names:
        v = by_name[name]
        if not name.endswith("running_mean") or v.array.size != mean.size:
            continue
        var = by_name.get(name[:-len("running_mean")] + "running_var")
        if var is None or not np.array_equal(v.array.astype(mean.dtype).ravel(), mean.ravel()):
            continue
        inv_v = 1 / np.sqrt(var.array.astype(mean.dtype) + eps)
        if np.allclose(inv_v.ravel(), inv.ravel(), rtol=1e-6, atol=0):
            return v, var
    return None


@register(NormEval)
def _norm_eval(em, ev):
    x, w, b, spec, mean, inv = ev.args
    g = em.g
    dt = x.dtype
    c = x.shape[1] if len(x.shape) > 1 else 0
    if not (len(spec.wshape) == 3 and spec.wshape[1] == c):
        raise TraceError(f"export: batch norm with statistics of shape {spec.wshape} on an "
                         f"input of shape {x.shape} has no ONNX form (expected per-channel "
                         f"statistics on dim 1).")
    mean_a = np.asarray(mean.array).ravel()
    inv_a = np.asarray(inv.array).ravel()
    stats = _find_running_stats(em, mean_a, inv_a, spec.eps, w)
    if stats is not None:
        mn, vn = em.name(stats[0], ev), em.name(stats[1], ev)
        mn, vn = em.cast(mn, stats[0].dtype, dt), em.cast(vn, stats[1].dtype, dt)
    else:  # functional batch_norm on non-buffer statistics: constants
        mn = g.const(mean_a.astype(dt))
        vn = g.const((1.0 / inv_a.astype(np.float64) ** 2 - spec.eps).astype(dt))
    scale = em.name(w, ev) if w is not None else g.const(np.ones(c, dt))
    bias = em.name(b, ev) if b is not None else g.const(np.zeros(c, dt))
    xn = em.name(x, ev)
    if len(x.shape) == 2:  # BatchNormalization wants (N, C, ...): (N, C) gets a trailing 1
        y = g.node("BatchNormalization", [g.node("Unsqueeze", [xn, g.ints([2])]), scale, bias,
                                          mn, vn], epsilon=spec.eps)
        return g.node("Squeeze", [y, g.ints([2])])
    return g.node("BatchNormalization", [xn, scale, bias, mn, vn], epsilon=spec.eps)


def _layer_norm_axis(shape, spec, w):
    """The first normalized axis when ``spec`` normalizes trailing dims of ``shape``."""
    if len(spec.vshape) != 2 or spec.axes != (1,) or spec.wshape != (1, spec.vshape[1]):
        return None
    d = spec.vshape[1]
    if w is not None:  # the weight has normalized_shape
        k = len(shape) - len(w.shape)
        return k if k >= 0 and math.prod(shape[k:]) == d else None
    for k in range(len(shape) - 1, -1, -1):
        if math.prod(shape[k:]) == d:
            return k
    return None


@register(Normalize)
def _normalize(em, ev):
    x, w, b, spec = ev.args[:4]
    if len(ev.args) > 4 and any(a is not None for a in ev.args[4:6]):
        raise TraceError("export: batch norm in training mode (it updates the running "
                         "statistics) has no ONNX form; call model.eval() before export, or "
                         "export with training=TrainingMode.EVAL (the default).")
    g = em.g
    dt = x.dtype
    xn = em.name(x, ev)
    axis = _layer_norm_axis(x.shape, spec, w)
    if axis is not None and not spec.rms:
        wn = em.name(w, ev) if w is not None else g.const(np.ones(x.shape[axis:], dt))
        inputs = [xn, wn] + ([em.name(b, ev)] if b is not None else [])
        return g.node("LayerNormalization", inputs, axis=axis - len(x.shape),
                      epsilon=spec.eps)
    # the general form: normalize the spec's view of x over its axes, then reshape back
    vshape = em.per_run(ev, lambda e: e.args[3].vshape)
    xv = xn if axis is not None else g.node("Reshape", [xn, em.dims.shape(
        vshape, "a normalization's view", minus_one=True)])
    axes = tuple(range(axis, len(x.shape))) if axis is not None else spec.axes
    eps = g.scalar(spec.eps, dt)
    if spec.rms:
        ms = reduce(em, "ReduceMean", g.node("Mul", [xv, xv]), axes, True)
        y = g.node("Div", [xv, g.node("Sqrt", [g.node("Add", [ms, eps])])])
    else:
        d = g.node("Sub", [xv, reduce(em, "ReduceMean", xv, axes, True)])
        var = reduce(em, "ReduceMean", g.node("Mul", [d, d]), axes, True)
        y = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, eps])])])
    wshape = spec.wshape if axis is None else tuple(x.shape[axis:])
    for p, op in ((w, "Mul"), (b, "Add")):
        if p is not None:
            y = g.node(op, [y, g.node("Reshape", [em.name(p, ev), g.ints(wshape)])])
    if axis is not None:
        return y
    return g.node("Reshape", [y, g.node("Shape", [xn])])
