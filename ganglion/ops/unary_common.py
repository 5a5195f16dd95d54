"""Shared machinery of the unary families (``unary``, ``unary_trig``, ``unary_round``).

A unary op is a ``UnaryOp`` subclass with two one-line rules: ``compute(xp, x)`` on the raw
array and ``derivative(g, *saved)`` on Tensors (written with ganglion ops, so it can itself be
differentiated). ``saves`` names what the derivative needs: ``"x"`` the input, ``"y"`` the
output (cheaper for exp/tanh/sigmoid, whose derivative is a function of the output).
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.ops._util import float_dtype_for, quiet
from ganglion.tensor import Tensor, write_array_

__all__ = ["UnaryOp", "ZeroGradOp", "half_via_float32", "check_input", "as_float", "apply_float",
           "finish"]


_F16 = np.dtype(np.float16)


class UnaryOp(Op):
    """One elementwise op: ``y = compute(xp, x)``, ``dx = derivative(g, *saved)``."""

    saves = ""  # any of "x", "y", in the order derivative() takes them
    # Run under np.errstate(all="ignore"): NumPy warnings (log(0), overflow, sin(inf)) would
    # be noise, torch returns inf/nan silently (even under `-W error`). Ops that never warn set
    # False: errstate costs more than the op itself on small tensors.
    quiet = True
    _raw = True  # derivative() also works on raw arrays (see backward)

    @staticmethod
    def compute(xp, x):
        raise NotImplementedError

    @staticmethod
    def derivative(g, *saved):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x):
        xp = np if type(x) is np.ndarray else get_array_module(x)
        if x.dtype == _F16:
            y = half_via_float32(cls.compute, xp, x)
        elif cls.quiet:
            y = quiet(cls.compute, xp, x)
        else:
            y = cls.compute(xp, x)
        saves = cls.saves
        if saves:
            if saves == "y":
                ctx.save_for_backward(y)
            elif saves == "x":
                ctx.save_for_backward(x)
            else:
                ctx.save_for_backward(*(x if s == "x" else y for s in saves))
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.derivative(g, *ctx.saved_tensors)

    @staticmethod
    def raw_backward(ctx, g):
        # Most rules are arithmetic that NumPy arrays evaluate directly: one array expression
        # instead of one Op per operator. A rule that needs Tensor methods (x.sign(), where)
        # is found out once and then always runs on Tensors.
        if ctx._raw:
            saved = ctx.saved_arrays()
            try:
                return quiet(ctx.derivative, g, *saved) if ctx.quiet else \
                    ctx.derivative(g, *saved)
            except (AttributeError, TypeError):
                type(ctx)._raw = False
        return ctx.derivative(_new_tensor(g), *ctx.saved_tensors).array


def half_via_float32(compute, xp, x, *args):
    """float16 is computed in float32 and rounded once at the end, as torch's CPU kernels do
    (their "opmath" type): float16 intermediates would overflow (1234.5 * 100) or lose bits."""
    if x.dtype != _F16:
        return compute(xp, x, *args)
    with np.errstate(all="ignore"):  # float16 overflow of the float32 result is silent
        return compute(xp, x.astype(np.float32), *args).astype(np.float16)


class ZeroGradOp(UnaryOp):
    """Piecewise-constant ops (floor, sign, ...): torch returns a zero gradient, even where
    the function jumps; zeros (not ``g * 0``) so an inf/nan upstream gradient stays out."""

    @staticmethod
    def derivative(g):
        from ganglion.ops.creation import zeros_like  # noqa: PLC0415 - sibling family

        return zeros_like(g)


def check_input(input, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


def as_float(input: Tensor) -> Tensor:
    """Integer and bool tensors go to the default float dtype, as torch's float functions do."""
    a = input.array
    return input if a.dtype.kind == "f" else input.to(float_dtype_for(a))


def finish(result: Tensor, out, op: str) -> Tensor:
    """Honour ``out=``: write the result into ``out`` (torch's cast rules) and return it."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if result.requires_grad:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    write_array_(out, result.array, op)
    return out


def apply_float(op_cls, input, op: str, out=None, *args) -> Tensor:
    """Run a float-valued op: check the input, promote int/bool to float, honour ``out``."""
    x = as_float(check_input(input, op))
    return finish(op_cls.apply(x, *args), out, op)
