"""Winograd F(2x2, 3x3) convolution kernels (numba): the three tile transforms and the two
weight transforms of Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016).

A 3x3, stride-1 convolution computes each 2x2 output tile from a 4x4 input tile ``d`` as
``Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A``. Summed over input channels, the elementwise product
becomes 16 GEMMs (one per tile position p) of (C_out, C_in) by (C_in, tiles): 16 multiplies per
2x2 outputs instead of im2col's 36, so the GEMM work is 2.25x smaller (on W3's 64-channel
layers OpenBLAS ran the 16 GEMMs in 5.9 ms against 11.4 ms for the im2col GEMM, one thread,
measured). Its gradients are the same algorithm's adjoints:

- input gradient: a stride-1 convolution too (the kernel flipped, channels swapped), so the
  forward transforms serve it (``conv_jit.conv_input_grad``);
- weight gradient: ``dU[p] = Σ_tiles V[p] dM[p]ᵀ`` with ``dM = A dY Aᵀ`` per output tile, then
  ``dg = Gᵀ dU G``.

The tile transforms below are serial ``nogil`` kernels over one batch block, each a single pass
over a block's planes; ``conv_jit``'s drivers run the blocks on ganglion's threads. Each
transform copies one plane at a time into a small zero-framed scratch plane (the padding, and
the last tile's overhang on odd sizes), so the tile loops run without bounds checks.

Infinities are the one place where the algorithm is not the convolution: ``d1 = inf`` gives
``m1 = inf`` and ``m2 = -inf``, whose sum is NaN where the direct sum is ``inf``. So each
transform reports whether its block held a non-finite value, and the caller redoes such a block
by im2col (a NaN alone would propagate correctly, but it is caught by the same check).

Rounding: the transforms add and subtract at most 9 values (and halve), so results agree with
im2col's to float32 rounding (a few ulps of the largest term; tested against PyTorch).

Threads: on at most ``MAX_THREADS`` threads every such layer takes it (W3's training step at
one thread: 1599 -> 1333 ms). On more, only layers whose output plane has at least
``MIN_PLANE_THREADED`` positions: at two threads W3's 64-channel 32x32 layer ran forward in
27 ms against 37 by im2col, but its 128-channel 16x16 layer in 37 against 29, the batched
position GEMMs running 1.8x slower beside the other thread's transforms than alone (measured
in-op; the cause, cache or bandwidth, is not pinned down). The forward pass alone also takes it
from ``MIN_PLANE_FORWARD`` positions: W2's 32-to-64-channel 24x24 layer ran forward in 20.0 ms
against 21.5 by im2col (A/B in one process, 2 threads), while its input gradient (25 against
20 ms) and weight gradient (27 against 21) stay faster by im2col.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import conv_winograd as wino
    >>> x = np.ones((1, 16, 4, 4), np.float32); w = np.ones((16, 16, 3, 3), np.float32)
    >>> v = wino.positions(np.empty(16 * wino.position_stride(16, 4), np.float32), 16, 4)
    >>> plane = np.empty(36, np.float32); out = np.empty((1, 16, 4, 4), np.float32)
    >>> wino.input_transform(x, 0, 1, (1, 1), (4, 4), plane, v)
    True
    >>> m = wino.weight_transform(w) @ v
    >>> wino.output_transform(m, 0, 1, (4, 4), None, plane, out)
    >>> out[0, 0].tolist()[0]      # corner 16 * 4 taps, edge 16 * 6
    [64.0, 96.0, 96.0, 64.0]
"""
from __future__ import annotations

import numpy as np
from numba import uint64 as _U

from ganglion.backend import jit, parallel

__all__ = ["MIN_CHANNELS", "MAX_THREADS", "MIN_PLANE_THREADED", "MIN_PLANE_FORWARD", "positions",
           "position_stride", "applies", "tiles", "finite", "weight_transform",
           "weight_grad_transform", "input_transform", "output_transform",
           "grad_output_transform"]

# below this many channels on either side the 16 GEMMs are too thin to beat im2col's one
# (W2's first layer, 1 -> 32: measured slower)
MIN_CHANNELS = 16
MAX_THREADS = 1  # see the module docstring
MIN_PLANE_THREADED = 32 * 32
MIN_PLANE_FORWARD = 24 * 24

# G of F(2x2, 3x3): U = G g Gᵀ (4x4 per 3x3 kernel)
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def applies(w_shape, stride, dilation, groups, plane, forward=False) -> bool:
    """A 2-D 3x3 convolution at stride 1, dilation 1, one group, both sides ≥ MIN_CHANNELS,
    on at most MAX_THREADS threads or with an output plane of ``plane`` ≥ MIN_PLANE_THREADED
    positions (≥ MIN_PLANE_FORWARD for a layer's ``forward`` pass; see the module docstring)."""
    least = MIN_PLANE_FORWARD if forward else MIN_PLANE_THREADED
    return ((parallel.threads() <= MAX_THREADS or plane >= least)
            and len(w_shape) == 4 and tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1
            and min(w_shape[0], w_shape[1]) >= MIN_CHANNELS)


def tiles(out_sp):
    """Tile rows and columns covering an output of ``out_sp`` (the last may overhang)."""
    return (out_sp[0] + 1) // 2, (out_sp[1] + 1) // 2


def finite(a) -> bool:
    """No inf or NaN in ``a`` (the weights: small, so one NumPy pass)."""
    return bool(np.isfinite(a).all())


def weight_transform(w):
    """U[p, o, c] = (G w[o, c] Gᵀ)[p] for w (O, C, 3, 3): (16, O, C), contiguous."""
    g = _G.astype(w.dtype)
    u = np.einsum("ai,ocij,bj->aboc", g, w, g, optimize=True)
    return np.ascontiguousarray(u).reshape(16, w.shape[0], w.shape[1])


def weight_grad_transform(du):
    """dw[o, c] = Gᵀ dU[:, c, o] G for dU (16, C, O) (the layout ``V @ dMᵀ`` gives):
    (O, C, 3, 3)."""
    g = _G.astype(du.dtype)
    du4 = du.reshape(4, 4, du.shape[1], du.shape[2])
    return np.ascontiguousarray(np.einsum("ai,abco,bj->ocij", g, du4, g, optimize=True))


# -- tile transforms (one batch block each) ----------------------------------------------------

@jit.kernel()
def _input_transform(x, n0, nb, n_c, h, w, ph, pw, th, tw, plane, v, ct):
    """v[p, c, t] = (Bᵀ d B)[p] of tile t = (item, ty, tx) of items n0.. (flat arrays);
    returns 0 unless a copied value was inf or NaN."""
    pr, pc = 2 * th + 2, 2 * tw + 2
    n_t = nb * th * tw
    lo = min(pc, max(0, pw))
    hi = max(lo, min(pc, w + pw))
    # val * 0 is NaN exactly for inf and NaN (a zero of x's dtype: no float64 promotion;
    # val - val measured folded to 0 under the fast-math flags)
    zero = np.zeros(1, x.dtype)[0]
    bad = zero
    for i in range(nb):
        for c in range(n_c):
            src = ((n0 + i) * n_c + c) * h * w
            for r in range(pr):
                row = r * pc
                ir = r - ph
                if ir < 0 or ir >= h:
                    for q in range(pc):
                        plane[_U(row + q)] = 0
                    continue
                s = src + ir * w - pw
                for q in range(lo):
                    plane[_U(row + q)] = 0
                for q in range(lo, hi):
                    val = x[_U(s + q)]
                    plane[_U(row + q)] = val
                    bad += val * zero
                for q in range(hi, pc):
                    plane[_U(row + q)] = 0
            base = c * n_t + i * th * tw
            for ty in range(th):
                r0 = 2 * ty * pc
                o = base + ty * tw
                for tx in range(tw):
                    q0 = r0 + 2 * tx
                    # Bᵀ on the columns of each of the 4 rows: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    d0 = plane[_U(q0)]
                    d1 = plane[_U(q0 + 1)]
                    d2 = plane[_U(q0 + 2)]
                    d3 = plane[_U(q0 + 3)]
                    a00, a01, a02, a03 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                    d0 = plane[_U(q0 + pc)]
                    d1 = plane[_U(q0 + pc + 1)]
                    d2 = plane[_U(q0 + pc + 2)]
                    d3 = plane[_U(q0 + pc + 3)]
                    a10, a11, a12, a13 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                    d0 = plane[_U(q0 + 2 * pc)]
                    d1 = plane[_U(q0 + 2 * pc + 1)]
                    d2 = plane[_U(q0 + 2 * pc + 2)]
                    d3 = plane[_U(q0 + 2 * pc + 3)]
                    a20, a21, a22, a23 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                    d0 = plane[_U(q0 + 3 * pc)]
                    d1 = plane[_U(q0 + 3 * pc + 1)]
                    d2 = plane[_U(q0 + 3 * pc + 2)]
                    d3 = plane[_U(q0 + 3 * pc + 3)]
                    a30, a31, a32, a33 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                    # then Bᵀ down the rows; position p = 4 * row + column
                    t = _U(o + tx)
                    v[t] = a00 - a20
                    v[_U(t + ct)] = a01 - a21
                    v[_U(t + 2 * ct)] = a02 - a22
                    v[_U(t + 3 * ct)] = a03 - a23
                    v[_U(t + 4 * ct)] = a10 + a20
                    v[_U(t + 5 * ct)] = a11 + a21
                    v[_U(t + 6 * ct)] = a12 + a22
                    v[_U(t + 7 * ct)] = a13 + a23
                    v[_U(t + 8 * ct)] = a20 - a10
                    v[_U(t + 9 * ct)] = a21 - a11
                    v[_U(t + 10 * ct)] = a22 - a12
                    v[_U(t + 11 * ct)] = a23 - a13
                    v[_U(t + 12 * ct)] = a10 - a30
                    v[_U(t + 13 * ct)] = a11 - a31
                    v[_U(t + 14 * ct)] = a12 - a32
                    v[_U(t + 15 * ct)] = a13 - a33
    return bad


@jit.kernel()
def _output_transform(m, n0, nb, n_o, oh, ow, th, tw, bias, has_bias, plane, out, ot):
    """out[n0 + i, o] = (Aᵀ M A) of each tile, cropped to (oh, ow), plus bias[o] (flat)."""
    pc = 2 * tw
    n_t = nb * th * tw
    zero = np.zeros(1, out.dtype)[0]
    for i in range(nb):
        for o in range(n_o):
            base = o * n_t + i * th * tw
            for ty in range(th):
                r0 = 2 * ty * pc
                for tx in range(tw):
                    t = _U(base + ty * tw + tx)
                    # Aᵀ down the rows: (m0 + m1 + m2, m1 - m2 - m3) for each of 4 columns
                    s00 = m[t] + m[_U(t + 4 * ot)] + m[_U(t + 8 * ot)]
                    s01 = m[_U(t + ot)] + m[_U(t + 5 * ot)] + m[_U(t + 9 * ot)]
                    s02 = m[_U(t + 2 * ot)] + m[_U(t + 6 * ot)] + m[_U(t + 10 * ot)]
                    s03 = m[_U(t + 3 * ot)] + m[_U(t + 7 * ot)] + m[_U(t + 11 * ot)]
                    s10 = m[_U(t + 4 * ot)] - m[_U(t + 8 * ot)] - m[_U(t + 12 * ot)]
                    s11 = m[_U(t + 5 * ot)] - m[_U(t + 9 * ot)] - m[_U(t + 13 * ot)]
                    s12 = m[_U(t + 6 * ot)] - m[_U(t + 10 * ot)] - m[_U(t + 14 * ot)]
                    s13 = m[_U(t + 7 * ot)] - m[_U(t + 11 * ot)] - m[_U(t + 15 * ot)]
                    q = _U(r0 + 2 * tx)
                    plane[q] = s00 + s01 + s02
                    plane[_U(q + 1)] = s01 - s02 - s03
                    plane[_U(q + pc)] = s10 + s11 + s12
                    plane[_U(q + pc + 1)] = s11 - s12 - s13
            b = bias[o] if has_bias else zero
            dst = ((n0 + i) * n_o + o) * oh * ow
            for y in range(oh):
                d = dst + y * ow
                s = y * pc
                for q in range(ow):
                    out[_U(d + q)] = plane[_U(s + q)] + b


@jit.kernel()
def _grad_output_transform(g, n0, nb, n_o, oh, ow, th, tw, plane, dmt, to, ts, cs):
    """dmt[p * to + t * ts + o * cs] = (A dY Aᵀ)[p] of output tile t of g[n0 + i, o] (zeros
    past the edge), with the caller's strides (tile stride ts, channel stride cs); returns 0
    unless g held inf or NaN."""
    pc = 2 * tw
    n_t = nb * th * tw
    zero = np.zeros(1, g.dtype)[0]
    bad = zero
    for i in range(nb):
        for o in range(n_o):
            src = ((n0 + i) * n_o + o) * oh * ow
            for r in range(2 * th):
                row = r * pc
                if r >= oh:
                    for q in range(pc):
                        plane[_U(row + q)] = 0
                    continue
                s = src + r * ow
                for q in range(ow):
                    val = g[_U(s + q)]
                    plane[_U(row + q)] = val
                    bad += val * zero
                for q in range(ow, pc):
                    plane[_U(row + q)] = 0
            base = i * th * tw
            for ty in range(th):
                r0 = 2 * ty * pc
                for tx in range(tw):
                    q = _U(r0 + 2 * tx)
                    y00 = plane[q]
                    y01 = plane[_U(q + 1)]
                    y10 = plane[_U(q + pc)]
                    y11 = plane[_U(q + pc + 1)]
                    # A on the rows: (y0, y0 + y1, y0 - y1, -y1), each of 2 columns
                    r00, r01 = y00, y01
                    r10, r11 = y00 + y10, y01 + y11
                    r20, r21 = y00 - y10, y01 - y11
                    r30, r31 = -y10, -y11
                    t = _U((base + ty * tw + tx) * ts + o * cs)
                    # then Aᵀ along each row: (r0, r0 + r1, r0 - r1, -r1)
                    dmt[t] = r00
                    dmt[_U(t + to)] = r00 + r01
                    dmt[_U(t + 2 * to)] = r00 - r01
                    dmt[_U(t + 3 * to)] = -r01
                    dmt[_U(t + 4 * to)] = r10
                    dmt[_U(t + 5 * to)] = r10 + r11
                    dmt[_U(t + 6 * to)] = r10 - r11
                    dmt[_U(t + 7 * to)] = -r11
                    dmt[_U(t + 8 * to)] = r20
                    dmt[_U(t + 9 * to)] = r20 + r21
                    dmt[_U(t + 10 * to)] = r20 - r21
                    dmt[_U(t + 11 * to)] = -r21
                    dmt[_U(t + 12 * to)] = r30
                    dmt[_U(t + 13 * to)] = r30 + r31
                    dmt[_U(t + 14 * to)] = r30 - r31
                    dmt[_U(t + 15 * to)] = -r31
    return bad


def positions(buf, rows, cols):
    """A (16, rows, cols) view of the flat scratch ``buf`` whose 16 matrices lie
    :func:`position_stride` elements apart (each C-contiguous, as the GEMMs need)."""
    ps = position_stride(rows, cols)
    isz = buf.itemsize
    return np.lib.stride_tricks.as_strided(buf[:16 * ps], (16, rows, cols),
                                           (ps * isz, cols * isz, isz))


def position_stride(rows, cols) -> int:
    """Elements between the 16 position matrices: rows * cols plus 32, so that the
    transforms' 16 streams do not fall on one cache set (power-of-two strides such as
    64x256 floats did: the input transform ran 2.x slower, measured)."""
    return rows * cols + 32


def _pos_stride(a):
    return a.strides[0] // a.itemsize


def _flat(a):
    """The flat buffer under a :func:`positions` view (a view of it from its first element)."""
    n = (a.shape[0] - 1) * _pos_stride(a) + a.shape[1] * a.shape[2]
    return np.lib.stride_tricks.as_strided(a, (n,), (a.itemsize,))


def input_transform(x, n0, nb, pads, out_sp, plane, v) -> bool:
    """Fill ``v`` (16, C, nb * tiles) from items n0..n0+nb of ``x`` (N, C, H, W), C-contiguous,
    with top/left ``pads``; ``plane`` holds (2 th + 2) (2 tw + 2) values. False if the block
    held inf or NaN (``v`` is then not to be used)."""
    th, tw = tiles(out_sp)
    bad = _input_transform(x.reshape(-1), n0, nb, *x.shape[1:], *pads, th, tw,
                           plane.reshape(-1), _flat(v), _pos_stride(v))
    return bad == 0


def output_transform(m, n0, nb, out_sp, bias, plane, out) -> None:
    """Items n0..n0+nb of ``out`` (N, O, *out_sp), C-contiguous, from the GEMMs' ``m``
    (16, O, nb * tiles), plus ``bias`` (O,) or None; ``plane`` holds 4 th tw values."""
    th, tw = tiles(out_sp)
    b = plane[:1] if bias is None else bias  # a typed placeholder when has_bias is False
    _output_transform(_flat(m), n0, nb, out.shape[1], *out_sp, th, tw, b,
                      bias is not None, plane.reshape(-1), out.reshape(-1), _pos_stride(m))


def grad_output_transform(g, n0, nb, plane, dmt) -> bool:
    """Fill ``dmt`` (16, nb * tiles, O) from items n0..n0+nb of ``g`` (N, O, oh, ow),
    C-contiguous; ``plane`` holds 4 th tw values. False if the block held inf or NaN."""
    th, tw = tiles(g.shape[2:])
    bad = _grad_output_transform(g.reshape(-1), n0, nb, g.shape[1], *g.shape[2:], th, tw,
                                 plane.reshape(-1), _flat(dmt), _pos_stride(dmt),
                                 dmt.strides[1] // dmt.itemsize, dmt.strides[2] // dmt.itemsize)
    return bad == 0
