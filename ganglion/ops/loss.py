"""Op family 'loss': the loss functions of ``torch.nn.functional``.

``cross_entropy`` (fused with log-softmax) and ``nll_loss`` live here; the elementwise losses
are in ``loss_pointwise`` and the margin/distance ones in ``loss_margin``, re-exported here.
Every loss takes ``reduction='none'|'mean'|'sum'`` and torch's deprecated ``size_average`` /
``reduce`` flags (mapped to a reduction with torch's warning).

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> round(F.cross_entropy(ganglion.zeros(2, 4), ganglion.tensor([0, 3])).item(), 4)
    1.3863
"""
from __future__ import annotations

import numpy as np

from ganglion.ops import loss_margin as _margin, loss_pointwise as _pointwise
from ganglion.ops._util import check_tensor
from ganglion.ops.loss_ce import CEInfo, CrossEntropy, NLLLoss
from ganglion.ops.loss_common import dtype_name, get_reduction
from ganglion.ops.loss_margin import *  # noqa: F401,F403
from ganglion.ops.loss_pointwise import *  # noqa: F401,F403
from ganglion.tensor import Tensor

__all__ = ["cross_entropy", "nll_loss"] + list(_pointwise.__all__) + list(_margin.__all__)

TENSOR_METHODS: dict = {}


def _check_input(input, op):
    check_tensor(input, op)
    if input.ndim < 1:
        raise ValueError(f"{op}: Expected 1 or more dimensions (got {input.ndim}); the input "
                         f"must be (C,), (N, C) or (N, C, d1, ...).")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}.")
    if input.shape[1 if input.ndim > 1 else 0] == 0:
        raise RuntimeError(f"{op}: the input of shape {tuple(input.shape)} has no classes "
                           f"(size 0 along the class dim).")


def _check_weight(weight, c, op):
    if weight is None:
        return None
    check_tensor(weight, op, "weight")
    if weight.ndim != 1 or weight.numel() != c:
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {c} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    return weight


def _check_index_target(input, target, ignore_index, op):
    """Class-index targets: dtype, shape against the input, and range (ignore_index aside)."""
    if target.array.dtype not in (np.int64, np.uint8):
        extra = ""
        if target.array.dtype.kind == "f":
            extra = (f" (a floating target must have the input's shape {tuple(input.shape)} to "
                     f"be read as class probabilities; expected scalar type Long but found "
                     f"{dtype_name(target)})")
        raise RuntimeError(f"{op}: expected target dtype to be Long or Byte, but got "
                           f"{dtype_name(target)}; target of shape {tuple(target.shape)} holds "
                           f"class indices{extra}. Use target.long().")
    ishape, tshape = tuple(input.shape), tuple(target.shape)
    if input.ndim == 1:
        ok = tshape == ()
    else:
        if not tshape or tshape[0] != ishape[0]:
            raise ValueError(f"{op}: Expected input batch_size ({ishape[0]}) to match target "
                             f"batch_size ({tshape[0] if tshape else 0}); input shape {ishape}, "
                             f"target shape {tshape}.")
        ok = tshape == ishape[:1] + ishape[2:]
    if not ok:
        raise RuntimeError(f"{op}: Expected target size {list(ishape[:1] + ishape[2:])}, got "
                           f"{list(tshape)} (input shape {ishape}, target shape {tshape}).")
    c = ishape[1 if input.ndim > 1 else 0]
    t = target.array
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        val = int(t[bad].flat[0])
        raise IndexError(f"{op}: Target {val} is out of bounds. Expected class indices in "
                         f"[0, {c}) for {c} classes (or ignore_index={ignore_index}).")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0) -> Tensor:
    """Cross entropy between the logits ``input`` and ``target``, fused with log-softmax.

    ``target`` holds class indices (shape ``(N, d1, ...)``, int64) or, when it has the input's
    shape, class probabilities (floating point).

    Args:
        input: logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: class indices or probabilities (see above).
        weight: ``(C,)`` rescaling weight per class, or None.
        size_average: deprecated (use ``reduction``).
        ignore_index: class index that contributes nothing (indices targets only).
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' (weighted mean: divided by the summed weights of the
            non-ignored targets) or 'sum'.
        label_smoothing: in [0, 1]: mixes the target with the uniform distribution, as torch.

    Returns:
        The loss: a scalar, or per-sample with ``reduction='none'``.

    Raises:
        RuntimeError: wrong target dtype or shape, wrong weight size, bad label_smoothing.
        IndexError: a class index out of range.
        ValueError: the batch sizes differ, or an unknown reduction.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> cross_entropy(x, ganglion.tensor([0, 1]), reduction="none")
        tensor([0.1269, 0.1269])
    """
    op = "cross_entropy"
    reduction = get_reduction(size_average, reduce, reduction, op)
    _check_input(input, op)
    check_tensor(target, op, "target")
    cdim = 1 if input.ndim > 1 else 0
    c = input.shape[cdim]
    weight = _check_weight(weight, c, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    prob = tuple(target.shape) == tuple(input.shape)
    if prob:
        if target.array.dtype.kind != "f":
            raise RuntimeError(f"{op}: Expected floating point type for target with class "
                               f"probabilities, got {dtype_name(target)} (target has the "
                               f"input's shape {tuple(input.shape)}, so it is read as "
                               f"probabilities; class indices have shape (N, d1, ...)).")
        if ignore_index >= 0:
            raise RuntimeError(f"{op}: ignore_index is not supported for floating point target")
        if target.dtype != input.dtype:
            target = target.to(input.dtype)
    else:
        _check_index_target(input, target, ignore_index, op)
    info = CEInfo(cdim, prob, ignore_index, reduction, label_smoothing)
    return CrossEntropy.apply(input, target, weight, info)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean") -> Tensor:
    """Negative log-likelihood of class-index targets: -weight[t] * input[t] along dim 1.

    Args:
        input: log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
        target: int64 class indices of shape ``()``, ``(N,)`` or ``(N, d1, ...)``.
        weight: ``(C,)`` rescaling weight per class, or None.
        size_average: deprecated (use ``reduction``).
        ignore_index: class index that contributes nothing.
        reduce: deprecated (use ``reduction``).
        reduction: 'none', 'mean' (divided by the summed weights of non-ignored targets) or
            'sum'.

    Returns:
        The loss: a scalar, or per-sample with ``reduction='none'``.

    Raises:
        RuntimeError: the target is not int64/uint8 or has the wrong shape.
        IndexError: a class index out of range.

    Example:
        >>> import ganglion
        >>> nll_loss(ganglion.tensor([[-1.0, -2.0]]), ganglion.tensor([1]))
        tensor(2.)
    """
    op = "nll_loss"
    reduction = get_reduction(size_average, reduce, reduction, op)
    _check_input(input, op)
    check_tensor(target, op, "target")
    cdim = 1 if input.ndim > 1 else 0
    weight = _check_weight(weight, input.shape[cdim], op)
    _check_index_target(input, target, ignore_index, op)
    info = CEInfo(cdim, False, ignore_index, reduction, 0.0)
    return NLLLoss.apply(input, target, weight, info)
