"""Dtype/device conversion and copies: ``to``, ``clone``, ``contiguous``, ``fill_``, ``copy_``.

Example:
    >>> import ganglion
    >>> x = ganglion.tensor([1.5, 2.5], requires_grad=True)
    >>> x.double().sum().backward(); x.grad.dtype
    ganglion.float32
"""
from __future__ import annotations

from ganglion.autograd.function import Op
from ganglion.backend.device import device_of, get_array_module, to_device_array
from ganglion.tensor import Tensor, inplace_update

__all__ = ["cast", "to_device", "clone", "contiguous"]


class Cast(Op):
    """Change dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.src = x.dtype
        return x.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):
        return Cast.apply1(g, ctx.src) if ctx.needs_input_grad[0] else None

    @staticmethod
    def raw_backward(ctx, g):
        return g.astype(ctx.src) if ctx._next[0] is not None else None


class ToDevice(Op):
    @staticmethod
    def forward(ctx, x, dev):
        ctx.src = device_of(x)
        return to_device_array(x, dev)

    @staticmethod
    def backward(ctx, g):
        return ToDevice.apply(g, ctx.src)


class Clone(Op):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Contiguous(Op):
    @staticmethod
    def forward(ctx, x):
        return get_array_module(x).ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Fill(Op):
    """A tensor like ``x`` filled with ``value`` (a number or a 0-d tensor's array)."""

    @staticmethod
    def forward(ctx, x, value):
        return get_array_module(x).full(x.shape, value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        gv = g.sum() if ctx.needs_input_grad[1] else None
        return None, gv


class CopyFrom(Op):
    """``src`` broadcast to ``x``'s shape and cast to its dtype (the value of ``x.copy_(src)``)."""

    @staticmethod
    def forward(ctx, x, src):
        ctx.src_dtype = src.dtype
        xp = get_array_module(x)
        out = xp.empty_like(x)
        out[...] = to_device_array(src, device_of(x)) if type(src) is not type(x) else src
        return out

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[1]:
            return None, None
        return None, Cast.apply(g, ctx.src_dtype) if g.array.dtype != ctx.src_dtype else g


def cast(x: Tensor, dtype) -> Tensor:
    return Cast.apply1(x, dtype.np)


def to_device(x: Tensor, dev) -> Tensor:
    return ToDevice.apply(x, dev)


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def contiguous(x: Tensor) -> Tensor:
    return Contiguous.apply(x)


def _fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor) and value.array.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.array.ndim} dimensions.")
    return inplace_update(self, "fill_", Fill.apply, value)


def _zero_(self: Tensor) -> Tensor:
    return inplace_update(self, "zero_", Fill.apply, 0)


def _copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    return inplace_update(self, "copy_", CopyFrom.apply, src)


TENSOR_METHODS = {"fill_": _fill_, "zero_": _zero_, "copy_": _copy_}
