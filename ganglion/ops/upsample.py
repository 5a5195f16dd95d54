"""Resampling, as torch.nn.functional: ``interpolate`` (nearest, nearest-exact, linear,
bilinear, bicubic, trilinear, area), the deprecated ``upsample*`` aliases, ``pixel_shuffle`` and
``pixel_unshuffle``.

Interpolation is separable: each spatial axis gets the source indices and weights torch's CPU
kernels compute (same formulas, same float precision: float32 for float32/float16 inputs,
float64 for float64), applied as a few gathered taps per axis (``Resample``); the gradient is
the adjoint (one GEMM per axis).

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.interpolate(ganglion.tensor([[[1., 2.]]]), scale_factor=2, mode="linear")
    tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ganglion.ops._util import check_tensor, shape_str
from ganglion.ops.pool_adaptive import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                        adaptive_avg_pool3d)
from ganglion.ops.pool_kernels import Resample
from ganglion.tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_MODE_DIMS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _scale(n_in, n_out, align_corners, scale, ft):
    """torch's area_pixel_compute_scale in the op's math type ``ft``."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(sc, n_out, align_corners, cubic, ft):
    """torch's area_pixel_compute_source_index for every output index."""
    i = np.arange(n_out).astype(ft)
    if align_corners:
        return sc * i
    src = sc * (i + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _cubic_weights(t, ft):
    a = ft(-0.75)  # torch's bicubic A

    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = ft(1)
    return np.stack([c2(t + one), c1(t), c1(one - t), c2(one - t + one)])


def _axis_taps(mode, n_in, n_out, align_corners, scale, ft, dim):
    """(idx, w), each (taps, n_out), for one axis; None for an identity axis."""
    if mode == "nearest" and dim == 2 and n_out in (n_in, 2 * n_in):
        # torch's 2-D nearest kernel (nearest_idx) copies for equal sizes and halves the index
        # for doubled ones, whatever the scale_factor; its 1-D and 3-D kernels don't.
        return None if n_out == n_in else (np.arange(n_out)[None] >> 1, np.ones((1, n_out), ft))
    if mode in ("nearest", "nearest-exact"):
        sc = _scale(n_in, n_out, False, scale, ft)
        off = ft(0.5) if mode == "nearest-exact" else ft(0)
        idx = np.minimum(np.floor((np.arange(n_out).astype(ft) + off) * sc).astype(np.int64),
                         n_in - 1)
        return idx[None], np.ones((1, n_out), ft)
    if mode == "bicubic":
        src = _source(_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners, True,
                      ft)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        t = np.clip(src - i0.astype(ft), ft(0), ft(1))
        idx = np.clip(i0[None] + np.arange(-1, 3)[:, None], 0, n_in - 1)
        return idx, _cubic_weights(t, ft)
    if n_in == n_out:  # torch copies when the size doesn't change
        return None
    src = _source(_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners, False, ft)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    l1 = np.clip(src - i0.astype(ft), ft(0), ft(1))
    i1 = i0 + (i0 < n_in - 1)
    return np.stack([i0, i1]), np.stack([ft(1) - l1, l1])


def _output_size(input, size, scale_factor, recompute, dim):
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined, got "
                         f"size={size} and scale_factor={scale_factor}.")
    if size is not None:
        if recompute:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size.")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * dim
        if len(sizes) != dim:
            raise ValueError(f"interpolate: input and output must have the same number of "
                             f"spatial dimensions, but got input of shape "
                             f"{shape_str(input.shape)} and output size {tuple(sizes)}; give "
                             f"the input as (N, C, d1, ..., dK) and size as (o1, ..., oK).")
        return [int(s) for s in sizes], [None] * dim
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined.")
    scales = (list(scale_factor) if isinstance(scale_factor, (list, tuple))
              else [scale_factor] * dim)
    if len(scales) != dim:
        raise ValueError(f"interpolate: scale_factor {tuple(scales)} must have one value per "
                         f"spatial dimension of the input of shape {shape_str(input.shape)}.")
    out = [int(math.floor(float(n) * float(s))) for n, s in zip(input.shape[2:], scales)]
    return out, ([None] * dim if recompute else [float(s) for s in scales])


def _check_mode(input, mode, align_corners, antialias):
    """Validate mode / rank / align_corners as torch does; returns the align_corners to use."""
    check_tensor(input, "interpolate")
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}; expected one of "
                                  f"{', '.join(_MODES)}.")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the "
                             "interpolating modes: linear | bilinear | bicubic | trilinear.")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by ganglion.")
    if input.ndim not in (3, 4, 5) or _MODE_DIMS.get(mode, input.ndim) != input.ndim:
        need = _MODE_DIMS.get(mode)
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a "
                                  f"{'3D, 4D or 5D' if need is None else f'{need}D'} input "
                                  f"(N, C, *spatial), got input of shape "
                                  f"{shape_str(input.shape)}.")
    return align_corners


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False) -> Tensor:
    """Resize (N, C, *spatial) by ``size`` or ``scale_factor``, as torch's ``interpolate``.

    Args:
        input: (N, C, L) for 'linear', (N, C, H, W) for 'bilinear'/'bicubic', (N, C, D, H, W)
            for 'trilinear'; any of them for 'nearest', 'nearest-exact' and 'area'.
        size: output spatial size (int or one per dim).
        scale_factor: multiplier per spatial dim (output size = floor(in * scale)); torch's
            kernels then use 1 / scale_factor as the step unless ``recompute_scale_factor``.
        mode: one of 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic',
            'trilinear', 'area'.
        align_corners: for the linear and cubic modes: map corner pixel centres onto each
            other (default False).
        recompute_scale_factor: step by in / out even when ``scale_factor`` is given.
        antialias: not supported (raises if True).

    Returns:
        (N, C, *size).

    Raises:
        ValueError: both or neither of size/scale_factor, align_corners with a non-
            interpolating mode, sizes of the wrong length.
        NotImplementedError: a mode that doesn't take this input rank, antialias=True.

    Example:
        >>> import ganglion
        >>> x = ganglion.ones(1, 3, 4, 5)
        >>> ganglion.nn.functional.interpolate(x, scale_factor=2, mode="bilinear").shape
        ganglion.Size([1, 3, 8, 10])
    """
    align_corners = _check_mode(input, mode, align_corners, antialias)
    dim = input.ndim - 2
    recompute = bool(recompute_scale_factor) or (mode == "area" and size is None)
    out_sp, scales = _output_size(input, size, scale_factor, recompute, dim)
    if mode == "area":  # torch's adaptive average pooling (which allows an empty output)
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1]
        return pool(input, tuple(out_sp))
    if min(out_sp) <= 0 or 0 in input.shape[2:]:
        raise RuntimeError(f"interpolate: input (shape {shape_str(input.shape)}) and output "
                           f"{tuple(out_sp)} sizes should be greater than 0.")
    kind = input.array.dtype.kind
    if kind != "f" and not (mode.startswith("nearest") and kind in "iu"):
        raise RuntimeError(f"interpolate: mode {mode!r} needs a floating point input, got "
                           f"{input.dtype}.")
    ft = np.float64 if input.array.dtype == np.float64 else np.float32
    axes = tuple(_axis_taps(mode, n, m, align_corners, s, ft, dim)
                 for n, m, s in zip(input.shape[2:], out_sp, scales))
    return Resample.apply(input, axes)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate` (torch warns, so does ganglion).

    Example:
        >>> import ganglion, warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     ganglion.nn.functional.upsample(ganglion.ones(1, 1, 2), scale_factor=2).shape
        ganglion.Size([1, 1, 4])
    """
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(input, size, scale_factor, mode='nearest')``.

    Example:
        >>> import ganglion, warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     ganglion.nn.functional.upsample_nearest(ganglion.tensor([[[1., 2.]]]), 4)
        tensor([[[1., 1., 2., 2.]]])
    """
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``.

    Example:
        >>> import ganglion, warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     ganglion.nn.functional.upsample_bilinear(ganglion.ones(1, 1, 2, 2), 3).shape
        ganglion.Size([1, 1, 3, 3])
    """
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _shuffle_check(op, input, factor, name):
    check_tensor(input, op)
    if not isinstance(factor, int) or factor <= 0:
        raise RuntimeError(f"{op}: {name} must be a positive integer, got {factor!r}.")
    if input.ndim < 3:
        raise RuntimeError(f"{op}: expected an input of at least 3 dims (*, C, H, W), but got "
                           f"input of shape {shape_str(input.shape)}.")


def pixel_shuffle(input, upscale_factor) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r), as ``torch.nn.functional.pixel_shuffle``.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.pixel_shuffle(ganglion.ones(1, 8, 3, 3), 2).shape
        ganglion.Size([1, 2, 6, 6])
    """
    r = upscale_factor
    _shuffle_check("pixel_shuffle", input, r, "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected the channel dimension (input.size(-3)="
                           f"{c}) to be divisible by upscale_factor**2 = {r * r} (input shape "
                           f"{shape_str(input.shape)}).")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of :func:`pixel_shuffle`.

    Example:
        >>> import ganglion
        >>> ganglion.nn.functional.pixel_unshuffle(ganglion.ones(1, 2, 6, 6), 2).shape
        ganglion.Size([1, 8, 3, 3])
    """
    r = downscale_factor
    _shuffle_check("pixel_unshuffle", input, r, "downscale_factor")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle: expected height and width (input shape "
                           f"{shape_str(input.shape)}) to be divisible by downscale_factor="
                           f"{r}.")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
