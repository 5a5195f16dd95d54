"""Raw-array kernels of the convolution family: im2col/col2im and the three GEMM products of a
convolution (output, input gradient, weight gradient), for any number of spatial dims.

A convolution is the trilinear form ``T(x, w, g) = <conv(x, w), g>``; its three partial maps are

* ``conv_forward(x, w)``         = dT/dg: im2col of ``x``, then ``w @ cols``;
* ``conv_input_grad(g, w)``      = dT/dx: ``w.T @ g``, then col2im (this is conv_transpose);
* ``conv_weight_grad(x, g)``     = dT/dw: ``g @ cols.T`` summed over the batch.

Each is one batched GEMM over (batch, groups) on a strided window view. The batch is processed
in blocks sized to a few MiB (``_BLOCK_BYTES``): the im2col matrix of a block is written and read
back by the GEMM while it is still in cache, and its buffer is reused, instead of materialising
(and page-faulting in) a matrix of the whole batch, which measured 2x slower on this machine.
The loop runs over memory-sized blocks, not over batch items: its trip count is the data volume
divided by the block size, and each trip is a few MiB of BLAS work.

With compiled kernels on (``ganglion.backend.jit``), float convolutions of NumPy arrays with 1
or 2 spatial dims run every pass, and unfold/fold, in ``conv_jit`` instead: the same blocks and
GEMMs, with im2col/col2im and the block transposes as multi-core passes and no padded copies.
The code below is their NumPy twin (CuPy, 3-D, other dtypes, ``GANGLION_JIT=0``).

``geom`` is a :class:`Geom`: per spatial dim ``stride``, ``pads`` as (before, after) pairs,
``dilation``; and ``groups``. Arrays are laid out (N, C, *spatial); weights (O, C/groups, *k).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ganglion.backend import jit
from ganglion.backend.device import get_array_module

__all__ = ["Geom", "conv_out_size", "im2col", "col2im", "conv_forward", "conv_input_grad",
           "conv_weight_grad"]

_BLOCK_BYTES = 3 << 20  # im2col block size: a few MiB stays in this machine's L2/L3


class Geom(NamedTuple):
    stride: tuple
    pads: tuple  # ((before, after), ...) per spatial dim
    dilation: tuple
    groups: int


def conv_out_size(spatial, ksize, geom: Geom) -> tuple:
    """Output extent per dim: floor((S + lo + hi - d (k - 1) - 1) / s) + 1."""
    return tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                 for s, k, (lo, hi), d, st in zip(spatial, ksize, geom.pads, geom.dilation,
                                                  geom.stride))


def _as_strided(xp, a, shape, strides, writeable=False):
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=writeable)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _windows(xp, xpad, groups, ksize, out_sp, geom, writeable=False):
    """View (b, G, C/G, *k, *out) of a padded block: element [.., ki, oi] = xpad[oi*s + ki*d]."""
    st = xpad.strides
    cg = xpad.shape[1] // groups
    sp = st[2:]
    shape = (xpad.shape[0], groups, cg) + tuple(ksize) + tuple(out_sp)
    strides = ((st[0], st[1] * cg, st[1]) + tuple(a * d for a, d in zip(sp, geom.dilation))
               + tuple(a * s for a, s in zip(sp, geom.stride)))
    return _as_strided(xp, xpad, shape, strides, writeable)


def _block(n, per_item_bytes):
    return max(1, min(n, _BLOCK_BYTES // max(per_item_bytes, 1)))


def _disjoint(ksize, geom):
    """Different kernel taps never hit the same input element (so col2im can assign)."""
    return all(k == 1 or s >= d * (k - 1) + 1
               for k, s, d in zip(ksize, geom.stride, geom.dilation))


class _Padder:
    """Copies blocks of ``x`` into a zero-bordered buffer allocated once (borders stay 0)."""

    def __init__(self, xp, x, block, geom):
        self.x = x
        self.pad = any(lo or hi for lo, hi in geom.pads)
        if self.pad:
            sp = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], geom.pads))
            self.buf = xp.zeros((block, x.shape[1]) + sp, x.dtype)
            self.inner = (slice(None), slice(None)) + tuple(
                slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], geom.pads))

    def __call__(self, a, b):
        if not self.pad:
            return self.x[a:b]
        buf = self.buf[:b - a]
        buf[self.inner] = self.x[a:b]
        return buf


def _cols_blocks(x, ksize, out_sp, geom):
    """Yield (start, stop, cols): the block's im2col matrices, (G, C/G * prod(k), b * L).

    The batch sits inside the columns, so each block is one GEMM per group: few, large BLAS
    calls (on a loaded machine every call pays a thread hand-off in OpenBLAS).
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    g = geom.groups
    ck = c // g * int(np.prod(ksize))
    L = int(np.prod(out_sp))
    nd = len(ksize)
    blk = _block(n, ck * g * L * x.itemsize)
    pad = _Padder(xp, x, blk, geom)
    buf = xp.empty((g, c // g) + tuple(ksize) + (blk,) + tuple(out_sp), x.dtype)
    # window axes (b, G, Cg, *k, *out) -> (G, Cg, *k, b, *out)
    perm = (1, 2) + tuple(range(3, 3 + nd)) + (0,) + tuple(range(3 + nd, 3 + 2 * nd))
    for a in range(0, n, blk):
        b = min(n, a + blk)
        cols = buf[(slice(None),) * (2 + nd) + (slice(0, b - a),)] if b - a < blk else buf
        win = _windows(xp, pad(a, b), g, ksize, out_sp, geom)
        cols[...] = win.transpose(perm)
        yield a, b, cols.reshape(g, ck, (b - a) * L)


def im2col(x, ksize, out_sp, geom):
    """All windows of ``x`` as one (N, G, C/G * prod(k), prod(out)) array (``F.unfold``)."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    g = geom.groups
    ck, L = c // g * int(np.prod(ksize)), int(np.prod(out_sp))
    out = xp.empty((n, g, ck, L), x.dtype)
    if _compiled(x):
        from ganglion.ops import conv_jit  # noqa: PLC0415

        conv_jit.im2col_items(xp.ascontiguousarray(x), ksize, geom, out_sp, out)
        return out
    for a, b, cols in _cols_blocks(x, ksize, out_sp, geom):
        out[a:b] = cols.reshape(g, ck, b - a, L).transpose(2, 0, 1, 3)
    return out


def _col2im_block(xp, cols, dst, ksize, out_sp, geom):
    """Add columns (G, C/G * prod(k), b * L) into ``dst`` (b, C, *padded), which is zeros."""
    g = cols.shape[0]
    b, c = dst.shape[:2]
    nd = len(ksize)
    cv = cols.reshape((g, c // g) + tuple(ksize) + (b,) + tuple(out_sp))
    if _disjoint(ksize, geom):  # taps never collide: one assignment through the window view
        perm = (2 + nd, 0, 1) + tuple(range(2, 2 + nd)) + tuple(range(3 + nd, 3 + 2 * nd))
        _windows(xp, dst, g, ksize, out_sp, geom, writeable=True)[...] = cv.transpose(perm)
        return
    d5 = dst.reshape((b, g, c // g) + dst.shape[2:])
    perm = (2, 0, 1) + tuple(range(3, 3 + nd))  # (G, Cg, b, *out) -> (b, G, Cg, *out)
    # One strided add per kernel tap (k_h * k_w of them, each over the whole block).
    for tap in np.ndindex(*ksize):
        sl = tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                   for t, d, s, o in zip(tap, geom.dilation, geom.stride, out_sp))
        d5[(slice(None),) * 3 + sl] += cv[(slice(None),) * 2 + tap].transpose(perm)


def col2im(cols, x_shape, ksize, geom):
    """Sum columns (N, G, C/G * prod(k), L) back onto an input of ``x_shape`` (``F.fold``)."""
    xp = get_array_module(cols)
    out = xp.empty(x_shape, cols.dtype)
    n, g, ck, L = cols.shape
    out_sp = conv_out_size(x_shape[2:], ksize, geom)
    if len(x_shape) <= 4 and _compiled(cols):
        from ganglion.ops import conv_jit  # noqa: PLC0415

        conv_jit.col2im_items(xp.ascontiguousarray(cols), ksize, geom, out_sp, out)
        return out

    def cols_of(a, b):
        return xp.ascontiguousarray(cols[a:b].transpose(1, 2, 0, 3)).reshape(g, ck, (b - a) * L)

    _col2im_into(xp, out, cols_of, ksize, out_sp, geom, cols.itemsize * g * ck * L)
    return out


def _col2im_into(xp, out, cols_of, ksize, out_sp, geom, item_bytes):
    """Fill ``out`` (N, C, *S) block by block from ``cols_of(a, b)`` via padded buffers."""
    n = out.shape[0]
    sp = out.shape[2:]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(sp, geom.pads))
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + s)
                                               for s, (lo, _) in zip(sp, geom.pads))
    blk = _block(n, item_bytes)
    buf = xp.empty((blk, out.shape[1]) + padded, out.dtype)
    for a in range(0, n, blk):
        b = min(n, a + blk)
        dst = buf[:b - a]
        dst[...] = 0
        _col2im_block(xp, cols_of(a, b), dst, ksize, out_sp, geom)
        out[a:b] = dst[inner]


class _GradBlocks:
    """Blocks of ``g`` (N, G, O/G, L) transposed to (G, O/G, b * L) in one reused buffer."""

    def __init__(self, xp, g4, blk):
        n, grp, og, L = g4.shape
        self.g4 = g4
        self.buf = xp.empty((grp, og, blk, L), g4.dtype)

    def __call__(self, a, b):
        grp, og, _, L = self.buf.shape
        dst = self.buf[:, :, :b - a]
        dst[...] = self.g4[a:b].transpose(1, 2, 0, 3)
        return dst.reshape(grp, og, (b - a) * L)


def _group_weight(w, groups):
    """(O, C/G, *k) -> (G, O/G, C/G * prod(k))."""
    return w.reshape(groups, w.shape[0] // groups, int(np.prod(w.shape[1:])))


def _compiled(*arrays):
    """The compiled (``conv_jit``) path takes 1-D/2-D float convolutions of NumPy arrays."""
    return (arrays[0].ndim <= 4 and arrays[0].dtype in (np.float32, np.float64)
            and jit.enabled_for(*arrays))


def conv_forward(x, w, b, geom, out_sp):
    """y[n, o] = sum_{c, k} w[o, c, k] x[n, c, o*s + k*d - pad] + b[o]; shape (N, O, *out_sp)."""
    if _compiled(x, w):
        from ganglion.ops import conv_jit  # noqa: PLC0415 - numba only once kernels are used

        return conv_jit.conv_forward(x, w, b, geom, out_sp)
    xp = get_array_module(x)
    n = x.shape[0]
    g = geom.groups
    wg = _group_weight(w, g)
    L = int(np.prod(out_sp))
    out = xp.empty((n, g, wg.shape[1], L), x.dtype)
    bias = None if b is None else b.reshape(g, -1, 1)
    for a, e, cols in _cols_blocks(x, w.shape[2:], out_sp, geom):
        o = out[a:e]
        # the GEMM writes straight into the output: for a one-item block its (G, O/G, L)
        # layout is the output's; otherwise the columns are seen per item (a BLAS-compatible
        # strided view), so no transposed copy of the result is made
        if e - a == 1:
            xp.matmul(wg, cols, out=o[0])
        else:
            xp.matmul(wg, cols.reshape(g, cols.shape[1], e - a, L).transpose(2, 0, 1, 3),
                      out=o)
        if bias is not None:
            o += bias
    return out.reshape((n, w.shape[0]) + tuple(out_sp))


def _flip_as_forward(g, w, x_shape, geom):
    """The input gradient of a stride-1 convolution as a forward convolution of ``g`` with the
    kernel flipped and its in/out channels swapped (per group), padded by d (k - 1) - pad.

    im2col of ``g`` plus one GEMM, instead of a GEMM plus col2im's k_h * k_w strided adds;
    measured ~10% faster when ``g`` has no more channels than ``x``.
    """
    nd = g.ndim - 2
    grp = geom.groups
    o, cg = w.shape[:2]
    ks = tuple(w.shape[2:])
    wf = w.reshape((grp, o // grp, cg) + ks).swapaxes(1, 2)
    wf = wf[(Ellipsis,) + (slice(None, None, -1),) * nd]
    wf = get_array_module(w).ascontiguousarray(wf).reshape((grp * cg, o // grp) + ks)
    pads = tuple((d * (k - 1) - lo, d * (k - 1) - hi)
                 for k, d, (lo, hi) in zip(ks, geom.dilation, geom.pads))
    return conv_forward(g, wf, None, Geom((1,) * nd, pads, geom.dilation, grp),
                        tuple(x_shape[2:]))


def conv_input_grad(g, w, x_shape, geom):
    """dT/dx = col2im(w.T @ g): the transposed convolution of ``g`` onto ``x_shape``."""
    if _compiled(g, w):
        # compiled col2im beats the flipped forward conv for every W2/W3 layer (measured)
        from ganglion.ops import conv_jit  # noqa: PLC0415

        return conv_jit.conv_input_grad(g, w, x_shape, geom)
    if (all(st == 1 for st in geom.stride) and w.shape[0] <= x_shape[1]
            and all(lo <= d * (k - 1) and hi <= d * (k - 1)
                    for k, d, (lo, hi) in zip(w.shape[2:], geom.dilation, geom.pads))):
        return _flip_as_forward(g, w, x_shape, geom)
    xp = get_array_module(g)
    n = g.shape[0]
    grp = geom.groups
    wt = _group_weight(w, grp).transpose(0, 2, 1)  # (G, C/G * k, O/G)
    L = int(np.prod(g.shape[2:]))
    g4 = g.reshape(n, grp, g.shape[1] // grp, L)
    out = xp.empty(x_shape, g.dtype)
    cols_bytes = wt.shape[0] * wt.shape[1] * L * g.itemsize
    blk = _block(n, cols_bytes)
    gblocks = _GradBlocks(xp, g4, blk)
    buf = xp.empty((grp, wt.shape[1], blk * L), g.dtype)

    def cols_of(a, b):
        return xp.matmul(wt, gblocks(a, b), out=buf[:, :, :(b - a) * L])

    _col2im_into(xp, out, cols_of, w.shape[2:], g.shape[2:], geom, cols_bytes)
    return out


def conv_weight_grad(x, g, w_shape, geom):
    """dT/dw = sum over batch blocks of g_block @ cols_block.T (one GEMM per block and group)."""
    if _compiled(x, g):
        from ganglion.ops import conv_jit  # noqa: PLC0415

        return conv_jit.conv_weight_grad(x, g, w_shape, geom)
    xp = get_array_module(x)
    n = x.shape[0]
    grp = geom.groups
    out_sp = g.shape[2:]
    g4 = g.reshape(n, grp, w_shape[0] // grp, int(np.prod(out_sp)))
    # accumulated transposed, (G, C/G * k, O/G) = cols @ g.T: OpenBLAS runs this orientation
    # ~30% faster than g @ cols.T for conv shapes (measured); one small transpose at the end
    acc = xp.zeros((grp, int(np.prod(w_shape[1:])), w_shape[0] // grp), x.dtype)
    gblocks = None
    for a, b, cols in _cols_blocks(x, w_shape[2:], out_sp, geom):
        if gblocks is None:  # the first block is the largest
            gblocks = _GradBlocks(xp, g4, b - a)
        acc += xp.matmul(cols, gblocks(a, b).swapaxes(-1, -2))
    return xp.ascontiguousarray(acc.swapaxes(-1, -2)).reshape(w_shape)
