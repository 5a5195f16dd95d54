"""The fused ops behind ``cross_entropy`` and ``nll_loss``.

``CrossEntropy`` is log-softmax and the pick (or the dot with a target distribution) in one op.
Every variant torch has is the same sum, loss_i = -sum_c q_ic * logp_ic, for an effective
target q: class indices give q = w[t] * onehot(t) (zero where ignored), label smoothing mixes in
eps / C * w_c, probability targets give q = (t * (1 - eps) + eps / C) * w. The gradient is
p * sum_c(q) - q, scaled by the output gradient (and 1 / total weight for 'mean').

The forward keeps exp(x - max) for backward, so the plain backward is one pass over the input;
under ``create_graph=True`` the same formula is written with Tensor ops (differentiable again).
With compiled kernels on, class-index targets take ``loss_jit`` instead: the forward keeps
only each row's log-sum-exp and the backward recomputes exp(x - lse) in its one pass.

Example:
    >>> import ganglion
    >>> from ganglion.ops.loss_ce import CrossEntropy, CEInfo
    >>> x = ganglion.zeros(2, 4)
    >>> info = CEInfo(1, False, -100, "mean", 0.0)
    >>> round(CrossEntropy.apply(x, ganglion.tensor([1, 3]), None, info).item(), 4)
    1.3863
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd import function as _fn
from ganglion.autograd.function import Op
from ganglion.autograd.grad_mode import STATE
from ganglion.backend import jit
from ganglion.backend.device import get_array_module

__all__ = ["CEInfo", "CrossEntropy", "NLLLoss"]


class CEInfo:
    """Options of one cross-entropy / nll call: class dim, probability targets or indices,
    ignore_index, reduction and label smoothing."""

    __slots__ = ("cdim", "prob", "ignore", "reduction", "eps")

    def __init__(self, cdim, prob, ignore, reduction, eps):
        self.cdim, self.prob, self.ignore = cdim, prob, ignore
        self.reduction, self.eps = reduction, float(eps)


def _unsq(a, cd):
    """``a`` with a new axis at ``cd`` (np.expand_dims without its argument checking)."""
    a = np.asarray(a)
    return a.reshape(a.shape[:cd] + (1,) + a.shape[cd:])


def _take(x, tc, cd):
    """take_along_axis; plain fancy indexing for the common (N, C) case (much cheaper)."""
    if x.ndim == 2 and cd == 1:
        return x[np.arange(x.shape[0]), tc[:, 0]][:, None]
    return np.take_along_axis(x, tc, cd)


def _put(x, tc, vals, cd):
    """put_along_axis, with the same fast path."""
    if x.ndim == 2 and cd == 1:
        x[np.arange(x.shape[0]), tc[:, 0]] = np.broadcast_to(vals, tc.shape)[:, 0]
    else:
        np.put_along_axis(x, tc, np.broadcast_to(vals, tc.shape), cd)


def _bshape(x, cdim):
    """The shape that broadcasts a per-class vector along ``cdim`` of ``x``."""
    shape = [1] * x.ndim
    shape[cdim] = x.shape[cdim]
    return shape


def _index_weights(x, t, w, info):
    """(clamped targets keeping cdim, per-sample weight w[t] * mask) for class-index targets."""
    mask = t != info.ignore
    tc = _unsq(np.where(mask, t, 0), info.cdim)
    if w is None:
        wt = mask.astype(x.dtype)
    else:
        wt = np.where(mask, w[np.where(mask, t, 0)], 0).astype(x.dtype, copy=False)
    return tc, wt


def _reduce(loss, denom, reduction):
    """'none' / 'sum' / 'mean' over a per-sample loss; mean divides by ``denom``."""
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / loss.dtype.type(denom))  # 0 / 0 -> nan, as torch


class CrossEntropy(Op):
    """Fused log-softmax + negative log-likelihood (or soft-target cross entropy).

    Forward args: input, target (class indices, or probabilities with ``info.prob``), weight
    or None, and a ``CEInfo``.
    """

    @staticmethod
    def forward(ctx, x, t, w, info):
        ctx.rows = None
        if not info.prob and _compiled(x, w):
            return _forward_rows(ctx, x, t, w, info)
        xp = get_array_module(x)
        cd, c = info.cdim, x.shape[info.cdim]
        m = x.max(axis=cd, keepdims=True)  # C > 0 (checked by the callers)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            e = x - m  # nan for a row of +-inf, as torch
            xp.exp(e, out=e)
            s = e.sum(axis=cd, keepdims=True)
            lse = xp.log(s) + m
            eps = info.eps
            if info.prob:
                q = t * (1 - eps) + eps / c if eps else t
                if w is not None:
                    q = q * w.reshape(_bshape(x, cd))
                loss = (q.sum(cd, keepdims=True) * lse).squeeze(cd) - np.einsum(
                    _ein(x.ndim, cd), q, x)
                denom = x.size // max(c, 1) if x.size else 0
                wt = None
            else:
                tc, wt = _index_weights(x, t, w, info)
                nll = (lse - _take(x, tc, cd)).squeeze(cd)
                loss = wt * nll if not eps else (1 - eps) * wt * nll + (eps / c) * _smooth(
                    x, lse, w, t != info.ignore, cd)
                denom = wt.sum()
        loss = loss.astype(x.dtype, copy=False)
        ctx.info, ctx.denom, ctx.wt = info, denom, wt
        ctx.save_for_backward(x, t, w, e, s, lse)
        return _reduce(loss, denom, info.reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, w, e, s, lse = ctx.saved_tensors
        info = ctx.info
        if STATE.enabled:
            return _ce_graph_backward(ctx, g, x, t, w)
        gi = _grad_scale(g.array, ctx.denom, info, x.array.dtype)
        if ctx.rows is not None:
            gx = _backward_rows(ctx, t.array, None if w is None else w.array, gi)
            return (None if gx is None else _fn._new_tensor(gx)), None, None
        gx = gt = None
        nig = ctx.needs_input_grad
        warr = None if w is None else w.array
        with np.errstate(invalid="ignore", divide="ignore"):
            if nig[0]:
                gx = _ce_grad_x(ctx, e.array, s.array, t.array, warr, gi)
            if info.prob and nig[1]:
                gt = -(x.array - lse.array) * gi * (1 - info.eps)
                if warr is not None:
                    gt *= warr.reshape(_bshape(x.array, info.cdim))
        return (None if gx is None else _fn._new_tensor(gx),
                None if gt is None else _fn._new_tensor(gt.astype(t.array.dtype, copy=False)),
                None)  # weight: not differentiable, as torch


_MIN_JIT = 4096  # fewer logits than this: NumPy is as fast as starting the threads


def _compiled(x, w):
    """Whether ``loss_jit`` takes these logits (float32/float64 NumPy, kernels on)."""
    return (x.dtype in (np.float32, np.float64) and x.size >= _MIN_JIT and jit.enabled_for(x)
            and (w is None or jit.enabled_for(w)))


def _rows(x, cd):
    """The logits as (rows, C), C-contiguous, the class dim last (a copy unless it was)."""
    if cd != x.ndim - 1:
        x = np.moveaxis(x, cd, -1)
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def _forward_rows(ctx, x, t, w, info):
    """Class-index targets through ``loss_jit``: one compiled pass over the logits for the
    row log-sum-exp (and the sums label smoothing needs); the rest is per-row NumPy."""
    from ganglion.ops import loss_jit  # noqa: PLC0415

    cd, c, eps = info.cdim, x.shape[info.cdim], info.eps
    x2 = _rows(x, cd)
    lse, sx = loss_jit.row_lse(x2, w, bool(eps))
    mask = (t != info.ignore).reshape(-1)
    tr = np.where(mask, t.reshape(-1), 0)
    _, wt_t = _index_weights(x, t, w, info)
    wt = wt_t.reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = wt * (lse - x2[np.arange(x2.shape[0]), tr])
        if eps:
            sw = c if w is None else w.sum()
            loss = (1 - eps) * loss + (eps / c) * np.where(mask, lse * x.dtype.type(sw) - sx, 0)
    loss = loss.astype(x.dtype, copy=False).reshape(t.shape)
    denom = wt.sum()
    ctx.info, ctx.denom, ctx.wt = info, denom, wt_t  # (the create_graph path's layout)
    ctx.rows = (x2, lse, mask, tr, x.shape)
    ctx.save_for_backward(x, t, w, None, None, None)
    return _reduce(loss, denom, info.reduction)


def _backward_rows(ctx, t, w, gi):
    """The logits' gradient through ``loss_jit``: p * sum(q) - q in one compiled pass."""
    if not ctx.needs_input_grad[0]:
        return None
    from ganglion.ops import loss_jit  # noqa: PLC0415

    x2, lse, mask, tr, shape = ctx.rows
    info, eps, c = ctx.info, ctx.info.eps, x2.shape[1]
    dt = x2.dtype
    gi = np.broadcast_to(np.asarray(gi, dtype=dt).reshape(-1) if gi.ndim else gi,
                         lse.shape)
    wt = ctx.wt.reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        if eps:
            sw = c if w is None else w.sum()
            a = gi * ((1 - eps) * wt + mask * (eps / c * sw))
            b = (eps / c) * mask * gi
        else:
            a, b = gi * wt, np.zeros(lse.shape, dt)
        cd = info.cdim
        last = cd == len(shape) - 1
        gx = loss_jit.row_grad(x2, lse, a, b, w if eps else None, shape if last else None)
        g2 = gx.reshape(x2.shape)
        g2[np.arange(g2.shape[0]), tr] -= ((1 - eps) * wt * gi).astype(dt, copy=False)
    if not last:  # back from the class-last layout
        moved = shape[:cd] + shape[cd + 1:] + (shape[cd],)
        return np.ascontiguousarray(np.moveaxis(gx.reshape(moved), -1, cd))
    return gx


def _ein(ndim, cd):
    """einsum subscripts for sum over ``cd`` of a * b."""
    letters = "abcdefghijklmnop"[:ndim]
    return f"{letters},{letters}->{letters.replace(letters[cd], '')}"


def _smooth(x, lse, w, mask, cd):
    """-sum_c w_c * logp_c (zero where ignored) = lse * sum(w) - sum_c w_c * x_c."""
    if w is None:
        sx, sw = x.sum(axis=cd), x.shape[cd]
    else:
        sx, sw = np.moveaxis(x, cd, -1) @ w.astype(x.dtype, copy=False), w.sum()
    return np.where(mask, lse.squeeze(cd) * x.dtype.type(sw) - sx, 0)


def _grad_scale(g, denom, info, dtype):
    """The output gradient per sample, broadcastable along the class dim."""
    if info.reduction == "none":
        return _unsq(g, info.cdim)
    if info.reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / dtype.type(denom)
    return g


def _ce_grad_x(ctx, e, s, t, w, gi):
    """p * sum(q) - q, times the output gradient, on raw arrays (one pass over the input)."""
    info, cd = ctx.info, ctx.info.cdim
    c = e.shape[cd]
    eps = info.eps
    dtype = e.dtype
    if info.prob:
        q = t * (1 - eps) + eps / c if eps else t
        if w is not None:
            q = q * w.reshape(_bshape(e, cd))
        gx = e * (gi * q.sum(cd, keepdims=True) / s)
        gx -= q * gi
        return gx.astype(dtype, copy=False)
    wt = _unsq(ctx.wt, cd)
    mask = _unsq(t != info.ignore, cd)
    sw = c if w is None else w.sum()
    ssum = (1 - eps) * wt + mask * (eps / c * sw) if eps else wt  # sum_c q_ic
    gx = e * ((gi * ssum) / s).astype(dtype, copy=False)
    tc = _unsq(np.where(t != info.ignore, t, 0), cd)
    hit = _take(gx, tc, cd) - ((1 - eps) * wt * gi).astype(dtype, copy=False)
    _put(gx, tc, hit, cd)
    if eps:
        wv = 1 if w is None else w.reshape(_bshape(e, cd))
        gx -= ((eps / c) * (mask * gi) * wv).astype(dtype, copy=False)
    return gx


def _dense_q(ctx, x, t, w):
    """The effective target q of class-index targets as a dense array (create_graph path)."""
    info, cd = ctx.info, ctx.info.cdim
    c, eps = x.shape[cd], info.eps
    mask = _unsq(t != info.ignore, cd)
    tc = _unsq(np.where(t != info.ignore, t, 0), cd)
    q = np.zeros(x.shape, x.dtype)
    _put(q, tc, _unsq(ctx.wt, cd) * (1 - eps), cd)
    if eps:
        wv = np.ones(_bshape(x, cd), x.dtype) if w is None else w.reshape(_bshape(x, cd))
        q += (eps / c) * mask * wv
    return q.astype(x.dtype, copy=False)


def _ce_graph_backward(ctx, g, x, t, w):
    """The gradients with Tensor ops on the saved input (create_graph=True)."""
    info, cd = ctx.info, ctx.info.cdim
    nig = ctx.needs_input_grad
    gi = g.unsqueeze(cd) if info.reduction == "none" else g
    if info.reduction == "mean":
        gi = gi / float(ctx.denom)
    wv = None if w is None else _fn._new_tensor(w.array.reshape(_bshape(x.array, cd)))
    if info.prob:
        eps, c = info.eps, x.shape[cd]
        q = t * (1 - eps) + eps / c if eps else t
        q = q if wv is None else q * wv
    else:
        q = _fn._new_tensor(_dense_q(ctx, x.array, t.array, None if w is None else w.array))
    gx = gt = None
    if nig[0]:
        gx = (x.softmax(cd) * q.sum(cd, keepdim=True) - q) * gi
    if info.prob and nig[1]:
        scale = -(1 - info.eps) * (gi if wv is None else gi * wv)
        gt = x.log_softmax(cd) * scale
    return gx, gt, None


class NLLLoss(Op):
    """-w[t] * input[t] along the class dim (input: log-probabilities); ignored targets give 0.

    Forward args: input, class-index target, weight or None, and a ``CEInfo``.
    """

    @staticmethod
    def forward(ctx, x, t, w, info):
        tc, wt = _index_weights(x, t, w, info)
        loss = (-wt * _take(x, tc, info.cdim).squeeze(info.cdim))
        loss = loss.astype(x.dtype, copy=False)
        denom = wt.sum()
        ctx.info, ctx.denom, ctx.wt, ctx.tc = info, denom, wt, tc
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return _reduce(loss, denom, info.reduction)

    @staticmethod
    def backward(ctx, g):
        info, cd = ctx.info, ctx.info.cdim
        coef = np.zeros(ctx.shape, ctx.dtype)
        if STATE.enabled:  # linear in g: a constant one-hot pattern times g stays differentiable
            gi = g.unsqueeze(cd) if info.reduction == "none" else g
            if info.reduction == "mean":
                gi = gi / float(ctx.denom)
            _put(coef, ctx.tc, -_unsq(ctx.wt, cd), cd)
            return _fn._new_tensor(coef) * gi, None, None
        gi = _grad_scale(g.array, ctx.denom, info, ctx.dtype)
        vals = -_unsq(ctx.wt, cd) * gi
        _put(coef, ctx.tc, vals, cd)
        return _fn._new_tensor(coef), None, None
