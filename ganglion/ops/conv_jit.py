"""Compiled kernels (numba) around the convolution GEMMs: im2col, col2im and the two
batch-block transposes, each one pass over memory of one batch block.

``conv_kernels`` processes the batch in blocks of ``nb`` items. A block's im2col matrix is
``cols[C * kh * kw, nb * L]`` (row ``(c, ki, kj)``, column ``(item, oh, ow)``, L = oh * ow), so
one GEMM ``w @ cols`` covers the whole block with a long N dimension (OpenBLAS ran such blocks
1.5x faster than per-item GEMMs, measured). These kernels write that matrix straight from
the unpadded input (zeros where a tap falls into the padding: no padded copy, no zero pass),
scatter the GEMM's ``(O, nb * L)`` result into the (N, O, L) output with the bias added on the
way, gather gradient blocks into the same ``(O, nb * L)`` layout, and sum columns back onto the
input (col2im). The kernels are serial (``nogil``): the batch's blocks are the parallel unit,
shared among ganglion's threads by ``backend.parallel.run_parts``, each thread doing whole
blocks (im2col, a single-threaded GEMM, scatter) in its own cached scratch. On W3 that took the
2-thread training step from 1284 to 985 ms against multi-threaded GEMMs between single-threaded
passes. Each output element is written by exactly one block, and the weight gradient sums fixed
runs of blocks in order, so results do not depend on the thread count. The drivers at the
end (``conv_forward``, ``conv_input_grad``, ``conv_weight_grad``) are ``conv_kernels``' passes
on this path; their NumPy twins live there.

1-D convolutions call these as 2-D ones with a height of 1; only float32/float64, C-contiguous
arrays reach them (see ``ganglion.backend.jit``).

Example:
    >>> import numpy as np
    >>> from ganglion.ops import conv_jit
    >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    >>> cols = np.empty((4, 4), np.float32)   # 2x2 kernel, padding 1 on the right/bottom only
    >>> conv_jit.im2col(x, 0, 1, (2, 2), (1, 1), (0, 0), (1, 1), (2, 2), cols)
    >>> cols.tolist()
    [[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 3.0, 0.0], [2.0, 3.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]]
"""
from __future__ import annotations

import math
import threading

import numpy as np
from numba import uint64 as _U

from ganglion.backend import jit, parallel
from ganglion.ops import conv_winograd as wino
from ganglion.ops.conv_kernels import Geom

__all__ = ["im2col", "col2im", "im2col_items", "col2im_items", "scatter_rows", "gather_rows",
           "conv_forward", "conv_input_grad", "conv_weight_grad"]


@jit.kernel()
def _tap(c, k, kh_kw, kw, w_in, sw, pw, dw, ow, rs, item_off):
    """Tap k = (ki, kj) of channel c: (ki, input column offset, the [lo, hi) of output columns
    that fall inside the input, start of its im2col row segment for this item)."""
    ki = k // kw
    off = (k - ki * kw) * dw - pw
    lo = 0 if off >= 0 else (-off + sw - 1) // sw
    hi = 0 if w_in - 1 - off < 0 else min(ow, (w_in - 1 - off) // sw + 1)
    return ki, off, lo, max(lo, hi), (c * kh_kw + k) * rs + item_off


@jit.kernel()
def _im2col(x, n0, nb, n_c, h_in, w_in, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, rs, js):
    """cols[r * rs + i * js + l] = x[n0 + i, c, ...]: row r = (c, ki, kj), item i, output l.

    Flat arrays indexed by unsigned integers: with signed ones numba's negative-index wrap
    kept LLVM from vectorizing the row copies (2.3x slower, measured).
    """
    kk = kh * kw
    for t in range(n_c * nb):
        c = t // nb
        i = t - c * nb
        src0 = ((n0 + i) * n_c + c) * h_in * w_in
        for k in range(kk):
            ki, off, lo, hi, base = _tap(c, k, kk, kw, w_in, sw, pw, dw, ow, rs, i * js)
            for y in range(oh):
                ih = y * sh + ki * dh - ph
                o = base + y * ow
                if ih < 0 or ih >= h_in:
                    for q in range(ow):
                        cols[_U(o + q)] = 0
                    continue
                s = src0 + ih * w_in + off
                for q in range(lo):
                    cols[_U(o + q)] = 0
                if sw == 1:  # a contiguous run: a vectorized copy
                    for q in range(lo, hi):
                        cols[_U(o + q)] = x[_U(s + q)]
                else:
                    for q in range(lo, hi):
                        cols[_U(o + q)] = x[_U(s + q * sw)]
                for q in range(hi, ow):
                    cols[_U(o + q)] = 0


@jit.kernel()
def _col2im(cols, n0, nb, n_c, h_in, w_in, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx, rs, js):
    """dx[n0 + i, c] = the sum of its taps' cols[r * rs + i * js + l] (layout as _im2col)."""
    kk = kh * kw
    plane_size = h_in * w_in
    for t in range(nb * n_c):
        i = t // n_c
        c = t - i * n_c
        # one thread owns the plane: overlapping taps add without races
        p0 = ((n0 + i) * n_c + c) * plane_size
        for j in range(plane_size):
            dx[_U(p0 + j)] = 0
        for k in range(kk):
            ki, off, lo, hi, base = _tap(c, k, kk, kw, w_in, sw, pw, dw, ow, rs, i * js)
            for y in range(oh):
                ih = y * sh + ki * dh - ph
                if ih < 0 or ih >= h_in:
                    continue
                d = p0 + ih * w_in + off
                o = base + y * ow
                if sw == 1:
                    for q in range(lo, hi):
                        dx[_U(d + q)] += cols[_U(o + q)]
                else:
                    for q in range(lo, hi):
                        dx[_U(d + q * sw)] += cols[_U(o + q)]


@jit.kernel()
def _scatter_rows(src, n0, bias, has_bias, out):
    """out[n0 + i, o, :] = src[o, i * L:(i + 1) * L] (+ bias[o])."""
    n_o, L = out.shape[1], out.shape[2]
    nb = src.shape[1] // L
    for t in range(nb * n_o):
        i = t // n_o
        o = t - i * n_o
        s = src[o, i * L:(i + 1) * L]
        d = out[n0 + i, o]
        if has_bias:
            b = bias[o]
            for j in range(L):
                d[j] = s[j] + b
        else:
            for j in range(L):
                d[j] = s[j]


@jit.kernel()
def _gather_rows(g, n0, dst):
    """dst[o, i * L:(i + 1) * L] = g[n0 + i, o, :]."""
    n_o, L = g.shape[1], g.shape[2]
    nb = dst.shape[1] // L
    for t in range(nb * n_o):
        i = t // n_o
        o = t - i * n_o
        dst[o, i * L:(i + 1) * L] = g[n0 + i, o]


def _strides(nb, ck, L, per_item):
    """Element strides (row, item) of the block layout (ck, nb * L) or (nb, ck, L)."""
    return (L, ck * L) if per_item else (nb * L, L)


def im2col(x, n0, nb, ksize, stride, pads, dilation, out_sp, cols, per_item=False):
    """Fill ``cols`` (C * kh * kw, nb * L), or (nb, C * kh * kw, L) if ``per_item``, with the
    windows of items n0..n0+nb of ``x`` (N, C, H, W); ``pads`` are the (top, left) paddings
    (bottom/right follow from out_sp)."""
    L = out_sp[0] * out_sp[1]
    rs, js = _strides(nb, x.shape[1] * ksize[0] * ksize[1], L, per_item)
    _im2col(x.reshape(-1), n0, nb, *x.shape[1:], *ksize, *stride, *pads, *dilation, *out_sp,
            cols.reshape(-1), rs, js)


def col2im(cols, n0, nb, ksize, stride, pads, dilation, out_sp, dx, per_item=False):
    """Set items n0..n0+nb of ``dx`` (N, C, H, W) to the sum of ``cols`` (layout as
    :func:`im2col`) onto their windows."""
    L = out_sp[0] * out_sp[1]
    rs, js = _strides(nb, dx.shape[1] * ksize[0] * ksize[1], L, per_item)
    _col2im(cols.reshape(-1), n0, nb, *dx.shape[1:], *ksize, *stride, *pads, *dilation,
            *out_sp, dx.reshape(-1), rs, js)


def scatter_rows(src, n0, bias, out):
    """Block result ``src`` (O, nb * L) into ``out`` (N, O, L) at item n0, plus ``bias`` (O,)
    or None."""
    _scatter_rows(src, n0, src[0, :1] if bias is None else bias, bias is not None, out)


def gather_rows(g, n0, dst):
    """Items n0.. of ``g`` (N, O, L) into ``dst`` (O, nb * L)."""
    _gather_rows(g, n0, dst)


# -- the three GEMM passes over batch blocks ---------------------------------------------------

_BLOCK_BYTES = 6 << 20  # one block's im2col matrix (see _items_per_block)
_WINO_BLOCK_BYTES = 4 << 20  # one Winograd block's V and M (see _wino_block_size)
_local = threading.local()
_WGRAD_RUNS = 8  # weight-gradient partial sums: enough to balance threads, few to add up


def _scratch(role, shape, dtype):
    """A per-thread buffer reused across calls (no page faults of fresh buffers each call).

    Each role is used once per pass and is dead when the pass returns, so reuse is safe; it
    keeps the largest size seen (a few MiB: ``_BLOCK_BYTES`` plus the GEMM result).
    """
    size = math.prod(shape)
    bufs = _local.__dict__.setdefault("bufs", {})
    key = (role, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None or buf.size < size:
        buf = bufs[key] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def _plan(ksize, geom, out_sp):
    """The 2-D (kernel, stride, top/left pads, dilation, out size) of a 1-D or 2-D conv."""
    lead = (1,) * (2 - len(ksize))
    return (lead + tuple(ksize), lead + tuple(geom.stride),
            (0,) * len(lead) + tuple(lo for lo, _ in geom.pads), lead + tuple(geom.dilation),
            lead + tuple(out_sp))


def im2col_items(x, ksize, geom, out_sp, out):
    """``F.unfold``'s layout: ``out`` (N, C * k, L) per item, from contiguous ``x``."""
    im2col(_as4d(x), 0, x.shape[0], *_plan(ksize, geom, out_sp), out, per_item=True)


def col2im_items(cols, ksize, geom, out_sp, out):
    """``F.fold``: per-item ``cols`` (N, C * k, L) summed onto ``out`` (N, C, *S)."""
    col2im(cols, 0, cols.shape[0], *_plan(ksize, geom, out_sp), _as4d(out), per_item=True)


def _as4d(a):
    return a.reshape(a.shape[:2] + (1,) * (4 - a.ndim) + a.shape[2:])


def _items_per_block(n, L, ck, itemsize, parts=1):
    """Items per block: an im2col matrix of a few MiB, written and read back by the GEMM while
    still in cache (2-4 items of W3's 32x32 layers; measured at least as fast as 8-16 items on a
    quiet machine and faster on a loaded one), and reused, not page-faulted in. At least
    ``parts`` blocks, one or more for each thread."""
    nb = max(1, min(n, _BLOCK_BYTES // max(1, ck * L * itemsize)))
    return max(1, min(nb, -(-n // parts)))


def _blocks(n, nb, groups=None):
    """The blocks (start, size) of a batch of ``n``, one block per part, or cut into at most
    ``groups`` contiguous runs of blocks (parts of :func:`parallel.run_parts`)."""
    blocks = [(a, min(nb, n - a)) for a in range(0, n, nb)]
    if groups is None:
        return [[blk] for blk in blocks]
    return [[blocks[k] for k in run] for run in parallel.split(len(blocks), groups)]


def _fill_cols(x, plan, grp, a, m):
    """The im2col matrix (G, C/G * k, m * L) of items a..a+m of ``x``, in this thread's
    scratch buffer."""
    c = x.shape[1]
    ks, osp = plan[0], plan[4]
    cols = _scratch("cols", (grp, c * ks[0] * ks[1] // grp, m * osp[0] * osp[1]), x.dtype)
    im2col(_as4d(x), a, m, *plan, cols)
    return cols


def _block_size(x, plan, threads):
    ks, osp = plan[0], plan[4]
    return _items_per_block(x.shape[0], osp[0] * osp[1], x.shape[1] * ks[0] * ks[1],
                            x.itemsize, threads)


def _winograd(w_shape, plan, groups, out_sp, forward=False):
    """Whether this 2-D plan, run over an ``out_sp`` plane, takes the Winograd kernels
    (``conv_winograd.applies``; ``forward``: a layer's forward pass)."""
    return wino.applies(w_shape, plan[1], plan[3], groups, int(np.prod(out_sp)), forward)


def _wino_block_size(n, c, o, out_sp, itemsize, parts):
    """Items per Winograd block: its V and M stacks (16 (C + O) values per tile) about
    ``_WINO_BLOCK_BYTES``, at least ``parts`` blocks. Smaller than im2col's: at 2 threads W3's
    128-channel layer ran in 25 ms at 4 MiB against 50 ms at 12 MiB (measured)."""
    th, tw = wino.tiles(out_sp)
    per_item = 16 * (c + o) * th * tw * itemsize
    nb = max(1, min(n, _WINO_BLOCK_BYTES // max(1, per_item)))
    return max(1, min(nb, -(-n // parts)))


def _positions(role, rows, cols, dtype):
    """A scratch (16, rows, cols) stack of Winograd position matrices
    (``conv_winograd.positions``)."""
    return wino.positions(_scratch(role, (16 * wino.position_stride(rows, cols),), dtype),
                          rows, cols)


def _wino_forward_block(x, u, bias, a, m, plan, out):
    """Items a..a+m of the convolution by Winograd into ``out`` (N, O, L); False, with nothing
    written, if the block held inf or NaN."""
    osp = plan[4]
    th, tw = wino.tiles(osp)
    o, c = u.shape[1:]
    v = _positions("cols", c, m * th * tw, x.dtype)
    plane = _scratch("plane", ((2 * th + 2) * (2 * tw + 2),), x.dtype)
    if not wino.input_transform(x, a, m, plan[2], osp, plane, v):
        return False
    res = _positions("res", o, m * th * tw, x.dtype)
    np.matmul(u, v, out=res)
    wino.output_transform(res, a, m, osp, bias, plane, out.reshape((-1, o) + tuple(osp)))
    return True


def conv_forward(x, w, b, geom, out_sp, wino_ok=None):
    """``conv_kernels.conv_forward`` on the compiled path: (N, O, *out_sp).

    3x3 stride-1 layers of 16+ channels run Winograd F(2x2, 3x3) (``conv_winograd``); the
    rest, and any block holding inf or NaN, im2col + GEMM. ``wino_ok``: the caller's own
    Winograd verdict (the input gradient's), instead of the forward pass's rule."""
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    plan = _plan(w.shape[2:], geom, out_sp)
    if wino_ok is None:
        wino_ok = _winograd(w.shape, plan, geom.groups, plan[4], forward=True)
    grp, o = geom.groups, w.shape[0]
    wg = np.ascontiguousarray(w).reshape(grp, o // grp, -1)
    L = plan[4][0] * plan[4][1]
    out = np.empty((n, o, L), x.dtype)
    bias = None if b is None else np.ascontiguousarray(b)
    parts = 2 * parallel.threads()
    u = None
    if wino_ok and wino.finite(w):
        u = wino.weight_transform(w)
        nb = _wino_block_size(n, x.shape[1], o, plan[4], x.itemsize, parts)
    else:
        nb = _block_size(x, plan, parts)

    def run(blocks):
        for a, m in blocks:
            if u is not None and _wino_forward_block(x, u, bias, a, m, plan, out):
                continue
            cols = _fill_cols(x, plan, grp, a, m)
            res = _scratch("res", (grp, o // grp, m * L), x.dtype)
            np.matmul(wg, cols, out=res)
            scatter_rows(res.reshape(o, m * L), a, bias, out)

    blocks = _blocks(n, nb)
    if len(blocks) > 1:
        parallel.claim_gemms()
    parallel.run_parts(run, blocks)
    return out.reshape((n, o) + tuple(out_sp))


def conv_input_grad(g, w, x_shape, geom):
    """``conv_kernels.conv_input_grad`` by GEMM + col2im on the compiled path; for Winograd
    layers whose padding is at most 2, the forward convolution of ``g`` with the kernel
    flipped and its channels swapped, padded by 2 - pad (the same transforms)."""
    g = np.ascontiguousarray(g)
    n, o = g.shape[:2]
    ks, st, pl, dl, osp = _plan(w.shape[2:], geom, g.shape[2:])
    grp = geom.groups
    if _winograd(w.shape, (ks, st, pl, dl), grp, x_shape[2:]) and all(0 <= p <= 2 for p in
                                                          sum(geom.pads, ())):
        wf = np.ascontiguousarray(w.swapaxes(0, 1)[:, :, ::-1, ::-1])
        flipped = Geom((1, 1), tuple((2 - lo, 2 - hi) for lo, hi in geom.pads), (1, 1), 1)
        return conv_forward(g, wf, None, flipped, tuple(x_shape[2:]), wino_ok=True)
    wt = np.ascontiguousarray(w).reshape(grp, o // grp, -1).transpose(0, 2, 1)
    ck, L = wt.shape[1] * grp, osp[0] * osp[1]
    g3 = g.reshape(n, o, L)
    dx = np.empty(x_shape, g.dtype)

    def run(blocks):
        for a, m in blocks:
            gb = _scratch("res", (o, m * L), g.dtype)
            gather_rows(g3, a, gb)
            cols = _scratch("cols", (grp, ck // grp, m * L), g.dtype)
            np.matmul(wt, gb.reshape(grp, o // grp, m * L), out=cols)
            col2im(cols, a, m, ks, st, pl, dl, osp, _as4d(dx))

    nb = _items_per_block(n, L, ck, g.itemsize, 2 * parallel.threads())
    parallel.run_parts(run, _blocks(n, nb))
    return dx


def _wino_wgrad_block(x, g, a, m, pads, acc):
    """acc (16, C, O) += V @ dMᵀ of items a..a+m; False, adding nothing, if the block held
    inf or NaN."""
    th, tw = wino.tiles(g.shape[2:])
    c, o, t = x.shape[1], g.shape[1], m * th * tw
    plane = _scratch("plane", ((2 * th + 2) * (2 * tw + 2),), x.dtype)
    v = _positions("cols", c, t, x.dtype)
    # dM written (16, O, T), contiguous along the tiles, and read transposed by the GEMM:
    # 0.60 ms per W3 item against 0.80 ms for writing (16, T, O) (measured)
    dm = _positions("res", o, t, x.dtype)
    if not (wino.input_transform(x, a, m, pads, g.shape[2:], plane, v)
            and wino.grad_output_transform(g, a, m, plane, dm.transpose(0, 2, 1))):
        return False
    acc += np.matmul(v, dm.transpose(0, 2, 1), out=_scratch("wacc", acc.shape, x.dtype))
    return True


def conv_weight_grad(x, g, w_shape, geom):
    """``conv_kernels.conv_weight_grad`` on the compiled path: sum over blocks of
    cols @ g_block.T, accumulated as (G, C/G * k, O/G) (OpenBLAS's faster orientation), or for
    Winograd layers (``conv_forward``) V @ dMᵀ in the transformed domain, (16, C, O).

    The blocks are cut into ``_WGRAD_RUNS`` runs, each summed by whichever thread takes it;
    the runs' sums are added in order, so the result does not depend on the threads."""
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
    plan = _plan(w_shape[2:], geom, g.shape[2:])
    grp, o = geom.groups, w_shape[0]
    L = int(np.prod(g.shape[2:]))
    g3 = g.reshape(g.shape[0], o, L)
    k = int(np.prod(w_shape[1:]))
    use_wino = _winograd(w_shape, plan, grp, g.shape[2:])

    def run(blocks):
        acc = np.zeros((grp, k, o // grp), x.dtype)
        wacc = np.zeros((16, x.shape[1], o), x.dtype) if use_wino else None
        for a, m in blocks:
            if use_wino and _wino_wgrad_block(x, g, a, m, plan[2], wacc):
                continue
            cols = _fill_cols(x, plan, grp, a, m)
            gb = _scratch("res", (grp, o // grp, m * L), x.dtype)
            gather_rows(g3, a, gb.reshape(o, m * L))
            acc += np.matmul(cols, gb.swapaxes(1, 2))
        return acc, wacc

    # runs of blocks, each summed alone and then added in order: the same result whichever
    # thread takes which run, at any thread count
    if use_wino:
        nb = _wino_block_size(x.shape[0], x.shape[1], o, plan[4], x.itemsize, _WGRAD_RUNS)
    else:
        nb = _block_size(x, plan, _WGRAD_RUNS)
    parts = parallel.run_parts(run, _blocks(x.shape[0], nb, _WGRAD_RUNS))
    acc = np.zeros((grp, k, o // grp), x.dtype)
    wacc = np.zeros((16, x.shape[1], o), x.dtype) if use_wino else None
    for more, wmore in parts:  # an empty batch has no parts: zeros
        acc += more
        if use_wino:
            wacc += wmore
    dw = np.ascontiguousarray(acc.swapaxes(1, 2)).reshape(w_shape)
    if use_wino:
        dw += wino.weight_grad_transform(wacc)
    return dw
