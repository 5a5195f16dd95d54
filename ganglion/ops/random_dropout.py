"""Dropout: ``dropout``, ``alpha_dropout``, ``feature_alpha_dropout`` and the channel-wise
``dropout1d/2d/3d`` (part of the 'random' family; see ganglion/ops/random.py; re-exported by
``nn.functional``).

The mask comes from one 64-bit seed drawn from the global generator (so ``manual_seed``
reproduces it): element i is kept when its 32 counter-based bits (SplitMix64 of the seed and
i's pair, see ``random_jit``) reach ``round(p * 2^32)``. The bits are the same on the compiled
path (one parallel pass that draws, masks and scales) and on the NumPy path, at any thread
count. Elementwise dropout is one op whose gradient ``g * keep * scale`` is the same op again
(so it stays differentiable); channel-wise and alpha dropout apply their mask as a product with
a constant. Outside training, or with p == 0, the input itself is returned, as in torch.

Example:
    >>> import ganglion
    >>> x = ganglion.ones(1000)
    >>> y = ganglion.dropout(x, p=0.2)
    >>> sorted(set(y.tolist()))
    [0.0, 1.25]
"""
from __future__ import annotations

import warnings

import numpy as np

from ganglion.autograd.function import Op, _new_tensor
from ganglion.backend import jit
from ganglion.backend.device import get_array_module
from ganglion.ops.random_fill import rng_of
from ganglion.tensor import Tensor, inplace_update

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
           "dropout3d"]

# SELU's negative saturation value -lambda * alpha (Klambauer et al. 2017,
# https://arxiv.org/abs/1706.02515): dropped units of alpha dropout take this value.
_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


# SplitMix64's increment (2^64 / golden ratio) and its finalizer's multipliers (also used by
# random_jit)
_GAMMA, _MIX1, _MIX2 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9),
                        np.uint64(0x94D049BB133111EB))
_PAIRS = 1 << 15  # pairs of elements per NumPy block: its uint64 temporaries stay in cache


def _draw(p):
    """(seed, threshold) of one mask: a 64-bit draw from the global generator, and the 32-bit
    threshold that keeps an element with probability 1 - p (to within 2^-33)."""
    seed = int(rng_of(None).bit_generator.random_raw())
    return seed, min(int(round(p * 2.0 ** 32)), 2 ** 32)


def _keep_numpy(n, seed, thr):
    """The keep mask of ``n`` elements (bool), as ``random_jit`` draws it, in NumPy blocks."""
    pairs = (n + 1) // 2
    keep = np.empty(2 * pairs, np.bool_)
    for lo in range(0, pairs, _PAIRS):
        z = np.arange(lo + 1, min(pairs, lo + _PAIRS) + 1, dtype=np.uint64)
        z *= _GAMMA
        z += np.uint64(seed)
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
        block = keep[2 * lo:2 * lo + 2 * z.size]
        np.greater_equal(z & np.uint64(0xFFFFFFFF), np.uint64(thr), out=block[0::2])
        np.greater_equal(z >> np.uint64(32), np.uint64(thr), out=block[1::2])
    return keep[:n]


_MIN_JIT = 4096  # fewer elements than this: NumPy is as fast as starting the threads


def _keep_mask(shape, p):
    """A bool mask of ``shape``, True with probability 1 - p."""
    seed, thr = _draw(p)
    n = int(np.prod(shape))
    if n >= _MIN_JIT and jit.enabled():
        from ganglion.ops import random_jit  # noqa: PLC0415

        return random_jit.keep_mask(shape, seed, thr)
    return _keep_numpy(n, seed, thr).reshape(shape)


def _compiled(x):
    return x.dtype in (np.float32, np.float64) and x.size >= _MIN_JIT and jit.enabled_for(x)


class DropoutMask(Op):
    """y = x * keep * scale; ``keep`` drawn from (seed, thr) when None, else given (the
    backward: the same op on the gradient with the same mask, differentiable again)."""

    @staticmethod
    def forward(ctx, x, keep, seed, thr, scale):
        xp = get_array_module(x)
        if keep is None and _compiled(x):
            from ganglion.ops import random_jit  # noqa: PLC0415

            y, keep = random_jit.dropout(np.ascontiguousarray(x), seed, thr, scale)
        elif keep is not None and _compiled(x):
            from ganglion.ops import random_jit  # noqa: PLC0415

            y = random_jit.mask_scale(np.ascontiguousarray(x), keep, scale)
        else:
            if keep is None:
                keep = _keep_numpy(x.size, seed, thr).reshape(x.shape)
                keep = keep if xp is np else xp.asarray(keep)  # drawn on the host, moved once
            y = x * xp.multiply(keep, scale, dtype=x.dtype)
        ctx.keep, ctx.scale = keep, scale
        return y

    @staticmethod
    def backward(ctx, g):
        return DropoutMask.apply(g, ctx.keep, None, None, ctx.scale), None, None, None, None


def _feature_shape(input, unbatched=False):
    """The mask shape of channel-wise dropout: (N, C, 1, ...), or (C, 1, ...) unbatched."""
    nd = 1 if unbatched else 2
    if input.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input (got "
                           f"shape {tuple(input.shape)})")
    return tuple(input.shape[:nd]) + (1,) * (input.ndim - nd)


def _apply(input, p, training, inplace, alpha, feature, op):
    """torch's _dropout_impl: x * mask / (1 - p), or alpha dropout's a * (x * keep + alpha' *
    (1 - keep)) + b; identity when not training or p == 0. ``feature``: False (elementwise
    mask), True (one per (N, C) channel) or "C" (one per channel of an unbatched input)."""
    _check_p(p)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not training or p == 0 or input.numel() == 0:
        return input
    npd = input.array.dtype
    if npd.kind != "f":
        raise RuntimeError(f"{op}: result type Float can't be cast to the desired output type "
                           f"{input.dtype}; dropout needs a floating input")
    if p < 1 and not alpha and not feature:  # elementwise: one op, mask drawn inside
        seed, thr = _draw(p)
        scale = 1.0 / (1.0 - p)

        def drop(x):
            return DropoutMask.apply(x, None, seed, thr, scale)

        return inplace_update(input, op + "_", drop) if inplace else drop(input)
    if p == 1:  # everything dropped: zeros (and zero gradient), as torch
        mult, add = _new_tensor(np.zeros((), dtype=npd)), None
    else:
        shape = tuple(input.shape) if not feature else _feature_shape(input, feature == "C")
        keep = _keep_mask(shape, p)
        if not alpha:
            mult, add = _new_tensor(np.multiply(keep, 1.0 / (1.0 - p), dtype=npd)), None
        else:
            a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
            mult = _new_tensor(np.multiply(keep, a, dtype=npd))
            # kept: a*x + a*alpha*p; dropped: a*(-alpha) + a*alpha*p
            add = _new_tensor(((keep.astype(npd) - 1) * (_ALPHA * a) + _ALPHA * a * p)
                              .astype(npd, copy=False))

    xp = get_array_module(input.array)
    if xp is not np:  # masks are drawn on the host (NumPy generator): move them once
        mult = _new_tensor(xp.asarray(mult.array))
        add = None if add is None else _new_tensor(xp.asarray(add.array))

    def fn(x):
        y = x * mult
        return y if add is None else y + add

    return inplace_update(input, op + "_", fn) if inplace else fn(input)


def dropout(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Args:
        input: a floating tensor.
        p: drop probability in [0, 1].
        training: apply dropout (otherwise return ``input`` unchanged).
        inplace: write the result into ``input``.

    Raises:
        ValueError: ``p`` outside [0, 1].

    Example:
        >>> import ganglion
        >>> x = ganglion.ones(3)
        >>> ganglion.dropout(x, 0.5, training=False) is x
        True
    """
    return _apply(input, p, training, inplace, False, False, "dropout")


def alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """Dropout for SELU networks: keeps zero mean and unit variance of standardised inputs.

    Dropped units are set to SELU's saturation value -1.7581, then the affine map
    ``a * x + b`` with ``a = ((1 - p) * (1 + p * 1.7581^2))^-1/2`` and ``b = a * 1.7581 * p``
    restores the moments (https://arxiv.org/abs/1706.02515).

    Example:
        >>> import ganglion
        >>> ganglion.alpha_dropout(ganglion.ones(4, 5), 0.2, training=True).shape
        ganglion.Size([4, 5])
    """
    return _apply(input, p, training, inplace, True, False, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """Alpha dropout of whole channels (dim 1) of (N, C, ...) inputs.

    Example:
        >>> import ganglion
        >>> ganglion.feature_alpha_dropout(ganglion.ones(2, 3, 4), 0.5, True).shape
        ganglion.Size([2, 3, 4])
    """
    return _apply(input, p, training, inplace, True, True, "feature_alpha_dropout")


def _channel_dropout(input, p, training, inplace, batched_ndim, op):
    """Zero whole channels; an unbatched input's mask is (C, 1, ...), as torch's (which adds
    a batch dim of 1)."""
    feature = "C" if input.ndim == batched_ndim - 1 else True
    return _apply(input, p, training, inplace, False, feature, op)


def dropout1d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability ``p``.

    Example:
        >>> import ganglion
        >>> ganglion.dropout1d(ganglion.ones(2, 3, 4)).shape
        ganglion.Size([2, 3, 4])
    """
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout "
                           f"on inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout(input, p, training, inplace, 3, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of (N, C, H, W) inputs with probability ``p``.

    A 3-D input is treated as (N, C, L), torch's (deprecated) behaviour.

    Example:
        >>> import ganglion
        >>> ganglion.dropout2d(ganglion.ones(2, 3, 4, 4)).shape
        ganglion.Size([2, 3, 4, 4])
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      f"deprecated; use dropout instead. dropout2d expects (N, C, H, W) inputs.",
                      UserWarning, stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L); use dropout1d for that.", UserWarning, stacklevel=2)
    return _apply(input, p, training, inplace, False, True, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability ``p``.

    Example:
        >>> import ganglion
        >>> ganglion.dropout3d(ganglion.ones(2, 3, 2, 2, 2)).shape
        ganglion.Size([2, 3, 2, 2, 2])
    """
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      f"deprecated; use dropout instead. dropout3d expects (N, C, D, H, W) or "
                      f"(C, D, H, W) inputs.", UserWarning, stacklevel=2)
    return _channel_dropout(input, p, training, inplace, 5, "dropout3d")
