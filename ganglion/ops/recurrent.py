"""Recurrent layers as fused ops: ``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu`` (torch's
``_VF`` functions behind ``nn.LSTM``/``nn.GRU``/``nn.RNN``, same arguments), and the cells
``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``.

Each layer and direction of a sequence is ONE op, :class:`FusedRecurrent`. With compiled
kernels on (``ganglion.backend.jit``; float32/float64 NumPy arrays) each step is one GEMM
h_{t-1} @ W_hh.T plus ONE kernel call that does all of the step's gate math and saves what
backward needs (nothing under no_grad), in torch's row layout and gate order, in x's own row
order (batch-first needs no transposes); input projections run a chunk of steps per GEMM, and
backward likewise does one GEMM + one kernel per step, then each weight gradient as one GEMM
over all steps (``recurrent_jit``, ``lstm_forward_jit``, ``gru_forward_jit``,
``rnn_forward_jit``). Otherwise the NumPy loop below runs: one GEMM per step and the gate
nonlinearities in place (``recurrent_kernels``, ``_lstm``, ``_gru``). For LSTM and Elman RNNs the input projection rides in that GEMM: [W_hh | W_ih | b]
times the stacked step block [h; x_t; 1] (measured: one K = H + I + 1 GEMM per step costs less
than a separate projection GEMM plus the per-step add and the bias pass); the GRU, whose
candidate gate keeps W_hn h apart, projects all steps with one batched GEMM before the loop.
Backward runs backpropagation through time on raw arrays in one loop and forms grad W_ih,
grad W_hh and grad b as ONE GEMM over all steps (grad x another). That backward is
once-differentiable: ``create_graph=True`` through it raises. The cells are compositions of
differentiable ops, so they support gradients of gradients.

Example:
    >>> import ganglion
    >>> w = [ganglion.randn(8, 3), ganglion.randn(8, 2), ganglion.zeros(8), ganglion.zeros(8)]
    >>> h0 = (ganglion.zeros(1, 4, 2), ganglion.zeros(1, 4, 2))
    >>> out, h, c = lstm(ganglion.randn(5, 4, 3), h0, w, True, 1, 0.0, False, False, False)
    >>> out.shape, h.shape
    (ganglion.Size([5, 4, 2]), ganglion.Size([1, 4, 2]))
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor, once_differentiable
from ganglion.backend import jit
from ganglion.ops import recurrent_gru as _gru
from ganglion.ops import recurrent_kernels as _k
from ganglion.ops import recurrent_lstm as _lstm
from ganglion.ops.movement_join import cat, stack
from ganglion.ops.random_dropout import dropout as _dropout
from ganglion.ops.recurrent_kernels import gate_rows as _gate_rows
from ganglion.ops.recurrent_kernels import pooled
from ganglion.ops.recurrent_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from ganglion.tensor import Tensor

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell",
           "rnn_relu_cell"]

TENSOR_METHODS = {}


class _Weights:
    """One layer-direction's weights as the kernels use them, in the internal gate order
    (LSTM: i, f, o, g), with the sigmoid gates' rows halved for the forward pass (see
    recurrent_kernels): ``wcat_f`` = [W_hh | W_ih | b] (LSTM, RNN) or ``wih_f``, ``whh_f`` and
    ``bias`` (GRU, plus the unhalved ``bhn``); ``wih`` and the transposed ``whh_t`` unhalved,
    for backward; ``whr`` the LSTM projection."""

    __slots__ = ("wih_f", "whh_f", "wcat_f", "bias", "bhn", "whr", "wih", "whh_t")

    def __init__(self):
        self.wih_f = self.whh_f = self.wcat_f = self.bias = self.bhn = None
        self.whr = self.wih = self.whh_t = None


def _bias(mode, b_ih, b_hh, H):
    if b_ih is None:
        return None
    if mode == "GRU":  # b_hn stays apart: it is multiplied by r
        return np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]])
    return b_ih + b_hh


def _prepare(spec, w_ih, w_hh, b_ih, b_hh, w_hr, record, need_x):
    w = _Weights()
    H, mode, lstm = spec.hidden, spec.mode, spec.mode == "LSTM"
    (G, P), I, dt = w_hh.shape, w_ih.shape[1], w_hh.dtype
    bias = _bias(mode, b_ih, b_hh, H)
    w.bias = None if bias is None else _gate_rows(np.empty_like(bias), bias, H, lstm)
    w.bhn = b_hh[2 * H:] if mode == "GRU" and b_hh is not None else None
    half = {"LSTM": 3 * H, "GRU": 2 * H}.get(mode, 0)  # rows of the sigmoid gates
    if mode == "GRU":
        w.wih_f = _gate_rows(pooled((G, I), dt), w_ih, H, lstm)
        w.whh_f = _gate_rows(pooled((G, P), dt), w_hh, H, lstm)
        forward = (w.wih_f, w.whh_f, w.bias)
    else:  # [W_hh | W_ih | b] against the stacked [h; x; 1] (recurrent_kernels)
        w.wcat_f = pooled((G, P + I + (w.bias is not None)), dt)
        _gate_rows(w.wcat_f[:, :P], w_hh, H, lstm)
        _gate_rows(w.wcat_f[:, P:P + I], w_ih, H, lstm)
        if w.bias is not None:
            w.wcat_f[:, -1] = w.bias
        forward = (w.wcat_f,)
    for a in forward:  # sigmoid(a) = 0.5 + 0.5 tanh(a / 2): halve those rows (exact)
        if a is not None and half:
            a[:half] *= 0.5
    w.whr = w_hr
    w.wih = _gate_rows(pooled((G, I), dt), w_ih, H, lstm) if record and need_x else None
    if record:  # (P, G), C-ordered: the backward's W_hh.T @ dG reads it row by row
        w.whh_t = pooled((P, G), dt)
        _gate_rows(w.whh_t.T, w_hh, H, lstm)
    return w


class _Need:
    __slots__ = ("x", "h0", "c0", "w_ih", "w_hh", "bias", "w_hr")

    def __init__(self, nig):
        self.x, self.h0, self.c0, self.w_ih, self.w_hh = nig[:5]
        self.bias = nig[5] or nig[6]
        self.w_hr = nig[7]


class FusedRecurrent(Op):
    """One layer-direction of an RNN/LSTM/GRU over a whole (packed-layout) sequence.

    Forward args: x (N, I), h0 (B, P), c0 (B, H) or None, w_ih, w_hh, b_ih, b_hh (or None),
    w_hr (or None), and a :class:`~ganglion.ops.recurrent_kernels.StepSpec`. Returns
    (output (N, P), h_n (B, P)) and, for LSTM, c_n (B, H).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, spec):
        record = ctx._record
        ctx.jit = _jit_ok(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        if ctx.jit:
            if spec.mode == "LSTM":
                out, h, c, saved = _lstm.lstm_forward_jit(x, h0, c0, w_ih, w_hh, b_ih, b_hh,
                                                          w_hr, spec, record)
                result = (out, h, c)
            else:
                fwd = _gru.gru_forward_jit if spec.mode == "GRU" else _gru.rnn_forward_jit
                out, h, saved = fwd(x, h0, w_ih, w_hh, b_ih, b_hh, spec, record)
                result = (out, h)
            if record:
                ctx.spec = spec
                ctx.save_for_backward(x, w_ih, w_hh, w_hr, *saved)
                ctx.set_materialize_grads(False)
            return result
        w = _prepare(spec, w_ih, w_hh, b_ih, b_hh, w_hr, record, record and
                     ctx.needs_input_grad[0])
        if spec.mode == "LSTM":
            out, h, c, saved = _lstm.lstm_forward(x, h0, c0, w, spec, record)
            result = (out, h, c)
        elif spec.mode == "GRU":
            out, h, saved = _gru.gru_forward(x, h0, w, spec, record)
            result = (out, h)
        else:
            out, h, saved = _gru.rnn_forward(x, h0, w, spec, record)
            result = (out, h)
        if record:
            ctx.spec = spec
            ctx.save_for_backward(x, w.wih, w.whh_t, w_hr, *saved)
            ctx.set_materialize_grads(False)  # an unused output costs no zero-filled pass
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, dh_n, dc_n=None):
        spec = ctx.spec
        x, wih, whh_t, whr, *saved = (t.array if isinstance(t, Tensor) else t
                                      for t in ctx.saved_tensors)
        w = _Weights()
        w.wih, w.whh_t, w.whr = wih, whh_t, whr
        need = _Need(ctx.needs_input_grad)
        dout, dh_n, dc_n = (None if g is None else g.array for g in (dout, dh_n, dc_n))
        dc0 = dwhr = None
        if ctx.jit:  # saved: x, W_ih, W_hh, W_hr as given, then the loop's arrays
            if spec.mode == "LSTM":
                dx, dwih, dwhh, dbih, dbhh, dh0, dc0, dwhr = _lstm.lstm_backward_jit(
                    x, dout, dh_n, dc_n, wih, whh_t, whr, saved, spec, need)
            else:
                bwd = _gru.gru_backward_jit if spec.mode == "GRU" else _gru.rnn_backward_jit
                dx, dwih, dwhh, dbih, dbhh, dh0 = bwd(x, dout, dh_n, wih, whh_t, saved, spec,
                                                      need)
            return _grads_out(ctx, (dx, dh0, dc0, dwih, dwhh, dbih, dbhh, dwhr))
        if spec.mode == "LSTM":
            dx, dwih, dwhh, dbih, dbhh, dh0, dc0, dwhr = _lstm.lstm_backward(
                x, dout, dh_n, dc_n, w, saved, spec, need)
        elif spec.mode == "GRU":
            dx, dwih, dwhh, dbih, dbhh, dh0 = _gru.gru_backward(x, dout, dh_n, w, saved, spec,
                                                                need)
        else:
            dx, dwih, dwhh, dbih, dbhh, dh0 = _gru.rnn_backward(x, dout, dh_n, w, saved, spec,
                                                                need)
        return _grads_out(ctx, (dx, dh0, dc0, dwih, dwhh, dbih, dbhh, dwhr))


def _grads_out(ctx, grads):
    return tuple(_new_tensor(g) if g is not None and n else None
                 for g, n in zip(grads, ctx.needs_input_grad)) + (None,)


def _jit_ok(*arrays):
    """The compiled LSTM loop runs for float32/float64 NumPy arrays while kernels are on."""
    arrays = [a for a in arrays if a is not None]
    return arrays[0].dtype in (np.float32, np.float64) and jit.enabled_for(*arrays)


def _layer_params(params, has_biases, num_layers, num_dirs, who):
    """Split torch's flat weight list into (w_ih, w_hh, b_ih, b_hh, w_hr) per layer-direction."""
    params = list(params)
    n = num_layers * num_dirs
    per = len(params) // n if n else 0
    base = 4 if has_biases else 2
    if per * n != len(params) or per not in (base, base + 1):
        raise RuntimeError(f"{who}: got {len(params)} weights for num_layers={num_layers}, "
                           f"bidirectional={num_dirs == 2}, has_biases={has_biases}; expected "
                           f"{base * n} (or {(base + 1) * n} with projections).")
    out = []
    for k in range(n):
        p = params[k * per:(k + 1) * per]
        b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
        out.append((p[0], p[1], b_ih, b_hh, p[base] if per > base else None))
    return out


def _run(mode, x2d, hx, params, has_biases, num_layers, dropout, train, bidirectional,
         batch_sizes, batch_major, who):
    """All layers and directions over a (N, I) sequence; returns (out (N, D*P), [h_n], [c_n])."""
    dirs = 2 if bidirectional else 1
    layers = _layer_params(params, has_biases, num_layers, dirs, who)
    h0s, c0s = hx
    layer_in, hs, cs = x2d, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w_ih, w_hh, b_ih, b_hh, w_hr = layers[k]
            hidden = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
            spec = _k.StepSpec(mode, hidden, 0 if w_hr is None else w_hr.shape[0], d == 1,
                               batch_sizes, batch_major)
            res = FusedRecurrent.apply(layer_in, h0s[k], None if c0s is None else c0s[k],
                                       w_ih, w_hh, b_ih, b_hh, w_hr, spec)
            outs.append(res[0])
            hs.append(res[1])
            if mode == "LSTM":
                cs.append(res[2])
        layer_in = outs[0] if dirs == 1 else cat(outs, 1)
        if dropout > 0 and train and layer < num_layers - 1:
            layer_in = _dropout(layer_in, dropout, True)
    return layer_in, stack(hs), (stack(cs) if cs else None)


def _check_sequence(input, who):
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim != 3:
        raise RuntimeError(f"{who}: input must have 3 dimensions (seq_len, batch, input_size) "
                           f"or (batch, seq_len, input_size) with batch_first, got shape "
                           f"{tuple(input.shape)}")


def _check_dtypes(x, tensors, who):
    for t in tensors:
        if isinstance(t, Tensor) and t.dtype != x.dtype:
            raise RuntimeError(f"{who}: input dtype {x.dtype} does not match a weight or hidden "
                               f"state of dtype {t.dtype} (shape {tuple(t.shape)}); convert "
                               f"one side with .to(dtype).")


def _call(mode, args, who):
    """Dispatch torch's two overloads: (input, hx, params, has_biases, num_layers, dropout,
    train, bidirectional, batch_first) and (data, batch_sizes, hx, params, has_biases,
    num_layers, dropout, train, bidirectional)."""
    input, a1, a2 = args[:3]
    if isinstance(a1, Tensor) and (mode == "LSTM" or isinstance(a2, Tensor)):
        hx, (params, has_biases, num_layers, dropout, train, bidirectional) = a2, args[3:]
        sizes = tuple(int(b) for b in np.asarray(a1.array).reshape(-1))
        x2d, batch_major, shape = input, False, None
    else:
        hx, params = a1, a2
        has_biases, num_layers, dropout, train, bidirectional, batch_first = args[3:]
        _check_sequence(input, who)
        n0, n1, feat = input.shape
        sizes = (n0,) * n1 if batch_first else (n1,) * n0
        x2d, batch_major, shape = input.reshape(n0 * n1, feat), bool(batch_first), (n0, n1)
    if not sizes:
        raise RuntimeError(f"{who}: Expected sequence length to be larger than 0 in RNN")
    h0, c0 = (hx[0], hx[1]) if mode == "LSTM" else (hx, None)
    _check_dtypes(x2d, [h0, c0] + list(params), who)
    out, h, c = _run(mode, x2d, (h0, c0), params, has_biases, num_layers, dropout, train,
                     bidirectional, sizes, batch_major, who)
    if shape is not None:
        out = out.reshape(shape + (out.shape[-1],))
    return (out, h, c) if mode == "LSTM" else (out, h)


def lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
         batch_first=False):
    """Multi-layer LSTM over a sequence (torch.lstm, the function behind ``nn.LSTM``).

    ``hx`` is (h0, c0) of shapes (L*D, B, P) and (L*D, B, H); ``params`` is the flat list
    w_ih, w_hh[, b_ih, b_hh][, w_hr] per layer and direction. Returns (output, h_n, c_n).
    Also called as ``lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout,
    train, bidirectional)`` for packed data (``batch_sizes``: an int64 tensor).

    Example:
        >>> import ganglion
        >>> w = [ganglion.randn(8, 3), ganglion.randn(8, 2)]
        >>> hx = (ganglion.zeros(1, 1, 2), ganglion.zeros(1, 1, 2))
        >>> lstm(ganglion.randn(4, 1, 3), hx, w, False, 1, 0.0, False, False,
        ...               False)[0].shape
        ganglion.Size([4, 1, 2])
    """
    return _call("LSTM", (input, hx, params, has_biases, num_layers, dropout, train,
                          bidirectional, batch_first), "lstm")


def gru(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
        batch_first=False):
    """Multi-layer GRU over a sequence (torch.gru, behind ``nn.GRU``): (output, h_n).

    ``hx`` is h0 of shape (L*D, B, H); ``params`` is the flat list w_ih, w_hh[, b_ih, b_hh]
    per layer and direction. Also called as ``gru(data, batch_sizes, hx, params, has_biases,
    num_layers, dropout, train, bidirectional)`` for packed data.

    Example:
        >>> import ganglion
        >>> w = [ganglion.randn(6, 3), ganglion.randn(6, 2)]
        >>> out, h = gru(ganglion.randn(4, 1, 3), ganglion.zeros(1, 1, 2), w, False,
        ...                       1, 0.0, False, False, False)
        >>> h.shape
        ganglion.Size([1, 1, 2])
    """
    return _call("GRU", (input, hx, params, has_biases, num_layers, dropout, train,
                         bidirectional, batch_first), "gru")


def rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first=False):
    """Multi-layer Elman RNN with tanh (torch.rnn_tanh, behind ``nn.RNN``): (output, h_n).

    Arguments as :func:`gru`, packed overload included.

    Example:
        >>> import ganglion
        >>> w = [ganglion.randn(2, 3), ganglion.randn(2, 2)]
        >>> rnn_tanh(ganglion.randn(4, 1, 3), ganglion.zeros(1, 1, 2), w, False, 1,
        ...                   0.0, False, False, False)[0].shape
        ganglion.Size([4, 1, 2])
    """
    return _call("RNN_TANH", (input, hx, params, has_biases, num_layers, dropout, train,
                              bidirectional, batch_first), "rnn_tanh")


def rnn_relu(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first=False):
    """Multi-layer Elman RNN with relu (torch.rnn_relu, behind ``nn.RNN``): (output, h_n).

    Arguments as :func:`gru`, packed overload included. relu's subgradient at 0 is 0.

    Example:
        >>> import ganglion
        >>> w = [ganglion.randn(2, 3), ganglion.randn(2, 2)]
        >>> rnn_relu(ganglion.randn(4, 1, 3), ganglion.zeros(1, 1, 2), w, False, 1,
        ...                   0.0, False, False, False)[1].shape
        ganglion.Size([1, 1, 2])
    """
    return _call("RNN_RELU", (input, hx, params, has_biases, num_layers, dropout, train,
                              bidirectional, batch_first), "rnn_relu")
