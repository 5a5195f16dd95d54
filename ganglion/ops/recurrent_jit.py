"""Compiled kernels (numba) for the recurrent time loops: one call per step does all the gate
math of that step, so each step is one GEMM plus one kernel.

Layout: rows, as torch's. A step's gate pre-activations are a (b, G) block, the states are
(B, F) arrays updated in place (row j is sequence j), and everything saved for backward is an
(N, F) array in x's own row order (time-major: step t's row j at ``off[t] + j``; batch-major:
at ``t + j * T``), so that the weight gradients are one GEMM each over all steps and nothing is
transposed or copied between layouts. (A column layout (F, N) was measured 3x slower here:
a step's columns are 16 KiB apart, and those power-of-two strides thrash the caches.)

NumPy's tanh runs on SIMD code that numba's libm calls cannot match (about 50x slower), so
float32 uses its own branch-free tanh and sigmoid that LLVM vectorizes: cephes' expf polynomial
with the power of two built from exponent bits, and cephes' tanhf polynomial below 0.625
(measured: at most 1.5 ulp for tanh, 2.6 ulp for sigmoid, as torch's own float32 sigmoid);
float64 calls libm. NaN propagates.

Example:
    >>> import numpy as np
    >>> from ganglion.ops import recurrent_jit
    >>> x = np.array([-1.0, 0.0, 2.0], np.float32)
    >>> out = np.empty_like(x)
    >>> recurrent_jit.activate(x, out, 0)  # 0: tanh, 1: sigmoid
    >>> bool(np.allclose(out, np.tanh(x)))
    True
"""
from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload, register_jitable

from ganglion.backend import jit

__all__ = ["activate", "lstm_forward_step", "lstm_infer_step", "lstm_backward_step",
           "lstm_forward_par", "lstm_infer_par", "lstm_backward_par",
           "rnn_forward_step", "rnn_backward_step", "gru_forward_step", "gru_backward_step"]

_f32 = np.float32


@register_jitable(inline="always")
def _exp_nonpos32(w):
    """exp(w) for float32 w in [-87, 0]: cephes expf (Cody-Waite reduction, degree-6 fit)."""
    n = np.floor(w * _f32(1.44269504088896341) + _f32(0.5))
    r = w - n * _f32(0.693359375)
    r = r + n * _f32(2.12194440e-4)
    p = _f32(1.9875691500e-4)
    p = p * r + _f32(1.3981999507e-3)
    p = p * r + _f32(8.3334519073e-3)
    p = p * r + _f32(4.1665795894e-2)
    p = p * r + _f32(1.6666665459e-1)
    p = p * r + _f32(5.0000001201e-1)
    p = p * r * r + r + _f32(1.0)
    scale = np.int32((np.int32(n) + np.int32(127)) << np.int32(23)).view(np.float32)
    return p * scale


def _tanh(x):  # pragma: no cover - replaced by the overload inside compiled code
    raise NotImplementedError


def _sigmoid(x):  # pragma: no cover
    raise NotImplementedError


@overload(_tanh, fastmath=set(jit.FASTMATH))
def _tanh_impl(x):
    if x == types.float32:
        def tanh32(x):
            a = abs(x)
            z = x * x
            small = (((((_f32(-5.70498872745e-3) * z + _f32(2.06390887954e-2)) * z
                        - _f32(5.37397155531e-2)) * z + _f32(1.33314422036e-1)) * z
                      - _f32(3.33332819422e-1)) * z * x + x)
            a = a if a < _f32(9.1) else _f32(9.1)  # tanh(9.1) rounds to 1
            e = _exp_nonpos32(_f32(-2.0) * a)
            big = (_f32(1.0) - e) / (_f32(1.0) + e)
            big = big if x >= 0 else -big
            r = small if abs(x) < _f32(0.625) else big
            return r if x == x else x
        return tanh32
    return lambda x: np.tanh(x)


@overload(_sigmoid, fastmath=set(jit.FASTMATH))
def _sigmoid_impl(x):
    if x == types.float32:
        def sigmoid32(x):
            a = abs(x)
            e = _exp_nonpos32(-(a if a < _f32(87.0) else _f32(87.0)))
            r = (_f32(1.0) if x >= 0 else e) / (_f32(1.0) + e)
            r = r if x > _f32(-87.0) else _f32(0.0)
            return r if x == x else x
        return sigmoid32

    def sigmoid64(x):
        if x >= 0:
            return 1.0 / (1.0 + np.exp(-x))
        e = np.exp(x)
        return e / (1.0 + e)
    return sigmoid64


@jit.kernel()
def activate(x, out, kind):
    """out = tanh(x) (kind 0) or sigmoid(x) (kind 1), elementwise over 1-D arrays."""
    if kind == 0:
        for i in range(x.size):
            out[i] = _tanh(x[i])
    else:
        for i in range(x.size):
            out[i] = _sigmoid(x[i])


@jit.kernel()
def lstm_forward_step(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os, lo,
                      hi):
    """One LSTM step (torch's gate order i, f, g, o) on the b = hh.shape[0] rows of a step.

    hh (b, 4H): h_prev @ W_hh.T; xp (., 4H): x @ W_ih.T, row j of the step at xb + j * xs;
    bias (4H,). Updates the states c (B, H) and h (B, H) in place; writes the activated gates
    to gs, the incoming c and tanh(c_t) to cps and tcs, the incoming h to hps (all at row
    sb + j * ss), and h_t to out[ob + j * os] (the caller points what it does not keep at
    scratch rows; gs must not be xp or hh: overlapping arrays make LLVM drop the vector loop).
    Loops run over row views from index 0 (an offset start defeated vectorization, measured).
    Rows lo:hi of the step only (the parallel twin splits the rows).
    """
    H = c.shape[1]
    for j in range(lo, hi):
        sr = sb + j * ss
        hj, xj, gj = hh[j], xp[xb + j * xs], gs[sr]
        for k in range(2 * H):
            gj[k] = _sigmoid(hj[k] + xj[k] + bias[k])
        h2, x2, g2, b2 = hj[2 * H:], xj[2 * H:], gj[2 * H:], bias[2 * H:]
        for k in range(H):
            g2[k] = _tanh(h2[k] + x2[k] + b2[k])
        h3, x3, g3, b3 = hj[3 * H:], xj[3 * H:], gj[3 * H:], bias[3 * H:]
        for k in range(H):
            g3[k] = _sigmoid(h3[k] + x3[k] + b3[k])
        cj, cpj, gf = c[j], cps[sr], gj[H:]
        for k in range(H):
            cold = cj[k]
            cpj[k] = cold
            cj[k] = gf[k] * cold + gj[k] * g2[k]
        tj, hpj, hsj, oj = tcs[sr], hps[sr], h[j], out[ob + j * os]
        for k in range(H):
            tc = _tanh(cj[k])
            tj[k] = tc
            hpj[k] = hsj[k]
            hn = g3[k] * tc
            hsj[k] = hn
            oj[k] = hn


@jit.kernel()
def lstm_infer_step(hh, xp, xb, xs, bias, c, h, out, ob, os, lo, hi):
    """:func:`lstm_forward_step` saving nothing: a row's gates stay in one small buffer in
    L1 instead of going through memory (a step's saved arrays are ~1 MB of traffic)."""
    H = c.shape[1]
    gl = np.empty(4 * H, hh.dtype)
    gi, gf, gg, go = gl[:H], gl[H:2 * H], gl[2 * H:3 * H], gl[3 * H:]
    for j in range(lo, hi):
        hj, xj = hh[j], xp[xb + j * xs]
        for k in range(2 * H):
            gl[k] = _sigmoid(hj[k] + xj[k] + bias[k])
        h2, x2, b2 = hj[2 * H:], xj[2 * H:], bias[2 * H:]
        for k in range(H):
            gg[k] = _tanh(h2[k] + x2[k] + b2[k])
        h3, x3, b3 = hj[3 * H:], xj[3 * H:], bias[3 * H:]
        for k in range(H):
            go[k] = _sigmoid(h3[k] + x3[k] + b3[k])
        cj, hsj, oj = c[j], h[j], out[ob + j * os]
        for k in range(H):
            cn = gf[k] * cj[k] + gi[k] * gg[k]
            cj[k] = cn
            hn = go[k] * _tanh(cn)
            hsj[k] = hn
            oj[k] = hn


@jit.kernel()
def lstm_backward_step(gates, cps, tcs, sb, ss, lo, hi, dh, dc, dout, ob, os, dg):
    """Backward of one LSTM step (rows sb + j * ss, j < b, of the saved arrays).

    dh (B, H) holds dL/dh_t (dL/dm with a projection) without the output's share
    dout[ob + j * os] (os = 0 and a zero row when there is none), which is added here; dc
    (B, H) holds dL/dc_t and becomes dL/dc_{t-1}. Writes the gates' pre-activation gradients
    to dg's rows. Rows lo:hi of the step."""
    H = dc.shape[1]
    one = gates.dtype.type(1)
    for j in range(lo, hi):
        sr = sb + j * ss
        gj, cpj, tj, dgj = gates[sr], cps[sr], tcs[sr], dg[sr]
        gf, gg, go = gj[H:], gj[2 * H:], gj[3 * H:]
        df, dgg, do = dgj[H:], dgj[2 * H:], dgj[3 * H:]
        dhj, dcj, doj = dh[j], dc[j], dout[ob + j * os]
        for k in range(H):
            dm = dhj[k] + doj[k]
            tc, o = tj[k], go[k]
            i, f, g = gj[k], gf[k], gg[k]
            d_c = dcj[k] + dm * o * (one - tc * tc)
            dgj[k] = d_c * g * i * (one - i)
            df[k] = d_c * cpj[k] * f * (one - f)
            dgg[k] = d_c * i * (one - g * g)
            do[k] = dm * tc * o * (one - o)
            dcj[k] = d_c * f



# parallel twins: the step's rows in one block per thread (each block a serial call above)

@jit.kernel(parallel=True)
def lstm_forward_par(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os,
                     nblk):
    b = hh.shape[0]
    for k in prange(nblk):
        lstm_forward_step(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os,
                          k * b // nblk, (k + 1) * b // nblk)


@jit.kernel(parallel=True)
def lstm_infer_par(hh, xp, xb, xs, bias, c, h, out, ob, os, nblk):
    b = hh.shape[0]
    for k in prange(nblk):
        lstm_infer_step(hh, xp, xb, xs, bias, c, h, out, ob, os, k * b // nblk,
                        (k + 1) * b // nblk)


@jit.kernel(parallel=True)
def lstm_backward_par(gates, cps, tcs, sb, ss, b, dh, dc, dout, ob, os, dg, nblk):
    for k in prange(nblk):
        lstm_backward_step(gates, cps, tcs, sb, ss, k * b // nblk, (k + 1) * b // nblk, dh, dc,
                           dout, ob, os, dg)

@jit.kernel()
def rnn_forward_step(hh, xp, xb, bias, h, ys, sb, ss, hps, out, ob, os, relu):
    """One Elman step h = act(hh + xp[xb + j] + bias) (tanh, or relu when ``relu``) on the
    b = hh.shape[0] rows; saves h_t to ys and h_{t-1} to hps at rows sb + j * ss, writes h_t
    to the state h and to out[ob + j * os]."""
    b, H = hh.shape[0], h.shape[1]
    zero = hh.dtype.type(0)
    for j in range(b):
        hj, xj, sj = hh[j], xp[xb + j], h[j]
        yj, pj, oj = ys[sb + j * ss], hps[sb + j * ss], out[ob + j * os]
        if relu:
            for k in range(H):
                a = hj[k] + xj[k] + bias[k]
                yj[k] = a if a > zero or a != a else zero  # NaN stays NaN, as torch's relu
        else:
            for k in range(H):
                yj[k] = _tanh(hj[k] + xj[k] + bias[k])
        for k in range(H):
            pj[k] = sj[k]
            sj[k] = yj[k]
            oj[k] = yj[k]


@jit.kernel()
def rnn_backward_step(ys, sb, ss, b, dh, dout, ob, os, dg, relu):
    """dg[sb + j * ss] = (dh[j] + dout[ob + j * os]) * act'(h_t) for the step's b rows (relu's
    subgradient at 0 is 0, as torch's)."""
    H = dh.shape[1]
    one, zero = ys.dtype.type(1), ys.dtype.type(0)
    for j in range(b):
        yj, dj, gj, oj = ys[sb + j * ss], dh[j], dg[sb + j * ss], dout[ob + j * os]
        if relu:
            for k in range(H):
                gj[k] = (dj[k] + oj[k]) if yj[k] > zero else zero
        else:
            for k in range(H):
                gj[k] = (dj[k] + oj[k]) * (one - yj[k] * yj[k])


@jit.kernel()
def gru_forward_step(hh, xp, xb, bias, bhn, h, gs, sb, ss, hps, out, ob, os):
    """One GRU step (torch's gates r, z, n) on the b = hh.shape[0] rows: hh (b, 3H) is
    h_prev @ W_hh.T, xp[xb + j] (3H) x_t @ W_ih.T, bias (3H) = [b_ir + b_hr, b_iz + b_hz,
    b_in], bhn = b_hn. Saves [r, z, n, W_hn h + b_hn] to gs and h_{t-1} to hps at rows
    sb + j * ss; h = n + z * (h - n) into the state h and out[ob + j * os]."""
    b, H = hh.shape[0], h.shape[1]
    for j in range(b):
        hj, xj, gj = hh[j], xp[xb + j], gs[sb + j * ss]
        for k in range(2 * H):
            gj[k] = _sigmoid(hj[k] + xj[k] + bias[k])
        h2, x2, b2, gn, ghn = hj[2 * H:], xj[2 * H:], bias[2 * H:], gj[2 * H:], gj[3 * H:]
        for k in range(H):
            a = h2[k] + bhn[k]
            ghn[k] = a
            gn[k] = _tanh(x2[k] + b2[k] + gj[k] * a)
        sj, pj, oj, gz = h[j], hps[sb + j * ss], out[ob + j * os], gj[H:]
        for k in range(H):
            hp = sj[k]
            pj[k] = hp
            hn = gn[k] + gz[k] * (hp - gn[k])
            sj[k] = hn
            oj[k] = hn


@jit.kernel()
def gru_backward_step(gs, hps, sb, ss, b, dh, dout, ob, os, dgx, dgh):
    """Backward of one GRU step: from dL/dh_t = dh[j] + dout[ob + j * os] writes the input-
    side pre-activation gradients dgx and hidden-side dgh (whose n block is multiplied by r)
    at rows sb + j * ss, and leaves dh[j] = dL/dh_t * z (the direct path to h_{t-1}; the caller
    adds dgh @ W_hh)."""
    H = dh.shape[1]
    one = gs.dtype.type(1)
    for j in range(b):
        sr = sb + j * ss
        gj, pj, xj, hj, dj, oj = gs[sr], hps[sr], dgx[sr], dgh[sr], dh[j], dout[ob + j * os]
        gz, gn, ghn = gj[H:], gj[2 * H:], gj[3 * H:]
        xz, xn, hz, hn = xj[H:], xj[2 * H:], hj[H:], hj[2 * H:]
        for k in range(H):
            d = dj[k] + oj[k]
            r, z, n = gj[k], gz[k], gn[k]
            dn = d * (one - z) * (one - n * n)
            dz = d * (pj[k] - n) * z * (one - z)
            dr = dn * ghn[k] * r * (one - r)
            xj[k], xz[k], xn[k] = dr, dz, dn
            hj[k], hz[k], hn[k] = dr, dz, dn * r
            dj[k] = d * z


# step entry points: the serial kernel, or its parallel twin when a step has enough rows and
# work for the threads (``blocks``)

def blocks(b, width):
    """Row blocks for a step of b rows of ``width`` gate values: 1 (serial) below PAR_MIN."""
    from ganglion.backend.threads import get_num_threads  # noqa: PLC0415

    n = min(get_num_threads(), b)
    return n if n > 1 and b * width >= PAR_MIN else 1


# Gate values per step from which the parallel twins run. Off by default, measured on the
# 2-core machine: alone, the W4 step kernel takes 51 us serial and 29 us on 2 threads, but
# between OpenBLAS GEMMs (whose worker thread spins on the other core after each call) the
# parallel region's second thread has no free core and a step got 2-5x slower, not faster.
PAR_MIN = 1 << 62


def lstm_forward(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os, nblk):
    if nblk > 1:
        lstm_forward_par(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os,
                         nblk)
    else:
        lstm_forward_step(hh, xp, xb, xs, bias, c, h, gs, sb, ss, cps, tcs, hps, out, ob, os,
                          0, hh.shape[0])


def lstm_infer(hh, xp, xb, xs, bias, c, h, out, ob, os, nblk):
    if nblk > 1:
        lstm_infer_par(hh, xp, xb, xs, bias, c, h, out, ob, os, nblk)
    else:
        lstm_infer_step(hh, xp, xb, xs, bias, c, h, out, ob, os, 0, hh.shape[0])


def lstm_backward(gates, cps, tcs, sb, ss, b, dh, dc, dout, ob, os, dg, nblk):
    if nblk > 1:
        lstm_backward_par(gates, cps, tcs, sb, ss, b, dh, dc, dout, ob, os, dg, nblk)
    else:
        lstm_backward_step(gates, cps, tcs, sb, ss, 0, b, dh, dc, dout, ob, os, dg)
