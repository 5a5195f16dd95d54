"""Adagrad (Duchi et al., https://jmlr.org/papers/v12/duchi11a.html), as ``torch.optim.Adagrad``.
"""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_fused, check_lr, check_nonneg,
                                      new_step, wrap_array)

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``): per-element step ``lr / sqrt(sum of g^2)``.

    Unlike the other optimizers, and as in torch, the state (``step``, ``sum``) is created
    for every parameter in the constructor.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 1e-2.
        lr_decay: learning-rate decay: ``lr / (1 + (step - 1) * lr_decay)``. Default: 0.
        weight_decay: L2 penalty. Default: 0.
        initial_accumulator_value: starting value of ``sum``. Default: 0.
        eps: denominator term. Default: 1e-10.
        foreach, differentiable, fused: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.Adagrad([w], lr=0.1)
        >>> w.grad = ganglion.tensor([3.0])
        >>> opt.step()
        >>> w.data
        tensor([0.9000])
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        check_nonneg(lr_decay, "lr_decay")
        check_nonneg(weight_decay, "weight_decay")
        check_nonneg(initial_accumulator_value, "initial_accumulator_value")
        check_nonneg(eps, "epsilon")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "fused": fused}
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, initial_accumulator_value)

    def _init_state(self, p, init_value) -> None:
        st = self.state[p]
        st["step"] = new_step()
        st["sum"] = wrap_array(np.full_like(p.array, init_value))

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("fused", None))
    _tensor_state_keys = ()

    def share_memory(self) -> None:
        """torch moves ``sum`` to shared memory here; NumPy state needs nothing."""

    def step(self, closure=None):
        """Perform one Adagrad step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads, sums, steps = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if len(st) == 0:  # a group added later: torch uses the default accumulator
                    self._init_state(p, self.defaults["initial_accumulator_value"])
                params.append(p)
                grads.append(p.grad)
                sums.append(st["sum"])
                steps.append(st["step"])
            adagrad(params, grads, sums, steps, lr=group["lr"],
                    weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                    eps=group["eps"], maximize=group["maximize"])
        return loss


def _adagrad_kernel(p, g, s, *, clr, eps, weight_decay, maximize):
    """``sum += g*g; p -= clr * g / (sqrt(sum) + eps)`` in place."""
    t = np.empty_like(s)
    d = _f.effective_grad(p, g, weight_decay, maximize)
    np.multiply(d, d, out=t)
    s += t
    np.sqrt(s, out=t)
    t += eps
    np.divide(d, t, out=t)
    t *= -clr
    p += t


def adagrad(params, grads, state_sums, state_steps, fused=None, grad_scale=None,
            found_inf=None, has_sparse_grad=False, foreach=None, differentiable=False,
            has_complex=False, *, lr, weight_decay, lr_decay, eps, maximize):
    """Functional Adagrad (``torch.optim.adagrad.adagrad``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> adagrad([p], [ganglion.full((1,), 2.0)], [ganglion.zeros(1)], [new_step()], lr=0.1,
        ...         weight_decay=0, lr_decay=0, eps=1e-10, maximize=False)
        >>> p
        tensor([0.9000])
    """
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("adagrad: grad_scale/found_inf (fused AMP scaling) are not supported")
    lr = as_float(lr)
    jobs = []
    for i, p in enumerate(params):
        s = state_steps[i].array
        s += 1
        clr = lr / (1 + (float(s) - 1) * lr_decay)
        jobs.append(((p.array, grads[i].array, state_sums[i].array),
                     {"clr": clr, "eps": eps, "weight_decay": weight_decay,
                      "maximize": maximize}))
    _f.launch(_adagrad_kernel, jobs)
    for p in params:
        p._vc[0] += 1
