"""Padding: ``pad(input, pad, mode, value)`` (``nn.functional.pad``) with torch's modes
``constant`` (negative padding crops), ``reflect``, ``replicate`` and ``circular``.

``pad`` lists (before, after) pairs from the last dim backwards: ``(left, right, top, bottom,
front, back)``. Each mode's backward is the adjoint map (crop for constant; for the others a
fold that adds the border gradients back into the rows they were copied from, with slices), and
the adjoint of that is the pad again, so gradients of gradients work.

Example:
    >>> import ganglion
    >>> from ganglion.ops.pad import pad
    >>> pad(ganglion.arange(3.0).reshape(1, 3), (2, 1), mode="reflect")
    tensor([[2., 1., 0., 1., 2., 1.]])
"""
from __future__ import annotations

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend.device import get_array_module
from ganglion.tensor import Tensor

__all__ = ["pad"]

_MODES = ("reflect", "replicate", "circular")
_DIM_NAMES = ("W", "H", "D")


def _axis_slice(axis, start, stop, step=None):
    return (slice(None),) * axis + (slice(start, stop, step),)


class ConstantPad(Op):
    """``x`` padded by ``pads[d] = (before, after)`` on every dim ``d`` (negative crops).

    With ``as_view`` (``narrow``) a pure crop returns a view of ``x``. The gradient is the
    opposite pad of ``g`` with zeros: it crops what was added and zero-fills what was cropped.
    """

    view = True  # only for an ``as_view`` crop; forward sets ``ctx.view`` per call

    @staticmethod
    def forward(ctx, x, pads, value, as_view):
        ctx.pads = pads
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pads))
        if as_view and all(lo <= 0 and hi <= 0 for lo, hi in pads):
            return x[src]
        ctx.view = False
        out_shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pads))
        out = get_array_module(x).full(out_shape, value, dtype=x.dtype)
        dst = tuple(slice(max(lo, 0), max(lo, 0) + s.stop - s.start)
                    for s, (lo, _) in zip(src, pads))
        out[dst] = x[src]
        return out

    @staticmethod
    def backward(ctx, g):
        return ConstantPad.apply(g, tuple((-lo, -hi) for lo, hi in ctx.pads), 0, False)


def _index(n, lo, hi, mode):
    """Source index of each output position along one dim, for the non-constant modes."""
    if mode == "circular":  # torch crops first, then wraps around the cropped extent
        c0, nc = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
        m = n + lo + hi
        return c0 + (np.arange(max(m, 0)) - max(lo, 0)) % max(nc, 1)
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    i = np.abs(i)
    return np.where(i > n - 1, 2 * (n - 1) - i, i)


def _fold_circular(xp, g, axis, n, lo, hi):
    c0, c1 = max(-lo, 0), n - max(-hi, 0)
    nc, lp, rp = c1 - c0, max(lo, 0), max(hi, 0)
    if g.shape[axis] == 0:  # nothing was copied (the crop may even exceed the dim)
        shape = list(g.shape)
        shape[axis] = n
        return xp.zeros(shape, g.dtype)
    core = g[_axis_slice(axis, lp, lp + nc)].copy()
    if lp:
        core[_axis_slice(axis, nc - lp, nc)] += g[_axis_slice(axis, 0, lp)]
    if rp:
        core[_axis_slice(axis, 0, rp)] += g[_axis_slice(axis, lp + nc, lp + nc + rp)]
    if nc == n:
        return core
    shape = list(g.shape)
    shape[axis] = n
    out = xp.zeros(shape, g.dtype)
    out[_axis_slice(axis, c0, c1)] = core
    return out


def _fold(xp, g, axis, n, lo, hi, mode):
    """Sum ``g`` (padded along ``axis``) back onto the ``n`` source positions it came from.

    The output positions fall into three runs of source indices: the left border (index -i,
    reflect; 0, replicate), the copied centre, and the right border (2(n-1)-i; n-1). Each run
    is one slice, added with a flip (reflect) or a sum (replicate).
    """
    if mode == "circular":
        return _fold_circular(xp, g, axis, n, lo, hi)
    shape = list(g.shape)
    shape[axis] = n
    out = xp.zeros(shape, g.dtype)
    c0, c1 = max(-lo, 0), min(n, n + hi)  # centre: source i in [c0, c1) sits at i + lo
    if c1 > c0:
        out[_axis_slice(axis, c0, c1)] = g[_axis_slice(axis, c0 + lo, c1 + lo)]
    for a, b, left in ((-lo, min(0, n + hi), True), (max(n, -lo), n + hi, False)):
        if b <= a:
            continue
        part = g[_axis_slice(axis, a + lo, b + lo)]
        if mode == "replicate":
            j = 0 if left else n - 1
            out[_axis_slice(axis, j, j + 1)] += part.sum(axis=axis, keepdims=True)
        elif left:  # source index -i: ascending targets 1-b .. -a take the part reversed
            out[_axis_slice(axis, 1 - b, 1 - a)] += part[_axis_slice(axis, None, None, -1)]
        else:  # source index 2(n-1)-i
            out[_axis_slice(axis, 2 * n - 1 - b, 2 * n - 1 - a)] += \
                part[_axis_slice(axis, None, None, -1)]
    return out


class ModePad(Op):
    """Reflect / replicate / circular padding of the dims in ``spec`` = ((axis, lo, hi), ...)."""

    @staticmethod
    def forward(ctx, x, spec, mode):
        ctx.spec, ctx.mode, ctx.in_shape = spec, mode, x.shape
        if mode != "circular":
            ctx.save_for_backward(x)
        xp = get_array_module(x)
        out = x
        for axis, lo, hi in spec:
            if lo or hi:
                idx = xp.asarray(_index(out.shape[axis], lo, hi, mode))
                out = xp.take(out, idx, axis=axis)
        return out.copy() if out is x else out

    @staticmethod
    def backward(ctx, g):
        # torch's reflect/replicate backward also takes the input (for its shape), so under
        # create_graph the gradient is attached to it with a zero derivative; mirrored here
        x = ctx.saved_tensors[0] if ctx.mode != "circular" else None
        return PadFold.apply(g, ctx.spec, ctx.mode, ctx.in_shape, x)


class PadFold(Op):
    """The adjoint of ``ModePad``: its gradient rule, itself differentiable (by ``ModePad``).

    ``x`` (the padded input, or None) only links the result to it, as torch does."""

    @staticmethod
    def forward(ctx, g, spec, mode, in_shape, x=None):
        ctx.spec, ctx.mode, ctx.in_shape = spec, mode, in_shape
        xp = get_array_module(g)
        out = g
        for axis, lo, hi in spec:
            if lo or hi:
                out = _fold(xp, out, axis, in_shape[axis], lo, hi, mode)
        return out.copy() if out is g else out

    @staticmethod
    def backward(ctx, gg):
        gx = None
        if ctx.needs_input_grad[4]:
            gx = _new_tensor(get_array_module(gg.array).zeros(ctx.in_shape, gg.array.dtype))
        return ModePad.apply(gg, ctx.spec, ctx.mode), None, None, None, gx


def _pad_pairs(pad, ndim):
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type(pad).__name__}")
    for i, p in enumerate(pad):
        if not isinstance(p, (int, np.integer)) or isinstance(p, bool):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(p).__name__} at pos {i}")
    if len(pad) % 2:
        raise RuntimeError(f"pad: Padding length must be divisible by 2, got pad={tuple(pad)}")
    if len(pad) > 2 * ndim:
        raise RuntimeError(f"pad: Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {ndim}")
    # pad[0:2] is the last dim, pad[2:4] the one before, ...
    return [(ndim - 1 - k, int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)]


def _check_mode(shape, pairs, mode):
    nd, k = len(shape), len(pairs)
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: Padding size {2 * k} is not supported for {nd}D input tensor (shape "
            f"{tuple(shape)}) in mode '{mode}'. Supported combinations for non-constant "
            f"padding: 2D or 3D input: padding size = 2 (pads last dimension); 3D or 4D input: "
            f"padding size = 4 (pads last 2 dimensions); 4D or 5D input: padding size = 6 "
            f"(pads last 3 dimensions).")
    if mode != "circular" and 0 in shape[nd - k - 1:]:
        raise RuntimeError(f"pad: Expected {k + 1}D or {k + 2}D (batch mode) tensor with "
                           f"possibly 0 batch size and other non-zero dimensions for input, "
                           f"but got: {list(shape)}")
    for axis, lo, hi in pairs:
        n, m = shape[axis], shape[axis] + lo + hi
        if mode == "reflect" and not (lo < n and hi < n):
            raise RuntimeError(f"pad: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({lo}, {hi}) at dimension {axis} "
                               f"of input {list(shape)}")
        if mode != "circular" and m < 1:
            raise RuntimeError(f"pad: input ({_DIM_NAMES[nd - 1 - axis]}: {n}) is too small. "
                               f"Calculated output {_DIM_NAMES[nd - 1 - axis]}: {m}")
        if mode == "circular":
            nc = n - max(-lo, 0) - max(-hi, 0)
            if lo > n or hi > n or (m > 0 and max(lo, hi) > nc):
                raise RuntimeError(f"pad: Padding value causes wrapping around more than once "
                                   f"(padding ({lo}, {hi}) of dimension {axis}, size {n}).")
            if m < 0:
                raise RuntimeError("pad: Negative padding value is resulting in an empty "
                                   "dimension.")


def pad(input, pad, mode="constant", value=None) -> Tensor:
    """Pad ``input`` (torch's ``nn.functional.pad``).

    Args:
        input: the tensor.
        pad: (before, after) sizes, last dim first: ``(left, right, top, bottom, ...)``.
            Negative sizes crop.
        mode: ``'constant'`` (any dims), or ``'reflect'``, ``'replicate'``, ``'circular'``
            (the last 1, 2 or 3 dims of a 2-3, 3-4 or 4-5 dim input).
        value: fill value of ``'constant'`` padding (default 0).

    Returns:
        The padded tensor (a new tensor).

    Raises:
        RuntimeError: odd or too long ``pad``, a reflect pad not smaller than the dim, ...
        NotImplementedError: an unknown mode, or a mode/ndim combination torch lacks.

    Example:
        >>> import ganglion
        >>> from ganglion.ops.pad import pad
        >>> pad(ganglion.zeros(1, 2, 3, 4), (1, 1, 2, 0), mode="replicate").shape
        ganglion.Size([1, 2, 5, 6])
    """
    shape = input.array.shape
    pairs = _pad_pairs(pad, len(shape))
    if mode == "constant":
        pads = [(0, 0)] * len(shape)
        for axis, lo, hi in pairs:
            if shape[axis] + min(lo, 0) + min(hi, 0) < 0:  # torch crops before it pads
                raise RuntimeError(f"pad: The input size {shape[axis]}, plus negative padding "
                                   f"{min(lo, 0)} and {min(hi, 0)} resulted in a negative "
                                   f"output size, which is invalid. Check dimension {axis} of "
                                   f"your input.")
            pads[axis] = (lo, hi)
        return ConstantPad.apply(input, tuple(pads), 0 if value is None else value, False)
    if mode not in _MODES:
        raise NotImplementedError(f"pad: Unrecognised padding mode {mode}; expected one of "
                                  f"'constant', 'reflect', 'replicate', 'circular'")
    if value is not None and value != 0:
        raise RuntimeError(f"pad: Padding mode \"{mode}\" doesn't take in value argument")
    _check_mode(shape, pairs, mode)
    return ModePad.apply(input, tuple(pairs), mode)


TENSOR_METHODS: dict = {}
