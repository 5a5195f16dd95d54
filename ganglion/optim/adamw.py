"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter,
https://arxiv.org/abs/1711.05101), as ``torch.optim.AdamW``."""
from __future__ import annotations

from ganglion.optim.adam import Adam, adam

__all__ = ["AdamW", "adamw"]


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): ``p *= 1 - lr * weight_decay`` before the Adam update.

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 1e-3.
        betas: running-average coefficients. Default: (0.9, 0.999).
        eps: denominator term. Default: 1e-8.
        weight_decay: decoupled weight decay coefficient. Default: 1e-2.
        amsgrad: use the AMSGrad variant. Default: False.
        maximize: maximize the objective. Default: False.
        foreach, capturable, differentiable, fused: accepted for torch compatibility; no-ops.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0, 2.0]))
        >>> opt = ganglion.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = ganglion.tensor([1.0, -1.0])
        >>> opt.step()
        >>> w.data
        tensor([0.8500, 2.0000])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def adamw(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=None,
          capturable=False, differentiable=False, fused=None, grad_scale=None, found_inf=None,
          has_complex=False, *, amsgrad, beta1, beta2, lr, weight_decay, eps, maximize):
    """Functional AdamW (``torch.optim.adamw.adamw``): ``adam`` with decoupled weight decay.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> adamw([p], [ganglion.zeros(1)], [ganglion.zeros(1)], [ganglion.zeros(1)], [],
        ...       [new_step()], amsgrad=False, beta1=0.9, beta2=0.999, lr=0.1,
        ...       weight_decay=0.5, eps=1e-8, maximize=False)
        >>> p
        tensor([0.9500])
    """
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=foreach,
         capturable=capturable, differentiable=differentiable, fused=fused,
         grad_scale=grad_scale, found_inf=found_inf, has_complex=has_complex, amsgrad=amsgrad,
         beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps,
         maximize=maximize, decoupled_weight_decay=True)
