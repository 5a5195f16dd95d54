"""Automatic differentiation: ``backward``, ``grad``, ``Function``, grad modes, anomaly
detection and finite-difference checks, with torch's names and semantics.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor(3.0, requires_grad=True)
    >>> (g,) = ganglion.autograd.grad(x ** 2, x, create_graph=True)
    >>> ganglion.autograd.grad(g, x)[0].item()
    2.0
"""
from __future__ import annotations

from ganglion.autograd import function as _function
from ganglion.backend.device import get_array_module
from ganglion.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from ganglion.autograd.engine import run_backward
from ganglion.autograd.function import Function, FunctionCtx, Op, once_differentiable
from ganglion.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                         no_grad, set_grad_enabled)
from ganglion.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "Op", "once_differentiable",
           "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "gradcheck",
           "gradgradcheck", "GradcheckError"]


def _tuple(x):
    if x is None:
        return None
    if isinstance(x, _function.Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs, create_graph, who):
    grads = []
    for k, o in enumerate(outputs):
        g = grad_outputs[k] if grad_outputs is not None else None
        if not o.requires_grad:
            raise RuntimeError(f"{who}: element {k} of tensors does not require grad and does "
                               f"not have a grad_fn (set requires_grad=True on the inputs, and "
                               f"do not compute it under no_grad).")
        if g is None:
            if o.array.size != 1:
                raise RuntimeError(f"{who}: grad can be implicitly created only for scalar "
                                   f"outputs, but output {k} has shape {tuple(o.shape)}; pass "
                                   f"gradient= (or grad_outputs=) of that shape.")
            g = _function._new_tensor(get_array_module(o.array).ones_like(o.array))
        elif not isinstance(g, _function.Tensor):
            g = _function._new_tensor(get_array_module(o.array).asarray(g, dtype=o.array.dtype))
        if tuple(g.shape) != tuple(o.shape):
            raise RuntimeError(f"{who}: Mismatch in shape: grad_output[{k}] has a shape of "
                               f"{tuple(g.shape)} and output[{k}] has a shape of "
                               f"{tuple(o.shape)}.")
        if not create_graph and g.requires_grad:
            g = g.detach()
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (torch.autograd.backward)."""
    tensors = _tuple(tensors)
    grad_tensors = _tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(tensors, grad_tensors, create_graph, "backward")
    inputs = _tuple(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching ``.grad`` (torch.autograd.grad)."""
    outputs = _tuple(outputs)
    inputs = _tuple(inputs)
    for k, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {k} (shape {tuple(t.shape)}) does not require "
                               f"grad; call requires_grad_() on it before the forward pass.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(outputs, _tuple(grad_outputs), create_graph, "grad")
    res = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                       allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        res = tuple(g if g is not None else t.new_zeros(t.shape) for g, t in zip(res, inputs))
    return res
