"""``export``: a ganglion model to an ONNX file, by tracing its forward pass.

The forward runs once on the example inputs while every primitive op is recorded (see
``_trace``); each recorded op becomes ONNX nodes (``converters``); parameters and buffers
become initializers named by their ``state_dict`` keys. With ``dynamic_axes``, the model is
traced again at other sizes of those axes, so that every size that follows them (a reshape
target, a slice end, the shape of a zero state) is computed in the graph from the inputs'
shapes instead of being baked in (``_dims``). The graph passes ``onnx.checker.check_model``
with ``full_check=True`` before it is written.

Example:
    >>> import io, ganglion
    >>> from ganglion import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> proto = export(model, ganglion.randn(3, 4), io.BytesIO(), input_names=["x"],
    ...                output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    >>> [n.op_type for n in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Identity']
    >>> proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    'batch'
"""
from __future__ import annotations

import inspect
import json
import os

from ganglion.onnx._deps import onnx, tensor_type
from ganglion.onnx._dims import DimEmitter, fit
from ganglion.onnx._emit import Emitter
from ganglion.onnx._graph import GraphBuilder
from ganglion.onnx._runs import (check_same_structure, other_sizes, perturbed_inputs,
                                 trace_model)
from ganglion.onnx._trace import TraceError
from ganglion.onnx.converters import CONVERTERS
from ganglion.tensor import Tensor

__all__ = ["export", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET, MAX_OPSET = 17, 21
# torch.onnx.export options that only matter to torch's exporters: accepted, no effect here
_TORCH_ONLY = {"operator_export_type", "custom_opsets", "export_modules_as_functions", "dynamo",
               "external_data", "report", "optimize", "verify", "profile", "artifacts_dir",
               "dump_exported_program", "fallback", "autograd_inlining", "strict"}
BUFFERS_KEY = "ganglion.buffers"  # metadata: initializers that are buffers, not parameters


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=False,
           training="eval", input_names=None, output_names=None, opset_version=17,
           do_constant_folding=True, dynamic_axes=None, keep_initializers_as_inputs=False,
           check=True, **unused):
    """Export ``model`` to ONNX (torch.onnx.export's arguments, TorchScript-exporter style).

    Args:
        model: an ``nn.Module`` (or any callable taking Tensors).
        args: the example input: a Tensor or a tuple of arguments (a trailing dict in the tuple
            holds keyword arguments, as in torch). Non-tensor arguments are traced as constants.
        f: a path or a binary file object to write to; None only returns the model.
        kwargs: keyword arguments of the forward call.
        export_params: store parameters and buffers as initializers (else they become graph
            inputs).
        verbose: print the graph.
        training: "eval" (default: modules are put in eval mode while tracing, then
            restored) or "preserve" (their modes are kept); "train" is refused, since dropout
            and batch-norm updates have no deterministic ONNX form.
        input_names, output_names: names of the graph inputs (the tensor arguments, in order)
            and outputs (the tensors the model returns, flattened). Defaults: the forward's
            parameter names, and ``output`` (``output_0``, ... for several).
        opset_version: the ONNX opset, 17 to 21 (Gelu is one node from 20, an erf formula
            before).
        do_constant_folding: accepted for torch compatibility; constant subgraphs (the gate
            reordering of recurrent weights) are left to onnxruntime, which folds them at load.
        dynamic_axes: ``{name: {axis: "symbol"}}`` or ``{name: [axis, ...]}`` for inputs and
            outputs whose sizes vary (a batch, a sequence length).
        keep_initializers_as_inputs: also list the initializers as graph inputs.
        check: run ``onnx.checker.check_model(full_check=True)`` (default True).
        **unused: torch-only options (``operator_export_type``, ``custom_opsets``,
            ``export_modules_as_functions``, ``dynamo``, ...) are accepted and ignored; any
            other name raises TypeError.

    Returns:
        the ``onnx.ModelProto`` (also written to ``f``).

    Raises:
        TraceError: an op with no ONNX form (the message names it), control flow that depends
            on the input, or a size the dynamic axes cannot express.
    """
    if not MIN_OPSET <= int(opset_version) <= MAX_OPSET:
        raise ValueError(f"export: opset_version={opset_version} is not supported; use "
                         f"{MIN_OPSET} to {MAX_OPSET}.")
    unknown = sorted(set(unused) - _TORCH_ONLY)
    if unknown:
        hint = " (use dynamic_axes)" if "dynamic_shapes" in unknown else ""
        raise TypeError(f"export: unexpected keyword arguments {unknown}{hint}.")
    call_args, kwargs = _split_args(args, kwargs)
    input_pos = [i for i, a in enumerate(call_args) if isinstance(a, Tensor)]
    input_names = _input_names(model, call_args, input_pos, input_names)
    axes_of, symbols = _input_axes(dynamic_axes, input_names, call_args, input_pos)
    modes = _set_mode(model, training)
    try:
        runs = _trace_runs(model, call_args, kwargs, input_pos, input_names, axes_of, symbols)
    finally:
        _restore_mode(modes)
    check_same_structure([r for r, _, _ in runs])
    proto = _build(runs, symbols, axes_of, input_names, output_names, dynamic_axes,
                   int(opset_version), export_params, keep_initializers_as_inputs)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        if isinstance(f, (str, os.PathLike)):
            onnx.save(proto, os.fspath(f))
        else:
            f.write(proto.SerializeToString())
    return proto


def _trace_runs(model, call_args, kwargs, input_pos, input_names, axes_of, symbols):
    """The example run, then the extra runs (other sizes of the dynamic axes, other values)."""
    state = _state(model)
    arrays0 = [call_args[p].array for p in input_pos]

    def trace(arrays):
        return trace_model(model, call_args, kwargs, input_pos, arrays, input_names, state)

    runs = [trace(arrays0)]
    for k in ((1, 2) if symbols else (1,)):
        sizes = other_sizes(symbols, k)
        try:
            runs.append(trace(perturbed_inputs(arrays0, axes_of, sizes)))
        except TraceError:
            raise
        except Exception as e:
            raise TraceError(f"export: the model failed when traced again at other sizes of "
                             f"the dynamic axes ({sizes}) or other input values, which the "
                             f"exporter needs to tell sizes and constants that follow the "
                             f"input from fixed ones: {type(e).__name__}: {e}") from e
    return runs


def _split_args(args, kwargs):
    if isinstance(args, Tensor):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # torch: a trailing dict holds keyword arguments
        kwargs.update(args[-1])
        args = args[:-1]
    if any(isinstance(v, Tensor) for v in kwargs.values()):
        raise TypeError("export: Tensors in keyword arguments are not graph inputs; pass them "
                        "positionally in args.")
    return args, kwargs


def _input_names(model, call_args, input_pos, names):
    if names is not None:
        names = list(names)
        if len(names) > len(input_pos):
            raise ValueError(f"export: {len(names)} input_names for {len(input_pos)} tensor "
                             f"inputs.")
    else:
        names = []
    try:
        params = [p for p in inspect.signature(getattr(model, "forward", model)).parameters
                  if p != "self"]
    except (TypeError, ValueError):
        params = []
    for k in range(len(names), len(input_pos)):
        pos = input_pos[k]
        names.append(params[pos] if pos < len(params) and params[pos] not in names
                     else f"input_{k}")
    return names


def _axes_dict(spec, name):
    if isinstance(spec, dict):
        return {int(a): str(s) for a, s in spec.items()}
    return {int(a): f"{name}_dynamic_axes_{int(a) + 1}" for a in spec}


def _input_axes(dynamic_axes, input_names, call_args, input_pos):
    """Per input: {axis: symbol}; and {symbol: size in the example}."""
    dynamic_axes = dynamic_axes or {}
    axes_of, symbols = [], {}
    for name, pos in zip(input_names, input_pos):
        shape = call_args[pos].shape
        axes = _axes_dict(dynamic_axes.get(name, {}), name)
        for a, s in list(axes.items()):
            if not -len(shape) <= a < len(shape):
                raise ValueError(f"export: dynamic axis {a} of input {name!r} is out of range "
                                 f"for its shape {tuple(shape)}.")
            axes[a % len(shape)] = axes.pop(a)
            size = shape[a % len(shape)]
            if symbols.setdefault(s, size) != size:
                raise ValueError(f"export: dynamic axis {s!r} has size {symbols[s]} in one "
                                 f"input and {size} in {name!r}; one name means one size.")
        axes_of.append(axes)
    return axes_of, symbols


def _set_mode(model, training):
    mode = getattr(training, "name", training)
    mode = str(mode).lower() if mode is not None else "eval"
    if mode in ("true", "train", "training"):
        raise ValueError("export: training mode is not exported (dropout and batch-norm "
                         "statistics updates have no deterministic ONNX form); use "
                         "training='eval'.")
    if mode not in ("eval", "false", "preserve"):
        raise ValueError(f"export: training={training!r}; expected 'eval' or 'preserve'.")
    modules = list(model.modules()) if hasattr(model, "modules") else []
    saved = [(m, m.training) for m in modules]
    if mode != "preserve":
        for m in modules:
            m.training = False
    return saved


def _restore_mode(saved):
    for m, t in saved:
        m.training = t


def _state(model):
    if not hasattr(model, "named_parameters"):
        return []
    out = [("param", n, p) for n, p in model.named_parameters()]
    out += [("buffer", n, b) for n, b in model.named_buffers() if b is not None]
    return out


def _dim_name(vals, out_name, axis, user_axes, symbols):
    if axis in user_axes:
        return user_axes[axis]
    f = fit(vals, symbols)
    if f is not None and f[0] == "affine" and f[2] == 1 and f[3] == 0:
        return f[1]
    return f"{out_name}_dim_{axis}"


def _value_info(name, dtype, dims):
    return onnx.helper.make_tensor_value_info(name, tensor_type(dtype), dims)


def _build(runs, symbols, axes_of, input_names, output_names, dynamic_axes, opset,
           export_params, keep_inputs):
    recs = [r for r, _, _ in runs]
    rec0, outs0, in_values = runs[0]
    g = GraphBuilder()
    for n in input_names:
        g.reserve(n)
    n_out = len(outs0)
    if output_names is None:
        output_names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    output_names = list(output_names)
    if len(output_names) != n_out:
        raise ValueError(f"export: {len(output_names)} output_names for the {n_out} tensors the "
                         f"model returns.")
    for n in output_names:
        g.reserve(n)
    sym_runs = {s: tuple([v] + [other_sizes(symbols, k)[s] for k in range(1, len(recs))])
                for s, v in symbols.items()}
    sources = {}
    for name, axes in zip(input_names, axes_of):
        for a, s in axes.items():
            sources.setdefault(s, (name, a))
    dims = DimEmitter(g, sym_runs, sources)
    state_names = {v.index: v.name for v in rec0.values if v.kind in ("param", "buffer")}
    em = Emitter(recs, g, dims, opset, CONVERTERS, state_names)
    for v in in_values:
        em.names[v.index] = v.name
    out_vals = []
    for arr in outs0:
        v = rec0.lookup(arr)
        out_vals.append(v if v is not None else rec0.value_of(arr))
    for ev in _live_events(rec0, out_vals):
        em.emit(ev)
    for v, name in zip(out_vals, output_names):
        g.node("Identity", [em.name(v)], outputs=[name])
    return _assemble(g, em, recs, runs, in_values, axes_of, out_vals, output_names, symbols,
                     sym_runs, dynamic_axes, opset, export_params, keep_inputs)


def _live_events(rec, out_vals):
    """The events the outputs depend on, in recorded order."""
    live, stack = set(), [v for v in out_vals if v.kind == "op"]
    while stack:
        ev = stack.pop().event
        if ev.index in live:
            continue
        live.add(ev.index)
        for a in ev.args:
            for v in (a if isinstance(a, (tuple, list)) else (a,)):
                if getattr(v, "kind", None) == "op":
                    stack.append(v)
    return [e for e in rec.events if e.index in live]


def _assemble(g, em, recs, runs, in_values, axes_of, out_vals, output_names, symbols,
              sym_runs, dynamic_axes, opset, export_params, keep_inputs):
    from ganglion import __version__  # noqa: PLC0415 - the package imports this module

    inputs = []
    for v, axes in zip(in_values, axes_of):
        dims = [axes.get(i, s) for i, s in enumerate(v.shape)]
        inputs.append(_value_info(v.name, v.dtype, dims))
    outputs = []
    dynamic_axes = dynamic_axes or {}
    for k, (v, name) in enumerate(zip(out_vals, output_names)):
        per_run = [runs[r][1][k].shape for r in range(len(runs))]
        user = _axes_dict(dynamic_axes.get(name, {}), name)
        dims = [s if len({p[i] for p in per_run}) == 1 else
                _dim_name([p[i] for p in per_run], name, i, user, sym_runs)
                for i, s in enumerate(per_run[0])]
        outputs.append(_value_info(name, v.dtype, dims))
    inits = g.initializers
    if keep_inputs or not export_params:
        inputs += [_value_info(t.name, onnx.helper.tensor_dtype_to_np_dtype(t.data_type),
                               list(t.dims)) for t in inits]
    if not export_params:
        inits = []
    graph = onnx.helper.make_graph(g.nodes, "ganglion", inputs, outputs, initializer=inits)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="ganglion",
                                   producer_version=__version__)
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    buffers = [n for i, n in em.state_names.items() if recs[0].values[i].kind == "buffer"
               and n in em.used_state]
    onnx.helper.set_model_props(proto, {BUFFERS_KEY: json.dumps(buffers)})
    return proto
