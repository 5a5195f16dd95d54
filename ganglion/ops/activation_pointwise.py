"""Elementwise activation ops: one ``Op`` per activation, differentiable to any order.

Each activation class gives three rules:

- ``f(xp, x, *p)``: the forward on raw arrays;
- ``grad(xp, g, x, *p)``: ``g * f'(x)`` on raw arrays (one fused pass for the usual backward);
- ``d2(x, *p)``: ``f''(x)`` built from Tensor ops, or ``None`` where ``f`` is piecewise linear.

The backward of an activation is ``_PointwiseGrad(g, x)``, itself an op whose backward uses
``grad`` again (for ``g``) and ``d2`` (for ``x``), so ``create_graph=True`` gives exact second
(and higher) derivatives, like torch's ``*_backward`` kernels with their double-backward rules.
Kinks follow torch's subgradients; each class states its choice.

float16 is computed in float32 and rounded once, as torch's CPU kernels do.

ReLU, GELU (both forms) and SiLU on large float32 (ReLU: float32/float64) C-contiguous NumPy
arrays run compiled multi-core kernels (``activation_jit``) for the forward and the plain
backward, when ``ganglion.backend.jit`` is on; the NumPy rules below stay for everything else.
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.function import Op
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import jit
from ganglion.backend.device import get_array_module

__all__ = ["Relu", "Threshold", "Hardtanh", "LeakyRelu", "Elu", "Gelu", "GeluTanh", "Silu",
           "Mish", "Softplus", "Softsign", "Hardsigmoid", "Hardswish", "Logsigmoid",
           "Tanhshrink", "Hardshrink", "Softshrink", "SELU_ALPHA", "SELU_SCALE"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _run(rule, xp, *arrays_and_params, n_arrays, errstate=True):
    """Call a raw-array rule; float16 runs in float32 and is rounded back at the end.

    ``errstate=False`` skips silencing NumPy's overflow warnings (about 2 us a call) for rules
    that cannot overflow.
    """
    arrays = arrays_and_params[:n_arrays]
    if not errstate and arrays[-1].dtype != np.float16:
        return rule(xp, *arrays_and_params)
    if arrays[-1].dtype == np.float16:
        up = tuple(a.astype(np.float32) for a in arrays)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return rule(xp, *up, *arrays_and_params[n_arrays:]).astype(np.float16)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return rule(xp, *arrays_and_params)


# At and above this size the compiled kernels win over NumPy's ufunc chains (measured: below
# it a parallel region's start costs more than the work; exp-based rules gain earlier)
JIT_MIN = 1 << 14
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
# relu's backward up to this size is one np.where (cheapest call); where() branches on each
# element, so above it the compiled pass (serial, then parallel) wins
_WHERE_MAX = 512
_ZERO = {np.dtype(t): np.zeros((), t) for t in (np.float16, np.float32, np.float64)}


_KERNELS = []  # the activation_jit module once loaded: an import statement costs ~1 us a call


def _kernels():
    if not _KERNELS:
        from ganglion.ops import activation_jit  # noqa: PLC0415 - numba only once kernels are on

        _KERNELS.append(activation_jit)
    return _KERNELS[0]


def _jit_rule(name, *arrays):
    """``activation_jit.<name>`` on the flattened arrays, or None when it does not apply
    (kernels off, small, not float32, not C-contiguous, CuPy)."""
    if arrays[-1].size < JIT_MIN or not all(
            type(a) is np.ndarray and a.dtype == _F32 and a.flags.c_contiguous for a in arrays):
        return None
    if not jit.enabled():
        return None
    return getattr(_kernels(), name)(*arrays)


def _const(x, array):
    """A constant (not graph-connected) Tensor of ``x``'s dtype from a raw array."""
    return _fn._new_tensor(array.astype(x.array.dtype, copy=False))


def _sigmoid(xp, x):
    # exp(-x) overflows to inf for very negative x, giving exactly 0: the right limit
    return 1.0 / (1.0 + xp.exp(-x))


class _Pointwise(Op):
    """y = f(x; params) elementwise; subclasses give ``f``, ``grad`` and ``d2``.

    Masks are applied by multiplying (``g * (x > 0)``): ``np.where`` on a random mask is about
    ten times slower. (A NaN/inf upstream gradient at a masked entry then gives NaN where torch
    gives 0.)
    """

    errstate = True  # rules with exp/log run under np.errstate; piecewise-linear ones need not
    kernel = None  # name of the compiled forward in activation_jit ("<kernel>_grad": backward)

    @classmethod
    def forward(cls, ctx, x, *params):
        ctx.save_for_backward(x)
        ctx.params = params
        if cls.kernel is not None:
            y = _jit_rule(cls.kernel, x)
            if y is not None:
                return y
        return _run(cls.f, get_array_module(x), x, *params, n_arrays=1, errstate=cls.errstate)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        if not STATE.enabled:  # plain backward: g * f'(x) on the arrays, no graph to record
            return _fn._new_tensor(_raw_grad(cls, ctx, g.array, x.array))
        return _PointwiseGrad.apply(g, x, cls, ctx.params)

    @staticmethod
    def raw_backward(ctx, g):
        # the engine's plain backward on raw arrays (no Tensor per gradient)
        return _raw_grad(type(ctx), ctx, g, ctx.saved_arrays()[0])

    @staticmethod
    def f(xp, x, *params):
        raise NotImplementedError

    @staticmethod
    def grad(xp, g, x, *params):
        raise NotImplementedError

    @staticmethod
    def d2(x, *params):
        return None  # piecewise linear: the second derivative is 0


def _raw_grad(cls, ctx, g, x):
    """``g * f'(x)`` on arrays: the compiled kernel when it applies, else the NumPy rule."""
    if cls.kernel is not None:
        gx = _jit_rule(cls.kernel + "_grad", g, x)
        if gx is not None:
            return gx
    return _run(cls.grad, get_array_module(x), g, x, *ctx.params, n_arrays=2,
                errstate=cls.errstate)


class _PointwiseGrad(Op):
    """``g * f'(x)`` for the activation ``act``; differentiable in both ``g`` and ``x``."""

    @staticmethod
    def forward(ctx, g, x, act, params):
        ctx.save_for_backward(g, x)
        ctx.act, ctx.params = act, params
        return _run(act.grad, get_array_module(x), g, x, *params, n_arrays=2,
                    errstate=act.errstate)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        act, params = ctx.act, ctx.params
        dg = _PointwiseGrad.apply(gg, x, act, params) if ctx.needs_input_grad[0] else None
        dx = None
        if ctx.needs_input_grad[1]:
            d2 = act.d2(x, *params)
            # piecewise linear: f'' = 0; a zero tensor (not None), as torch's double backward
            dx = _const(x, get_array_module(x.array).zeros_like(x.array)) if d2 is None \
                else gg * g * d2
        return dg, dx


class Relu(_Pointwise):
    """max(x, 0). Gradient 0 at x == 0 (torch's threshold_backward on the result).

    The hottest activation, so its forward and backward skip the generic machinery: on small
    float arrays each is one NumPy call against a 0-d zero (a Python 0 costs a scalar
    conversion per call, more than the work); large ones go to ``activation_jit``.
    """

    errstate = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        zero = _ZERO.get(x.dtype)
        if zero is None:  # integer inputs (and CuPy's types are NumPy's too)
            return get_array_module(x).maximum(x, 0)
        if x.size >= JIT_MIN and x.flags.c_contiguous and x.dtype != np.float16 \
                and jit.enabled_for(x):
            return _kernels().relu(x)
        return get_array_module(x).maximum(x, zero)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if STATE.enabled:
            return _PointwiseGrad.apply(g, x, Relu, ())
        return _fn._new_tensor(Relu.raw_backward(ctx, g.array, x.array))

    @staticmethod
    def raw_backward(ctx, ga, xa=None):
        if xa is None:  # called by the engine: the input comes from the saved arrays
            xa = ctx.saved_arrays()[0]
        dt = xa.dtype
        if type(xa) is np.ndarray and type(ga) is np.ndarray and ga.dtype == dt:
            if xa.size <= _WHERE_MAX:
                zero = _ZERO.get(dt)
                if zero is not None:  # tiny: where() is the fewest ufunc calls
                    return np.where(xa <= zero, zero, ga)
            if ((dt == _F32 or dt == _F64) and ga.flags.c_contiguous
                    and xa.flags.c_contiguous and jit.enabled()):
                return _kernels().relu_grad(ga, xa)
        return Relu.grad(get_array_module(xa), ga, xa)

    @staticmethod
    def f(xp, x):
        return xp.maximum(x, 0)

    @staticmethod
    def grad(xp, g, x):
        return g * ~(x <= 0)  # not (x > 0): a NaN input passes the gradient, as torch


class Threshold(_Pointwise):
    """x if x > threshold else value. Gradient passes only where x > threshold (torch)."""

    errstate = False

    @staticmethod
    def f(xp, x, threshold, value):
        # astype wraps like torch's scalar cast (-1 -> 255 for uint8)
        return xp.where(x > threshold, x, xp.asarray(value).astype(x.dtype))

    @staticmethod
    def grad(xp, g, x, threshold, value):
        return g * (x > threshold)


class Hardtanh(_Pointwise):
    """clip(x, lo, hi). Gradient passes only strictly inside (lo, hi), as torch's."""

    errstate = False

    @staticmethod
    def f(xp, x, lo, hi):
        return xp.minimum(xp.maximum(x, xp.asarray(lo, x.dtype)), xp.asarray(hi, x.dtype))

    @staticmethod
    def grad(xp, g, x, lo, hi):
        return g * ((x > lo) & (x < hi))


class LeakyRelu(_Pointwise):
    """x if x > 0 else slope * x. At x == 0 the gradient is ``slope`` (torch: x > 0 ? 1 : s)."""

    errstate = False

    @staticmethod
    def f(xp, x, slope):
        # max(x, s x) is x for x > 0 and s x below when s <= 1 (min when s > 1): no where()
        return xp.maximum(x, x * slope) if slope <= 1 else xp.minimum(x, x * slope)

    @staticmethod
    def grad(xp, g, x, slope):
        if 0 <= slope <= 1:  # max(1, s) = 1 and max(0, s) = s: the exact multiplier
            return g * xp.maximum(x > 0, xp.asarray(slope, g.dtype))
        return xp.where(x > 0, g, g * slope)


class Elu(_Pointwise):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU.

    At x == 0 the gradient uses the exponential branch (scale * alpha * input_scale), as torch.
    """

    @staticmethod
    def f(xp, x, alpha, scale, input_scale):
        # each term is exactly 0 on the other side, so the sum is exact (and no exp overflows)
        neg = xp.expm1(xp.minimum(x, 0) * input_scale) * (alpha * scale)
        return xp.maximum(x, 0) * scale + neg

    @staticmethod
    def grad(xp, g, x, alpha, scale, input_scale):
        pos = x > 0
        neg = xp.exp(xp.minimum(x, 0) * input_scale) * (alpha * scale * input_scale)
        # a 0-d array, not a Python float: bool * float would give float64
        return g * (pos * xp.asarray(scale, x.dtype) + ~pos * neg)

    @staticmethod
    def d2(x, alpha, scale, input_scale):
        # clamp keeps exp finite on the (unselected) positive side, so 0 * inf never appears
        e = (x.clamp(max=0) * input_scale).exp() * (alpha * scale * input_scale ** 2)
        return e * _const(x, x.array <= 0)


class Gelu(_Pointwise):
    """x * Phi(x), with Phi the standard normal CDF (exact, through erf).

    The NumPy forward keeps Phi(x) for the backward (erf is the expensive part), passed on to
    the gradient op as its parameter; the compiled one keeps nothing (None) and its backward
    recomputes erf, which is cheap there.
    """

    kernel = "gelu"

    @classmethod
    def forward(cls, ctx, x):
        from ganglion.ops._special import erf  # noqa: PLC0415 - shared special functions

        ctx.save_for_backward(x)
        y = _jit_rule("gelu", x)
        if y is not None:
            ctx.params = (None,)
            return y
        work = x.astype(np.float32) if x.dtype == np.float16 else x
        cdf = 0.5 * (1.0 + erf(work * (1.0 / _SQRT_2)))
        ctx.params = (cdf,)
        return (work * cdf).astype(x.dtype, copy=False)

    @staticmethod
    def grad(xp, g, x, cdf):
        if cdf is None:  # the compiled forward ran, then the kernel did not take the backward
            from ganglion.ops._special import erf  # noqa: PLC0415

            cdf = 0.5 * (1.0 + erf(x * (1.0 / _SQRT_2)))
        pdf = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * (cdf + x * pdf)

    @staticmethod
    def d2(x, cdf):
        # d/dx (Phi + x phi) = 2 phi - x^2 phi
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return pdf * (2.0 - x * x)


class GeluTanh(_Pointwise):
    """0.5 x (1 + tanh(k (x + c x^3))), GELU's tanh approximation."""

    kernel = "gelu_tanh"

    @staticmethod
    def f(xp, x):
        t = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
        return 0.5 * x * (1.0 + t)

    @staticmethod
    def grad(xp, g, x):
        x2 = x * x
        t = xp.tanh(_GELU_K * (x + _GELU_C * x2 * x))
        du = _GELU_K * (1.0 + 3.0 * _GELU_C * x2)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)

    @staticmethod
    def d2(x):
        # with u = k (x + c x^3): f'' = (1 - t^2) (u' - x t u'^2 + x u'' / 2)
        x2 = x * x
        t = (_GELU_K * (x + _GELU_C * x2 * x)).tanh()
        du = _GELU_K * (1.0 + 3.0 * _GELU_C * x2)
        ddu = (6.0 * _GELU_K * _GELU_C) * x
        return (1.0 - t * t) * (du - x * t * du * du + 0.5 * x * ddu)


class Silu(_Pointwise):
    """x * sigmoid(x)."""

    kernel = "silu"

    @staticmethod
    def f(xp, x):
        return x * _sigmoid(xp, x)

    @staticmethod
    def grad(xp, g, x):
        s = _sigmoid(xp, x)
        return g * (s * (1.0 + x * (1.0 - s)))

    @staticmethod
    def d2(x):
        s = x.sigmoid()
        return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


def _softplus_arr(xp, x):
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Mish(_Pointwise):
    """x * tanh(softplus(x))."""

    @staticmethod
    def f(xp, x):
        return x * xp.tanh(_softplus_arr(xp, x))

    @staticmethod
    def grad(xp, g, x):
        t = xp.tanh(_softplus_arr(xp, x))
        return g * (t + x * _sigmoid(xp, x) * (1.0 - t * t))

    @staticmethod
    def d2(x):
        s = x.sigmoid()
        t = Softplus.apply(x, 1.0, 20.0).tanh()
        return (1.0 - t * t) * s * (2.0 + x * (1.0 - s - 2.0 * t * s))


class Softplus(_Pointwise):
    """log(1 + exp(beta x)) / beta, linear (x) where beta * x > threshold, as torch."""

    @staticmethod
    def f(xp, x, beta, threshold):
        bx = x * beta
        return xp.where(bx > threshold, x, xp.log1p(xp.exp(bx)) / beta)

    @staticmethod
    def grad(xp, g, x, beta, threshold):
        bx = x * beta
        return xp.where(bx > threshold, g, g * _sigmoid(xp, bx))

    @staticmethod
    def d2(x, beta, threshold):
        s = (x * beta).sigmoid()
        return s * (1.0 - s) * beta * _const(x, x.array * beta <= threshold)


class Softsign(_Pointwise):
    """x / (1 + |x|)."""

    @staticmethod
    def f(xp, x):
        return x / (1.0 + xp.abs(x))

    @staticmethod
    def grad(xp, g, x):
        d = 1.0 + xp.abs(x)
        return g / (d * d)

    @staticmethod
    def d2(x):
        # -2 sign(x) / (1 + |x|)^3; sign(x) is locally constant, so |x| = x * sign(x) keeps
        # the recorded graph smooth (sign(0) = 0 gives 0 at the kink, as torch's abs rule)
        sign = _const(x, np.sign(x.array))
        d = 1.0 + x * sign
        return -2.0 * sign / (d * d * d)


class Hardsigmoid(_Pointwise):
    """min(max(x + 3, 0), 6) / 6. Gradient 1/6 strictly inside (-3, 3), else 0 (torch)."""

    @staticmethod
    def f(xp, x):
        return xp.minimum(xp.maximum(x + 3.0, 0), 6.0) / 6.0

    @staticmethod
    def grad(xp, g, x):
        return g * ((x > -3.0) & (x < 3.0)) / 6.0


class Hardswish(_Pointwise):
    """x * min(max(x + 3, 0), 6) / 6. Gradient: 0 for x <= -3, x/3 + 1/2 inside, 1 for x >= 3."""

    @staticmethod
    def f(xp, x):
        return x * xp.minimum(xp.maximum(x + 3.0, 0), 6.0) / 6.0

    @staticmethod
    def grad(xp, g, x):
        inner = xp.where(x < 3.0, g * (x / 3.0 + 0.5), g)
        return xp.where(x <= -3.0, 0, inner)

    @staticmethod
    def d2(x):
        a = x.array
        return _const(x, ((a > -3.0) & (a < 3.0)) / 3.0)


class Logsigmoid(_Pointwise):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|."""

    @staticmethod
    def f(xp, x):
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def grad(xp, g, x):
        return g * _sigmoid(xp, -x)

    @staticmethod
    def d2(x):
        s = x.sigmoid()
        return s * (s - 1.0)


class Tanhshrink(_Pointwise):
    """x - tanh(x)."""

    @staticmethod
    def f(xp, x):
        return x - xp.tanh(x)

    @staticmethod
    def grad(xp, g, x):
        t = xp.tanh(x)
        return g * (t * t)

    @staticmethod
    def d2(x):
        t = x.tanh()
        return 2.0 * t * (1.0 - t * t)


class Hardshrink(_Pointwise):
    """x if |x| > lambd else 0. Gradient 0 at |x| == lambd (torch)."""

    errstate = False

    @staticmethod
    def f(xp, x, lambd):
        return xp.where(xp.abs(x) > lambd, x, 0)

    @staticmethod
    def grad(xp, g, x, lambd):
        return g * (xp.abs(x) > lambd)


class Softshrink(_Pointwise):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0. Gradient 0 at |x| == lambd."""

    errstate = False

    @staticmethod
    def f(xp, x, lambd):
        return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, 0))

    @staticmethod
    def grad(xp, g, x, lambd):
        return g * (xp.abs(x) > lambd)
