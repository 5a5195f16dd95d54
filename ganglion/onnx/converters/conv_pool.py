"""Convolution, pooling and padding."""
from __future__ import annotations

import math

import numpy as np

from ganglion.onnx.converters._registry import register
from ganglion.ops import pad, pool_kernels as pk
from ganglion.ops.conv import Conv, ConvTranspose

__all__: list = []


def _pads(pairs):
    """((lo, hi), ...) per spatial dim -> ONNX's [lo_1, lo_2, ..., hi_1, hi_2, ...]."""
    return [int(lo) for lo, _ in pairs] + [int(hi) for _, hi in pairs]


@register(Conv)
def _conv(em, ev):
    x, w, b, geom, _ = ev.args
    inputs = [em.name(x, ev), em.name(w, ev)] + ([] if b is None else [em.name(b, ev)])
    return em.g.node("Conv", inputs, kernel_shape=list(w.shape[2:]),
                     strides=list(geom.stride), pads=_pads(geom.pads),
                     dilations=list(geom.dilation), group=int(geom.groups))


@register(ConvTranspose)
def _conv_transpose(em, ev):
    x, w, b, geom, out_shape = ev.args
    k = w.shape[2:]
    # the output extent torch asked for, beyond the default one, is ONNX's output_padding
    extra = [o - ((i - 1) * s - lo - hi + d * (kk - 1) + 1) for o, i, s, (lo, hi), d, kk in
             zip(out_shape[2:], x.shape[2:], geom.stride, geom.pads, geom.dilation, k)]
    inputs = [em.name(x, ev), em.name(w, ev)] + ([] if b is None else [em.name(b, ev)])
    return em.g.node("ConvTranspose", inputs, kernel_shape=list(k), strides=list(geom.stride),
                     pads=_pads(geom.pads), dilations=list(geom.dilation),
                     group=int(geom.groups), output_padding=extra)


@register(pk.Resample)
def _resample(em, ev):
    """Interpolation and adaptive average pooling: per spatial axis, a weighted sum of
    gathered taps (exact for every mode ganglion implements)."""
    x, axes = ev.args[:2]
    if any(len(e.args[1]) != len(axes) or any(
            (a is None) != (b is None) or (a is not None and not np.array_equal(a[0], b[0]))
            for a, b in zip(e.args[1], axes)) for e in em.peers(ev)):
        raise ValueError("export: interpolation or adaptive pooling over a spatial size that "
                         "follows a dynamic axis has no fixed taps; keep spatial sizes static.")
    g = em.g
    out = em.name(x, ev)
    nd = len(x.shape)
    for ax, taps in enumerate(axes, start=2):
        if taps is None:
            continue
        idx, w = taps
        shape = (-1,) + (1,) * (nd - ax - 1)
        acc = None
        for t in range(idx.shape[0]):
            v = g.node("Gather", [out, g.const(np.asarray(idx[t], np.int64))], axis=ax)
            if not (w[t] == 1).all():
                v = g.node("Mul", [v, g.const(w[t].astype(x.dtype).reshape(shape))])
            acc = v if acc is None else g.node("Add", [acc, v])
        out = acc
    return out


def _ceil_mode(in_sp, k, stride, pads, dilation, out_sp):
    """Whether the traced output extent needs ONNX's ceil_mode (torch's ceil_mode=True)."""
    floor = tuple((s + lo + hi - d * (kk - 1) - 1) // st + 1 for s, kk, st, (lo, hi), d in
                  zip(in_sp, k, stride, pads, dilation))
    return int(floor != tuple(out_sp))


@register(pk.MaxPool)
def _maxpool(em, ev):
    x, k, stride, pads, dilation, out_sp = ev.args
    ceil = _ceil_mode(x.shape[2:], k, stride, pads, dilation, out_sp)
    y = em.g.node("MaxPool", [em.name(x, ev)], kernel_shape=list(k), strides=list(stride),
                  pads=_pads(pads), dilations=list(dilation), ceil_mode=ceil)
    return y, None  # ganglion's indices (flat per plane) are not ONNX's (flat per tensor)


@register(pk.AvgPool)
def _avgpool(em, ev):
    x, k, stride, pads, out_sp, div = ev.args
    div = np.asarray(div.array if hasattr(div, "array") else div)
    ceil = _ceil_mode(x.shape[2:], k, stride, pads, (1,) * len(k), out_sp)
    full = math.prod(k)
    if np.all(div == full):
        include = 1
    else:
        include = 0
        if not np.all(div <= full):
            raise ValueError(f"export: avg_pool with divisor_override has no ONNX form "
                             f"(divisors {np.unique(div)[:4]}, window {tuple(k)}).")
    return em.g.node("AveragePool", [em.name(x, ev)], kernel_shape=list(k),
                     strides=list(stride), pads=_pads(pads), ceil_mode=ceil,
                     count_include_pad=include)


@register(pk.AdaptiveMaxPool)
def _adaptive_max(em, ev):
    x = ev.args[0]
    out = ev.outs[0]
    if any(s != 1 for s in out.shape[2:]):
        raise ValueError(f"export: adaptive_max_pool to {out.shape[2:]} has no ONNX form; only "
                         f"output size 1 (GlobalMaxPool) is exported.")
    return em.g.node("GlobalMaxPool", [em.name(x, ev)]), None


@register(pad.ConstantPad)
def _constant_pad(em, ev):
    x, pads, value, _ = ev.args
    g = em.g
    dt = x.dtype
    spec = em.per_run(ev, lambda e: tuple(lo for lo, _ in e.args[1]) +
                      tuple(hi for _, hi in e.args[1]))
    p = em.dims.shape(spec, "pad widths")
    return g.node("Pad", [em.name(x, ev), p, g.scalar(value, dt)], mode="constant")
