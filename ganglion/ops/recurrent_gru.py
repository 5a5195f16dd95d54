"""GRU and Elman-RNN time loops (forward and backpropagation through time) on raw arrays, in
the column layout of :mod:`ganglion.ops.recurrent_kernels`. GRU gates in torch's order r, z, n.

Example:
    >>> import numpy as np
    >>> from ganglion.ops.recurrent_kernels import StepSpec
    >>> spec = StepSpec("RNN_TANH", 2, 0, False, (1, 1), False)
    >>> class W: wcat_f, bias = np.zeros((2, 5)), None  # [W_hh | W_ih], no bias
    >>> out, h, _ = rnn_forward(np.ones((2, 3)), np.zeros((1, 2)), W, spec, False)
    >>> out.shape
    (2, 2)
"""
from __future__ import annotations

import numpy as np

from ganglion.ops.recurrent_kernels import (final_state, from_rows, hprev_columns, input_grads,
                                            pooled, prev_state, project, sigmoid_from_tanh,
                                            stacked_grads, stacked_inputs, stacked_rows, state_rows,
                                            to_rows)
from ganglion.ops.recurrent_lstm import _buf, _grad_state, _hidden_grad, _prev_map

__all__ = ["gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]


def gru_forward(x, h0, w, spec, record):
    """GRU over the sequence: (out (N, H), h_n (B, H), saved)."""
    H, dt, B = spec.hidden, x.dtype, spec.B
    gates = project(x, w.wih_f, w.bias, spec)  # b_hn stays out: it is inside r * (...)
    outc, hns = spec.empty(H, dt), spec.empty(H, dt, record)
    h0T = state_rows(h0)
    G, OUT, HN = (spec.steps(a, n) for a, n in ((gates, 3 * H), (outc, H), (hns, H)))
    tmp, wbuf, sh = np.empty(3 * H * B, dt), np.empty(H * B, dt), np.empty(H * B, dt)
    bhn = None if w.bhn is None else w.bhn[:, None]
    t_prev = None
    for t in spec.order():
        b = spec.batch_sizes[t]
        hb, g_all = prev_state(OUT, t_prev, h0T, b, sh), G[t]
        hh, wb = _buf(tmp, 3 * H, b), _buf(wbuf, H, b)
        np.matmul(w.whh_f, hb, out=hh)
        rz = g_all[:2 * H]
        rz += hh[:2 * H]
        np.tanh(rz, out=rz)
        sigmoid_from_tanh(rz)
        r, z, n, hn = g_all[:H], g_all[H:2 * H], g_all[2 * H:], hh[2 * H:]
        if bhn is not None:
            hn += bhn
        if record:
            HN[t][...] = hn
        np.multiply(r, hn, out=wb)
        n += wb
        np.tanh(n, out=n)
        np.subtract(hb, n, out=wb)  # h' = n + z * (h - n)
        wb *= z
        np.add(n, wb, out=OUT[t])
        t_prev = t
    h_n = state_rows(final_state(OUT, h0T, spec))
    return to_rows(outc, H, spec), h_n, ((gates, outc, hns, h0T) if record else None)


def gru_backward(x, dout, dh_n, w, saved, spec, need):
    """BPTT for :func:`gru_forward`: (dx, dW_ih, dW_hh, db_ih, db_hh, dh0)."""
    gates, outc, hns, h0T = saved
    H, dt, B, off = spec.hidden, x.dtype, spec.B, spec.offsets
    G, OUT, HN = (spec.steps(a, n) for a, n in ((gates, 3 * H), (outc, H), (hns, H)))
    DO = None if dout is None else spec.steps(from_rows(dout, spec), H)
    dgx, dgh = pooled((3 * H, spec.N), dt), pooled((3 * H, spec.N), dt)
    dh = _grad_state(dh_n, H, B, dt)
    xbuf, hbuf, wbuf = np.empty(3 * H * B, dt), np.empty(3 * H * B, dt), np.empty(H * B, dt)
    ubuf, pbuf, sh = np.empty(2 * H * B, dt), np.empty(H * B, dt), np.empty(H * B, dt)
    prev = _prev_map(spec)
    for t in reversed(list(spec.order())):
        b = spec.batch_sizes[t]
        dhb, gt, wb, u = dh[:, :b], G[t], _buf(wbuf, H, b), _buf(ubuf, 2 * H, b)
        dxt, dht = _buf(xbuf, 3 * H, b), _buf(hbuf, 3 * H, b)
        if DO is not None:
            dhb += DO[t]
        r, z, n = gt[:H], gt[H:2 * H], gt[2 * H:]
        dr, dz, dn = dxt[:H], dxt[H:2 * H], dxt[2 * H:]
        np.subtract(prev_state(OUT, prev[t], h0T, b, sh), n, out=wb)
        np.multiply(dhb, wb, out=dz)
        np.subtract(1, z, out=wb)
        np.multiply(dhb, wb, out=dn)
        np.multiply(n, n, out=wb)  # tanh' = 1 - n^2
        np.subtract(1, wb, out=wb)
        dn *= wb
        np.multiply(dn, r, out=dht[2 * H:])  # grad of W_hn h + b_hn
        np.multiply(dn, HN[t], out=dr)
        np.subtract(1, gt[:2 * H], out=u)  # sigmoid' = s (1 - s)
        u *= gt[:2 * H]
        dxt[:2 * H] *= u
        dht[:2 * H] = dxt[:2 * H]
        dgx[:, off[t]:off[t + 1]] = dxt
        dgh[:, off[t]:off[t + 1]] = dht
        dhb *= z
        dhb += np.matmul(w.whh_t, dht, out=_buf(pbuf, H, b))
    hp = hprev_columns(OUT, h0T, spec, pbuf) if need.w_hh else None
    return input_grads(x, dgx, dgh, hp, w, need, spec) + (state_rows(dh),)


def rnn_forward(x, h0, w, spec, record):
    """tanh or relu RNN over the sequence: (out, h_n, saved)."""
    H, dt, B = spec.hidden, x.dtype, spec.B
    K = stacked_rows(x, H, w.bias is not None)
    z = stacked_inputs(x, H, w.bias is not None, spec)
    gates = spec.empty(H, dt)  # the pre-activations become the output in place
    h0T = state_rows(h0)
    Y, Z = spec.steps(gates, H), spec.steps(z, K)
    sh = np.empty(H * B, dt)
    relu = spec.mode == "RNN_RELU"
    t_prev = None
    for t in spec.order():
        y = Y[t]
        Z[t][:H] = prev_state(Y, t_prev, h0T, spec.batch_sizes[t], sh)
        np.matmul(w.wcat_f, Z[t], out=y)  # W_hh h + W_ih x + b in one GEMM
        if relu:
            np.maximum(y, 0, out=y)
        else:
            np.tanh(y, out=y)
        t_prev = t
    h_n = state_rows(final_state(Y, h0T, spec))
    return to_rows(gates, H, spec), h_n, ((gates, h0T, z, K) if record else None)


def rnn_backward(x, dout, dh_n, w, saved, spec, need):
    """BPTT for :func:`rnn_forward`: (dx, dW_ih, dW_hh, db_ih, db_hh, dh0). relu's subgradient
    at 0 is 0, as torch's (the mask is out > 0)."""
    gates, _, z, K = saved
    H, dt, B, off = spec.hidden, x.dtype, spec.B, spec.offsets
    Y = spec.steps(gates, H)
    DO = None if dout is None else spec.steps(from_rows(dout, spec), H)
    dgr = pooled((H, spec.N), dt)
    dh = _grad_state(dh_n, H, B, dt)
    dbuf, wbuf, pbuf = np.empty(H * B, dt), np.empty(H * B, dt), np.empty(H * B, dt)
    relu = spec.mode == "RNN_RELU"
    t_first = next(iter(spec.order()), None)
    for t in reversed(list(spec.order())):
        b = spec.batch_sizes[t]
        dhb, y, d, wb = dh[:, :b], Y[t], _buf(dbuf, H, b), _buf(wbuf, H, b)
        if DO is not None:
            dhb += DO[t]
        if relu:
            np.greater(y, 0, out=wb)
        else:
            np.multiply(y, y, out=wb)
            np.subtract(1, wb, out=wb)
        np.multiply(dhb, wb, out=d)
        dgr[:, off[t]:off[t + 1]] = d
        if t_first != t or need.h0:  # the first step's product only feeds grad h0
            _hidden_grad(w.whh_t, d, dhb, pbuf)
    return stacked_grads(dgr, z, K, w, need, spec, H, x.shape[1]) + (state_rows(dh),)
