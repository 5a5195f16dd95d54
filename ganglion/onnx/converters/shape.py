"""Movement and indexing: reshape, expand, permute, cat/split/stack/unbind, basic indexing,
flip, repeat, tril/triu. Sizes that follow a dynamic axis are computed in the graph."""
from __future__ import annotations

import numpy as np

from ganglion.onnx.converters._registry import register
from ganglion.ops import indexing_core as ic, movement as mv, movement_diag as md
from ganglion.ops import movement_join as mj, movement_repeat as mr

__all__: list = []

_BIG = np.iinfo(np.int64).max


@register(mv.Reshape)
def _reshape(em, ev):
    target = em.shape_tensor(ev, lambda e: e.args[1], "a reshape target", minus_one=True)
    return em.g.node("Reshape", [em.name(ev.args[0], ev), target])


@register(mv.Expand)
def _expand(em, ev):
    target = em.shape_tensor(ev, lambda e: e.args[1], "an expand target")
    return em.g.node("Expand", [em.name(ev.args[0], ev), target])


@register(mv.Permute)
def _permute(em, ev):
    return em.g.node("Transpose", [em.name(ev.args[0], ev)], perm=[int(d) for d in ev.args[1]])


@register(mj.Cat)
def _cat(em, ev):
    dim, xs = ev.args[0], ev.args[1:]
    nd = max(len(x.shape) for x in xs)
    kept = [x for x in xs if not (x.shape == (0,) and nd > 1)]  # torch skips legacy (0,)
    return em.g.node("Concat", [em.name(x, ev) for x in kept], axis=int(dim))


@register(mj.Stack)
def _stack(em, ev):
    dim, xs = int(ev.args[0]), ev.args[1:]
    axes = em.g.ints([dim])
    return em.g.node("Concat", [em.g.node("Unsqueeze", [em.name(x, ev), axes]) for x in xs],
                     axis=dim)


def _slice(em, x, starts, ends, axes, steps=None):
    g = em.g
    inputs = [x, starts, ends, g.ints(axes)]
    if steps is not None:
        inputs.append(g.ints(steps))
    return g.node("Slice", inputs)


@register(mj.Split)
def _split(em, ev):
    x, bounds, dim = ev.args
    xn = em.name(x, ev)
    outs = []
    for i in range(len(bounds)):
        lo = em.dims.shape(em.per_run(ev, lambda e: (e.args[1][i][0],)), "a split bound")
        hi = em.dims.shape(em.per_run(ev, lambda e: (e.args[1][i][1],)), "a split bound")
        outs.append(_slice(em, xn, lo, hi, [int(dim)]))
    return tuple(outs)


@register(mj.Unbind)
def _unbind(em, ev):
    x, dim = ev.args
    xn = em.name(x, ev)
    return tuple(em.g.node("Gather", [xn, em.g.const(np.asarray(i, np.int64))], axis=int(dim))
                 for i in range(x.shape[dim]))


def _expand_key(key, ndim):
    """The key with its Ellipsis replaced by full slices (ints and slices consume dims)."""
    key = tuple(key) if isinstance(key, tuple) else (key,)
    consuming = sum(1 for k in key if k is not None and k is not Ellipsis)
    out, seen = [], False
    for k in key:
        if k is Ellipsis:
            if not seen:
                out.extend([slice(None)] * (ndim - consuming))
            seen = True
        else:
            out.append(k)
    if not seen:
        out.extend([slice(None)] * (ndim - consuming))
    return out


def _key_numbers(key, ndim):
    """The numbers of a key that may follow a dynamic axis: slice starts/ends, int indices."""
    nums = []
    for k in _expand_key(key, ndim):
        if isinstance(k, slice):
            nums += [0 if k.start is None else k.start, _BIG if k.stop is None else k.stop]
        elif k is not None:
            nums.append(k)
    return tuple(int(n) for n in nums)


@register(ic.Index)
def _index(em, ev):
    x, key = ev.args
    nd = len(x.shape)
    g = em.g
    items = _expand_key(key, nd)
    per_run = em.per_run(ev, lambda e: _key_numbers(e.args[1], len(e.args[0].shape)))
    cols = list(zip(*per_run))  # one tuple (a number in each run) per key number
    out = em.name(x, ev)
    starts, ends, axes, steps, ints, nones = [], [], [], [], [], []
    pos = d = 0
    col = iter(cols)
    for k in items:
        if k is None:
            nones.append(pos)
            pos += 1
        elif isinstance(k, slice):
            lo, hi = next(col), next(col)
            if not (lo[0] == 0 and hi[0] == _BIG and (k.step or 1) == 1 and len(set(lo)) == 1
                    and len(set(hi)) == 1):
                starts.append(lo)
                ends.append(hi)
                axes.append(d)
                steps.append(k.step or 1)
            d += 1
            pos += 1
        else:
            ints.append((d, next(col)))
            d += 1
    if axes:
        out = _slice(em, out, em.dims.shape(list(zip(*starts)), "a slice start"),
                     em.dims.shape(list(zip(*ends)), "a slice end"), axes,
                     steps if any(s != 1 for s in steps) else None)
    for axis, vals in reversed(ints):  # from the last axis, so earlier axes keep their number
        idx = g.node("Squeeze", [em.dims.scalar_dim(vals, "an index"), g.ints([0])])
        out = g.node("Gather", [out, idx], axis=axis)
    if nones:
        out = g.node("Unsqueeze", [out, g.ints(nones)])
    if out == em.name(x, ev):
        out = g.node("Identity", [out])
    return out


@register(mr.Flip)
def _flip(em, ev):
    x, axes = ev.args
    n = len(axes)
    g = em.g
    return _slice(em, em.name(x, ev), g.ints([-1] * n), g.ints([np.iinfo(np.int64).min] * n),
                  [int(a) for a in axes], [-1] * n)


@register(mr.Repeat)
def _repeat(em, ev):
    x, sizes = ev.args
    g = em.g
    xn = em.name(x, ev)
    extra = len(sizes) - len(x.shape)
    if extra > 0:  # torch's repeat prepends dims of size 1
        xn = g.node("Unsqueeze", [xn, g.ints(range(extra))])
    reps = em.shape_tensor(ev, lambda e: e.args[1], "repeat counts")
    return g.node("Tile", [xn, reps])


@register(md.Tril)
def _tril(em, ev):
    x, k, upper = ev.args
    return em.g.node("Trilu", [em.name(x, ev), em.g.const(np.asarray(int(k), np.int64))],
                     upper=int(bool(upper)))


def _put_region(em, xn, regions, value, accumulate):
    """``xn`` with the box ``regions`` [(axis, start, stop), ...] replaced by (or increased by)
    ``value``: slices before, inside and after the box along each axis, joined by Concat."""
    g = em.g
    if not regions:
        if accumulate:
            return g.node("Add", [xn, value])
        return g.node("Expand", [value, g.node("Shape", [xn])])
    axis, lo, hi = regions[0]
    big = g.ints([_BIG])
    zero = g.ints([0])
    left = _slice(em, xn, zero, lo, [axis])
    mid = _slice(em, xn, lo, hi, [axis])
    right = _slice(em, xn, hi, big, [axis])
    inner = _put_region(em, mid, regions[1:], value, accumulate)
    return g.node("Concat", [left, inner, right], axis=axis)


@register(ic.IndexPut)
def _index_put(em, ev):
    x, v, k1, k2, accumulate = ev.args
    nd = len(x.shape)
    items = _expand_key(k1, nd)
    if k2 is not None or any(k is None for k in items) or any(
            isinstance(k, slice) and (k.step or 1) != 1 for k in items):
        raise ValueError("export: x[key] = v is exported for keys of ints and step-1 slices "
                         "only (no index tensors, None or strides); build the result with "
                         "torch.where or cat instead.")
    cols = iter(zip(*em.per_run(ev, lambda e: _key_numbers(e.args[2], len(e.args[0].shape)))))
    regions, int_axes = [], []
    for d, k in enumerate(items):
        if isinstance(k, slice):
            lo, hi = next(cols), next(cols)
            if lo[0] == 0 and hi[0] == _BIG and len(set(lo)) == 1 and len(set(hi)) == 1:
                continue
        else:
            lo = next(cols)
            hi = tuple(_BIG if i == -1 else i + 1 for i in lo)
            int_axes.append(d)
        regions.append((d, em.dims.shape([(a,) for a in lo], "an index"),
                        em.dims.shape([(b,) for b in hi], "an index")))
    g = em.g
    value = em.operand(ev, v, x.dtype)
    v_rank = len(v.shape) if hasattr(v, "shape") and hasattr(v, "kind") else 0
    if v_rank:
        lead = nd - len(int_axes) - v_rank
        if lead > 0:
            value = g.node("Unsqueeze", [value, g.ints(range(lead))])
        if int_axes:
            value = g.node("Unsqueeze", [value, g.ints(int_axes)])
    return _put_region(em, em.name(x, ev), regions, value, accumulate)
