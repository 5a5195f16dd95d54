"""Recurrent layers: each fused layer-direction becomes one ONNX LSTM/GRU/RNN node.

ganglion (like torch) orders the gates i, f, g, o (LSTM) and r, z, n (GRU); ONNX orders them
i, o, f, c and z, r, h. The parameters stay as they are (initializers with their state_dict
names) and are reordered by Split/Concat nodes in the graph, which onnxruntime folds at load.
torch's GRU applies r after the hidden projection: ONNX's linear_before_reset=1.
"""
from __future__ import annotations

from ganglion.onnx._trace import TraceError
from ganglion.onnx.converters._registry import register
from ganglion.ops.recurrent import FusedRecurrent

__all__ = ["ONNX_GATE_ORDER"]

# position k of the ONNX order takes ganglion's gate ONNX_GATE_ORDER[mode][k]
ONNX_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(em, name, mode, hidden):
    order = ONNX_GATE_ORDER[mode]
    g = em.g
    if len(order) == 1:
        return g.node("Unsqueeze", [name, g.ints([0])])
    parts = g.node("Split", [name, g.ints([hidden] * len(order))], n_out=len(order), axis=0)
    cat = g.node("Concat", [parts[i] for i in order], axis=0)
    return g.node("Unsqueeze", [cat, g.ints([0])])


@register(FusedRecurrent)
def _recurrent(em, ev):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, spec = ev.args
    if spec.proj:
        raise TraceError("export: LSTM with proj_size > 0 has no ONNX LSTM form.")
    if not spec.uniform:
        raise TraceError("export: packed sequences of different lengths are not exported; "
                         "pass a padded batch (batch_first or time-major tensor) instead.")
    g = em.g
    H, mode = spec.hidden, spec.mode
    in_size = w_ih.shape[1]
    lead = em.per_run(ev, lambda e: (e.args[8].B, e.args[8].T) if e.args[8].batch_major
                      else (e.args[8].T, e.args[8].B))
    x3 = g.node("Reshape", [em.name(x, ev), em.dims.shape(
        [lt + (in_size,) for lt in lead], "a recurrent layer's input", minus_one=True)])
    if spec.batch_major:
        x3 = g.node("Transpose", [x3], perm=[1, 0, 2])
    w = _reorder(em, em.name(w_ih, ev), mode, H)
    r = _reorder(em, em.name(w_hh, ev), mode, H)
    bias = ""
    if b_ih is not None:
        bias = g.node("Concat", [_reorder(em, em.name(b_ih, ev), mode, H),
                                 _reorder(em, em.name(b_hh, ev), mode, H)], axis=1)
    zero = g.ints([0])
    inputs = [x3, w, r, bias, "", g.node("Unsqueeze", [em.name(h0, ev), zero])]
    if mode == "LSTM":
        inputs.append(g.node("Unsqueeze", [em.name(c0, ev), zero]))
    attrs = {"hidden_size": H, "direction": "reverse" if spec.reverse else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"]
    n_out = 3 if mode == "LSTM" else 2
    outs = g.node(_OP[mode], inputs, n_out=n_out, **attrs)
    y = g.node("Squeeze", [outs[0], g.ints([1])])  # (T, 1, B, H) -> (T, B, H)
    if spec.batch_major:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    y = g.node("Reshape", [y, g.ints([-1, H])])
    rest = tuple(g.node("Squeeze", [o, zero]) for o in outs[1:])
    return (y,) + rest
