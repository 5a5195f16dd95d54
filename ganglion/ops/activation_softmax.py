"""Activations that mix elements: ``softmax``, ``log_softmax``, ``softmin``, ``glu``, ``prelu``.

``softmax`` and ``log_softmax`` are one fused op each (max-subtracted, so ``[1000, 0]`` is fine);
their backward rules are written with Tensor ops on the saved output, so gradients of gradients
work. Part of the 'activation' family: ``ganglion.ops.activation`` re-exports everything here.

Example:
    >>> import ganglion
    >>> from ganglion.ops.activation import softmax
    >>> softmax(ganglion.tensor([1000.0, 0.0]), dim=0)
    tensor([1., 0.])
"""
from __future__ import annotations

import warnings

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.function import Op, _new_tensor
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import dtypes as _dt
from ganglion.backend import jit
from ganglion.backend.device import get_array_module
from ganglion.ops.activation_pointwise import _kernels
from ganglion.ops._util import check_tensor, norm_dim
from ganglion.tensor import Tensor

__all__ = ["softmax", "log_softmax", "softmin", "glu", "prelu"]


def _shifted(x, dim):
    """(x - max(x, dim), xp, dtype to return); float16 works in float32, as torch's kernels."""
    xp = get_array_module(x)
    out_dtype = x.dtype
    if x.dtype == np.float16:
        x = x.astype(np.float32)
    if x.ndim == 0:
        x = x.reshape(1)
    with np.errstate(invalid="ignore"):
        # a row of -inf gives nan (-inf - -inf), as in torch
        return x - x.max(axis=dim, keepdims=True), xp, out_dtype


class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``dim``; backward y * (g - sum(g * y))."""

    @staticmethod
    def forward(ctx, x, dim):
        if _kernel_ok(x, dim):
            y = _kernels().softmax_last(x)
        elif x.size == 0:
            y = x.copy()
        else:
            z, xp, out_dtype = _shifted(x, dim)
            y = xp.exp(z)
            y /= y.sum(axis=dim, keepdims=True)
            y = y.reshape(x.shape).astype(out_dtype, copy=False)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if not STATE.enabled:  # plain backward: the same formula on arrays, no graph
            return _new_tensor(_softmax_grad(g.array, y.array, ctx.dim))
        return y * (g - (g * y).sum(ctx.dim, keepdim=True))

    @staticmethod
    def raw_backward(ctx, g):
        # the engine's plain backward on raw arrays (no Tensor per gradient)
        return _softmax_grad(g, ctx.saved_arrays()[0], ctx.dim)


# Softmax along the last dim of a small or medium float32 C-contiguous array is one compiled
# serial kernel call (forward and backward) when kernels are on: NumPy's chain of five ufunc
# calls and reductions costs more than the work there.
_KERNEL_MAX = 1 << 16
_F32 = np.dtype(np.float32)
def _kernel_ok(a, dim, *more):
    return (type(a) is np.ndarray and a.dtype == _F32 and 0 < a.size < _KERNEL_MAX
            and dim == a.ndim - 1 and a.flags.c_contiguous
            and all(type(b) is np.ndarray and b.dtype == _F32 and b.flags.c_contiguous
                    and b.shape == a.shape for b in more) and jit.enabled())


def _softmax_grad(g, y, dim):
    """y * (g - sum(g * y)) along ``dim`` on arrays, the result's buffer reused in place."""
    if _kernel_ok(y, dim, g):
        return _kernels().softmax_last_grad(g, y)
    out = g - (g * y).sum(dim, keepdims=True)
    out *= y
    return out


class LogSoftmax(Op):
    """(x - max) - log(sum(exp(x - max))) along ``dim``; backward g - exp(y) * sum(g)."""

    @staticmethod
    def forward(ctx, x, dim):
        if x.size == 0:
            y = x.copy()
        else:
            z, xp, out_dtype = _shifted(x, dim)
            with np.errstate(divide="ignore"):
                z -= xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
            y = z.reshape(x.shape).astype(out_dtype, copy=False)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if not STATE.enabled:  # plain backward: the same formula on arrays, no graph
            return _new_tensor(_log_softmax_grad(g.array, y.array, ctx.dim))
        return g - y.exp() * g.sum(ctx.dim, keepdim=True)

    @staticmethod
    def raw_backward(ctx, g):
        return _log_softmax_grad(g, ctx.saved_arrays()[0], ctx.dim)


def _log_softmax_grad(g, y, dim):
    """g - exp(y) * sum(g) along ``dim`` on arrays."""
    return g - get_array_module(g).exp(y) * g.sum(dim, keepdims=True)


def _softmax_dim(name, ndim, stacklevel):
    # torch's legacy rule for a missing dim, kept for ported code (and warned about, as torch)
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(name, input, dim, stacklevel, dtype):
    """Validate and cast: returns (input, dim) ready for the fused op."""
    check_tensor(input, name)
    if dtype is None and not isinstance(stacklevel, (int, np.integer)):
        # ganglion.softmax(x, dim, dtype) is torch.softmax's positional form: the third
        # argument is then a dtype, not F.softmax's _stacklevel
        dtype, stacklevel = stacklevel, 3
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel + 1)
    elif isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    if input.array.dtype.kind != "f":
        raise NotImplementedError(
            f"{name}(): not implemented for input dtype {input.dtype}; expected a floating "
            f"point tensor: pass dtype=ganglion.float32 or convert with input.float().")
    return input, norm_dim(dim, input.ndim, name)


def softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """Softmax along ``dim``: exp(x_i) / sum_j exp(x_j), computed stably (max subtracted).

    Args:
        input: the input tensor (floating point, or any dtype with ``dtype=``).
        dim: the dimension that sums to 1. ``None`` picks torch's legacy implicit dim (0 for
            0-d, 1-d and 3-d inputs, else 1) and warns.
        _stacklevel: where the implicit-dim warning points (torch's argument).
        dtype: cast the input to this dtype before the op (e.g. to avoid float16 overflow).

    Returns:
        A tensor of the same shape whose slices along ``dim`` sum to 1.

    Raises:
        IndexError: ``dim`` is out of range.
        NotImplementedError: integer or bool input without a floating ``dtype=``.

    Example:
        >>> import ganglion
        >>> softmax(ganglion.tensor([[0.0, 0.0], [1.0, 1.0]]), dim=-1)
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """
    input, dim = _prepare("softmax", input, dim, _stacklevel, dtype)
    return Softmax.apply(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """log(softmax(input)) along ``dim`` as one stable op: x - max - log(sum(exp(x - max))).

    Args:
        input: the input tensor (floating point, or any dtype with ``dtype=``).
        dim: the dimension to normalise; ``None`` follows torch's legacy rule and warns.
        _stacklevel: where the implicit-dim warning points (torch's argument).
        dtype: cast the input to this dtype before the op.

    Returns:
        A tensor of the same shape.

    Raises:
        IndexError: ``dim`` is out of range.
        NotImplementedError: integer or bool input without a floating ``dtype=``.

    Example:
        >>> import ganglion
        >>> log_softmax(ganglion.tensor([1000.0, 0.0]), dim=0)
        tensor([    0., -1000.])
    """
    input, dim = _prepare("log_softmax", input, dim, _stacklevel, dtype)
    return LogSoftmax.apply(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """softmax(-input) along ``dim``: the smallest entries get the largest weights.

    Args:
        input: the input tensor.
        dim: the dimension that sums to 1; ``None`` follows torch's legacy rule and warns.
        _stacklevel: where the implicit-dim warning points (torch's argument).
        dtype: cast to this dtype (after negation, as torch) before the op.

    Returns:
        A tensor of the same shape whose slices along ``dim`` sum to 1.

    Example:
        >>> import ganglion
        >>> softmin(ganglion.tensor([0.0, 1000.0]), dim=0)
        tensor([1., 0.])
    """
    check_tensor(input, "softmin")
    input, dim = _prepare("softmin", -input, dim, _stacklevel, dtype)
    return Softmax.apply(input, dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the two halves along ``dim``.

    Args:
        input: a floating point tensor whose size along ``dim`` is even.
        dim: the dimension to halve. Default: -1.

    Returns:
        A tensor with ``dim`` halved.

    Raises:
        RuntimeError: 0-d input, or an odd size along ``dim``.

    Example:
        >>> import ganglion
        >>> glu(ganglion.zeros(2, 6)).shape
        ganglion.Size([2, 3])
    """
    check_tensor(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even "
                           "(got a 0-d tensor); pass a tensor with at least one dimension.")
    d = norm_dim(dim, input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {n} "
                           f"(input shape {tuple(input.shape)}).")
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"glu(): not implemented for input dtype {input.dtype}; "
                                  f"convert the input with input.float().")
    h = n // 2
    return input.narrow(d, 0, h) * input.narrow(d, h, h).sigmoid()


class PRelu(Op):
    """x if x > 0 else w * x, with ``w`` broadcast against ``x`` (channel dim 1).

    At x == 0 the input gradient is ``w`` (torch: x > 0 ? g : w * g).
    """

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return get_array_module(x).where(x > 0, x, w * x)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx, gw = _PReluBackward.apply(g, x, w)
        # gw has x's shape: the engine sums it back to w's (broadcast) shape
        return (gx if ctx.needs_input_grad[0] else None,
                gw if ctx.needs_input_grad[1] else None)


class _PReluBackward(Op):
    """(g * (x > 0 ? 1 : w), g * (x > 0 ? 0 : x)) as one op, differentiable again.

    Its own backward follows torch's double-backward formulas, which mask with x >= 0 (so at
    x == 0 the second-order terms differ from the first-order rule, exactly as in torch).
    """

    @staticmethod
    def forward(ctx, g, x, w):
        ctx.save_for_backward(g, x, w)
        neg = x <= 0
        xp = get_array_module(x)
        return xp.where(neg, g * w, g), xp.where(neg, g * x, 0)

    @staticmethod
    def backward(ctx, ggx, ggw):
        g, x, w = ctx.saved_tensors
        a = x.array
        pos = _fn._new_tensor((a >= 0).astype(a.dtype))
        neg = _fn._new_tensor((a < 0).astype(a.dtype))
        need = ctx.needs_input_grad
        dg = ggx * pos + (ggx * w + ggw * x) * neg if need[0] else None
        dx = g * ggw * neg if need[1] else None
        dw = g * ggx * neg if need[2] else None
        return dg, dx, dw


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: ``max(0, x) + weight * min(0, x)``, one slope per channel (dim 1).

    Args:
        input: a floating point tensor; its channels are dim 1 (a 0-d or 1-d input has one).
        weight: the learned slopes, a 0-d or 1-d tensor of 1 or ``C`` elements, same dtype.

    Returns:
        A tensor of the input's shape.

    Raises:
        RuntimeError: weight with more than one dim, a size other than 1 or ``C``, or a dtype
            different from the input's.

    Example:
        >>> import ganglion
        >>> prelu(ganglion.tensor([-2.0, 1.0]), ganglion.tensor([0.25]))
        tensor([-0.5000,  1.0000])
    """
    check_tensor(input, "prelu")
    check_tensor(weight, "prelu", "weight")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim} (shape {tuple(weight.shape)})")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got input dtype "
                           f"{input.dtype} and weight dtype {weight.dtype}; convert the "
                           f"weight with weight.to(input.dtype).")
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels} (input "
                           f"shape {tuple(input.shape)}); use a weight of 1 or {channels} "
                           f"elements.")
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"prelu(): not implemented for input dtype {input.dtype}; "
                                  f"convert input and weight with .float().")
    if n == 1:
        w = weight.reshape(())
    else:
        w = weight.reshape((1, n) + (1,) * (input.ndim - 2))
    return PRelu.apply(input, w)


def _softmax_method(self, dim, dtype=None):
    return softmax(self, dim, dtype=dtype)


def _log_softmax_method(self, dim, dtype=None):
    return log_softmax(self, dim, dtype=dtype)


TENSOR_METHODS = {"softmax": _softmax_method, "log_softmax": _log_softmax_method,
                  "prelu": prelu}
