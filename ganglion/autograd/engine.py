"""The backward engine: runs the recorded graph in reverse topological order.

Gradients flow as Tensors. With ``create_graph=False`` backward runs with recording off, so every
op in a backward rule is a plain array call; with ``create_graph=True`` the rules are recorded and
the resulting gradients can be differentiated again.

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


def _sum_to(g, shape, node):
    """Reduce a broadcast gradient back to an input's shape (the engine's job, not each op's)."""
    gshape = g.array.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"{node.name()} returned a gradient of shape {gshape} for an input of "
                           f"shape {shape}; this is a bug in that op's backward.")
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and gshape[i + lead] != 1)
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

    deps, roots, buffers = {}, [], {}
    for t, g in zip(tensors, grad_tensors):
        fn = t.grad_fn
        if fn is None:
            _deliver_leaf(t, g, accumulate, capture_leaf, captured, create_graph, set())
            continue
        if fn not in buffers:
            buffers[fn] = [None] * (len(fn._out_meta) if fn._out_meta else 1)
            roots.append(fn)
        buf = buffers[fn]
        i = t._out_idx
        buf[i] = g if buf[i] is None else buf[i] + g
    stack, seen = list(roots), set(roots)
    while stack:
        node = stack.pop()
        for e in node._next:
            if e is not None and e[1] >= 0:
                nxt = e[0]
                deps[nxt] = deps.get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    ready = [r for r in roots if r not in deps]
    given = set()
    prev_enabled = STATE.enabled
    STATE.enabled = create_graph
    new_tensor = _fn._new_tensor
    # the common node: one of ganglion's ops, no hooks, one incoming gradient
    fast_ok = not capture_node and not STATE.anomaly
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if fast_ok and grads is not None and node._plain and node._is_op and \
                    len(grads) == 1 and grads[0] is not None:
                in_grads = type(node).backward(node, grads[0])
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
                if len(in_grads) != len(node._next):
                    in_grads = _fit_count(node, in_grads)
                if not retain_graph:
                    node._saved = None
                    node._released = True
            else:
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
            node._saved = None
            node._released = True
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
        g = g.detach() if g._rg else g
        # a gradient array may be shared (x + x, the user's gradient=...) or a strided view:
        # give each .grad its own C-ordered buffer so in-place updates stay private.
        arr = g.array
        if id(arr) in given or not _private(arr):
            g = _fn._new_tensor(arr.copy())
        given.add(id(g.array))
        if leaf.grad is None:
            leaf.grad = g
        else:
            leaf.grad.array += g.array
    else:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    for fn in getattr(leaf, "_post_acc_hooks", None) or ():
        fn(leaf)
