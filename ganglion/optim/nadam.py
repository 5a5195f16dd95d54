"""NAdam: Adam with Nesterov momentum (Dozat, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ;
decoupled weight decay: https://arxiv.org/abs/1711.05101), as ``torch.optim.NAdam``."""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_betas, check_lr, check_nonneg)

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam (``torch.optim.NAdam``) with torch's momentum-decay schedule
    ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``.

    State: ``step``, ``mu_product`` (a 0-d tensor, float32 as in torch), ``exp_avg``,
    ``exp_avg_sq``.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 2e-3.
        betas: running-average coefficients. Default: (0.9, 0.999).
        eps: denominator term. Default: 1e-8.
        weight_decay: weight decay (L2, or decoupled). Default: 0.
        momentum_decay: momentum decay psi. Default: 4e-3.
        decoupled_weight_decay: apply weight decay as in AdamW. Default: False.
        foreach, capturable, differentiable: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.NAdam([w], lr=0.1)
        >>> w.grad = ganglion.tensor([1.0])
        >>> opt.step()
        >>> round(w.item(), 4)
        0.8944
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        check_nonneg(eps, "epsilon")
        check_betas(betas)
        check_nonneg(weight_decay, "weight_decay")
        check_nonneg(momentum_decay, "momentum_decay")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("maximize", False), ("foreach", None), ("capturable", False),
                       ("differentiable", False), ("decoupled_weight_decay", False))
    _tensor_state_keys = ("mu_product",)

    def step(self, closure=None):
        """Perform one NAdam step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params, grads, s = self._gather(group, ("mu_product", "exp_avg", "exp_avg_sq"))
            exp_avgs, exp_avg_sqs = s["exp_avg"], s["exp_avg_sq"]
            mu_products, steps = s["mu_product"], s["step"]
            beta1, beta2 = group["betas"]
            nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, beta1=beta1,
                  beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                  momentum_decay=group["momentum_decay"], eps=group["eps"],
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=group["maximize"])
        return loss


def _nadam_kernel(p, g, m, v, *, beta1, beta2, weight_decay, maximize, decay, bc2, eps, c_g,
                  c_m):
    """The moment updates, then torch's two ``addcdiv_`` calls:
    ``p += c_g * g / denom`` and ``p += c_m * m / denom``, ``denom = sqrt(v / bc2) + eps``."""
    t = np.empty_like(m)
    if decay != 1.0:
        p *= decay
    d = _f.effective_grad(p, g, weight_decay, maximize)
    _f.lerp_(m, d, 1.0 - beta1, t)
    v *= beta2
    _f.addcmul_(v, d, d, 1.0 - beta2, t)
    np.divide(v, bc2, out=t)
    np.sqrt(t, out=t)
    t += eps
    u = np.divide(d, t, out=np.empty_like(t))
    u *= c_g
    p += u
    np.divide(m, t, out=u)
    u *= c_m
    p += u


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps,
          decoupled_weight_decay=False, foreach=None, capturable=False, differentiable=False,
          has_complex=False, maximize=False, *, beta1, beta2, lr, weight_decay, momentum_decay,
          eps):
    """Functional NAdam (``torch.optim.nadam.nadam``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> nadam([p], [ganglion.ones(1)], [ganglion.zeros(1)], [ganglion.zeros(1)],
        ...       [new_step(1.0)], [new_step()], beta1=0.9, beta2=0.999, lr=0.1,
        ...       weight_decay=0, momentum_decay=4e-3, eps=1e-8)
        >>> round(p.item(), 4)
        0.8944
    """
    lr = as_float(lr)
    decay = 1.0 - lr * weight_decay if decoupled_weight_decay else 1.0
    wd = 0.0 if decoupled_weight_decay else weight_decay
    jobs = []
    for i, p in enumerate(params):
        s = state_steps[i].array
        s += 1
        k = float(s)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (k * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((k + 1) * momentum_decay))
        mp = mu_products[i].array
        mp *= mu  # a float32 0-d tensor in torch: keep its rounding
        mu_prod = float(mp)
        kw = {"beta1": beta1, "beta2": beta2, "weight_decay": wd, "maximize": maximize,
              "decay": decay, "bc2": 1 - beta2 ** k, "eps": eps,
              "c_g": -lr * (1.0 - mu) / (1.0 - mu_prod),
              "c_m": (-lr * mu_next) / (1.0 - mu_prod * mu_next)}
        jobs.append(((p.array, grads[i].array, exp_avgs[i].array, exp_avg_sqs[i].array), kw))
    _f.launch(_nadam_kernel, jobs)
    for p in params:
        p._vc[0] += 1
