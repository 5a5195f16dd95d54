"""Elementwise losses of the 'loss' family: regression losses, binary cross entropy, KL
divergence, Poisson and Gaussian negative log-likelihood, soft-margin losses.

Most are short compositions of differentiable ops that follow torch's own formulas (so values,
gradients, second derivatives and the subgradients at kinks are torch's); ``binary_cross_entropy``
is one op because torch clamps its logs at -100 and uses its own gradient formula.

Example:
    >>> import ganglion
    >>> from ganglion.ops.loss_pointwise import mse_loss
    >>> mse_loss(ganglion.tensor([1.0, 2.0]), ganglion.tensor([1.0, 4.0]))
    tensor(2.)
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd.function import Op
from ganglion.ops.activation import logsigmoid
from ganglion.ops.arith_select import where
from ganglion.ops.loss_common import (StraightClamp, check_float, get_reduction, reduce_loss,
                                      warn_size)
from ganglion.ops._util import check_tensor
from ganglion.tensor import Size, Tensor

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss"]


def _weighted(loss, weight, input, reduction, op, mean_by_weight=True):
    """torch's manual weighting of mse/l1/huber: 'mean' is sum(w * l) / sum(w) (mse, l1)."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Weights and input must have the same size; got weight of shape "
                         f"{tuple(weight.shape)} and input of shape {tuple(input.shape)}.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return reduce_loss(loss, reduction)


def _pair(input, target, op):
    check_tensor(input, op)
    check_tensor(target, op, "target")
    warn_size(input, target, stacklevel=4)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",
             weight=None) -> Tensor:
    """Mean squared error (x - y)**2, reduced; ``weight`` (input's shape) scales each term.

    Args:
        input: predictions.
        target: targets (broadcast against ``input`` with a warning if the shapes differ).
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' (with weight: sum(w * l) / sum(w)) or 'sum'.
        weight: per-element weights of the input's shape, or None.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> mse_loss(ganglion.tensor([0.0, 2.0]), ganglion.tensor([1.0, 1.0]), reduction="sum")
        tensor(2.)
    """
    op = "mse_loss"
    _pair(input, target, op)
    reduction = get_reduction(size_average, reduce, reduction, op)
    d = input - target
    loss = d * d
    if weight is not None:
        return _weighted(loss, weight, input, reduction, op)
    return reduce_loss(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
            weight=None) -> Tensor:
    """Mean absolute error |x - y|, reduced (subgradient 0 at x == y, as torch).

    Args:
        input: predictions.
        target: targets (broadcast with a warning if the shapes differ).
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' (with weight: sum(w * l) / sum(w)) or 'sum'.
        weight: per-element weights of the input's shape, or None.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> l1_loss(ganglion.tensor([0.0, 3.0]), ganglion.tensor([1.0, 1.0]))
        tensor(1.5000)
    """
    op = "l1_loss"
    _pair(input, target, op)
    reduction = get_reduction(size_average, reduce, reduction, op)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, input, reduction, op)
    return reduce_loss(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0) -> Tensor:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = x - y); beta=0 is L1.

    Args:
        input: predictions.
        target: targets (broadcast with a warning if the shapes differ).
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.
        beta: the threshold between the quadratic and linear pieces (>= 0).

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> smooth_l1_loss(ganglion.tensor([0.5, 3.0]), ganglion.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    op = "smooth_l1_loss"
    _pair(input, target, op)
    reduction = get_reduction(size_average, reduce, reduction, op)
    if beta < 0:
        raise RuntimeError(f"{op}: smooth_l1_loss does not support negative values for beta "
                           f"(got {beta}).")
    d = input - target
    z = d.abs()
    if beta == 0:
        return reduce_loss(z, reduction)
    loss = where(z < beta, d * d * (0.5 / beta), z - 0.5 * beta)
    return reduce_loss(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None) -> Tensor:
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta) (d = x - y).

    Args:
        input: predictions.
        target: targets (broadcast with a warning if the shapes differ).
        reduction: 'none', 'mean' or 'sum' (with weight, 'mean' is mean(w * l), as torch).
        delta: the threshold (> 0).
        weight: per-element weights of the input's shape, or None.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> huber_loss(ganglion.tensor([0.5, 3.0]), ganglion.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    op = "huber_loss"
    _pair(input, target, op)
    reduction = get_reduction(None, None, reduction, op)
    if delta <= 0:
        raise RuntimeError(f"{op}: huber_loss does not support non-positive values for delta "
                           f"(got {delta}).")
    d = input - target
    z = d.abs()
    loss = where(z < delta, d * d * 0.5, (z - 0.5 * delta) * delta)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, op, mean_by_weight=False)
    return reduce_loss(loss, reduction)


class BinaryCrossEntropy(Op):
    """-(t * max(log x, -100) + (1 - t) * max(log(1 - x), -100)), unreduced, as torch's kernel.

    Backward follows torch: dx = g * (x - t) / max(x * (1 - x), 1e-12), dt = -g * logit(x).
    """

    @staticmethod
    def forward(ctx, x, t):
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.maximum(np.log(x), x.dtype.type(-100))
            l1x = np.maximum(np.log1p(-x), x.dtype.type(-100))
        ctx.save_for_backward(x, t)
        return -(t * (lx - l1x) + l1x)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        nig = ctx.needs_input_grad
        gx = g * (x - t) / (x * (1 - x)).clamp_min(1e-12) if nig[0] else None
        gt = -g * x.logit() if nig[1] else None
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean") -> Tensor:
    """Binary cross entropy of probabilities ``input`` in [0, 1] (logs clamped at -100).

    Args:
        input: probabilities, any shape.
        target: targets of the same shape.
        weight: rescaling weight broadcast against the target, or None.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        ValueError: target and input shapes differ.
        RuntimeError: an input value outside [0, 1].

    Example:
        >>> import ganglion
        >>> binary_cross_entropy(ganglion.tensor([1.0, 0.0]), ganglion.tensor([0.0, 0.0]))
        tensor(50.)
    """
    op = "binary_cross_entropy"
    check_float(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Using a target size ({Size(target.shape)!r}) that is different "
                         f"to the input size ({Size(input.shape)!r}) is deprecated. Please "
                         f"ensure they have the same size.")
    x = input.array
    if not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError(f"{op}: all elements of input should be between 0 and 1 (got values "
                           f"in [{np.nanmin(x) if x.size else 0}, "
                           f"{np.nanmax(x) if x.size else 0}]); apply sigmoid first or use "
                           f"binary_cross_entropy_with_logits.")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable formula:
    (1 - t) * x - (1 + (pos_weight - 1) * t) * logsigmoid(x).

    Args:
        input: logits, any shape.
        target: targets of the same shape.
        weight: rescaling weight broadcast against the loss, or None.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.
        pos_weight: weight of the positive examples, broadcast along the last (class) dim.

    Returns:
        The loss.

    Raises:
        ValueError: target and input shapes differ.

    Example:
        >>> import ganglion
        >>> binary_cross_entropy_with_logits(ganglion.zeros(2), ganglion.ones(2))
        tensor(0.6931)
    """
    op = "binary_cross_entropy_with_logits"
    check_float(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Target size ({Size(target.shape)!r}) must be the same as input "
                         f"size ({Size(input.shape)!r})")
    ls = logsigmoid(input)
    if pos_weight is not None:
        ls = ls * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - ls
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",
           log_target=False) -> Tensor:
    """Kullback-Leibler divergence, pointwise target * (log target - input); ``input`` holds
    log-probabilities (and so does ``target`` with ``log_target``).

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities with ``log_target=True``).
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'batchmean' (sum / batch size: the KL divergence), 'sum' or 'mean'
            (divides by every element; torch warns, and so does ganglion).
        log_target: ``target`` is given in log space.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> p = ganglion.tensor([[0.5, 0.5]])
        >>> kl_div(p.log(), p, reduction="batchmean")
        tensor(0.)
    """
    op = "kl_div"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    allowed = ("none", "mean", "sum", "batchmean")
    if size_average is None and reduce is None and reduction == "mean":
        import warnings  # noqa: PLC0415

        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    red = get_reduction(size_average, reduce, reduction, op, allowed)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if red == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return reduce_loss(loss, red)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-08,
                     reduce=None, reduction="mean") -> Tensor:
    """Poisson negative log-likelihood: exp(x) - t * x (``log_input``), else x - t * log(x + eps);
    ``full`` adds the Stirling term t * log(t) - t + 0.5 * log(2 pi t) where t > 1.

    Args:
        input: the rate's log (``log_input=True``) or the rate itself.
        target: observed counts.
        log_input: see above.
        full: add the Stirling approximation term.
        size_average: deprecated (use ``reduction``).
        eps: keeps log away from 0 when ``log_input=False``.
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> poisson_nll_loss(ganglion.zeros(2), ganglion.zeros(2))
        tensor(1.)
    """
    op = "poisson_nll_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return reduce_loss(loss, reduction)


def _var_shape(input, var, op):
    """torch's homoscedastic shape rules for ``var``: returns var ready to broadcast."""
    ishape, vshape = tuple(input.shape), tuple(var.shape)
    if vshape == ishape:
        return var
    if ishape[:-1] == vshape:
        return var.unsqueeze(-1)
    if len(ishape) == len(vshape) and sum(v for i, v in zip(ishape, vshape) if i != v) == 1:
        return var
    raise ValueError(f"{op}: var is of incorrect size: got var of shape {vshape} for input of "
                     f"shape {ishape}; expected the input's shape, the input's shape without "
                     f"its last dim, or one dim of size 1.")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-06, reduction="mean") -> Tensor:
    """Gaussian negative log-likelihood 0.5 * (log(var) + (x - t)**2 / var) (+ 0.5 log 2 pi).

    ``var`` is clamped at ``eps`` for stability; as in torch the gradient passes through the
    clamp unchanged.

    Args:
        input: predicted means.
        target: observations.
        var: predicted variances (input's shape, one dim short, or one dim of size 1), or a
            float.
        full: add the constant 0.5 * log(2 pi).
        eps: lower clamp of ``var``.
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Raises:
        ValueError: negative variance, or ``var`` of a shape that does not fit.

    Example:
        >>> import ganglion
        >>> gaussian_nll_loss(ganglion.zeros(2), ganglion.zeros(2), ganglion.ones(2))
        tensor(0.)
    """
    op = "gaussian_nll_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (got {var}).")
        var = input.new_full(tuple(input.shape), float(var))
    else:
        check_tensor(var, op, "var")
        if (var.array < 0).any():
            raise ValueError(f"{op}: var has negative entry/entries.")
        var = _var_shape(input, var, op)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: {reduction} is not valid")
    var = StraightClamp.apply(var, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """Two-class logistic loss log(1 + exp(-y * x)) with targets y in {1, -1}.

    Args:
        input: scores.
        target: +1 / -1 labels of the same shape.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' or 'sum'.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> soft_margin_loss(ganglion.zeros(2), ganglion.tensor([1.0, -1.0]))
        tensor(0.6931)
    """
    op = "soft_margin_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    return reduce_loss((-input * target).exp().log1p(), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean") -> Tensor:
    """Multi-label one-versus-all logistic loss, averaged over the classes (last dim).

    Args:
        input: ``(N, C)`` (or ``(C,)``) scores.
        target: 0/1 labels of the same shape.
        weight: ``(C,)`` per-class weights, or None.
        size_average: deprecated (use ``reduction``).
        reduce: deprecated (use ``reduction``).
        reduction: 'none' (one loss per sample), 'mean' or 'sum'.

    Returns:
        The loss.

    Example:
        >>> import ganglion
        >>> multilabel_soft_margin_loss(ganglion.zeros(1, 2), ganglion.tensor([[1.0, 0.0]]))
        tensor(0.6931)
    """
    op = "multilabel_soft_margin_loss"
    check_tensor(input, op)
    check_tensor(target, op, "target")
    reduction = get_reduction(size_average, reduce, reduction, op)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cd = input.ndim - 1
    loss = loss.sum(cd) / input.shape[cd]
    return reduce_loss(loss, reduction)
