"""Elementwise math on one tensor: ``neg abs sign exp log sqrt sin cos tanh sigmoid ...``.

Integer inputs to float functions (exp, sin, ...) give the default float dtype, as in torch.
Backward rules are written with Tensor ops, so second derivatives work.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([0.0, 1.0], requires_grad=True)
    >>> x.exp().sum().backward(); x.grad
    tensor([1.0000, 2.7183])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op
from ganglion.backend.device import get_array_module
from ganglion.ops._util import float_dtype_for
from ganglion.tensor import Tensor

__all__ = ["neg", "negative", "exp", "log", "sqrt"]


def _float_input(x):
    a = x.array
    return a if a.dtype.kind == "f" else a.astype(float_dtype_for(a))


class Neg(Op):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Op):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Op):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


def _float_op(op_cls):
    def fn(input, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"{op_cls.__name__.lower()}(): argument 'input' must be Tensor, "
                            f"not {type(input).__name__}")
        if input.array.dtype.kind != "f":
            input = input.to(float_dtype_for(input.array))
        return op_cls.apply(input)

    fn.__name__ = op_cls.__name__.lower()
    return fn


def neg(input, *, out=None) -> Tensor:
    if input.array.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(input)


negative = neg
exp = _float_op(Exp)
log = _float_op(Log)
sqrt = _float_op(Sqrt)

TENSOR_METHODS = {"neg": neg, "negative": neg, "exp": exp, "log": log, "sqrt": sqrt,
                  "__neg__": neg, "__pos__": lambda s: s}
