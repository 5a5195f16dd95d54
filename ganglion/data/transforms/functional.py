"""Functional image transforms with ``torchvision.transforms.functional``'s names and semantics
(geometry here; colour, blur and normalization in ``functional_color``; affine warps in
``functional_affine``, all re-exported).

Every function takes a ganglion Tensor ``(..., C, H, W)``, a NumPy array ``(H, W, C)`` or
``(H, W)``, or a PIL image, and returns the same kind. Work is vectorized NumPy: resizing is two
small matrix products with PIL-style filter weights (antialiased when shrinking), crops and
flips are slices.

Example:
    >>> import numpy as np
    >>> img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> hflip(img)[0].tolist(), crop(img, 1, 1, 2, 2).tolist()
    ([3, 2, 1, 0], [[5, 6], [9, 10]])
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ganglion.data.transforms._image import (InterpolationMode, from_float, get_dimensions,
                                             interpolation_mode, to_float, unpack)
from ganglion.data.transforms.functional_affine import affine, rotate
from ganglion.data.transforms.functional_color import (adjust_brightness, adjust_contrast,
                                                       adjust_hue, adjust_saturation, erase,
                                                       gaussian_blur, gaussian_noise,
                                                       normalize, pil_to_tensor,
                                                       rgb_to_grayscale, to_grayscale,
                                                       to_pil_image, to_tensor)

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
           "hflip", "vflip", "pad", "crop", "center_crop", "resize", "resized_crop", "affine",
           "rotate", "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue",
           "rgb_to_grayscale", "to_grayscale", "gaussian_blur", "gaussian_noise", "erase",
           "normalize", "to_tensor", "pil_to_tensor", "to_pil_image"]


def get_image_size(img) -> list:
    """``[width, height]``, as torchvision."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


def hflip(img):
    """Mirror left-right (the last axis of a CHW tensor, the W axis of an HWC array)."""
    arr, restore = unpack(img)
    return restore(arr[..., ::-1])


def vflip(img):
    """Mirror top-bottom."""
    arr, restore = unpack(img)
    return restore(arr[..., ::-1, :])


def _parse_padding(padding) -> tuple:
    """torchvision's forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if not isinstance(padding, (list, tuple)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    if len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


def _fill_array(fill, arr) -> np.ndarray:
    """A fill value broadcastable to ``arr``: a number, or one value per channel."""
    if fill is None:
        fill = 0
    f = np.asarray(fill, dtype=np.float64).reshape(-1)
    channels = arr.shape[-3] if arr.ndim >= 3 else 1
    if f.size not in (1, channels):
        raise ValueError(f"fill must be a number or a sequence of {channels} values (one per "
                         f"channel), got {fill!r}")
    if f.size == 1:
        return f[0]
    return f.reshape(channels, 1, 1)


def pad_array(arr, padding, fill=0, padding_mode="constant") -> np.ndarray:
    """``pad`` on a ``(..., C, H, W)`` array; negative padding crops."""
    left, top, right, bottom = _parse_padding(padding)
    h, w = arr.shape[-2:]
    arr = arr[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    if padding_mode == "constant":
        h, w = arr.shape[-2:]
        out = np.empty(arr.shape[:-2] + (h + top + bottom, w + left + right), arr.dtype)
        out[...] = from_float(np.asarray(_fill_array(fill, arr), np.float64), arr)
        out[..., top:top + h, left:left + w] = arr
        return out
    if padding_mode not in ("edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(arr, widths, mode=padding_mode)


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders.

    Args:
        img: the image.
        padding: int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right,
            bottom)``.
        fill: the constant for ``padding_mode="constant"`` (a number or one per channel).
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.

    Example:
        >>> import numpy as np
        >>> pad(np.ones((2, 2), np.uint8), 1).shape
        (4, 4)
    """
    arr, restore = unpack(img)
    return restore(pad_array(arr, padding, fill, padding_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height x width`` window at (``top``, ``left``); parts outside the image are
    zero, as torchvision's tensor crop."""
    arr, restore = unpack(img)
    h, w = arr.shape[-2:]
    bottom, right = top + height, left + width
    if top < 0 or left < 0 or bottom > h or right > w:
        padding = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        arr = pad_array(arr[..., max(top, 0):bottom, max(left, 0):right], padding, fill=0)
        return restore(arr)
    return restore(arr[..., top:bottom, left:right])


def _pair(size, name="size") -> tuple:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"Please provide only two dimensions (h, w) for {name}.")


def center_crop(img, output_size):
    """The central ``output_size`` window (zero-padded first if the image is smaller)."""
    crop_h, crop_w = _pair(output_size)
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        padding = [(crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                   (crop_w - w + 1) // 2 if crop_w > w else 0,
                   (crop_h - h + 1) // 2 if crop_h > h else 0]
        img = pad(img, padding, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def _output_size(h: int, w: int, size, max_size) -> tuple:
    """torchvision's rule: an int (or 1-sequence) sets the smaller edge, keeping the aspect."""
    if isinstance(size, numbers.Number):
        size = [int(size)]
    if len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge, i.e. size should be an int or a sequence of "
                             "length 1 in torchscript mode.")
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = int(size[0]), int(int(size[0]) * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                             f"size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    # Keys' cubic convolution kernel with PIL's a = -0.5.
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _weights(in_size: int, out_size: int, mode: InterpolationMode, antialias: bool):
    """The ``(out_size, in_size)`` resampling matrix, PIL's separable scheme: filter weights
    around each output pixel's centre, the support widened by the scale when shrinking with
    antialias, normalized per row (which also handles the borders)."""
    scale = in_size / out_size
    stretch = max(scale, 1.0) if antialias else 1.0
    centers = (np.arange(out_size) + 0.5) * scale
    x = (np.arange(in_size)[None, :] + 0.5 - centers[:, None]) / stretch
    if mode is InterpolationMode.BICUBIC:
        w = _cubic(x)
    else:
        w = np.maximum(1.0 - np.abs(x), 0.0)
    return w / w.sum(axis=1, keepdims=True)


def resize_array(arr, out_h: int, out_w: int, mode: InterpolationMode,
                 antialias: bool = True) -> np.ndarray:
    """Resize the last two axes of ``arr`` to ``(out_h, out_w)``."""
    in_h, in_w = arr.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return arr
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        shift = 0.5 if mode is InterpolationMode.NEAREST_EXACT else 0.0
        rows = np.minimum(((np.arange(out_h) + shift) * (in_h / out_h)).astype(np.int64), in_h - 1)
        cols = np.minimum(((np.arange(out_w) + shift) * (in_w / out_w)).astype(np.int64), in_w - 1)
        return arr[..., rows[:, None], cols[None, :]]
    # Contiguous, so that matmul reaches BLAS (an HWC image viewed as CHW is strided).
    x = np.ascontiguousarray(to_float(arr))
    ww = _weights(in_w, out_w, mode, antialias).astype(x.dtype)
    wh = _weights(in_h, out_h, mode, antialias).astype(x.dtype)
    x = np.matmul(x, ww.T) if out_w != in_w else x
    if arr.dtype.kind != "f":
        # Integer images round and clip between the passes (width first), as PIL does.
        x = from_float(x, arr).astype(x.dtype)
    return from_float(np.matmul(wh, x) if out_h != in_h else x, arr)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
           antialias: bool = True):
    """Resize to ``size``: ``(h, w)``, or an int for the smaller edge (aspect kept).

    Args:
        img: the image.
        size: ``(h, w)`` or the smaller edge's length.
        interpolation: ``NEAREST``, ``NEAREST_EXACT``, ``BILINEAR`` (default) or ``BICUBIC``
            (Keys, a = -0.5 as PIL).
        max_size: cap on the longer edge when ``size`` is an int.
        antialias: widen the filter when shrinking (PIL always does; default True).

    Example:
        >>> import numpy as np
        >>> resize(np.zeros((20, 40, 3), np.uint8), 10).shape
        (10, 20, 3)
    """
    if not isinstance(size, (numbers.Number, list, tuple)):
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
        raise ValueError("If size is a sequence, it should have 1 or 2 values")
    mode = interpolation_mode(interpolation)
    arr, restore = unpack(img)
    out_h, out_w = _output_size(arr.shape[-2], arr.shape[-1], size, max_size)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"resize: the output size ({out_h}, {out_w}) must be positive")
    return restore(resize_array(arr, out_h, out_w, mode, antialias))


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool = True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def log_uniform_ratio(ratio, rand) -> float:
    """A log-uniform draw from ``ratio = (lo, hi)`` given a uniform ``rand`` in [0, 1)."""
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    return math.exp(lo + (hi - lo) * rand)
