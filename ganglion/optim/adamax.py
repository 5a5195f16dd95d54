"""Adamax: Adam with the infinity norm (Kingma & Ba, https://arxiv.org/abs/1412.6980, sec. 7),
as ``torch.optim.Adamax``."""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_betas, check_lr, check_nonneg)

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    """Adamax (``torch.optim.Adamax``). State: ``step``, ``exp_avg``, ``exp_inf``.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 2e-3.
        betas: running-average coefficients. Default: (0.9, 0.999).
        eps: added to ``|g|`` before the running maximum. Default: 1e-8.
        weight_decay: L2 penalty. Default: 0.
        foreach, differentiable, capturable: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.Adamax([w], lr=0.1)
        >>> w.grad = ganglion.tensor([2.0])
        >>> opt.step()
        >>> w.data
        tensor([0.9000])
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_nonneg(eps, "epsilon")
        check_betas(betas)
        check_nonneg(weight_decay, "weight_decay")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("capturable", False))
    _tensor_state_keys = ()

    def step(self, closure=None):
        """Perform one Adamax step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads, s = self._gather(group, ("exp_avg", "exp_inf"))
            exp_avgs, exp_infs, steps = s["exp_avg"], s["exp_inf"], s["step"]
            beta1, beta2 = group["betas"]
            adamax(params, grads, exp_avgs, exp_infs, steps, eps=group["eps"], beta1=beta1,
                   beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                   maximize=group["maximize"])
        return loss


def _adamax_kernel(p, g, m, u, *, beta1, beta2, eps, clr, weight_decay, maximize):
    """``m`` lerps to g; ``u = max(beta2 * u, |g| + eps)`` (NaN propagates, as torch.maximum);
    ``p -= clr * m / u``."""
    t = np.empty_like(m)
    d = _f.effective_grad(p, g, weight_decay, maximize)
    _f.lerp_(m, d, 1.0 - beta1, t)
    u *= beta2
    np.abs(d, out=t)
    t += eps
    np.maximum(u, t, out=u)
    np.divide(m, u, out=t)
    t *= -clr
    p += t


def adamax(params, grads, exp_avgs, exp_infs, state_steps, foreach=None, maximize=False,
           differentiable=False, capturable=False, has_complex=False, *, eps, beta1, beta2, lr,
           weight_decay):
    """Functional Adamax (``torch.optim.adamax.adamax``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> adamax([p], [ganglion.ones(1)], [ganglion.zeros(1)], [ganglion.zeros(1)],
        ...        [new_step()], eps=1e-8, beta1=0.9, beta2=0.999, lr=0.1, weight_decay=0)
        >>> p
        tensor([0.9000])
    """
    lr = as_float(lr)
    jobs = []
    for i, p in enumerate(params):
        s = state_steps[i].array
        s += 1
        clr = lr / (1 - beta1 ** float(s))
        jobs.append(((p.array, grads[i].array, exp_avgs[i].array, exp_infs[i].array),
                     {"beta1": beta1, "beta2": beta2, "eps": eps, "clr": clr,
                      "weight_decay": weight_decay, "maximize": maximize}))
    _f.launch(_adamax_kernel, jobs)
    for p in params:
        p._vc[0] += 1
