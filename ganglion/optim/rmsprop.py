"""RMSprop, as ``torch.optim.RMSprop`` (Hinton, Neural Networks for Machine Learning, lecture 6e,
https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf; centered variant:
Graves, https://arxiv.org/abs/1308.0850)."""
from __future__ import annotations

import numpy as np

from ganglion.optim import _fused as _f
from ganglion.optim.optimizer import (Optimizer, as_float, check_lr, check_nonneg)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``): divide the gradient by a running RMS of its history.

    State: ``step``, ``square_avg``, plus ``momentum_buffer`` (momentum > 0) and ``grad_avg``
    (centered).

    Args:
        params: iterable of parameters, ``(name, parameter)`` pairs or param-group dicts.
        lr: learning rate. Default: 1e-2.
        alpha: smoothing constant. Default: 0.99.
        eps: denominator term. Default: 1e-8.
        weight_decay: L2 penalty. Default: 0.
        momentum: momentum factor. Default: 0.
        centered: normalize by an estimate of the gradient's variance. Default: False.
        capturable, foreach, differentiable: accepted for torch compatibility; no-ops.
        maximize: maximize the objective. Default: False.

    Example:
        >>> import ganglion
        >>> w = ganglion.nn.Parameter(ganglion.tensor([1.0]))
        >>> opt = ganglion.optim.RMSprop([w], lr=0.01)
        >>> w.grad = ganglion.tensor([2.0])
        >>> opt.step()
        >>> w.data
        tensor([0.9000])
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        check_nonneg(eps, "epsilon")
        check_nonneg(momentum, "momentum")
        check_nonneg(weight_decay, "weight_decay")
        check_nonneg(alpha, "alpha")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _group_defaults = (("momentum", 0), ("centered", False), ("foreach", None),
                       ("maximize", False), ("differentiable", False), ("capturable", False))
    _tensor_state_keys = ()

    def step(self, closure=None):
        """Perform one RMSprop step; returns the closure's loss (if a closure is given)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            keys = ("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ()) \
                + (("grad_avg",) if group["centered"] else ())
            params, grads, s = self._gather(group, keys)
            square_avgs, steps = s["square_avg"], s["step"]
            bufs, grad_avgs = s.get("momentum_buffer", []), s.get("grad_avg", [])
            rmsprop(params, grads, square_avgs, grad_avgs, bufs, steps, lr=group["lr"],
                    alpha=group["alpha"], eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum=group["momentum"],
                    centered=group["centered"], maximize=group["maximize"])
        return loss


def _rmsprop_kernel(p, g, sq, gavg, buf, *, momentum, lr, alpha, eps, weight_decay,
                    maximize):
    """One parameter's RMSprop update in place (``gavg``/``buf`` are None when unused)."""
    t = np.empty_like(sq)
    d = _f.effective_grad(p, g, weight_decay, maximize)
    sq *= alpha
    _f.addcmul_(sq, d, d, 1.0 - alpha, t)
    if gavg is not None:  # centered: sqrt(E[g^2] - E[g]^2)
        _f.lerp_(gavg, d, 1.0 - alpha, t)
        np.multiply(gavg, gavg, out=t)
        np.subtract(sq, t, out=t)
        np.sqrt(t, out=t)
    else:
        np.sqrt(sq, out=t)
    t += eps
    if buf is not None:  # buf = momentum * buf + d / avg; p -= lr * buf
        np.divide(d, t, out=t)
        buf *= momentum
        buf += t
        np.multiply(buf, -lr, out=t)
    else:  # p += -lr * d / avg (addcdiv)
        np.divide(d, t, out=t)
        t *= -lr
    p += t


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps,
            foreach=None, maximize=False, differentiable=False, capturable=False,
            has_complex=False, *, lr, alpha, eps, weight_decay, momentum, centered):
    """Functional RMSprop (``torch.optim.rmsprop.rmsprop``), in place on the arrays.

    Example:
        >>> import ganglion
        >>> from ganglion.optim.optimizer import new_step
        >>> p = ganglion.ones(1)
        >>> rmsprop([p], [ganglion.ones(1)], [ganglion.zeros(1)], [], [], [new_step()],
        ...         lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)
        >>> p
        tensor([0.9000])
    """
    lr = as_float(lr)
    base = {"momentum": momentum, "lr": lr, "alpha": alpha, "eps": eps,
            "weight_decay": weight_decay, "maximize": maximize}
    jobs = []
    for i, p in enumerate(params):
        state_steps[i].array += 1
        gavg = grad_avgs[i].array if centered else None
        buf = momentum_buffer_list[i].array if momentum > 0 else None
        jobs.append(((p.array, grads[i].array, square_avgs[i].array, gavg, buf), base))
    _f.launch(_rmsprop_kernel, jobs)
    for p in params:
        p._vc[0] += 1
