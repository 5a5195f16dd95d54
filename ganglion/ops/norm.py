"""Op family 'norm': ``batch_norm``, ``instance_norm``, ``layer_norm``, ``group_norm``,
``rms_norm``, ``normalize`` and ``local_response_norm``, as ``torch.nn.functional``.

The first five are one fused op each (``ganglion.ops.norm_fused.Normalize``): statistics are
computed once, the affine is folded in, and backward is the closed form, differentiable again.
Functional forms are re-exported by ``ganglion.nn.functional``.

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.layer_norm(ganglion.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.ops._util import check_tensor, norm_dim
from ganglion.ops.movement_join import cat
from ganglion.ops.norm_fused import NormEval, NormSpec, Normalize
from ganglion.tensor import Size, Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "normalize",
           "local_response_norm"]

TENSOR_METHODS: dict = {}


def _check_float(input, op):
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}; convert "
                           f"it first (input.float()).")


def _check_param(t, name, numel, op, extra=""):
    """weight/bias/running stats: a 1-D-sized tensor with ``numel`` elements, input's dtype."""
    if t is None:
        return None
    check_tensor(t, op, name)
    if t.numel() != numel:
        raise RuntimeError(f"{op}: {name} should contain {numel} elements not {t.numel()}"
                           f"{extra}")
    return t


def _same_dtype(input, op, **params):
    for name, t in params.items():
        if t is not None and t.array.dtype != input.array.dtype:
            raise RuntimeError(f"{op}: expected {name} to have the input's dtype {input.dtype}, "
                               f"got {t.dtype}; convert it with .to(input.dtype).")


def _verify_batch_size(size, op, what="value per channel"):
    if size[0] * math.prod(size[2:]) == 1:
        raise ValueError(f"{op}: Expected more than 1 {what} when training, got input size "
                         f"{Size(size)!r}")


def _bump(*tensors):
    for t in tensors:
        if t is not None:
            t._vc[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05) -> Tensor:
    """Batch normalization over the channel dim 1 of an ``(N, C, *)`` input.

    In training mode the statistics are the batch's (biased variance) and ``running_mean`` /
    ``running_var`` (when given) are updated in place with ``momentum`` (the running variance
    uses the unbiased batch variance, as torch). In eval mode the running statistics are used.

    Args:
        input: ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)``, ... floating point tensor.
        running_mean: ``(C,)`` tensor or None (required in eval mode).
        running_var: ``(C,)`` tensor or None (required in eval mode).
        weight: ``(C,)`` scale or None.
        bias: ``(C,)`` shift or None.
        training: use batch statistics (and update the running ones).
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance.

    Returns:
        A tensor of the input's shape.

    Raises:
        ValueError: training with one value per channel.
        RuntimeError: sizes of the parameters do not match the channels.

    Example:
        >>> import ganglion
        >>> x = ganglion.tensor([[1.0], [3.0]])
        >>> rm, rv = ganglion.zeros(1), ganglion.ones(1)
        >>> batch_norm(x, rm, rv, training=True).shape
        ganglion.Size([2, 1])
        >>> rm, rv
        (tensor([0.2000]), tensor([1.1000]))
    """
    op = "batch_norm"
    check_tensor(input, op)
    _check_float(input, op)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *) with at least 2 dims, "
                         f"got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(t, name, c, op)
    _same_dtype(input, op, weight=weight, bias=bias)
    shape = tuple(input.shape)
    spec = NormSpec((shape[0], c, math.prod(shape[2:])), (0, 2), (1, c, 1), eps)
    if training:
        _verify_batch_size(shape, op)
        if momentum is None and (running_mean is not None or running_var is not None):
            raise TypeError(f"{op}: momentum must be a float when updating running stats "
                            f"(got None); pass the running-average factor explicitly.")
        out = Normalize.apply(input, weight, bias, spec, running_mean, running_var, momentum)
        _bump(running_mean, running_var)
        return out
    if running_mean is None or running_var is None:
        missing = "running_mean" if running_mean is None else "running_var"
        raise RuntimeError(f"{op}: {missing} must be defined in evaluation mode "
                           f"(training=False); pass running statistics or training=True.")
    return _eval_norm(input, weight, bias, spec, running_mean, running_var, eps)


def _eval_norm(input, weight, bias, spec, running_mean, running_var, eps):
    dt = input.array.dtype
    mean = running_mean.array.astype(dt).reshape(spec.wshape)
    inv = (1 / np.sqrt(running_var.array.astype(dt) + eps)).astype(dt).reshape(spec.wshape)
    return NormEval.apply(input, weight, bias, spec, mean, inv)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05) -> Tensor:
    """Instance normalization: each channel of each sample over its spatial dims.

    Args:
        input: ``(N, C, *)`` floating point tensor with at least one spatial dim.
        running_mean: ``(C,)`` tensor or None; updated in place (averaged over the batch)
            when ``use_input_stats``.
        running_var: ``(C,)`` tensor or None, likewise (unbiased per-instance variances).
        weight: ``(C,)`` scale or None.
        bias: ``(C,)`` shift or None.
        use_input_stats: normalize with each instance's statistics; False uses the running ones.
        momentum: weight of the new statistic in the running average.
        eps: added to the variance.

    Returns:
        A tensor of the input's shape.

    Raises:
        ValueError: one spatial element while using input statistics.

    Example:
        >>> import ganglion
        >>> instance_norm(ganglion.tensor([[[1.0, 3.0]]])).shape
        ganglion.Size([1, 1, 2])
    """
    op = "instance_norm"
    check_tensor(input, op)
    _check_float(input, op)
    if input.ndim < 3:
        raise ValueError(f"{op}: expected an input of shape (N, C, *) with at least one spatial "
                         f"dim, got shape {tuple(input.shape)}")
    shape = tuple(input.shape)
    n, c = shape[0], shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(t, name, c, op)
    _same_dtype(input, op, weight=weight, bias=bias)
    spec = NormSpec((n, c, math.prod(shape[2:])), (2,), (1, c, 1), eps)
    if use_input_stats:
        if math.prod(shape[2:]) == 1:
            raise ValueError(f"{op}: Expected more than 1 spatial element when training, got "
                             f"input size {Size(shape)!r}")
        out = Normalize.apply(input, weight, bias, spec, running_mean, running_var, momentum)
        _bump(running_mean, running_var)
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError(f"{op}: Expected running_mean and running_var to be defined when "
                           f"use_input_stats is false")
    return _eval_norm(input, weight, bias, spec, running_mean, running_var, eps)


def _normalized_shape(input, normalized_shape, op, sep):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"{op}: Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*{sep}{', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    return ns


def _check_shaped(t, name, ns, op):
    if t is None:
        return
    check_tensor(t, op, name)
    if tuple(t.shape) != ns:
        raise RuntimeError(f"{op}: Expected {name} to be of same shape as normalized_shape, but "
                           f"got {name} of shape {list(t.shape)} and normalized_shape = "
                           f"{list(ns)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dims.

    Args:
        input: ``(*, *normalized_shape)`` floating point tensor.
        normalized_shape: int or tuple: the trailing shape normalized as one group.
        weight: scale of shape ``normalized_shape`` or None.
        bias: shift of shape ``normalized_shape`` or None.
        eps: added to the variance.

    Returns:
        A tensor of the input's shape.

    Raises:
        RuntimeError: the input's trailing dims or the parameters' shapes do not match.

    Example:
        >>> import ganglion
        >>> layer_norm(ganglion.randn(4, 3, 8), (8,)).shape
        ganglion.Size([4, 3, 8])
    """
    op = "layer_norm"
    check_tensor(input, op)
    _check_float(input, op)
    ns = _normalized_shape(input, normalized_shape, op, ", ")
    _check_shaped(weight, "weight", ns, op)
    _check_shaped(bias, "bias", ns, op)
    _same_dtype(input, op, weight=weight, bias=bias)
    d = math.prod(ns)
    spec = NormSpec((input.numel() // d if d else 0, d), (1,), (1, d), eps)
    return Normalize.apply(input, weight, bias, spec)


def rms_norm(input, normalized_shape, weight=None, eps=None) -> Tensor:
    """Root-mean-square normalization: x / sqrt(mean(x**2) + eps) * weight over trailing dims.

    Args:
        input: ``(*, *normalized_shape)`` floating point tensor.
        normalized_shape: int or tuple: the trailing shape normalized as one group.
        weight: scale of shape ``normalized_shape`` or None.
        eps: added to the mean square; None uses the input dtype's machine epsilon (torch).

    Returns:
        A tensor of the input's shape.

    Example:
        >>> import ganglion
        >>> rms_norm(ganglion.tensor([[3.0, 4.0]]), (2,), eps=0.0)
        tensor([[0.8485, 1.1314]])
    """
    op = "rms_norm"
    check_tensor(input, op)
    _check_float(input, op)
    ns = _normalized_shape(input, normalized_shape, op, "")
    _check_shaped(weight, "weight", ns, op)
    _same_dtype(input, op, weight=weight)
    if eps is None:
        eps = float(np.finfo(input.array.dtype).eps)
    d = math.prod(ns)
    spec = NormSpec((input.numel() // d if d else 0, d), (1,), (1, d), eps, rms=True)
    return Normalize.apply(input, weight, None, spec)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05) -> Tensor:
    """Group normalization: the channels split into ``num_groups`` groups, each normalized over
    its channels and spatial dims; then a per-channel affine.

    Args:
        input: ``(N, C, *)`` floating point tensor, ``C`` divisible by ``num_groups``.
        num_groups: number of groups.
        weight: ``(C,)`` scale or None.
        bias: ``(C,)`` shift or None.
        eps: added to the variance.

    Returns:
        A tensor of the input's shape.

    Raises:
        RuntimeError: ``C`` not divisible by ``num_groups``, or wrongly sized parameters.

    Example:
        >>> import ganglion
        >>> group_norm(ganglion.randn(2, 6, 5), 3).shape
        ganglion.Size([2, 6, 5])
    """
    op = "group_norm"
    check_tensor(input, op)
    _check_float(input, op)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    shape = tuple(input.shape)
    n, c, g = shape[0], shape[1], int(num_groups)
    if g <= 0 or c % g:
        raise RuntimeError(f"{op}: Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (check_tensor(t, op, name).ndim != 1 or t.numel() != c):
            raise RuntimeError(f"{op}: Expected {name} to be a vector of size equal to the "
                               f"number of channels in input, but got {name} of shape "
                               f"{list(t.shape)} and input of shape {list(shape)}")
    _same_dtype(input, op, weight=weight, bias=bias)
    _verify_batch_size([n * c // g, g] + list(shape[2:]), op)
    spec = NormSpec((n, g, c // g, math.prod(shape[2:])), (2, 3), (1, g, c // g, 1), eps)
    return Normalize.apply(input, weight, bias, spec)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (the gradient follows torch's formula).

    Args:
        input: floating point tensor.
        p: the norm's exponent. Default: 2.
        dim: the dimension to normalize along. Default: 1.
        eps: lower bound of the norm (avoids division by zero).
        out: not supported (must be None).

    Returns:
        A tensor of the input's shape.

    Example:
        >>> import ganglion
        >>> normalize(ganglion.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    op = "normalize"
    check_tensor(input, op)
    if out is not None:
        raise TypeError(f"{op}: out= is not supported by ganglion; use the returned tensor.")
    dim = norm_dim(dim, input.ndim, op)
    # as torch: norm, clamp_min(eps) (zero gradient below eps), expand, divide
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps)
    return input / denom


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0) -> Tensor:
    """Local response normalization across channels (AlexNet): x / (k + alpha * avg(x**2))**beta
    where the average runs over ``size`` neighbouring channels (zero-padded, divided by size).

    Args:
        input: ``(N, C, *)`` tensor with at least 3 dims.
        size: number of neighbouring channels.
        alpha: multiplicative factor. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive factor. Default: 1.

    Returns:
        A tensor of the input's shape.

    Example:
        >>> import ganglion
        >>> local_response_norm(ganglion.ones(1, 3, 2), 2).shape
        ganglion.Size([1, 3, 2])
    """
    op = "local_response_norm"
    check_tensor(input, op)
    if input.ndim < 3:
        raise ValueError(f"{op}: Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    lo, hi = size // 2, (size - 1) // 2  # torch's zero padding before/after the channel window
    zeros_lo = sq.new_zeros((sq.shape[0], lo) + tuple(sq.shape[2:]))
    zeros_hi = sq.new_zeros((sq.shape[0], hi) + tuple(sq.shape[2:]))
    padded = cat([zeros_lo, sq, zeros_hi], 1)
    # one full-size add per window offset (the window is a few channels: a kernel loop)
    div = padded[:, 0:c]
    for j in range(1, size):
        div = div + padded[:, j:j + c]
    div = (div * (alpha / size) + k) ** beta
    return input / div
