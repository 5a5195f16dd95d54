"""The fused normalization ops behind ``batch_norm``, ``instance_norm``, ``layer_norm``,
``group_norm`` and ``rms_norm``.

Every one of those is "normalize ``x`` over some axes, then scale and shift per feature" once the
input is seen through the right reshape: batch norm views ``(N, C, *)`` as ``(N, C, S)`` and
reduces axes (0, 2); layer norm views it as ``(M, D)`` and reduces axis 1; group norm views it
as ``(N, G, C/G, S)`` and reduces axes (2, 3). A ``NormSpec`` holds that view, and one op,
``Normalize``, does the work: mean and variance computed once in the input dtype, the affine
folded into one multiply-add where the weight is constant over the reduced axes.

Backward uses the closed form dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
With ``create_graph=False`` it runs on raw arrays (fast); under ``create_graph=True`` the same
formula is written with Tensor ops from the saved input, so gradients of gradients are exact.

Batch norm (``(N, C, S)``, axes (0, 2)) and layer/RMS norm (``(M, D)``, axis 1) on float32/64
C-contiguous NumPy arrays run compiled multi-core kernels (``norm_jit``) when
``ganglion.backend.jit`` is on: they save the input and per-channel (per-row) statistics
instead of a full-size ``xhat``, and touch the data two times each way where NumPy needs nine.

Example:
    >>> import ganglion
    >>> from ganglion.ops.norm_fused import NormSpec, Normalize
    >>> spec = NormSpec((1, 4), (1,), (1, 4), 1e-5)
    >>> Normalize.apply(ganglion.tensor([1.0, 2.0, 3.0, 4.0]), None, None, spec).sum().item()
    0.0
"""
from __future__ import annotations

import math

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.function import Op
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import jit
from ganglion.backend.device import get_array_module

__all__ = ["NormSpec", "Normalize", "NormEval"]


class NormSpec:
    """How a normalization sees its input: the view, the reduced axes, the weight's view.

    Args:
        vshape: the shape the input is reshaped to.
        axes: the axes of ``vshape`` the statistics are taken over.
        wshape: the shape weight and bias are reshaped to (broadcast against ``vshape``).
        eps: added to the variance (to the mean square for RMS norm).
        rms: RMS norm: no mean subtraction.
    """

    __slots__ = ("vshape", "axes", "wshape", "eps", "rms", "n", "waxes", "fold", "sub", "wsub",
                 "kind")

    def __init__(self, vshape, axes, wshape, eps, rms=False):
        self.vshape, self.axes, self.wshape = tuple(vshape), tuple(axes), tuple(wshape)
        self.eps, self.rms = float(eps), rms
        self.n = math.prod(self.vshape[a] for a in self.axes)
        # axes weight/bias gradients are summed over: those where the weight is broadcast
        self.waxes = tuple(a for a, s in enumerate(self.wshape) if s == 1)
        # the weight is constant over the reduced axes (batch/instance norm): it folds into
        # the per-statistic scale instead of costing a full-size multiply
        self.fold = set(self.axes) <= set(self.waxes)
        self.sub = _subscripts(len(self.vshape), self.axes)
        self.wsub = _subscripts(len(self.vshape), self.waxes)
        # which compiled kernel family fits this view (None: NumPy only)
        nd = len(self.vshape)
        self.kind = ("bn" if nd == 3 and self.axes == (0, 2) and not rms else
                     "rows" if nd == 2 and self.axes == (1,) else None)


def _subscripts(ndim, axes):
    """einsum subscripts for sum(a * b) over ``axes``, keeping the other axes."""
    letters = "abcdefghijklmnop"[:ndim]
    keep = "".join(c for i, c in enumerate(letters) if i not in axes)
    return f"{letters},{letters}->{keep}"


def _sum_prod(spec, a, b):
    """sum(a * b) over the reduced axes, keepdims (einsum: one pass, no full-size temporary)."""
    s = np.einsum(spec.sub, a, b)
    return s.reshape([1 if i in spec.axes else n for i, n in enumerate(spec.vshape)])


def _update_running(rm, rv, mean, var, n, momentum):
    """running = (1 - momentum) * running + momentum * batch stat; the variance unbiased."""
    c = rm.size if rm is not None else rv.size
    if rm is not None:
        rm *= 1 - momentum
        rm += (momentum * mean.reshape(-1, c).mean(0)).astype(rm.dtype, copy=False)
    if rv is not None:
        unbiased = var * (n / (n - 1)) if n > 1 else var * np.nan  # n == 1: nan, as torch
        rv *= 1 - momentum
        rv += (momentum * unbiased.reshape(-1, c).mean(0)).astype(rv.dtype, copy=False)


class Normalize(Op):
    """y = (x - mean) * rstd * w + b over ``spec.axes`` (x * rstd * w + b for RMS norm).

    Forward args: x, weight or None, bias or None, spec, and optionally running_mean and
    running_var arrays (updated in place) and momentum.
    """

    stats = None  # (mean, rstd) when the compiled forward ran (it saves no xhat)

    @staticmethod
    def forward(ctx, x, w, b, spec, rm=None, rv=None, momentum=0.1):
        if spec.kind is not None and _jit_ok(x, w, b):
            return _jit_forward(ctx, x, w, b, spec, rm, rv, momentum)
        # Fresh full-size arrays cost page faults on every call: the forward allocates two
        # (xhat, kept for backward, and the output) and works in place otherwise.
        xp = get_array_module(x)
        xv = x.reshape(spec.vshape)
        n = x.dtype.type(max(spec.n, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            if spec.rms:
                rstd = 1 / xp.sqrt(_sum_prod(spec, xv, xv) / n + spec.eps)
                xhat = xv * rstd.astype(x.dtype, copy=False)
            else:
                mean = np.add.reduce(xv, spec.axes, keepdims=True) / n  # .mean's wrapper costs
                xhat = xv - mean
                var = _sum_prod(spec, xhat, xhat) / n
                if rm is not None or rv is not None:
                    _update_running(rm, rv, mean, var, spec.n, momentum)
                rstd = 1 / xp.sqrt(var + spec.eps)
                xhat *= rstd.astype(x.dtype, copy=False)
        rstd = rstd.astype(x.dtype, copy=False)
        if w is not None:
            y = xhat * w.reshape(spec.wshape)
            if b is not None:
                y += b.reshape(spec.wshape)
        else:
            y = xhat + b.reshape(spec.wshape) if b is not None else xhat.copy()
        ctx.spec, ctx.bshape = spec, None if b is None else b.shape
        ctx.save_for_backward(x, w, xhat, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, w, xhat, rstd = ctx.saved_tensors
        nig = ctx.needs_input_grad
        if STATE.enabled:  # create_graph=True: differentiable Tensor formula
            return _graph_backward(ctx.spec, g, x, w, nig, ctx.bshape)
        wa = None if w is None else w.array
        if ctx.stats is not None:
            if _jit_ok(x.array, wa, None):
                return _jit_backward(ctx.spec, g.array, x.array, wa, ctx.stats, nig, ctx.bshape)
            xhat, rstd = _xhat_from_stats(ctx.spec, x.array, ctx.stats)  # kernels turned off
        else:
            xhat, rstd = xhat.array, rstd.array
        return _array_backward(ctx.spec, g.array, x.array, wa, xhat, rstd, nig, ctx.bshape)


def _jit_ok(x, w, b):
    """The compiled kernels take this call: float32/64 C-contiguous non-empty NumPy arrays."""
    return (x.dtype in _JIT_DTYPES and x.size and x.flags.c_contiguous
            and jit.enabled_for(x, *(a for a in (w, b) if a is not None)))


_JIT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _stat_shape(spec):
    """Where per-channel (bn) or per-row (rows) statistics broadcast against ``vshape``."""
    return (1, spec.vshape[1], 1) if spec.kind == "bn" else (spec.vshape[0], 1)


def _xhat_from_stats(spec, x, stats):
    """(xhat, rstd) in the NumPy backward's form, from a compiled forward's statistics."""
    mean, rstd = (a.astype(x.dtype).reshape(_stat_shape(spec)) for a in stats)
    return (x.reshape(spec.vshape) - mean) * rstd, rstd


def _vec(a, d, fill, dtype):
    return np.full(d, fill, dtype) if a is None else a.reshape(d)


def _jit_forward(ctx, x, w, b, spec, rm, rv, momentum):
    from ganglion.ops import norm_jit  # noqa: PLC0415 - numba only once kernels are on

    dt = x.dtype
    xv = x.reshape(spec.vshape)
    if spec.kind == "rows":
        d = spec.vshape[1]
        y, mean, rstd = norm_jit.rows_forward(xv, _vec(w, d, 1, dt), _vec(b, d, 0, dt),
                                              spec.eps, spec.rms)
    else:
        c = spec.vshape[1]
        mean, var = norm_jit.channel_stats(xv)
        if rm is not None or rv is not None:
            _update_running(rm, rv, mean, var, spec.n, momentum)
        rstd = 1.0 / np.sqrt(var + spec.eps)
        scale = rstd if w is None else rstd * w.reshape(c)
        shift = np.zeros(c, dt) if b is None else b.reshape(c)
        y = norm_jit.channel_affine(xv, mean.astype(dt), scale.astype(dt), shift)
    ctx.spec, ctx.bshape, ctx.stats = spec, None if b is None else b.shape, (mean, rstd)
    ctx.save_for_backward(x, w, None, None)
    return y.reshape(x.shape)


def _jit_backward(spec, g, x, w, stats, nig, bshape):
    """The gradients of :func:`_jit_forward`'s result, two passes over the data."""
    from ganglion.ops import norm_jit  # noqa: PLC0415

    dt = x.dtype
    gv = np.ascontiguousarray(g, dtype=dt).reshape(spec.vshape)
    xv = x.reshape(spec.vshape)
    mean, rstd = stats
    # gradients are allocated in their final shapes: the engine copies a reshaped view again
    # when it becomes a leaf's .grad
    gx = np.empty(x.shape, dt)
    if spec.kind == "rows":
        d = spec.vshape[1]
        gw, gb = norm_jit.rows_backward(gv, xv, _vec(w, d, 1, dt), mean, rstd, spec.rms,
                                        gx.reshape(spec.vshape))
    else:
        c, n = spec.vshape[1], spec.n
        sg, sgx = norm_jit.channel_moments(gv, np.zeros(c), xv, mean)
        gw, gb = rstd * sgx, sg  # sum(g * xhat), sum(g)
        k = rstd if w is None else rstd * w.reshape(c)
        if nig[0]:  # dx = k (g - sum(g) / n - xhat sum(g xhat) / n)
            norm_jit.channel_dx(gv, k.astype(dt), xv, mean.astype(dt),
                                (-k * rstd * gw / n).astype(dt), (-k * sg / n).astype(dt),
                                gx.reshape(spec.vshape))
    gx = _fn._new_tensor(gx) if nig[0] else None
    gw = _fn._new_tensor(_shaped(gw.astype(dt), w.shape)) if nig[1] else None
    gb = _fn._new_tensor(_shaped(gb.astype(dt), bshape)) if len(nig) > 2 and nig[2] else None
    return gx, gw, gb


def _shaped(a, shape):
    return a if a.shape == shape else a.reshape(shape)


def _array_backward(spec, g, x, w, xhat, rstd, nig, bshape):
    """dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) on raw arrays, with one
    or two fresh full-size arrays (the rest in place)."""
    gv = g.reshape(spec.vshape)
    wv = None if w is None else w.reshape(spec.wshape)
    n = x.dtype.type(max(spec.n, 1))
    gx = gw = gb = None
    fold = spec.fold or wv is None  # the weight is constant over the reduced axes
    with np.errstate(invalid="ignore", divide="ignore"):
        if nig[0]:
            dxhat = gv if fold else gv * wv
            s2 = _sum_prod(spec, dxhat, xhat)  # sum(dxhat * xhat) over the reduced axes
            # allocated in the input's shape: a reshaped view would be copied again by the
            # engine when it becomes a leaf's .grad
            buf = np.empty(x.shape, x.dtype)
            gx = np.multiply(xhat, -s2 / n, out=buf.reshape(spec.vshape))
            gx += dxhat
            if not spec.rms:
                gx -= dxhat.sum(spec.axes, keepdims=True) / n
            gx *= rstd if fold and wv is None else rstd * wv if fold else rstd
        if nig[1]:
            gw = np.einsum(spec.wsub, gv, xhat)  # sum(g * xhat) over the weight's axes
    if nig[0]:
        gx = _fn._new_tensor(buf)
    if nig[1]:
        gw = _fn._new_tensor(gw.reshape(w.shape))
    if len(nig) > 2 and nig[2]:
        gb = _fn._new_tensor(gv.sum(spec.waxes).reshape(bshape))
    return gx, gw, gb


def _graph_backward(spec, g, x, w, nig, bshape):
    """The same gradients with Tensor ops recomputed from ``x``: differentiable again."""
    axes = spec.axes
    xv = x.reshape(spec.vshape)
    if spec.rms:
        rstd = ((xv * xv).mean(axes, keepdim=True) + spec.eps).rsqrt()
        xhat = xv * rstd
    else:
        xc = xv - xv.mean(axes, keepdim=True)
        rstd = ((xc * xc).mean(axes, keepdim=True) + spec.eps).rsqrt()
        xhat = xc * rstd
    gv = g.reshape(spec.vshape)
    gx = gw = gb = None
    if nig[0]:
        dxhat = gv if w is None else gv * w.reshape(spec.wshape)
        inner = dxhat - xhat * (dxhat * xhat).mean(axes, keepdim=True)
        if not spec.rms:
            inner = inner - dxhat.mean(axes, keepdim=True)
        gx = (rstd * inner).reshape(x.shape)
    if nig[1]:
        gw = (gv * xhat).sum(spec.waxes).reshape(w.shape)
    if len(nig) > 2 and nig[2]:
        gb = gv.sum(spec.waxes).reshape(bshape)
    return gx, gw, gb


class NormEval(Op):
    """y = (x - mean) * inv * w + b with fixed statistics (batch norm in eval mode).

    Forward args: x, weight or None, bias or None, spec, mean and inv (= 1/sqrt(var + eps))
    as arrays shaped ``spec.wshape``.
    """

    @staticmethod
    def forward(ctx, x, w, b, spec, mean, inv):
        xv = x.reshape(spec.vshape)
        scale = inv if w is None else inv * w.reshape(spec.wshape)
        if len(spec.vshape) == 3 and _jit_ok(x, w, b):  # one pass over the data
            from ganglion.ops import norm_jit  # noqa: PLC0415

            c = spec.vshape[1]
            shift = np.zeros(c, x.dtype) if b is None else b.reshape(c)
            y = norm_jit.channel_affine(xv, mean.reshape(c), scale.reshape(c), shift)
        else:
            shift = -mean * scale
            if b is not None:
                shift = shift + b.reshape(spec.wshape)
            y = xv * scale
            y += shift
        ctx.spec, ctx.mean, ctx.inv = spec, mean, inv
        ctx.bshape = None if b is None else b.shape
        ctx.save_for_backward(x, w)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        # Written with Tensor ops for both paths: the work is two full-size multiplies either way.
        x, w = ctx.saved_tensors
        spec, nig = ctx.spec, ctx.needs_input_grad
        gv = g.reshape(spec.vshape)
        inv = _fn._new_tensor(ctx.inv)
        gx = gw = gb = None
        if nig[0]:
            gx = (gv * (inv if w is None else inv * w.reshape(spec.wshape))).reshape(x.shape)
        if nig[1]:
            xhat = (x.reshape(spec.vshape) - _fn._new_tensor(ctx.mean)) * inv
            gw = (gv * xhat).sum(spec.waxes).reshape(w.shape)
        if len(nig) > 2 and nig[2]:
            gb = gv.sum(spec.waxes).reshape(ctx.bshape)
        return gx, gw, gb
