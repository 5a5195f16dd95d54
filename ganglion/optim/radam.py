"""RAdam: rectified Adam (Liu et al., https://arxiv.org/abs/1908.03265), as
``torch.optim.RAdam``."""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_betas, check_lr, check_nonneg)

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    """RAdam (``torch.optim.RAdam``): Adam whose adaptive step is switched on, with a
    variance-rectification factor, once the length of the approximated SMA exceeds 5.

    State: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 1e-3.
        betas: running-average coefficients. Default: (0.9, 0.999).
        eps: denominator term. Default: 1e-8.
        weight_decay: weight decay (L2, or decoupled). Default: 0.
        decoupled_weight_decay: apply weight decay as in AdamW. Default: False.
        foreach, capturable, differentiable: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.RAdam([w], lr=0.1)
        >>> w.grad = ganglion.tensor([3.0])
        >>> opt.step()
        >>> w.data
        tensor([0.7000])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_lr(lr)
        check_nonneg(eps, "epsilon")
        check_betas(betas)
        check_nonneg(weight_decay, "weight_decay")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("decoupled_weight_decay", False), ("capturable", False))
    _tensor_state_keys = ()

    def step(self, closure=None):
        """Perform one RAdam step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads, s = self._gather(group, ("exp_avg", "exp_avg_sq"))
            exp_avgs, exp_avg_sqs, steps = s["exp_avg"], s["exp_avg_sq"], s["step"]
            beta1, beta2 = group["betas"]
            radam(params, grads, exp_avgs, exp_avg_sqs, steps, beta1=beta1, beta2=beta2,
                  lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=group["maximize"])
        return loss


def _radam_kernel(p, g, m, v, *, beta1, beta2, weight_decay, maximize, decay, rectified, eps,
                  scale):
    """Moments as Adam; then ``p += scale * m / (sqrt(v) + eps)`` when rectified, else
    ``p += scale * m`` (the SGD-with-momentum warm-up of RAdam)."""
    t = np.empty_like(m)
    if decay != 1.0:
        p *= decay
    d = _f.effective_grad(p, g, weight_decay, maximize)
    _f.lerp_(m, d, 1.0 - beta1, t)
    v *= beta2
    _f.addcmul_(v, d, d, 1.0 - beta2, t)
    if rectified:
        np.sqrt(v, out=t)
        t += eps
        np.divide(m, t, out=t)
        t *= scale
    else:
        np.multiply(m, scale, out=t)
    p += t


def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps, decoupled_weight_decay=False,
          foreach=None, differentiable=False, capturable=False, has_complex=False,
          maximize=False, *, beta1, beta2, lr, weight_decay, eps):
    """Functional RAdam (``torch.optim.radam.radam``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> radam([p], [ganglion.ones(1)], [ganglion.zeros(1)], [ganglion.zeros(1)],
        ...       [new_step()], beta1=0.9, beta2=0.999, lr=0.1, weight_decay=0, eps=1e-8)
        >>> p
        tensor([0.9000])
    """
    lr = as_float(lr)
    decay = 1.0 - lr * weight_decay if decoupled_weight_decay else 1.0
    wd = 0.0 if decoupled_weight_decay else weight_decay
    rho_inf = 2 / (1 - beta2) - 1
    jobs = []
    for i, p in enumerate(params):
        s = state_steps[i].array
        s += 1
        k = float(s)
        bc1, bc2 = 1 - beta1 ** k, 1 - beta2 ** k
        rho_t = rho_inf - 2 * k * (beta2 ** k) / bc2
        rectified = rho_t > 5.0
        if rectified:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            scale = -lr / bc1 * bc2 ** 0.5 * rect
        else:
            scale = -lr / bc1
        kw = {"beta1": beta1, "beta2": beta2, "weight_decay": wd, "maximize": maximize,
              "decay": decay, "rectified": rectified, "eps": eps, "scale": scale}
        jobs.append(((p.array, grads[i].array, exp_avgs[i].array, exp_avg_sqs[i].array), kw))
    _f.launch(_radam_kernel, jobs)
    for p in params:
        p._vc[0] += 1
