"""LSTM time loop (forward and backpropagation through time) on raw arrays, in the column
layout of :mod:`ganglion.ops.recurrent_kernels`. Internal gate order (i, f, o, g).

Example:
    >>> import numpy as np
    >>> from ganglion.ops.recurrent_kernels import StepSpec
    >>> spec = StepSpec("LSTM", 2, 0, False, (1, 1), False)
    >>> class W: wcat_f, bias, whr = np.zeros((8, 5)), None, None  # [W_hh | W_ih], no bias
    >>> out, h, c, _ = lstm_forward(np.ones((2, 3)), np.zeros((1, 2)), np.zeros((1, 2)), W,
    ...                             spec, False)
    >>> out.shape, float(c.sum())
    ((2, 2), 0.0)
"""
from __future__ import annotations

import numpy as np

from ganglion.ops.recurrent_kernels import (columns, final_state, from_rows, pooled, prev_state,
                                            sigmoid_from_tanh, stacked_grads, stacked_inputs,
                                            stacked_rows, state_rows, to_rows)

__all__ = ["lstm_forward", "lstm_backward"]


def _buf(flat, rows, b):
    return flat[:rows * b].reshape(rows, b)


def lstm_forward(x, h0, c0, w, spec, record):
    """LSTM over the sequence; x (N, I), h0 (B, P), c0 (B, H) as rows. Returns (out (N, P),
    h_n, c_n, saved), ``saved`` being what backward needs (None unless ``record``)."""
    H, P, dt, B = spec.hidden, h0.shape[1], x.dtype, spec.B
    K = stacked_rows(x, P, w.bias is not None)
    z = stacked_inputs(x, P, w.bias is not None, spec)
    gates, outc, cs = spec.empty(4 * H, dt), spec.empty(P, dt), spec.empty(H, dt)
    tcs, mm = spec.empty(H, dt, record), spec.empty(H, dt, record and spec.proj)
    h0T, c0T = state_rows(h0), state_rows(c0)
    G, OUT, C, TC, MM = (spec.steps(a, n) for a, n in ((gates, 4 * H), (outc, P), (cs, H),
                                                        (tcs, H), (mm, H)))
    Z = spec.steps(z, K)
    wbuf, tbuf = np.empty(H * B, dt), np.empty(H * B, dt)
    sh, sc = np.empty(P * B, dt), np.empty(H * B, dt)
    t_prev = None
    for t in spec.order():
        b = spec.batch_sizes[t]
        Z[t][:P] = prev_state(OUT, t_prev, h0T, b, sh)
        cb = prev_state(C, t_prev, c0T, b, sc)
        g_all, wb = G[t], _buf(wbuf, H, b)
        np.matmul(w.wcat_f, Z[t], out=g_all)  # W_hh h + W_ih x + b in one GEMM
        np.tanh(g_all, out=g_all)
        sigmoid_from_tanh(g_all[:3 * H])
        i, f, o, g = g_all[:H], g_all[H:2 * H], g_all[2 * H:3 * H], g_all[3 * H:]
        np.multiply(f, cb, out=C[t])
        np.multiply(i, g, out=wb)
        C[t] += wb
        tc = TC[t] if record else _buf(tbuf, H, b)
        np.tanh(C[t], out=tc)
        if spec.proj:
            m = MM[t] if record else wb
            np.multiply(o, tc, out=m)
            np.matmul(w.whr, m, out=OUT[t])
        else:
            np.multiply(o, tc, out=OUT[t])
        t_prev = t
    h_n, c_n = final_state(OUT, h0T, spec), final_state(C, c0T, spec)
    saved = (gates, outc, cs, tcs, mm, h0T, c0T, z, K) if record else None
    return to_rows(outc, P, spec), state_rows(h_n), state_rows(c_n), saved


def _prev_map(spec):
    order = list(spec.order())
    return dict(zip(order, [None] + order[:-1]))


def _grad_state(g, rows, B, dt):
    """The (rows, B) state-gradient carry: a fresh writable copy (an incoming gradient may be a
    read-only broadcast, and a (1, F) one transposes without a copy)."""
    return np.zeros((rows, B), dt) if g is None else np.array(g.T, order="C")


def lstm_backward(x, dout, dh_n, dc_n, w, saved, spec, need):
    """BPTT for :func:`lstm_forward`. Returns (dx, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0, dW_hr),
    rows in the internal gate order (the caller restores torch's); unneeded entries are None."""
    gates, _, cs, tcs, mm, h0T, c0T, z, K = saved
    H, P, dt, B, off = spec.hidden, h0T.shape[0], x.dtype, spec.B, spec.offsets
    G, C, TC = (spec.steps(a, n) for a, n in ((gates, 4 * H), (cs, H), (tcs, H)))
    DO = None if dout is None else spec.steps(from_rows(dout, spec), P)
    dgr = pooled((4 * H, spec.N), dt)
    dhs = pooled((P, spec.N), dt) if spec.proj else None
    dh, dc = _grad_state(dh_n, P, B, dt), _grad_state(dc_n, H, B, dt)
    dbuf, wbuf, ubuf = np.empty(4 * H * B, dt), np.empty(H * B, dt), np.empty(3 * H * B, dt)
    mbuf, pbuf, sc = np.empty(H * B, dt), np.empty(P * B, dt), np.empty(H * B, dt)
    prev = _prev_map(spec)
    for t in reversed(list(spec.order())):
        b = spec.batch_sizes[t]
        dhb, dcb, gt, tc = dh[:, :b], dc[:, :b], G[t], TC[t]
        dg, wb, u = _buf(dbuf, 4 * H, b), _buf(wbuf, H, b), _buf(ubuf, 3 * H, b)
        if DO is not None:
            dhb += DO[t]
        dm = dhb
        if spec.proj:
            dhs[:, off[t]:off[t + 1]] = dhb
            dm = np.matmul(w.whr.T, dhb, out=_buf(mbuf, H, b))
        i, f, o, g = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:]
        di, df, do, dgg = dg[:H], dg[H:2 * H], dg[2 * H:3 * H], dg[3 * H:]
        np.multiply(dm, tc, out=do)
        np.multiply(tc, tc, out=wb)  # dc += dm * o * (1 - tanh(c)^2)
        np.subtract(1, wb, out=wb)
        wb *= o
        wb *= dm
        dcb += wb
        np.multiply(dcb, g, out=di)
        np.multiply(dcb, prev_state(C, prev[t], c0T, b, sc), out=df)
        np.multiply(dcb, i, out=dgg)
        dcb *= f
        np.subtract(1, gt[:3 * H], out=u)  # sigmoid' = s (1 - s)
        u *= gt[:3 * H]
        dg[:3 * H] *= u
        np.multiply(g, g, out=wb)  # tanh' = 1 - g^2
        np.subtract(1, wb, out=wb)
        dgg *= wb
        dgr[:, off[t]:off[t + 1]] = dg
        if prev[t] is not None or need.h0:  # the first step's product only feeds grad h0
            _hidden_grad(w.whh_t, dg, dhb, pbuf)
    grads = stacked_grads(dgr, z, K, w, need, spec, P, x.shape[1])
    dwhr = None
    if spec.proj and need.w_hr:
        dwhr = np.matmul(dhs, columns(spec.steps(mm, H), spec, H, dt).T)
    return grads + (state_rows(dh), state_rows(dc), dwhr)


def _hidden_grad(whh_t, dg, dhb, pbuf):
    """dh_prev = W_hh.T @ dg, written into the (possibly strided) state gradient view."""
    if dhb.flags.c_contiguous:
        np.matmul(whh_t, dg, out=dhb)
    else:
        dhb[...] = np.matmul(whh_t, dg, out=_buf(pbuf, dhb.shape[0], dhb.shape[1]))
