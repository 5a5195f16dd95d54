"""Gradient clipping (torch.nn.utils.clip_grad): ``clip_grad_norm_``, ``clip_grad_value_``,
``get_total_norm``, ``clip_grads_with_norm_``.

The norms are computed on the raw gradient arrays (one BLAS dot product per gradient for the
2-norm) and the gradients are scaled in place; ``foreach`` is accepted as a no-op.

Example:
    >>> import ganglion
    >>> from ganglion.nn.utils import clip_grad_norm_
    >>> p = ganglion.zeros(2, requires_grad=True)
    >>> p.grad = ganglion.tensor([3.0, 4.0])
    >>> clip_grad_norm_([p], max_norm=1.0)
    tensor(5.)
    >>> p.grad
    tensor([0.6000, 0.8000])
"""
from __future__ import annotations

import math
import types
import warnings

import numpy as np

from ganglion.autograd.function import _new_tensor
from ganglion.autograd.grad_mode import no_grad
from ganglion.backend.device import get_array_module
from ganglion.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _array_norm(a, p):
    """The vector p-norm of one array, in its own dtype (float arithmetic as torch's)."""
    xp = get_array_module(a)
    if a.size == 0:
        return xp.zeros((), a.dtype)
    if p == 2.0:
        flat = a.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat)) if a.dtype != np.float16 else \
            xp.sqrt(xp.dot(flat.astype(np.float32), flat.astype(np.float32))).astype(a.dtype)
    mag = xp.abs(a)
    if p == math.inf:
        return mag.max()
    if p == -math.inf:
        return mag.min()
    if p == 0.0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if p == 1.0:
        return mag.sum(dtype=a.dtype)
    return (mag ** a.dtype.type(p)).sum() ** a.dtype.type(1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (as if all were one vector).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import get_total_norm
        >>> get_total_norm([ganglion.tensor([3.0]), ganglion.tensor([4.0])])
        tensor(5.)
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _new_tensor(np.zeros((), np.float32))
    norms = [_array_norm(t.array, norm_type) for t in tensors]
    dtype = np.result_type(*[n.dtype for n in norms])
    xp = get_array_module(tensors[0].array)
    stacked = xp.stack([xp.asarray(n, dtype=dtype) for n in norms])
    total = _array_norm(stacked, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return _new_tensor(xp.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None) -> None:
    """Scale the gradients of ``parameters`` by min(1, max_norm / (total_norm + 1e-6)).

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import clip_grads_with_norm_
        >>> p = ganglion.zeros(1, requires_grad=True); p.grad = ganglion.tensor([2.0])
        >>> clip_grads_with_norm_([p], 0.5, ganglion.tensor(2.0)); p.grad
        tensor([0.5000])
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = float(max_norm) / (total + total.dtype.type(1e-6))
    coef = np.minimum(coef, total.dtype.type(1.0))  # a NaN norm stays NaN, as torch.clamp
    if coef == 1.0:
        return  # multiplying by exactly 1 changes nothing: skip the pass over every gradient
    with no_grad():
        for g in grads:
            g.mul_(_new_tensor(get_array_module(g.array).asarray(coef, dtype=total.dtype)))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None) -> Tensor:
    """Rescale the gradients so that their joint ``norm_type``-norm is at most ``max_norm``.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm (``float('inf')`` for the max norm). Default: 2.0.
        error_if_nonfinite: raise if the total norm is NaN or infinite. Default: False.
        foreach: accepted for torch compatibility (a no-op).

    Returns:
        The total norm of the gradients before clipping, a 0-d Tensor.

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import clip_grad_norm_
        >>> p = ganglion.zeros(2, requires_grad=True); p.grad = ganglion.tensor([1.0, -2.0])
        >>> clip_grad_norm_(p, 10.0, norm_type=float("inf"))
        tensor(2.)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will "
                          "occur.", stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`.

    Example:
        >>> import warnings, ganglion
        >>> from ganglion.nn.utils import clip_grad_norm
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     clip_grad_norm([], 1.0)
        tensor(0.)
    """
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place.

    Example:
        >>> import ganglion
        >>> from ganglion.nn.utils import clip_grad_value_
        >>> p = ganglion.zeros(2, requires_grad=True); p.grad = ganglion.tensor([3.0, -0.5])
        >>> clip_grad_value_([p], 1.0); p.grad
        tensor([ 1.0000, -0.5000])
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
