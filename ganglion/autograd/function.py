"""Graph nodes: the public ``Function`` (torch semantics) and ``Op``, the base of every primitive.

Every call of an op that needs a gradient creates one node (its ``ctx``), which is the output's
``grad_fn``. ``Op.forward(ctx, *arrays)`` runs on raw NumPy/CuPy arrays; ``backward(ctx, *grads)``
receives and returns Tensors and is written with ganglion's own differentiable ops, so that the
engine can record it under ``create_graph=True`` (gradients of gradients).

Saved values are matched by identity: an array saved in ``forward`` that *is* an input's array
comes back from ``ctx.saved_tensors`` as that input Tensor, one that *is* the output's array as
the output Tensor (both still attached to the graph), anything else as a constant Tensor.

Example (a custom op, as in torch):
    >>> import ganglion
    >>> class Cube(ganglion.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = ganglion.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward(); x.grad.item()
    12.0
"""
from __future__ import annotations

import functools
import traceback

import numpy as np

from ganglion.autograd.grad_mode import STATE, no_grad

__all__ = ["Function", "Op", "once_differentiable", "FunctionCtx"]

# Set once by ganglion.tensor (the one place where the Tensor <-> autograd cycle is broken).
Tensor = None

_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
              "tensors after they have already been freed). Saved intermediate values of the "
              "graph are freed when you call .backward() or autograd.grad(). Specify "
              "retain_graph=True if you need to backward through the graph a second time or if "
              "you need to access saved tensors after calling backward.")


def _new_tensor(data, grad_fn=None, out_idx=0, requires_grad=False, vc=None):
    t = Tensor.__new__(Tensor)
    t.array = data
    t.grad = None
    t._rg = requires_grad
    t.grad_fn = grad_fn
    t._out_idx = out_idx
    t._vc = vc if vc is not None else [0]
    t._base = None
    return t


_PY_SCALARS = (int, float, bool, complex)


class Node:
    """A recorded call of a Function: holds edges to its inputs' nodes and the saved values.

    ``_next`` holds, per forward argument, ``None`` or ``(target, index, shape, np_dtype)``:
    ``target`` is the input's node (``index`` = which of its outputs) or, for a leaf that
    requires grad, the leaf Tensor itself (``index`` = -1).
    """

    _saved = None
    _saved_raw = ()  # what forward saved, as raw values (see saved_arrays); None once freed
    _vchecks = ()  # (version counter, version at save) per saved input/output Tensor
    _lazy = False  # _saved holds markers (outputs, _CONST) that saved_tensors resolves
    _record = False
    _materialize = True
    _out_meta = None
    _hooks = None
    _retained = None
    _trace = None
    _nondiff = None
    _plain = True  # False once hooks or retain_grad are attached: the engine then looks closer
    _is_op = False  # ganglion's own ops (trusted to return Tensors or None)
    # Optional ``raw_backward(ctx, g)``: the backward rule on raw arrays (array in, one array
    # or None per input out), used by the engine whenever no graph is recorded (no
    # create_graph): no Tensor is made per gradient. ``backward`` (Tensors) stays the rule
    # for create_graph=True.
    raw_backward = None
    xp = np

    def name(self) -> str:
        return type(self).__name__ + "Backward0"

    @property
    def needs_input_grad(self) -> tuple:
        """Per forward argument: does it need a gradient? (derived from the recorded edges)"""
        nig = self.__dict__.get("_nig")
        if nig is None:
            edges = self.__dict__.get("_next")
            nig = self._nig = tuple(e is not None for e in edges) if edges else ()
        return nig

    @needs_input_grad.setter
    def needs_input_grad(self, value) -> None:
        self._nig = tuple(value)

    def __repr__(self) -> str:
        return f"<{self.name()} object>"

    @property
    def next_functions(self):
        out = []
        for e in self._next:
            if e is None:
                out.append((None, 0))
            elif e[1] < 0:
                out.append((_AccumulateGrad(e[0]), 0))
            else:
                out.append((e[0], e[1]))
        return tuple(out)

    # -- saving ---------------------------------------------------------------------------
    def save_for_backward(self, *values) -> None:
        if self._record:
            self._saved = values

    def mark_non_differentiable(self, *outputs) -> None:
        self._nondiff = outputs

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        if self._saved_raw is None:
            raise RuntimeError(_FREED_MSG)
        saved = self._saved
        if saved is None:
            return ()
        for vc, v in self._vchecks:
            if vc[0] != v:
                self._version_error(vc, v)
        if not self._lazy:
            return tuple(saved)
        out = []
        for s, r in zip(saved, self._saved_raw):
            if isinstance(r, np.generic):
                r = np.asarray(r)
            if s is _CONST:
                s = _new_tensor(r)
            elif type(s) is tuple:  # an output: the same graph position as the output itself
                idx, vc, diff = s
                s = _new_tensor(r, self if diff else None, idx, diff, vc)
            out.append(s)
        return tuple(out)

    def saved_arrays(self) -> tuple:
        """The saved values as the raw arrays (and numbers) ``forward`` saved, for
        ``raw_backward``; the same freed-graph and in-place-modification checks as
        ``saved_tensors``."""
        saved = self._saved_raw
        if saved is None:
            raise RuntimeError(_FREED_MSG)
        for vc, v in self._vchecks:
            if vc[0] != v:
                self._version_error(vc, v)
        return saved

    def _version_error(self, vc, v):
        t = _new_tensor(next(r for s, r in zip(self._saved, self._saved_raw)
                             if (s[1] if type(s) is tuple else getattr(s, "_vc", None)) is vc))
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by "
            f"an inplace operation: [{t.dtype}{list(t.shape)}] is at version {vc[0]}; "
            f"expected version {v} instead (saved by {self.name()}). Hint: replace the "
            f"in-place op (e.g. x.add_(y), x[i] = v) by its out-of-place form "
            f"(x = x + y), or clone() the tensor before modifying it.")

    @property
    def saved_variables(self) -> tuple:
        return self.saved_tensors

    def _release(self) -> None:
        self._saved = self._saved_raw = None

    # -- hooks ------------------------------------------------------------------------------
    def register_hook(self, hook):
        """Post-hook hook(grad_inputs, grad_outputs) on this node, as torch's Node.register_hook."""
        hooks = self.__dict__.setdefault("_post_hooks", [])
        hooks.append(hook)
        self._plain = False
        return _RemovableHandle(hooks, hook)

    def register_prehook(self, hook):
        hooks = self.__dict__.setdefault("_pre_hooks", [])
        hooks.append(hook)
        self._plain = False
        return _RemovableHandle(hooks, hook)


class _AccumulateGrad:
    """What ``next_functions`` shows for a leaf edge (the leaf is in ``variable``)."""

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


class _RemovableHandle:
    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self) -> None:
        try:
            self._container.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _wrap_output(ctx, out, args, record):
    """Turn the forward's array(s) into Tensors and, when ``record``, attach them to ``ctx``."""
    multi = type(out) is tuple
    outs = out if multi else (out,)
    tensors = []
    nondiff = ctx._nondiff
    for i, o in enumerate(outs):
        if isinstance(o, np.generic):
            o = np.asarray(o)
        diff = record and o.dtype.kind == "f" and not (nondiff and any(o is n for n in nondiff))
        t = _new_tensor(o, ctx if diff else None, i, diff)
        tensors.append(t)
    if record and multi:
        ctx._out_meta = tuple((t.array.shape, t.array.dtype) for t in tensors)
    if ctx.view and tensors and isinstance(args[0], Tensor):
        # a view shares its base's version counter: in-place writes through either are seen
        src = args[0]
        base = getattr(src, "_base", None)
        tensors[0]._vc = src._vc
        tensors[0]._base = src if base is None else base
    return tensors


def _record_edges(ctx, args):
    edges = []
    for a in args:
        if isinstance(a, Tensor) and a._rg:
            fn = a.grad_fn
            if fn is None:
                edges.append((a, -1, a.array.shape, a.array.dtype))
            else:
                edges.append((fn, a._out_idx, a.array.shape, a.array.dtype))
        else:
            edges.append(None)
    ctx._next = edges
    if STATE.anomaly:
        ctx._trace = "".join(traceback.format_stack()[:-3])


_CONST = object()  # in _saved: an intermediate array, a constant Tensor when asked for


def _map_saved(ctx, args, arrays, outputs, raw_outs):
    """Record what forward saved: the raw values as they are (for raw_backward); in ``_saved``
    input Tensors as themselves, numbers as numbers, an output as ``(index, version counter,
    differentiable)`` (holding the output Tensor would make a reference cycle, output ->
    grad_fn -> output, that only the cyclic garbage collector frees) and anything else as
    ``_CONST`` (see saved_tensors); and the version of each saved input/output, since an
    in-place change of it later is an error."""
    values = ctx._saved
    ctx._saved_raw = values
    saved, checks = [], []
    lazy = False
    for s in values:
        if s is None or type(s) in _PY_SCALARS:  # Python numbers stay numbers (constants)
            saved.append(s)
            continue
        for i, arr in enumerate(arrays):
            if s is arr:
                t = args[i]
                if isinstance(t, Tensor):
                    break
        else:
            t = s if isinstance(s, Tensor) else None
        if t is not None:
            vc = t._vc
            checks.append((vc, vc[0]))
            saved.append(t)
            continue
        lazy = True
        for k, o in enumerate(outputs):
            if s is raw_outs[k] or s is o.array:  # raw_outs: a NumPy scalar the forward gave
                vc = o._vc
                checks.append((vc, vc[0]))
                saved.append((k, vc, o.grad_fn is not None))
                break
        else:
            saved.append(_CONST)
    ctx._saved = saved
    ctx._vchecks = checks
    ctx._lazy = lazy


class Op(Node):
    """Base of ganglion's primitive ops: ``forward(ctx, *arrays)`` on raw arrays.

    Class attributes: ``view = True`` for ops whose output shares memory with input 0 (they share
    its version counter, so in-place changes through either are seen by autograd).
    """

    view = False
    _is_op = True

    @classmethod
    def apply(cls, *args):
        # The hot path of every op: kept flat (one pass over args, no helper calls but the
        # output wrapping), since per-op overhead is what small models pay for.
        ctx = cls.__new__(cls)
        T = Tensor
        record = False
        if STATE.enabled:
            arrays, edges = [], []
            for a in args:
                if isinstance(a, T):
                    arr = a.array
                    arrays.append(arr)
                    if a._rg:
                        fn = a.grad_fn
                        edges.append((a, -1, arr.shape, arr.dtype) if fn is None else
                                     (fn, a._out_idx, arr.shape, arr.dtype))
                        record = True
                        continue
                else:
                    arrays.append(a)
                edges.append(None)
            if record:
                ctx._next = edges
                ctx._record = True
                if STATE.anomaly:
                    ctx._trace = "".join(traceback.format_stack()[:-2])
        else:
            arrays = [a.array if isinstance(a, T) else a for a in args]
        return _outputs(ctx, cls.forward(ctx, *arrays), args, arrays, record)

    @classmethod
    def apply1(cls, x, *params):
        """``apply(x, *params)`` for one Tensor ``x`` followed by non-Tensor parameters (the
        shape of unary, reduction, movement and indexing calls), without the per-argument
        pass: the node's edges cover ``x`` alone, the parameters need none."""
        if Op.__dict__["apply"] is not _OP_APPLY:  # patched (the ONNX tracer): go through it
            return cls.apply(x, *params)
        ctx = cls.__new__(cls)
        arr = x.array
        record = False
        if x._rg and STATE.enabled:
            fn = x.grad_fn
            ctx._next = [(x, -1, arr.shape, arr.dtype) if fn is None else
                         (fn, x._out_idx, arr.shape, arr.dtype)]
            ctx._record = record = True
            if STATE.anomaly:
                ctx._trace = "".join(traceback.format_stack()[:-2])
        return _outputs(ctx, cls.forward(ctx, arr, *params), (x,), (arr,), record)

    @staticmethod
    def forward(ctx, *arrays):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError


def _outputs(ctx, out, args, arrays, record):
    """Wrap the forward's result in Tensors attached to ``ctx`` (when ``record``), map what it
    saved; the single-array result is the inlined common case."""
    if type(out) is np.ndarray:
        diff = record and out.dtype.kind == "f" and ctx._nondiff is None
        t = Tensor.__new__(Tensor)
        t.array = out
        t.grad = None
        t._rg = diff
        t.grad_fn = ctx if diff else None
        t._out_idx = 0
        if ctx.view:  # a view shares its base's version counter (see _wrap_output)
            src = args[0]
            base = getattr(src, "_base", None)
            t._vc = src._vc
            t._base = src if base is None else base
        else:
            t._vc = [0]
            t._base = None
        if record:
            saved = ctx._saved
            if saved is None:
                return t
            if len(saved) == 1 and saved[0] is out:  # y = f(x) saving y (exp, tanh, ...)
                vc = t._vc
                ctx._saved_raw = saved
                ctx._saved = [(0, vc, diff)]
                ctx._vchecks = [(vc, vc[0])]
                ctx._lazy = True
            elif len(saved) == 1 and saved[0] is arrays[0] and type(args[0]) is Tensor:
                vc = args[0]._vc  # y = f(x) saving x (relu, sin, ...): _map_saved's answer
                ctx._saved_raw = saved
                ctx._saved = [args[0]]
                ctx._vchecks = [(vc, vc[0])]
                ctx._lazy = False
            else:
                _map_saved(ctx, args, arrays, (t,), (out,))
        return t
    outputs = _wrap_output(ctx, out, args, record)
    if record and ctx._saved is not None:
        _map_saved(ctx, args, arrays, outputs, out if type(out) is tuple else (out,))
    return outputs[0] if type(out) is not tuple else tuple(outputs)


_OP_APPLY = Op.__dict__["apply"]


class FunctionCtx(Node):
    """The ``ctx`` type user Functions see (``save_for_backward``, ``needs_input_grad``, ...)."""


class Function(Node):
    """Custom differentiable operations, as ``torch.autograd.Function``.

    Subclass with static ``forward(ctx, *args)`` (Tensors in, Tensors out; runs without
    recording) and ``backward(ctx, *grads)`` (one gradient, or None, per forward argument), then
    call ``MyFn.apply(*args)``. The newer style, ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``, works too.
    """

    view = False

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls.__new__(cls)
        record = STATE.enabled and any(isinstance(a, Tensor) and a._rg for a in args)
        if record:
            ctx._record = True
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg for a in args)
            _record_edges(ctx, args)
        inputs = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
        # identity of saved inputs must refer to the caller's tensors, not the detached copies
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*inputs, **kwargs)
                cls.setup_context(ctx, inputs, out)
            else:
                out = cls.forward(ctx, *inputs, **kwargs)
        multi = isinstance(out, (tuple, list))
        outs = tuple(out) if multi else (out,)
        results = []
        nondiff = ctx._nondiff or ()
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                results.append(o)
                continue
            if any(o is a for a in inputs):  # returned an input as is: give a fresh Tensor
                o = _new_tensor(o.array)
            diff = record and o.array.dtype.kind == "f" and not any(o is n for n in nondiff)
            t = _new_tensor(o.array, ctx if diff else None, i, diff, o._vc)
            results.append(t)
            if ctx._saved is not None:  # saved outputs map to the attached output
                ctx._saved = tuple(t if s is o else s for s in ctx._saved)
        if record:
            if multi:
                ctx._out_meta = tuple((r.array.shape, r.array.dtype) if isinstance(r, Tensor)
                                      else None for r in results)
            if ctx._saved is not None:
                ctx._saved = tuple(_orig_input(s, inputs, args) for s in ctx._saved)
                ctx._saved_raw = tuple(s.array if isinstance(s, Tensor) else s
                                       for s in ctx._saved)
                ctx._vchecks = [(s._vc, s._vc[0]) for s in ctx._saved if isinstance(s, Tensor)]
        elif ctx._saved is not None:
            ctx._saved = None
        return tuple(results) if multi else results[0]

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward")

    @staticmethod
    def vjp(ctx, *grads):
        raise NotImplementedError


def _orig_input(s, inputs, args):
    for inp, a in zip(inputs, args):
        if s is inp:
            return a
    return s


class _DelayedError(Op):
    """Identity whose backward raises: marks results of a once-differentiable backward."""

    message = ""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(ctx.message)


def once_differentiable(backward):
    """Decorate a ``backward`` that only works on raw values (cannot be differentiated again).

    It runs without recording; under ``create_graph=True`` its results raise a clear error if
    someone then tries to differentiate through them.
    """

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        create = STATE.enabled and any(isinstance(g, Tensor) and g._rg for g in grads)
        with no_grad():
            out = backward(ctx, *grads)
        if not create:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        msg = (f"trying to differentiate twice a function that was marked with "
               f"@once_differentiable ({ctx.name()}); its backward is not differentiable, so "
               f"create_graph=True cannot give second derivatives through it.")
        wrapped = []
        for o in outs:
            if isinstance(o, Tensor):
                node = _DelayedError.__new__(_DelayedError)
                node.message = msg
                node._next = [None]
                o = _new_tensor(o.array, node, 0, True)
            wrapped.append(o)
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]

    return wrapper
