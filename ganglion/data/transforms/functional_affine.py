"""Affine warps (``affine``, ``rotate``) with torchvision's tensor semantics: the inverse
matrix of ``_get_inverse_affine_matrix``, pixel centres measured from the image centre, and
``grid_sample``-style sampling (nearest rounds half to even, bilinear weighs four neighbours,
zeros outside) with the same ``fill`` blending. Everything is one vectorized gather.

Example:
    >>> import numpy as np
    >>> img = np.arange(9, dtype=np.uint8).reshape(3, 3)
    >>> bool((rotate(img, 90) == np.rot90(img)).all())
    True
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ganglion.data.transforms._image import (InterpolationMode, from_float, interpolation_mode,
                                             to_float, unpack)

__all__ = ["affine", "rotate", "inverse_affine_matrix"]


def inverse_affine_matrix(center, angle, translate, scale, shear) -> list:
    """torchvision's ``_get_inverse_affine_matrix``: the 2x3 map from output to input
    coordinates of ``T * C * R * S * Sh * C^-1`` (angle and shear in degrees)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty) + cx
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty) + cy
    return matrix


def _expanded_size(matrix, w: int, h: int) -> tuple:
    """torchvision's ``_compute_affine_output_size``: the bounding box of the mapped corners."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], np.float32)
    theta = np.asarray(matrix, np.float32).reshape(2, 3)
    new_pts = pts @ theta.T
    lo = new_pts.min(axis=0) + np.array([w * 0.5, h * 0.5], np.float32)
    hi = new_pts.max(axis=0) + np.array([w * 0.5, h * 0.5], np.float32)
    tol = 1e-4  # trim float noise so that 7.00000001 does not round up to 8
    cmax = np.ceil(np.trunc(hi / tol) * tol)
    cmin = np.floor(np.trunc(lo / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _gather(x, py, px):
    """``x[..., py, px]`` with zeros where (py, px) is outside the image."""
    h, w = x.shape[-2:]
    inside = (py >= 0) & (py < h) & (px >= 0) & (px < w)
    vals = x[..., np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)]
    return vals * inside


def _sample(x, px, py, mode: InterpolationMode):
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        return _gather(x, np.rint(py).astype(np.int64), np.rint(px).astype(np.int64))
    x0, y0 = np.floor(px), np.floor(py)
    wx, wy = (px - x0).astype(x.dtype), (py - y0).astype(x.dtype)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    top = _gather(x, y0, x0) * (1 - wx) + _gather(x, y0, x0 + 1) * wx
    bottom = _gather(x, y0 + 1, x0) * (1 - wx) + _gather(x, y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy


def _fill_values(fill, channels: int, dtype):
    f = np.asarray(fill if isinstance(fill, (list, tuple)) else [fill], dtype=dtype).reshape(-1)
    if f.size not in (1, channels):
        raise ValueError(f"The number of elements in 'fill' does not match the number of "
                         f"channels of the image ({f.size} != {channels})")
    return f.reshape(-1, 1, 1) if f.size > 1 else f.reshape(())


def warp_array(arr, matrix, out_h: int, out_w: int, mode: InterpolationMode, fill):
    """Sample ``arr`` (``(..., C, H, W)``) at the inverse-mapped output pixel centres."""
    in_h, in_w = arr.shape[-2:]
    x = to_float(arr)
    a, b, c, d, e, f = (float(m) for m in matrix)
    xs = np.arange(out_w, dtype=np.float64) - out_w * 0.5 + 0.5
    ys = np.arange(out_h, dtype=np.float64) - out_h * 0.5 + 0.5
    px = a * xs[None, :] + b * ys[:, None] + c + in_w * 0.5 - 0.5
    py = d * xs[None, :] + e * ys[:, None] + f + in_h * 0.5 - 0.5
    out = _sample(x, px, py, mode)
    if fill is not None:
        # torchvision samples a ones-channel alongside the image to know what came from outside.
        mask = _sample(np.ones((in_h, in_w), x.dtype), px, py, mode)
        channels = arr.shape[-3] if arr.ndim >= 3 else 1
        fill_v = _fill_values(fill, channels, x.dtype)
        if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
            out = np.where(mask < 0.5, fill_v, out)
        else:
            out = out * mask + (1.0 - mask) * fill_v
    return from_float(out, arr)


def _check_mode(interpolation) -> InterpolationMode:
    mode = interpolation_mode(interpolation)
    if mode is InterpolationMode.BICUBIC:
        raise ValueError("affine/rotate: interpolation BICUBIC is not supported; use NEAREST or "
                         "BILINEAR")
    return mode


def _center(center, w: int, h: int) -> list:
    # Pixel coordinates -> coordinates relative to the image centre, as torchvision.
    if center is None:
        return [0.0, 0.0]
    return [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the middle).

    Args:
        img: the image.
        angle: degrees, counter-clockwise.
        interpolation: ``NEAREST`` (default) or ``BILINEAR``.
        expand: grow the output to hold the whole rotated image.
        center: ``(x, y)`` in pixels.
        fill: value (or one per channel) for areas outside the input; None: zeros.
    """
    if not isinstance(angle, numbers.Number):
        raise TypeError("Argument angle should be int or float")
    mode = _check_mode(interpolation)
    arr, restore = unpack(img)
    h, w = arr.shape[-2:]
    matrix = inverse_affine_matrix(_center(center, w, h), -float(angle), [0.0, 0.0], 1.0,
                                   [0.0, 0.0])
    ow, oh = _expanded_size(matrix, w, h) if expand else (w, h)
    return restore(warp_array(arr, matrix, oh, ow, mode, fill))


def _parse_shear(shear) -> list:
    if isinstance(shear, numbers.Number):
        return [float(shear), 0.0]
    if not isinstance(shear, (list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    return [float(s) for s in shear]


def affine(img, angle: float, translate, scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate (clockwise, by ``angle`` degrees), scale, shear and translate, keeping the size.

    Args:
        img: the image.
        angle: rotation in degrees (clockwise, as torchvision's ``affine``).
        translate: ``(dx, dy)`` in pixels.
        scale: overall scale (> 0).
        shear: degrees, one value (x) or ``(x, y)``.
        interpolation: ``NEAREST`` (default) or ``BILINEAR``.
        fill: value (or one per channel) for areas outside the input; None: zeros.
        center: ``(x, y)`` in pixels (default: the middle).

    Example:
        >>> import numpy as np
        >>> img = np.zeros((5, 5), np.uint8); img[2, 2] = 9
        >>> int(np.argmax(affine(img, 0.0, [1, 0], 1.0, 0.0)))  # one pixel to the right
        13
    """
    if not isinstance(angle, numbers.Number):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    mode = _check_mode(interpolation)
    arr, restore = unpack(img)
    h, w = arr.shape[-2:]
    matrix = inverse_affine_matrix(_center(center, w, h), float(angle),
                                   [float(t) for t in translate], float(scale),
                                   _parse_shear(shear))
    return restore(warp_array(arr, matrix, h, w, mode, fill))
