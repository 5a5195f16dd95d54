"""Adadelta (Zeiler, https://arxiv.org/abs/1212.5701), as ``torch.optim.Adadelta``."""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_lr, check_nonneg)

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``): steps scaled by the ratio of running RMS of past
    updates and of gradients. State: ``step``, ``square_avg``, ``acc_delta``.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: coefficient that scales the delta. Default: 1.0.
        rho: running-average coefficient. Default: 0.9.
        eps: added inside the square roots. Default: 1e-6.
        weight_decay: L2 penalty. Default: 0.
        foreach, capturable, differentiable: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.Adadelta([w], lr=1.0)
        >>> w.grad = ganglion.tensor([1.0])
        >>> opt.step()
        >>> round(w.item(), 5)
        0.99684
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonneg(eps, "epsilon")
        check_nonneg(weight_decay, "weight_decay")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_keys = ()

    def step(self, closure=None):
        """Perform one Adadelta step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads, s = self._gather(group, ("square_avg", "acc_delta"))
            square_avgs, acc_deltas, steps = s["square_avg"], s["acc_delta"], s["step"]
            adadelta(params, grads, square_avgs, acc_deltas, steps, lr=group["lr"],
                     rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                     maximize=group["maximize"])
        return loss


def _adadelta_kernel(p, g, sq, acc, *, lr, rho, eps, weight_decay, maximize):
    """``delta = sqrt(acc + eps) / sqrt(sq + eps) * g``; both averages updated in place."""
    t = np.empty_like(sq)
    d = _f.effective_grad(p, g, weight_decay, maximize)
    sq *= rho
    _f.addcmul_(sq, d, d, 1.0 - rho, t)
    std = np.add(sq, eps, out=np.empty_like(sq))
    np.sqrt(std, out=std)
    np.add(acc, eps, out=t)
    np.sqrt(t, out=t)
    t /= std
    t *= d                      # t is now delta
    acc *= rho
    _f.addcmul_(acc, t, t, 1.0 - rho, std)
    t *= -lr
    p += t


def adadelta(params, grads, square_avgs, acc_deltas, state_steps, capturable=False,
             foreach=None, differentiable=False, has_complex=False, *, lr, rho, eps,
             weight_decay, maximize):
    """Functional Adadelta (``torch.optim.adadelta.adadelta``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> adadelta([p], [ganglion.ones(1)], [ganglion.zeros(1)], [ganglion.zeros(1)],
        ...          [new_step()], lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)
        >>> round(p.item(), 5)
        0.99684
    """
    lr = as_float(lr)
    kw = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
    jobs = []
    for i, p in enumerate(params):
        state_steps[i].array += 1
        jobs.append(((p.array, grads[i].array, square_avgs[i].array, acc_deltas[i].array), kw))
    _f.launch(_adadelta_kernel, jobs)
    for p in params:
        p._vc[0] += 1
