"""The backward engine: runs the recorded graph in reverse topological order.

With ``create_graph=False`` (the plain backward) gradients flow between nodes as raw arrays: a
node whose op has a ``raw_backward`` rule runs it on them directly, any other node sees Tensors
wrapped around them, computed with recording off. With ``create_graph=True`` gradients flow as
Tensors, the backward rules are recorded and the results can be differentiated again.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
"""
from __future__ import annotations

import sys

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.grad_mode import STATE

__all__ = ["run_backward"]


def _broadcast_axes(gshape, shape, node) -> tuple:
    """The axes a gradient of ``gshape`` sums over to reach an input's ``shape``."""
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"{node.name()} returned a gradient of shape {gshape} for an input of "
                           f"shape {shape}; this is a bug in that op's backward.")
    return tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and gshape[i + lead] != 1)


def _sum_to(g, shape, node):
    """Reduce a broadcast gradient back to an input's shape (the engine's job, not each op's)."""
    if g.array.shape == shape:
        return g
    axes = _broadcast_axes(g.array.shape, shape, node)
    return g.sum(dim=axes, keepdim=False).reshape(shape) if axes else g.reshape(shape)


def _as_grad(g, node, i):
    if g is None or isinstance(g, _fn.Tensor):
        return g
    raise TypeError(f"{node.name()}.backward returned a {type(g).__name__} for input {i}; "
                    f"expected a Tensor or None.")


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        bad = g.array
        if bad.dtype.kind == "f" and not np.isfinite(np.asarray(bad)).all():
            kind = "nan" if np.isnan(np.asarray(bad)).any() else "inf"
            where = node._trace or "(no forward trace: enable anomaly detection before forward)\n"
            raise RuntimeError(f"Function '{node.name()}' returned {kind} values in its {i}th "
                               f"output.\nThe forward call that created it:\n{where}")


def _run_tensor_hooks(hooks, g):
    for h in hooks:
        r = h(g)
        if r is not None:
            g = r
    return g


def _node_for(t):
    return (t.grad_fn, t._out_idx) if t.grad_fn is not None else None


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None,
                 allow_unused=False, accumulate=True):
    """Backpropagate ``grad_tensors`` from ``tensors``.

    With ``accumulate`` (``Tensor.backward``) leaf gradients are added into ``.grad`` (only for
    ``inputs`` when given); otherwise (``autograd.grad``) the gradients of ``inputs`` are returned.
    """
    captured = {}
    capture_leaf, capture_node = {}, {}
    if inputs is not None:
        for k, t in enumerate(inputs):
            if t.grad_fn is None:
                capture_leaf[id(t)] = k
            else:
                capture_node[(t.grad_fn, t._out_idx)] = k
    # Plain backward (no graph recorded, no anomaly checks) passes raw arrays between nodes;
    # otherwise gradients flow as Tensors so that backward rules can be recorded.
    raw = not create_graph and not STATE.anomaly
    # ids of arrays a leaf's .grad adopted without a copy (they may still sit in a buffer):
    # the caller's own gradients are among them, so a leaf never adopts those either
    given = set()
    deps, roots, buffers = {}, [], {}
    for t, g in zip(tensors, grad_tensors):
        fn = t.grad_fn
        given.add(id(g.array))
        if fn is None:
            _deliver_leaf(t, g, accumulate, capture_leaf, captured, create_graph, given)
            continue
        if fn not in buffers:
            buffers[fn] = [None] * (len(fn._out_meta) if fn._out_meta else 1)
            roots.append(fn)
        buf = buffers[fn]
        i = t._out_idx
        if raw:
            g = g.array
        buf[i] = g if buf[i] is None else buf[i] + g
    stack = list(roots)
    while stack:  # count each node's consumers (edges in from nodes reachable from the roots)
        node = stack.pop()
        for e in node._next:
            if e is not None and e[1] >= 0:
                nxt = e[0]
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    if nxt not in buffers:  # not a root (those are on the stack already)
                        stack.append(nxt)
    ready = [r for r in roots if r not in deps]
    prev_enabled = STATE.enabled
    STATE.enabled = create_graph
    try:
        if raw:
            _run_raw(ready, buffers, deps, retain_graph, accumulate, capture_leaf, capture_node,
                     captured, given)
        else:
            _run_tensors(ready, buffers, deps, retain_graph, create_graph, accumulate,
                         capture_leaf, capture_node, captured, given)
    finally:
        STATE.enabled = prev_enabled
    if inputs is not None and not accumulate:
        result = []
        for k, t in enumerate(inputs):
            g = captured.get(k)
            if g is None and not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {k}, shape "
                                   f"{tuple(t.shape)}) appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired behavior.")
            result.append(g)
        return tuple(result)
    return None


def _run_raw(ready, buffers, deps, retain_graph, accumulate, capture_leaf, capture_node,
             captured, given):
    """The plain backward: buffers hold raw arrays (one per single-output node, a list per
    output otherwise); a node with ``raw_backward`` (and no hooks) runs it on them directly,
    any other node sees Tensors wrapped around them."""
    new_tensor = _fn._new_tensor
    while ready:
        node = ready.pop()
        g = buffers.pop(node, None)
        if type(g) is list:  # a root's list, or a multi-output node's
            if len(g) == 1:
                g = g[0]
            else:
                g = _call_wrapped(node, g, capture_node, captured, retain_graph)
        cls = type(node)
        rb = cls.raw_backward
        if type(g) is tuple:  # already run (the multi-output path)
            in_grads = g
        elif rb is not None and g is not None and node._plain and not capture_node:
            in_grads = rb(node, g)
            if not retain_graph:
                node._saved = node._saved_raw = None
        else:
            in_grads = _call_wrapped(node, None if g is None else [g], capture_node, captured,
                                     retain_graph)
        g = None  # so that a leaf may adopt a view of it (see _private)
        edges = node._next
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        m = len(in_grads)
        if m != len(edges):  # trailing non-Tensor arguments may be left off (zip stops)
            if m > len(edges):
                in_grads = _fit_count(node, in_grads)
            else:
                for e in edges[m:]:
                    if e is not None:
                        _fit_count(node, in_grads)  # raises: a gradient is missing
        for e, g in zip(edges, in_grads):
            if e is None:
                continue
            target, idx, shape, dtype = e
            if g is not None:
                if g.shape != shape:
                    g = _sum_to_raw(g, shape, node)
                elif not shape and isinstance(g, np.generic):  # 0-d arithmetic gives scalars
                    g = np.asarray(g)
                if g.dtype != dtype:
                    raise RuntimeError(f"{node.name()} returned a {g.dtype} gradient for a "
                                       f"{dtype} input; this is a bug in that op.")
                if idx < 0:
                    if capture_leaf or target._hooks:
                        _deliver_leaf(target, new_tensor(g), accumulate, capture_leaf, captured,
                                      False, given)
                    elif accumulate:
                        _accumulate(target, g, given)
                    continue
                if target._out_meta is None:
                    prev = buffers.get(target)
                    buffers[target] = g if prev is None else prev + g
                else:
                    buf = buffers.get(target)
                    if buf is None:
                        buf = buffers[target] = [None] * len(target._out_meta)
                    prev = buf[idx]
                    buf[idx] = g if prev is None else prev + g
            elif idx < 0:
                continue
            n = deps[target] - 1
            deps[target] = n
            if n == 0:
                ready.append(target)


def _call_wrapped(node, grads, capture_node, captured, retain_graph):
    """Run a node's Tensor backward on raw gradients (hooks, Functions, ops without a raw
    rule, multi-output nodes); returns raw arrays (or None) per input."""
    new_tensor = _fn._new_tensor
    if grads is not None:
        grads = [None if a is None else new_tensor(a) for a in grads]
    out = _call_node(node, grads, capture_node, captured, retain_graph)
    if not out:
        return (None,) * len(node._next)
    return tuple(None if g is None else g.array for g in out)


def _sum_to_raw(g, shape, node):
    """``_sum_to`` on a raw array (float16 sums in float32, as the sum op does)."""
    axes = _broadcast_axes(g.shape, shape, node)
    if axes:
        if g.dtype == np.float16:
            g = g.sum(axis=axes, dtype=np.float32).astype(np.float16)
        else:
            g = g.sum(axis=axes)
    g = g.reshape(shape)
    return np.asarray(g) if isinstance(g, np.generic) else g


def _run_tensors(ready, buffers, deps, retain_graph, create_graph, accumulate, capture_leaf,
                 capture_node, captured, given):
    """Backward with Tensor gradients: recorded under create_graph, checked under anomaly."""
    new_tensor = _fn._new_tensor
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        in_grads = _call_node(node, grads, capture_node, captured, retain_graph)
        if not in_grads:  # nothing flowed through this node: inputs still count down
            in_grads = (None,) * len(node._next)
        for e, g in zip(node._next, in_grads):
            if e is None:
                continue
            target, idx, shape, dtype = e
            if g is not None:
                if g.array.shape != shape:
                    g = _sum_to(g, shape, node)
                if g.array.dtype != dtype:
                    raise RuntimeError(f"{node.name()} returned a {g.array.dtype} gradient "
                                       f"for a {dtype} input; this is a bug in that op.")
            if idx < 0:
                if g is not None:
                    _deliver_leaf(target, g, accumulate, capture_leaf, captured,
                                  create_graph, given)
                continue
            if g is not None:
                buf = buffers.get(target)
                if buf is None:
                    buf = buffers[target] = [None] * (len(target._out_meta)
                                                      if target._out_meta else 1)
                prev = buf[idx]
                if prev is None:
                    buf[idx] = g
                elif create_graph:
                    buf[idx] = prev + g
                else:  # plain sum of arrays: no graph to record
                    buf[idx] = new_tensor(prev.array + g.array)
            deps[target] -= 1
            if deps[target] == 0:
                ready.append(target)


def _call_node(node, grads, capture_node, captured, retain_graph):
    """Run one node's backward on its output grads; returns one grad (or None) per input."""
    if grads is None:
        if not retain_graph:
            node._release()
        return ()
    plain = node._plain
    if not plain or capture_node or len(grads) > 1 or grads[0] is None:
        grads = _prepare_grads(node, grads, capture_node, captured)
        if grads is None:
            if not retain_graph:
                node._release()
            return ()
    out = type(node).backward(node, *grads)
    if type(out) is not tuple:
        out = (out,)
    n_in = len(node._next)
    if plain and node._is_op and not STATE.anomaly and len(out) == n_in:
        if not retain_graph:
            node._saved = node._saved_raw = None
        return out
    if len(out) != n_in:
        out = _fit_count(node, out)
    for i, g in enumerate(out):
        if g is not None and not isinstance(g, _fn.Tensor):
            _as_grad(g, node, i)
    post = node.__dict__.get("_post_hooks")
    if post:
        for h in post:
            r = h(out, tuple(grads))
            if r is not None:
                out = tuple(r)
    if STATE.anomaly:
        _check_anomaly(node, out)
    if not retain_graph:
        node._release()
    return out


def _fit_count(node, out):
    """Ops may leave off trailing Nones for non-tensor arguments; anything else is a bug."""
    n_in = len(node._next)
    extra = node._next[len(out):] if len(out) < n_in else out[n_in:]
    if any(x is not None for x in extra):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                           f"gradients (expected {n_in}, got {len(out)})")
    return out[:n_in] + (None,) * (n_in - len(out))


def _prepare_grads(node, grads, capture_node, captured):
    """Hooks, retain_grad, autograd.grad captures and zero-filling for one node's inputs."""
    if all(g is None for g in grads):
        return None
    hooks, retained = node._hooks, node._retained
    for i, g in enumerate(grads):
        if g is None:
            continue
        if hooks and i in hooks:
            g = grads[i] = _run_tensor_hooks(hooks[i], g)
        if retained and i in retained:
            t = retained[i]()
            if t is not None:
                t.grad = g if t.grad is None else t.grad + g
        k = capture_node.get((node, i)) if capture_node else None
        if k is not None:
            captured[k] = g if k not in captured else captured[k] + g
    if node._materialize and None in grads:
        meta = node._out_meta
        for i, g in enumerate(grads):
            if g is None and meta and meta[i] is not None:
                shape, dtype = meta[i]
                grads[i] = _fn._new_tensor(node.xp.zeros(shape, dtype))
    pre = node.__dict__.get("_pre_hooks")
    if pre:
        for h in pre:
            r = h(tuple(grads))
            if r is not None:
                grads = list(r)
    return grads


def _private(arr) -> bool:
    """Can ``arr`` become a leaf's .grad as is? It must be C-ordered and writable, and if it
    is a view (a reshape of a fresh result, say), nothing but the view may hold its base: the
    base's reference count is then 2 (the view's .base and getrefcount's argument)."""
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        return False
    base = arr.base
    return base is None or (type(base) is np.ndarray and sys.getrefcount(base) <= 2)


def _deliver_leaf(leaf, g, accumulate, capture_leaf, captured, create_graph, given):
    hooks = getattr(leaf, "_hooks", None)
    if hooks:
        g = _run_tensor_hooks(hooks, g)
    k = capture_leaf.get(id(leaf)) if capture_leaf else None
    if k is not None:
        captured[k] = g if k not in captured else captured[k] + g
    if not accumulate or (capture_leaf and k is None):
        return
    if not create_graph:
        _accumulate(leaf, g.array, given)
        return
    leaf.grad = g if leaf.grad is None else leaf.grad + g
    for fn in getattr(leaf, "_post_acc_hooks", None) or ():
        fn(leaf)


def _accumulate(leaf, arr, given):
    """Add a plain gradient array into ``leaf.grad``.

    A gradient array may be shared (``x + x``, the caller's gradient=..., a buffer still
    waiting for another node) or a strided view: ``.grad`` adopts it without a copy only when
    it is private, and an adopted array is then never updated in place during this backward.
    """
    if id(arr) in given or not _private(arr):
        arr = arr.copy()
    else:
        given.add(id(arr))
    grad = leaf.grad
    if grad is None:
        leaf.grad = _fn._new_tensor(arr)
    elif id(grad.array) in given:  # adopted earlier in this backward: maybe shared
        grad.array = grad.array + arr
    else:
        grad.array += arr
    for fn in getattr(leaf, "_post_acc_hooks", None) or ():
        fn(leaf)
