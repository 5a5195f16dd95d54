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
from ganglion.ops.recurrent_lstm import (InputChunks, _buf, _grad_state, _hidden_grad, _prev_map,
                                         forward_steps, grad_rows, row_index,
                                         stacked_inputs_rows, stacked_weight_grads, step_rows)

__all__ = ["gru_forward", "gru_backward", "rnn_forward", "rnn_backward", "gru_forward_jit",
           "gru_backward_jit", "rnn_forward_jit", "rnn_backward_jit"]


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


# -- compiled paths (recurrent_jit): rows layout, one GEMM + one kernel call per step --------

def rnn_forward_jit(x, h0, w_ih, w_hh, b_ih, b_hh, spec, record):
    """Elman RNN with the compiled step kernel (layout as ``lstm_forward_jit``): (out, h_n,
    saved)."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415 - numba only when on

    H, B, N, dt = spec.hidden, spec.B, spec.N, x.dtype
    relu = spec.mode == "RNN_RELU"
    whh_t, xin = np.ascontiguousarray(w_hh.T), InputChunks(x, w_ih, spec)
    bias = np.zeros(H, dt) if b_ih is None else b_ih + b_hh
    h, out, hh = np.array(h0, dt, order="C"), np.empty((N, H), dt), np.empty((B, H), dt)
    ys = pooled((N if record else B, H), dt)
    z = stacked_inputs_rows(x, H, b_ih is not None, N, dt) if record else np.empty((B, H), dt)
    for _, b, ob, os, sb, ss, xp, xb in forward_steps(spec, record, xin, h, whh_t, hh):
        _rj.rnn_forward_step(hh[:b], xp, xb, bias, h, ys, sb, ss, z, out, ob, os, relu)
    return out, h, ((ys, z) if record else None)


def rnn_backward_jit(x, dout, dh_n, w_ih, w_hh, saved, spec, need):
    """BPTT for :func:`rnn_forward_jit`: (dx, dW_ih, dW_hh, db_ih, db_hh, dh0)."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415

    ys, z = saved
    H, B, dt = spec.hidden, spec.B, x.dtype
    dg, dh = pooled((spec.N, H), dt), grad_rows(dh_n, (B, H), dt)
    dout, zero = _dout_rows(dout, H, dt)
    order = list(spec.order())
    for t in reversed(order):
        b = spec.batch_sizes[t]
        sb, ss = row_index(spec, t)
        ob, os = (sb, ss) if dout is not zero else (0, 0)
        _rj.rnn_backward_step(ys, sb, ss, b, dh, dout, ob, os, dg, spec.mode == "RNN_RELU")
        if t != order[0] or need.h0:  # the first step's product only feeds grad h0
            np.matmul(step_rows(dg, spec, t), w_hh, out=dh[:b])
    return stacked_weight_grads(dg, z, w_ih, H, need) + (dh,)


def gru_forward_jit(x, h0, w_ih, w_hh, b_ih, b_hh, spec, record):
    """GRU with the compiled step kernel (layout as ``lstm_forward_jit``): (out, h_n, saved)."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415

    H, B, N, dt = spec.hidden, spec.B, spec.N, x.dtype
    whh_t, xin = np.ascontiguousarray(w_hh.T), InputChunks(x, w_ih, spec)
    if b_ih is None:
        bias, bhn = np.zeros(3 * H, dt), np.zeros(H, dt)
    else:  # b_hn stays apart: it is multiplied by r
        bias, bhn = np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]]), b_hh[2 * H:]
    h, out, hh = np.array(h0, dt, order="C"), np.empty((N, H), dt), np.empty((B, 3 * H), dt)
    rows = N if record else B
    gs, hps = pooled((rows, 4 * H), dt), pooled((rows, H), dt)
    for _, b, ob, os, sb, ss, xp, xb in forward_steps(spec, record, xin, h, whh_t, hh):
        _rj.gru_forward_step(hh[:b], xp, xb, bias, bhn, h, gs, sb, ss, hps, out, ob, os)
    return out, h, ((gs, hps) if record else None)


def gru_backward_jit(x, dout, dh_n, w_ih, w_hh, saved, spec, need):
    """BPTT for :func:`gru_forward_jit`: (dx, dW_ih, dW_hh, db_ih, db_hh, dh0)."""
    from ganglion.ops import recurrent_jit as _rj  # noqa: PLC0415

    gs, hps = saved
    H, B, N, dt = spec.hidden, spec.B, spec.N, x.dtype
    dgx, dgh = pooled((N, 3 * H), dt), pooled((N, 3 * H), dt)
    dh, tmp = grad_rows(dh_n, (B, H), dt), np.empty((B, H), dt)
    dout, zero = _dout_rows(dout, H, dt)
    for t in reversed(list(spec.order())):
        b = spec.batch_sizes[t]
        sb, ss = row_index(spec, t)
        ob, os = (sb, ss) if dout is not zero else (0, 0)
        _rj.gru_backward_step(gs, hps, sb, ss, b, dh, dout, ob, os, dgx, dgh)
        dh[:b] += np.matmul(step_rows(dgh, spec, t), w_hh, out=tmp[:b])
    dx = np.matmul(dgx, w_ih) if need.x else None
    dwih = np.matmul(dgx.T, x) if need.w_ih else None
    dwhh = np.matmul(dgh.T, hps) if need.w_hh else None
    db_ih = np.add.reduce(dgx, axis=0) if need.bias else None
    db_hh = np.add.reduce(dgh, axis=0) if need.bias else None
    return dx, dwih, dwhh, db_ih, db_hh, dh


def _dout_rows(dout, F, dt):
    """(output gradient rows, zero row): a C-ordered dout, or the (1, F) zero row itself that
    the kernels read with stride 0 when the output got no gradient."""
    zero = np.zeros((1, F), dt)
    return (zero if dout is None else np.ascontiguousarray(dout, dtype=dt)), zero
