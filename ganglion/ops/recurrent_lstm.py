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

__all__ = ["lstm_forward", "lstm_backward", "lstm_forward_jit", "lstm_backward_jit",
           "forward_steps", "InputChunks", "stacked_weight_grads"]


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


# -- compiled path (recurrent_jit): rows layout, one GEMM + one kernel call per step ----------

def row_index(spec, t):
    """(first row, row stride) of step t's rows in x's row order."""
    if spec.batch_major:
        return t, spec.T
    return spec.offsets[t], 1


def step_rows(a, spec, t):
    """Step t's (b_t, F) rows of an (N, F) array in x's order: a view (strided if batch-major)."""
    if spec.batch_major:
        return a.reshape(spec.B, spec.T, a.shape[1])[:, t]
    off = spec.offsets
    return a[off[t]:off[t + 1]]


class InputChunks:
    """The input projections x_t @ W_ih.T, a few steps at a time (about 1 MiB), each chunk
    computed by one GEMM just before its steps run: the whole sequence's projections (16 MiB
    for W4) went to memory and back, and reading them cost the step kernel more than its math
    (measured: 50 of its 100 us per step). Rows of a chunk are time-major, stride 1."""

    def __init__(self, x, w_ih, spec):
        self.x, self.spec, self.wt = x, spec, np.ascontiguousarray(w_ih.T)
        G, B = w_ih.shape[0], max(spec.B, 1)
        self.steps = max(1, (1 << 20) // (B * G * x.dtype.itemsize))
        self.buf = np.empty((min(self.steps, spec.T) * B, G), x.dtype)
        self.t0 = self.t1 = -1

    def rows(self, t):
        """(projections, first row) of step t's rows."""
        spec, off = self.spec, self.spec.offsets
        if not self.t0 <= t < self.t1:
            self.t0 = t0 = t - t % self.steps
            self.t1 = t1 = min(spec.T, t0 + self.steps)
            n = off[t1] - off[t0]
            if spec.batch_major:  # (B, T, I) -> this chunk's steps, time-major
                x3 = self.x.reshape(spec.B, spec.T, -1)[:, t0:t1].transpose(1, 0, 2)
                xc = np.ascontiguousarray(x3).reshape(n, -1)
            else:
                xc = self.x[off[t0]:off[t1]]
            np.matmul(xc, self.wt, out=self.buf[:n])
        return self.buf, off[t] - off[self.t0]


def forward_steps(spec, record, xin, h, whh_t, hh):
    """The step loop of the compiled forwards: for each step, in order, hh[:b] = h[:b] @ W_hh.T
    is done, then (t, b, out rows (first, stride), saved rows (first, stride), input
    projections, their first row) are yielded for the step kernel."""
    for t in spec.order():
        b = spec.batch_sizes[t]
        ob, os = row_index(spec, t)
        xp, xb = xin.rows(t)
        np.matmul(h[:b], whh_t, out=hh[:b])
        yield (t, b, ob, os) + ((ob, os) if record else (0, 1)) + (xp, xb)


def lstm_forward_jit(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, spec, record):
    """LSTM over the sequence with the compiled step kernel; torch's gate order and weights as
    they are. x (N, I), h0 (B, P), c0 (B, H), rows. Returns (out (N, P), h_n, c_n, saved)."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415 - numba only when on

    H, P, B, N, dt = spec.hidden, h0.shape[1], spec.B, spec.N, x.dtype
    proj = w_hr is not None
    whh_t = np.ascontiguousarray(w_hh.T)  # (P, 4H): the per-step GEMM reads it row by row
    xin = InputChunks(x, w_ih, spec)
    bias = np.zeros(4 * H, dt) if b_ih is None else b_ih + b_hh
    h, c = np.array(h0, dt, order="C"), np.array(c0, dt, order="C")
    out = np.empty((N, P), dt)
    hh = np.empty((B, 4 * H), dt)
    rows = N if record else B  # saved arrays, or per-step scratch rows
    if record or proj:
        gs, cps, tcs = pooled((rows, 4 * H), dt), pooled((rows, H), dt), pooled((rows, H), dt)
    hps = stacked_inputs_rows(x, P, b_ih is not None, N, dt) if record else None
    m = np.empty((B, H), dt) if proj else None  # the kernel's "h" when projecting
    mm = pooled((N, H), dt) if record and proj else (np.empty((B, H), dt) if proj else None)
    mh = pooled((rows, H), dt) if proj else None  # where the kernel copies the old m: unused
    for t, b, ob, os, sb, ss, xp, xb in forward_steps(spec, record, xin, h, whh_t, hh):
        if proj:
            if record:
                step_rows(hps, spec, t)[:, :P] = h[:b]
            _rj.lstm_forward(hh[:b], xp, xb, 1, bias, c, m, gs, sb, ss, cps, tcs, mh, mm, sb,
                             ss, _rj.blocks(b, 4 * H))
            np.matmul(m[:b], w_hr.T, out=h[:b])
            step_rows(out, spec, t)[...] = h[:b]
        elif record:
            _rj.lstm_forward(hh[:b], xp, xb, 1, bias, c, h, gs, sb, ss, cps, tcs, hps, out,
                             ob, os, _rj.blocks(b, 4 * H))
        else:
            _rj.lstm_infer(hh[:b], xp, xb, 1, bias, c, h, out, ob, os, _rj.blocks(b, 4 * H))
    saved = (gs, cps, tcs, hps, mm) if record else None
    return out, h, c, saved


def lstm_backward_jit(x, dout, dh_n, dc_n, w_ih, w_hh, w_hr, saved, spec, need):
    """BPTT for :func:`lstm_forward_jit`: (dx, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0, dW_hr)
    in torch's gate order; each weight gradient is one GEMM over all steps."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415

    gs, cps, tcs, hps, mm = saved
    H, P, B, N, dt = spec.hidden, w_hh.shape[1], spec.B, spec.N, x.dtype
    proj = w_hr is not None
    dg = pooled((N, 4 * H), dt)
    dh, dc = grad_rows(dh_n, (B, P), dt), grad_rows(dc_n, (B, H), dt)
    zero = np.zeros((1, H), dt)  # H wide: with a projection the kernel reads dL/dm rows
    if dout is not None:
        dout = np.ascontiguousarray(dout, dtype=dt)
    dhs = pooled((N, P), dt) if proj else None  # dL/dh per step, for grad W_hr
    dm = np.empty((B, H), dt) if proj else None
    order = list(spec.order())
    for t in reversed(order):
        b = spec.batch_sizes[t]
        sb, ss = row_index(spec, t)
        nb = _rj.blocks(b, 4 * H)
        if proj:
            dht = step_rows(dhs, spec, t)
            np.copyto(dht, dh[:b])
            if dout is not None:
                dht += step_rows(dout, spec, t)
            np.matmul(dht, w_hr, out=dm[:b])
            _rj.lstm_backward(gs, cps, tcs, sb, ss, b, dm, dc, zero, 0, 0, dg, nb)
        elif dout is None:
            _rj.lstm_backward(gs, cps, tcs, sb, ss, b, dh, dc, zero, 0, 0, dg, nb)
        else:
            _rj.lstm_backward(gs, cps, tcs, sb, ss, b, dh, dc, dout, sb, ss, dg, nb)
        if t != order[0] or need.h0:  # the first step's product only feeds grad h0
            np.matmul(step_rows(dg, spec, t), w_hh, out=dh[:b])
    dwhr = np.matmul(dhs.T, mm) if proj and need.w_hr else None
    return stacked_weight_grads(dg, hps, w_ih, P, need) + (dh, dc, dwhr)


def stacked_weight_grads(dg, z, w_ih, P, need):
    """(dx, dW_ih, dW_hh, db_ih, db_hh) from the (N, G) pre-activation gradients and the
    rows z = [h_prev | x | 1]: [dW_hh | dW_ih | db] = dG.T @ z is one GEMM, dx = dG @ W_ih."""
    dx = np.matmul(dg, w_ih) if need.x else None
    dwih = dwhh = db_ih = db_hh = None
    if need.w_ih or need.w_hh or need.bias:
        dw = np.matmul(dg.T, z, out=pooled((dg.shape[1], z.shape[1]), dg.dtype))
        I = w_ih.shape[1]
        dwhh, dwih = np.ascontiguousarray(dw[:, :P]), np.ascontiguousarray(dw[:, P:P + I])
        if z.shape[1] > P + I:  # a fresh array for each bias: a leaf may adopt it
            db_ih, db_hh = dw[:, -1].copy(), dw[:, -1].copy()
    return dx, dwih, dwhh, db_ih, db_hh


def stacked_inputs_rows(x, P, bias, N, dt):
    """(N, P + I [+ 1]) rows [h_prev | x | 1] in x's order; the forward kernel fills h_prev.
    Backward's grad [W_hh | W_ih | b] is then ONE GEMM over all steps: separate GEMMs for
    grad W_ih (N = I = 64 columns runs at 2/3 of the GEMM rate) and a bias sum cost more."""
    I = x.shape[1]
    z = pooled((N, P + I + bias), dt)
    z[:, P:P + I] = x
    if bias:
        z[:, P + I] = 1
    return z


def grad_rows(g, shape, dt):
    """A fresh writable (B, F) state-gradient carry (an incoming one may be a broadcast)."""
    return np.zeros(shape, dt) if g is None else np.array(g, dt, order="C")
