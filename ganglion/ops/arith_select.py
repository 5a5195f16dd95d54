"""Selection ops with gradients routed to the chosen operand: ``maximum``/``minimum``,
``fmax``/``fmin``, ``where``, ``lerp`` and ``clamp``. Re-exported by ``ganglion.ops.arith``.

Example:
    >>> import ganglion
    >>> ganglion.tensor([-2.0, 0.5, 3.0]).clamp(-1, 1)
    tensor([-1.0000,  0.5000,  1.0000])
"""
from __future__ import annotations

from ganglion.autograd.function import Op
from ganglion.backend import dtypes as _dt
from ganglion.backend.device import get_array_module
from ganglion.ops.arith import _binary, _to, promote
from ganglion.tensor import Tensor

__all__ = ["maximum", "minimum", "fmax", "fmin", "where", "lerp", "clamp", "clip", "clamp_min",
           "clamp_max"]


class _MaxMin(Op):
    """maximum/minimum: the gradient goes to the winner; ties split it in half (torch)."""

    pick = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.pick(get_array_module(a), a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = where(a == b, g / 2, g)
        a_wins = ctx.a_wins(a, b)
        b_wins = ctx.a_wins(b, a)
        need_a, need_b = ctx.needs_input_grad
        ga = where(b_wins, g * 0, half) if need_a else None
        gb = where(a_wins, g * 0, half) if need_b else None
        return ga, gb


class Maximum(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.maximum(a, b))
    a_wins = staticmethod(lambda a, b: a > b)


class Minimum(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.minimum(a, b))
    a_wins = staticmethod(lambda a, b: a < b)


class Fmax(_MaxMin):
    """Like maximum, but a NaN loses to a number."""

    pick = staticmethod(lambda xp, a, b: xp.fmax(a, b))
    a_wins = staticmethod(lambda a, b: (a > b) | b.isnan())


class Fmin(_MaxMin):
    pick = staticmethod(lambda xp, a, b: xp.fmin(a, b))
    a_wins = staticmethod(lambda a, b: (a < b) | b.isnan())


class Where(Op):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return get_array_module(a).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, need_a, need_b = ctx.needs_input_grad
        z = g * 0
        ga = where(cond, g, z) if need_a else None
        return None, ga, (where(cond, z, g) if need_b else None)


class Lerp(Op):
    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        ns, ne, nw = ctx.needs_input_grad
        return ((g * (1 - weight)) if ns else None, (g * weight) if ne else None,
                (g * (end - start)) if nw else None)


class Clamp(Op):
    """min(max(x, lo), hi) with tensor or scalar bounds; the gradient passes where
    lo <= x <= hi (bounds included, as torch); a bound gets it where it is the output."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        out = x
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        ctx.save_for_backward(x, lo, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        nx, nlo, nhi = ctx.needs_input_grad
        z = g * 0
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        gx = where(keep, g, z) if nx else None
        glo = ghi = None
        if nlo:
            m = x < lo
            if hi is not None:
                m = m & (lo <= hi)
            glo = where(m, g, z)
        if nhi:
            m = x > hi
            if lo is not None:
                m = (m & (lo <= hi)) | (lo > hi)
            ghi = where(m, g, z)
        return gx, glo, ghi


def _pick(op_cls, op: str, input, other, out) -> Tensor:
    # torch's maximum/minimum/fmax/fmin take two tensors (a Python number is a TypeError)
    for arg, v in (("input", input), ("other", other)):
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(v).__name__}; "
                            f"for a number use clamp(min=...) / clamp(max=...).")
    a, b = promote(input, other, op)
    return _binary(op_cls, op, a, b, out)


def maximum(input, other, *, out=None) -> Tensor:
    """Elementwise maximum (NaN propagates); a tie splits the gradient in half.

    Example:
        >>> import ganglion
        >>> ganglion.maximum(ganglion.tensor([1, 5]), ganglion.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return _pick(Maximum, "maximum", input, other, out)


def minimum(input, other, *, out=None) -> Tensor:
    """Elementwise minimum (NaN propagates).

    Example:
        >>> import ganglion
        >>> ganglion.minimum(ganglion.tensor([1, 5]), ganglion.tensor([3, 2]))
        tensor([1, 2])
    """
    return _pick(Minimum, "minimum", input, other, out)


def fmax(input, other, *, out=None) -> Tensor:
    """Elementwise maximum where a NaN loses to a number.

    Example:
        >>> import ganglion
        >>> ganglion.fmax(ganglion.tensor([float("nan"), 1.0]), ganglion.tensor([2.0, 0.0]))
        tensor([2., 1.])
    """
    return _pick(Fmax, "fmax", input, other, out)


def fmin(input, other, *, out=None) -> Tensor:
    """Elementwise minimum where a NaN loses to a number.

    Example:
        >>> import ganglion
        >>> ganglion.fmin(ganglion.tensor([float("nan"), 1.0]), ganglion.tensor([2.0, 0.0]))
        tensor([2., 0.])
    """
    return _pick(Fmin, "fmin", input, other, out)


def where(condition, input=None, other=None, *, out=None):
    """Elementwise ``input if condition else other``; ``where(cond)`` is ``nonzero(cond,
    as_tuple=True)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not "
                        f"{type(condition).__name__}")
    if condition.array.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype}")
    a, b = promote(input, other, "where")
    return Where.apply(condition, a, b)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """input + weight * (end - input)."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError("lerp(): 'input' and 'end' must be Tensors")
    if input.array.dtype != end.array.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype} for `end` but got dtype "
                           f"{end.dtype}")
    w = weight if isinstance(weight, Tensor) else get_array_module(input.array).asarray(
        weight, dtype=input.array.dtype)
    return Lerp.apply(input, end, w)


def clamp(input, min=None, max=None, *, out=None) -> Tensor:  # noqa: A002 - torch's names
    """Limit values to [min, max]; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    dt = _dt.result_type_of(*(v for v in (input, min, max) if v is not None))
    xp = get_array_module(input.array)
    x = _to(input, dt, xp)
    lo = _to(min, dt, xp) if min is not None else None
    hi = _to(max, dt, xp) if max is not None else None
    return Clamp.apply(x, lo, hi)


clip = clamp


def clamp_min(input, min) -> Tensor:  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input, max) -> Tensor:  # noqa: A002
    return clamp(input, max=max)
