"""Adam: adaptive moment estimation (Kingma & Ba, https://arxiv.org/abs/1412.6980).

``Adam`` validates its options and keeps torch's lazy per-parameter state (``step``,
``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` with amsgrad); ``adam`` is the pure functional
update (torch's ``torch.optim.adam.adam``): one compiled pass over each parameter on all cores
(``_fused_jit``) where numba runs, else 12 NumPy passes per parameter (``_adam_kernel``).
"""
from __future__ import annotations

import numpy as np

from ganglion.backend import jit
from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_betas, check_fused, check_lr,
                                      check_nonneg)
from ganglion.tensor import Tensor

__all__ = ["Adam", "adam"]


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with AMSGrad (https://openreview.net/forum?id=ryQu7f-RZ)
    and optional decoupled weight decay (AdamW, https://arxiv.org/abs/1711.05101).

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate (a float or a 1-element Tensor). Default: 1e-3.
        betas: decay rates of the running averages of the gradient and its square.
            Default: (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default: 1e-8.
        weight_decay: L2 penalty (decoupled when ``decoupled_weight_decay``). Default: 0.
        amsgrad: use the running maximum of the second moment. Default: False.
        foreach, capturable, differentiable, fused: accepted for torch compatibility; ganglion
            always runs its own fused update (these flags change nothing).
        maximize: maximize the objective instead of minimizing. Default: False.
        decoupled_weight_decay: apply weight decay as in AdamW. Default: False.

    Raises:
        ValueError: a negative lr/eps/weight_decay, or a beta outside [0, 1).

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0, -1.0]))
        >>> opt = ganglion.optim.Adam([w], lr=0.1)
        >>> w.grad = ganglion.tensor([0.5, -2.0])
        >>> opt.step()
        >>> w.data
        tensor([ 0.9000, -0.9000])
        >>> sorted(opt.state[w])
        ['exp_avg', 'exp_avg_sq', 'step']
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_lr(lr)
        check_nonneg(eps, "epsilon")
        check_betas(betas)
        check_nonneg(weight_decay, "weight_decay")
        if not (all(isinstance(b, float) for b in betas)
                or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    _group_defaults = (("amsgrad", False), ("maximize", False), ("foreach", None),
                       ("capturable", False), ("differentiable", False),
                       ("decoupled_weight_decay", False), ("fused", None))
    _tensor_state_keys = ()

    def step(self, closure=None):
        """Perform one Adam step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            amsgrad = group["amsgrad"]
            keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
            params, grads, s = self._gather(group, keys)
            exp_avgs, exp_avg_sqs, steps = s["exp_avg"], s["exp_avg_sq"], s["step"]
            max_sqs = s.get("max_exp_avg_sq", [])
            beta1, beta2 = group["betas"]
            adam(params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps, amsgrad=amsgrad,
                 beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                 eps=group["eps"], maximize=group["maximize"],
                 decoupled_weight_decay=group["decoupled_weight_decay"])
        return loss


def _adam_kernel(p, g, m, v, vmax, *, beta1, beta2, weight_decay, maximize, decay, eps_s,
                 step_s):
    """One parameter's Adam update, in place. ``decay`` is the decoupled factor
    ``1 - lr * wd`` (1.0 when off); ``eps_s``/``step_s`` fold the bias corrections:
    ``-lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == step_s * m / (sqrt(v) + eps_s)``."""
    t = np.empty_like(m)
    if decay != 1.0:
        p *= decay
    d = _f.effective_grad(p, g, weight_decay, maximize)
    _f.lerp_(m, d, 1.0 - beta1, t)
    v *= beta2
    _f.addcmul_(v, d, d, 1.0 - beta2, t)
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    np.sqrt(v, out=t)
    t += eps_s
    np.divide(m, t, out=t)
    t *= step_s
    p += t


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=None,
         capturable=False, differentiable=False, fused=None, grad_scale=None, found_inf=None,
         has_complex=False, decoupled_weight_decay=False, *, amsgrad, beta1, beta2, lr,
         weight_decay, eps, maximize):
    """Functional Adam (``torch.optim.adam.adam``): updates the tensors' arrays in place.

    All list arguments hold ganglion Tensors; ``state_steps`` are the 0-d ``step`` tensors,
    incremented here. ``foreach``/``capturable``/``differentiable``/``fused``/``has_complex``
    are accepted and ignored; ``grad_scale``/``found_inf`` (AMP) must be None.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p, g = ganglion.ones(2), ganglion.ones(2)
        >>> m, v, s = ganglion.zeros(2), ganglion.zeros(2), new_step()
        >>> adam([p], [g], [m], [v], [], [s], amsgrad=False, beta1=0.9, beta2=0.999, lr=0.1,
        ...      weight_decay=0.0, eps=1e-8, maximize=False)
        >>> p
        tensor([0.9000, 0.9000])
    """
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("adam: grad_scale/found_inf (fused AMP scaling) are not supported")
    lr, beta1, beta2 = as_float(lr), as_float(beta1), as_float(beta2)
    wd = 0.0 if decoupled_weight_decay else weight_decay
    decay = 1.0 - lr * weight_decay if decoupled_weight_decay else 1.0
    jobs = []
    use_jit = jit.enabled()
    for i, p in enumerate(params):
        s = state_steps[i].array
        s += 1
        k = float(s)
        vmax = max_exp_avg_sqs[i].array if amsgrad else None
        arrays = (p.array, grads[i].array, exp_avgs[i].array, exp_avg_sqs[i].array, vmax)
        if use_jit and _f.jit_ready(arrays):
            from ganglion.optim import _fused_jit  # noqa: PLC0415 - numba only when used

            sc = _fused_jit.adam_scalars(p.array.dtype, lr=lr, beta1=beta1, beta2=beta2,
                                         eps=eps, weight_decay=wd, decay=decay, step=k)
            _fused_jit.adam(*arrays, sc, maximize=maximize)
            continue
        bc2_sqrt = (1.0 - beta2 ** k) ** 0.5
        kw = {"beta1": beta1, "beta2": beta2, "weight_decay": wd, "maximize": maximize,
              "decay": decay, "eps_s": eps * bc2_sqrt,
              "step_s": -(lr / (1.0 - beta1 ** k)) * bc2_sqrt}
        jobs.append((arrays, kw))
    if jobs:
        _f.launch(_adam_kernel, jobs)
    for p in params:
        p._vc[0] += 1
