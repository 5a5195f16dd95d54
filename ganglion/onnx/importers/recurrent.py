"""ONNX LSTM, GRU and RNN nodes run with ganglion's fused recurrent layers.

The ONNX gate order (LSTM i, o, f, c; GRU z, r, h) is turned back into torch's (i, f, g, o;
r, z, n) with differentiable ops, so gradients reach the ONNX initializers W, R, B. A
``reverse`` node runs forward over the time-flipped input. Only the default activations,
no clipping, no peepholes, no coupled input-forget gate and (GRU) linear_before_reset=1
(torch's formulation) are supported.
"""
from __future__ import annotations

import ganglion
from ganglion.onnx.converters.recurrent import ONNX_GATE_ORDER
from ganglion.onnx.importers._registry import register, unsupported
from ganglion.ops import recurrent as rec

__all__: list = []

_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def _to_torch_order(w, mode, hidden):
    """Rows of one direction's ONNX weight (gates in ONNX order) in torch's gate order."""
    order = ONNX_GATE_ORDER[mode]
    if len(order) == 1:
        return w
    chunks = ganglion.split(w, hidden, 0)
    return ganglion.cat([chunks[order.index(j)] for j in range(len(order))], 0)


def _check(op, mode, attrs, ins):
    acts = attrs.get("activations")
    # a bidirectional node lists the forward direction's activations, then the reverse's
    if mode in _DEFAULT_ACTS and acts is not None and list(acts) != (_DEFAULT_ACTS[mode] * 2)[
            :len(acts)]:
        unsupported(op, f"activations={acts}")
    if attrs.get("clip") is not None:
        unsupported(op, "clip")
    if attrs.get("input_forget", 0):
        unsupported(op, "input_forget=1")
    if mode == "LSTM" and len(ins) > 7 and ins[7] is not None:
        unsupported(op, "peepholes (input P)")
    if mode == "GRU" and not attrs.get("linear_before_reset", 0):
        unsupported(op, "linear_before_reset=0 (only torch's formulation, 1, is supported)")
    if len(ins) > 4 and ins[4] is not None:
        lens = ins[4].array
        t = ins[0].shape[1 if attrs.get("layout", 0) else 0]
        if (lens != t).any():
            unsupported(op, "sequence_lens shorter than the sequence")


def _run(op, mode, ins, attrs):
    _check(op, mode, attrs, ins)
    x, w, r = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    layout = attrs.get("layout", 0)
    if layout:
        x = x.transpose(0, 1)
    H = attrs["hidden_size"]
    direction = attrs.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    T, B = x.shape[0], x.shape[1]

    def state(i):
        t = ins[i] if len(ins) > i else None
        if t is None:
            return ganglion.zeros(D, B, H, dtype=x.dtype)
        return t.transpose(0, 1) if layout else t

    params = []
    for d in range(D):
        params += [_to_torch_order(w[d], mode, H), _to_torch_order(r[d], mode, H)]
        if b is not None:
            bd = b[d]
            G = bd.shape[0] // 2
            params += [_to_torch_order(bd[:G], mode, H), _to_torch_order(bd[G:], mode, H)]
    hx = (state(5), state(6)) if mode == "LSTM" else state(5)
    if direction == "reverse":
        x = x.flip(0)
    if mode == "LSTM":
        out, h, c = rec.lstm(x, hx, params, b is not None, 1, 0.0, False, D == 2)
        extra = (c,)
    else:
        fn = {"GRU": rec.gru, "RNN_TANH": rec.rnn_tanh, "RNN_RELU": rec.rnn_relu}[mode]
        out, h = fn(x, hx, params, b is not None, 1, 0.0, False, D == 2)
        extra = ()
    if direction == "reverse":
        out = out.flip(0)
    y = out.reshape(T, B, D, H).permute(0, 2, 1, 3)  # ONNX Y: (T, D, B, H)
    if layout:
        y = y.permute(2, 0, 1, 3)
        h = h.transpose(0, 1)
        extra = tuple(e.transpose(0, 1) for e in extra)
    return (y, h) + extra


@register("LSTM")
def _lstm(ins, attrs):
    return _run("LSTM", "LSTM", ins, attrs)


@register("GRU")
def _gru(ins, attrs):
    return _run("GRU", "GRU", ins, attrs)


@register("RNN")
def _rnn(ins, attrs):
    acts = attrs.get("activations") or ["Tanh"]
    if acts[0] not in ("Tanh", "Relu") or len(set(acts)) != 1:
        unsupported("RNN", f"activations={acts}")
    return _run("RNN", "RNN_TANH" if acts[0] == "Tanh" else "RNN_RELU", ins,
                {k: v for k, v in attrs.items() if k != "activations"})
