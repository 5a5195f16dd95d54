"""Shared pieces of the 'loss' family: reduction strings (with torch's deprecated
``size_average``/``reduce`` arguments), size checks, and a clamp whose gradient passes through.

Example:
    >>> from ganglion.ops.loss_common import get_reduction
    >>> get_reduction(None, None, "sum", "mse_loss")
    'sum'
"""
from __future__ import annotations

import warnings

import numpy as np

from ganglion.autograd.function import Op
from ganglion.ops._util import check_tensor
from ganglion.tensor import Size, Tensor

__all__ = ["get_reduction", "reduce_loss", "legacy_reduction", "warn_size", "StraightClamp",
           "check_float", "dtype_name"]

_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                "uint8": "Byte", "bool": "Bool"}


def dtype_name(t) -> str:
    """torch's scalar-type name of a tensor's dtype ('Float', 'Long', ...)."""
    name = str(t.dtype).rsplit(".", 1)[-1]
    return _TORCH_NAMES.get(name, name)


def legacy_reduction(size_average, reduce, stacklevel=4) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` flags (warns, as torch)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", UserWarning, stacklevel=stacklevel)
    return ret


def get_reduction(size_average, reduce, reduction, op, allowed=("none", "mean", "sum")) -> str:
    """The effective reduction string; a bad one raises ValueError naming the op."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce, stacklevel=4)
    if reduction not in allowed:
        raise ValueError(f"{op}: {reduction} is not a valid value for reduction; expected one "
                         f"of {', '.join(repr(a) for a in allowed)}.")
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def warn_size(input, target, stacklevel=3) -> None:
    """torch's warning when the target broadcasts against the input instead of matching it."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({Size(target.shape)!r}) that is different to the "
                      f"input size ({Size(input.shape)!r}). This will likely lead to incorrect "
                      f"results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=stacklevel)


def check_float(t, op, arg="input"):
    check_tensor(t, op, arg)
    if t.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point {arg}, got {t.dtype}; convert it "
                           f"first ({arg}.float()).")
    return t


class StraightClamp(Op):
    """max(x, lo) whose gradient is the identity: torch's ``with no_grad(): x.clamp_(min=eps)``
    on a clone (gaussian_nll_loss's variance, cosine_similarity's norms)."""

    @staticmethod
    def forward(ctx, x, lo):
        return np.maximum(x, x.dtype.type(lo))

    @staticmethod
    def backward(ctx, g):
        return g
