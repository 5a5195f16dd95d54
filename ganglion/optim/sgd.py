"""Stochastic gradient descent with momentum and Nesterov momentum (Sutskever et al.,
http://proceedings.mlr.press/v28/sutskever13.html), as ``torch.optim.SGD``."""
from __future__ import annotations

import numpy as np

from ganglion.backend import jit
from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_fused, check_lr, check_nonneg,
                                      wrap_array)

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """SGD (``torch.optim.SGD``): ``p -= lr * g`` with optional momentum buffer.

    With momentum the buffer starts as the first gradient and then follows
    ``buf = momentum * buf + (1 - dampening) * g``; the step uses ``buf`` (or
    ``g + momentum * buf`` with ``nesterov``). The state holds ``momentum_buffer`` only
    when ``momentum != 0``.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 1e-3.
        momentum: momentum factor. Default: 0.
        dampening: dampening of the momentum. Default: 0.
        weight_decay: L2 penalty. Default: 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0). Default: False.
        maximize: maximize the objective. Default: False.
        foreach, differentiable, fused: accepted for torch compatibility; no-ops.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0, 2.0]))
        >>> opt = ganglion.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     w.grad = ganglion.tensor([1.0, 1.0])
        ...     opt.step()
        >>> w.data
        tensor([0.7100, 1.7100])
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_lr(lr)
        check_nonneg(momentum, "momentum")
        check_nonneg(weight_decay, "weight_decay")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    _group_defaults = (("nesterov", False), ("maximize", False), ("foreach", None),
                       ("differentiable", False), ("fused", False))

    def step(self, closure=None):
        """Perform one SGD step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            use_momentum = group["momentum"] != 0
            params, grads, bufs = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                params.append(p)
                grads.append(p.grad)
                if use_momentum:
                    bufs.append(self.state[p].get("momentum_buffer"))
            sgd(params, grads, bufs, weight_decay=group["weight_decay"],
                momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"],
                nesterov=group["nesterov"], maximize=group["maximize"])
            if use_momentum:
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def _sgd_kernel(p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, maximize, fresh):
    """One parameter's SGD update in place; ``fresh`` marks a buffer that already holds this
    step's gradient (torch clones the first gradient into it)."""
    d = _f.effective_grad(p, g, weight_decay, maximize)
    if buf is not None:
        if fresh:
            np.copyto(buf, d)
        else:
            buf *= momentum
            if dampening != 0:
                t = np.multiply(d, 1.0 - dampening)
                buf += t
            else:
                buf += d
        if nesterov:
            t = np.multiply(buf, momentum)
            t += d
            d = t
        else:
            d = buf
    t = np.multiply(d, -lr)
    p += t


def sgd(params, d_p_list, momentum_buffer_list, has_sparse_grad=False, foreach=None,
        fused=None, grad_scale=None, found_inf=None, *, weight_decay, momentum, lr, dampening,
        nesterov, maximize):
    """Functional SGD (``torch.optim.sgd.sgd``): updates the tensors' arrays in place.

    ``momentum_buffer_list`` holds one Tensor or None per parameter when ``momentum != 0``;
    None entries are replaced by new buffers (a copy of the step's gradient), as in torch.

    Example:
        >>> import ganglion
        >>> p = ganglion.ones(2)
        >>> sgd([p], [ganglion.ones(2)], [], weight_decay=0, momentum=0, lr=0.5, dampening=0,
        ...     nesterov=False, maximize=False)
        >>> p
        tensor([0.5000, 0.5000])
    """
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("sgd: grad_scale/found_inf (fused AMP scaling) are not supported")
    lr = as_float(lr)
    base = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
            "dampening": dampening, "nesterov": nesterov, "maximize": maximize}
    jobs = []
    use_jit = jit.enabled()
    for i, p in enumerate(params):
        buf, fresh = None, False
        if momentum != 0:
            if momentum_buffer_list[i] is None:
                momentum_buffer_list[i] = wrap_array(np.empty_like(p.array))
                fresh = True
            buf = momentum_buffer_list[i].array
        arrays = (p.array, d_p_list[i].array, buf)
        if use_jit and _f.jit_ready(arrays):
            from ganglion.optim import _fused_jit  # noqa: PLC0415 - numba only when used

            _fused_jit.sgd(*arrays, fresh=fresh, **base)
            continue
        jobs.append((arrays, dict(base, fresh=fresh)))
    if jobs:
        _f.launch(_sgd_kernel, jobs)
    for p in params:
        p._vc[0] += 1
