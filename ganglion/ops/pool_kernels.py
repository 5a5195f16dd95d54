"""Ops of the pooling family on raw arrays, vectorised over windows (any number of spatial dims).

* :class:`MaxPool` -> (values, per-plane flat argmax indices); backward :class:`IndexScatter`.
* :class:`IndexScatter` / :class:`IndexGather`: adjoint pair over per-plane flat indices (the
  max-pool gradient, ``max_unpool``), so max pooling is differentiable to any order.
* :class:`AvgPool` / :class:`AvgPoolT`: separable box sums over contiguous taps and their
  adjoint.
* :class:`Resample` / :class:`ResampleT`: per-axis weighted taps (adaptive average pooling and
  every ``interpolate`` mode) and their adjoint, one dense GEMM per axis.

Windows are reduced with one vectorised pass per kernel tap (k_h * k_w passes for max, k_h + k_w
for the separable average), never with a loop over pixels or batch items. With compiled kernels
on (``ganglion.backend.jit``), float 1-D/2-D max and average pooling and the scatter of their
gradients run in ``pool_jit`` instead: one pass, planes in parallel.
"""
from __future__ import annotations

import functools

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend import jit
from ganglion.backend.device import get_array_module

__all__ = ["MaxPool", "AdaptiveMaxPool", "IndexScatter", "IndexGather", "AvgPool", "AvgPoolT",
           "Resample", "ResampleT", "max_over_taps"]


def _anchor_grad(ctx, anchor_pos):
    """Zeros for the ``anchor`` argument: torch's pooling gradients are functions of the input
    (with zero second derivative), so under create_graph they stay attached to it."""
    if len(ctx.needs_input_grad) > anchor_pos and ctx.needs_input_grad[anchor_pos]:
        from ganglion.ops.creation import zeros_like  # noqa: PLC0415

        return zeros_like(ctx.saved_tensors[0])
    return None


def _low_value(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_over_taps(xp, taps):
    """Max and argmax over ``taps`` = [(values, index, inbound)] with torch's tie rules.

    torch keeps the first maximum (``val > maxval``) but moves to every NaN it meets
    (``|| isnan(val)``), so ties go to the first tap and NaN to the last NaN. Taps flagged
    ``inbound`` (a mask, or None for always) other than True lie in padding and never win.
    ``index`` is an int (then the scan tracks a small tap number and maps it at the end) or an
    array broadcastable to the output.
    """
    m = taps[0][0]
    if len(taps) > 1:
        m = xp.maximum(m, taps[1][0])  # propagates NaN, as torch does
        for v, _, _ in taps[2:]:
            xp.maximum(m, v, out=m)
    scalar = all(isinstance(i, int) for _, i, _ in taps)
    if scalar:
        ix = _first_hit(xp, taps, m)
    else:
        ix = xp.array(xp.broadcast_to(xp.asarray(taps[-1][1]), m.shape), dtype=np.int64)
        for v, i, inb in reversed(taps[:-1]):  # the earliest equal tap is written last, wins
            hit = v == m
            if inb is not None:
                hit &= inb
            xp.copyto(ix, xp.broadcast_to(i, m.shape), where=hit)
    if m.dtype.kind == "f" and xp.isnan(m.sum()):  # rare: NaN (or +inf + -inf) somewhere
        for t, (v, i, _) in enumerate(taps):
            xp.copyto(ix, ix.dtype.type(t) if scalar else xp.broadcast_to(i, m.shape),
                      where=xp.isnan(v))
    if scalar:
        ix = xp.asarray([i for _, i, _ in taps], dtype=np.int64)[ix]
    return m, ix


def _first_hit(xp, taps, m):
    """Number of the first tap equal to ``m`` (in padding: never), counting misses in place:
    ix = sum over t of [taps 0..t all miss], cheaper than a masked write per tap."""
    dt = np.int8 if len(taps) < 128 else np.int32
    miss = None
    ix = xp.zeros(m.shape, dt)
    for v, _, inb in taps[:-1]:
        ne = v != m
        if inb is not None:
            ne |= ~inb
        if miss is None:
            miss = ne
        else:
            miss &= ne
        ix += miss
    return ix


def pad_array(xp, x, pads, value):
    if not any(lo or hi for lo, hi in pads):
        return x
    out = xp.full(x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads)),
                  value, x.dtype)
    out[(slice(None),) * 2 + tuple(slice(lo, lo + s)
                                   for s, (lo, _) in zip(x.shape[2:], pads))] = x
    return out


def _tap_slices(tap, dilation, stride, out_sp):
    return (slice(None),) * 2 + tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                                      for t, d, s, o in zip(tap, dilation, stride, out_sp))


class MaxPool(Op):
    """(N, C, *S) -> (max over each window, flat index h * W + w of the max in its plane)."""

    @staticmethod
    def forward(ctx, x, ksize, stride, pads, dilation, out_sp):
        ctx.x_shape = x.shape
        ctx.save_for_backward(x)
        # disjoint windows: every input element is the argmax of at most one window
        ctx.disjoint = all(k == 1 or s >= d * (k - 1) + 1 for k, s, d in
                           zip(ksize, stride, dilation))
        if _compiled(x, len(ksize)):
            from ganglion.ops import pool_jit  # noqa: PLC0415

            out, ix = pool_jit.max_pool(x, ksize, stride, pads, dilation, out_sp)
        else:
            out, ix = _max_pool_numpy(x, ksize, stride, pads, dilation, out_sp)
        ctx.idx = ix
        ctx.mark_non_differentiable(ix)
        return out, ix

    @staticmethod
    def backward(ctx, g, _gi=None):
        mode = "assign" if ctx.disjoint else "add"
        (x,) = ctx.saved_tensors
        return IndexScatter.apply(g, ctx.idx, ctx.x_shape, mode, x)


def _compiled(x, nd):
    """Whether ``pool_jit`` takes this input (float, 1 or 2 spatial dims, kernels on)."""
    return nd in (1, 2) and x.dtype in (np.float32, np.float64) and jit.enabled_for(x)


def _max_pool_numpy(x, ksize, stride, pads, dilation, out_sp):
    """Max and argmax with one vectorised pass per window tap."""
    xp = get_array_module(x)
    sp = x.shape[2:]
    xpad = pad_array(xp, x, pads, _low_value(x.dtype))
    pstr = np.cumprod((1,) + sp[:0:-1])[::-1]  # plane strides of the unpadded input
    grids = np.meshgrid(*[np.arange(o) for o in out_sp], indexing="ij", sparse=True)
    base = sum((g * s - lo) * st for g, s, (lo, _), st in zip(grids, stride, pads, pstr))
    taps = []
    for tap in np.ndindex(*ksize):
        pos = [g * s - lo + t * d for g, s, (lo, _), t, d in
               zip(grids, stride, pads, tap, dilation)]
        inb = None
        if any(lo or hi for lo, hi in pads):
            inb = functools.reduce(np.logical_and, [(p >= 0) & (p < n)
                                                    for p, n in zip(pos, sp)])
            inb = None if inb.all() else xp.asarray(inb)
        off = int(sum(t * d * st for t, d, st in zip(tap, dilation, pstr)))
        taps.append((xpad[_tap_slices(tap, dilation, stride, out_sp)], off, inb))
    out, ix = max_over_taps(xp, taps)
    ix += xp.asarray(base)
    return out, ix


class AdaptiveMaxPool(Op):
    """Max over torch's adaptive windows, one spatial axis at a time (last axis first).

    ``axes`` holds per spatial axis the tap indices (taps, out); short windows repeat their last
    index, which ties with an earlier tap and so never changes the result. Reducing row-wise
    then across rows keeps torch's row-major first maximum (and last NaN).
    """

    @staticmethod
    def forward(ctx, x, axes):
        xp = get_array_module(x)
        sp = x.shape[2:]
        vals, pos = x, None
        for ax in reversed(range(2, x.ndim)):
            idx = axes[ax - 2]
            stride = int(np.prod(sp[ax - 1:]))  # plane stride of this axis
            shape = (-1,) + (1,) * (x.ndim - ax - 1)
            taps = []
            for t in range(idx.shape[0]):
                it = xp.asarray(idx[t])
                p = xp.asarray(idx[t].reshape(shape) * stride)
                if pos is not None:
                    p = xp.take(pos, it, axis=ax) + p
                taps.append((xp.take(vals, it, axis=ax), p, None))
            vals, pos = max_over_taps(xp, taps)
        ctx.idx, ctx.x_shape = pos, x.shape
        ctx.save_for_backward(x)
        ctx.mark_non_differentiable(pos)
        return vals, pos

    @staticmethod
    def backward(ctx, g, _gi=None):
        (x,) = ctx.saved_tensors
        return IndexScatter.apply(g, ctx.idx, ctx.x_shape, "add", x)


def _global_index(xp, idx, plane):
    """Per-plane flat indices (N, C, *out) -> indices into the flattened (N * C * plane)."""
    rows = idx.shape[0] * idx.shape[1] if idx.ndim >= 2 else 1
    flat = idx.reshape(rows, int(np.prod(idx.shape[2:])))  # (not -1: rows may be 0)
    return (flat + xp.arange(rows, dtype=np.int64)[:, None] * plane).ravel()


class IndexScatter(Op):
    """out (N, C, *out_shape[2:]) = 0, then out.flat_plane[idx] = g (or += g, ``mode='add'``).

    ``anchor``: the pooled input, only to keep the result attached to it (see _anchor_grad).
    """

    @staticmethod
    def forward(ctx, g, idx, out_shape, mode, anchor=None):
        xp = get_array_module(g)
        ctx.idx = idx
        ctx.save_for_backward(anchor)
        if (g.dtype in (np.float32, np.float64) and g.ndim >= 2 and g.size
                and jit.enabled_for(g, idx)):
            from ganglion.ops import pool_jit  # noqa: PLC0415

            return pool_jit.scatter(g, idx, out_shape, mode == "add")
        plane = int(np.prod(out_shape[2:]))
        out = xp.zeros(int(np.prod(out_shape)), g.dtype)
        gi = _global_index(xp, idx, plane)
        if mode == "add":
            xp.add.at(out, gi, g.ravel())
        else:
            out[gi] = g.ravel()
        return out.reshape(out_shape)

    @staticmethod
    def backward(ctx, v):
        return IndexGather.apply(v, ctx.idx), None, None, None, _anchor_grad(ctx, 4)


class IndexGather(Op):
    """out[n, c, o] = v.flat_plane[n, c, idx[n, c, o]]: the adjoint of ``IndexScatter``."""

    @staticmethod
    def forward(ctx, v, idx):
        xp = get_array_module(v)
        ctx.idx, ctx.v_shape = idx, v.shape
        gi = _global_index(xp, idx, int(np.prod(v.shape[2:])))
        return v.reshape(-1)[gi].reshape(idx.shape)

    @staticmethod
    def backward(ctx, u):
        return IndexScatter.apply(u, ctx.idx, ctx.v_shape, "add")


def _box_sum(x, ksize, stride, out_sp):
    """Sum of each (contiguous-tap) window, one axis at a time: sum_k windows along axis."""
    for ax, (k, s, o) in enumerate(zip(ksize, stride, out_sp), start=2):
        lead = (slice(None),) * ax
        acc = x[lead + (slice(0, s * (o - 1) + 1, s),)]
        acc = acc.copy() if k == 1 else acc + x[lead + (slice(1, 1 + s * (o - 1) + 1, s),)]
        for t in range(2, k):
            acc += x[lead + (slice(t, t + s * (o - 1) + 1, s),)]
        x = acc
    return x


def _box_sum_t(xp, g, ksize, stride, padded):
    """Adjoint of ``_box_sum``: spread each window's value over its taps (axes in reverse)."""
    for ax in reversed(range(2, g.ndim)):
        k, s = ksize[ax - 2], stride[ax - 2]
        o = g.shape[ax]
        shape = g.shape[:ax] + (padded[ax - 2],) + g.shape[ax + 1:]
        z = xp.zeros(shape, g.dtype)
        lead = (slice(None),) * ax
        for t in range(k):
            z[lead + (slice(t, t + s * (o - 1) + 1, s),)] += g
        g = z
    return g


class AvgPool(Op):
    """Box sum over zero-padded windows divided by ``div`` (an array broadcast to the output)."""

    @staticmethod
    def forward(ctx, x, ksize, stride, pads, out_sp, div):
        xp = get_array_module(x)
        ctx.args = (ksize, stride, pads, div, x.shape)
        ctx.save_for_backward(x)
        if _compiled(x, len(ksize)):
            from ganglion.ops import pool_jit  # noqa: PLC0415

            return pool_jit.avg_pool(x, ksize, stride, pads, out_sp, div)
        s = _box_sum(pad_array(xp, x, pads, 0), ksize, stride, out_sp)
        if x.dtype.kind != "f":  # integer average pooling truncates, as C++ division does
            return (xp.trunc(s / div)).astype(x.dtype)
        s /= xp.asarray(div, dtype=x.dtype)
        return s

    @staticmethod
    def backward(ctx, g):
        return AvgPoolT.apply(g, *ctx.args, ctx.saved_tensors[0])


class AvgPoolT(Op):
    """The adjoint of ``AvgPool``: g / div spread over each window, padding cropped."""

    @staticmethod
    def forward(ctx, g, ksize, stride, pads, div, x_shape, anchor=None):
        xp = get_array_module(g)
        ctx.args = (ksize, stride, pads, g.shape[2:], div)
        ctx.save_for_backward(anchor)
        if _compiled(g, len(ksize)):
            from ganglion.ops import pool_jit  # noqa: PLC0415

            return pool_jit.avg_pool_t(g, ksize, stride, pads, div, x_shape)
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
        z = _box_sum_t(xp, g / xp.asarray(div, dtype=g.dtype), ksize, stride, padded)
        crop = (slice(None),) * 2 + tuple(slice(lo, lo + n) for n, (lo, _)
                                          in zip(x_shape[2:], pads))
        return xp.ascontiguousarray(z[crop])

    @staticmethod
    def backward(ctx, v):
        return (AvgPool.apply(v, *ctx.args),) + (None,) * 5 + (_anchor_grad(ctx, 6),)


def _dense(taps, n_in, dtype):
    """The (out, in) matrix of one axis' taps: row o holds each tap's weight at its index."""
    idx, w = taps
    out = np.zeros((idx.shape[1], n_in), dtype)
    np.add.at(out, (np.broadcast_to(np.arange(idx.shape[1]), idx.shape), idx), w)
    return out


class Resample(Op):
    """y = x resampled along each spatial axis: y[.., o, ..] = sum_t w[t, o] x[.., idx[t, o], ..].

    ``axes`` holds one ``(idx, w)`` pair per spatial axis (arrays of shape (taps, out)), or None
    to leave that axis alone. Taps with weight 0 are skipped where the weight is exactly 0, so
    an inf elsewhere in the row doesn't turn into NaN (``0 * inf``).
    """

    @staticmethod
    def forward(ctx, x, axes, anchored=False):
        xp = get_array_module(x)
        ctx.axes, ctx.x_shape = axes, x.shape
        ctx.save_for_backward(x if anchored else None)
        for ax, taps in enumerate(axes, start=2):
            if taps is None:
                continue
            idx, w = taps
            shape = (-1,) + (1,) * (x.ndim - ax - 1)
            acc = None
            for t in range(idx.shape[0]):
                v = xp.take(x, xp.asarray(idx[t]), axis=ax)
                wt = w[t]
                if not (wt == 1).all():
                    wt = xp.asarray(wt.astype(x.dtype).reshape(shape))
                    v = xp.where(wt != 0, v * wt, 0) if (w[t] == 0).any() else v * wt
                acc = v if acc is None else acc + v
            x = acc
        return x

    @staticmethod
    def backward(ctx, g):
        return ResampleT.apply(g, ctx.axes, ctx.x_shape, ctx.saved_tensors[0])


class ResampleT(Op):
    """The adjoint of ``Resample``: one GEMM per axis with the taps' dense (out, in) matrix."""

    @staticmethod
    def forward(ctx, g, axes, x_shape, anchor=None):
        xp = get_array_module(g)
        ctx.axes = axes
        ctx.save_for_backward(anchor)
        for ax in reversed(range(2, g.ndim)):
            taps = axes[ax - 2]
            if taps is None:
                continue
            m = xp.asarray(_dense(taps, x_shape[ax], g.dtype))  # (out, in)
            moved = xp.moveaxis(g, ax, -1)
            g = xp.moveaxis(xp.matmul(moved, m), -1, ax)
        return xp.ascontiguousarray(g)

    @staticmethod
    def backward(ctx, v):
        return Resample.apply(v, ctx.axes), None, None, _anchor_grad(ctx, 3)
