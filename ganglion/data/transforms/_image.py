"""The three image kinds the transforms accept, behind one array view.

* ganglion ``Tensor``: ``(..., C, H, W)`` (or ``(H, W)``), any dtype;
* NumPy array: ``(H, W, C)`` or ``(H, W)`` (``uint8`` usually), also batches ``(..., H, W, C)``;
* PIL image (Pillow, the ``ganglion[vision]`` extra).

``unpack(img)`` returns an array whose last two axes are (H, W), with channels (when present)
at axis -3, and a function that turns a result of that layout back into the input's kind.
For NumPy that is a zero-copy ``moveaxis``; the kernels in ``functional*`` therefore only
handle ``(..., C, H, W)`` arrays.

Example:
    >>> import numpy as np
    >>> arr, restore = unpack(np.zeros((4, 5, 3), np.uint8))
    >>> arr.shape, restore(arr).shape
    ((3, 4, 5), (4, 5, 3))
"""
from __future__ import annotations

import sys
from enum import Enum

import numpy as np

import ganglion
from ganglion.backend import random as _random
from ganglion.tensor import Tensor

__all__ = ["InterpolationMode", "unpack", "is_pil", "get_dimensions", "rng", "to_float",
           "from_float", "pil_image_module"]


class InterpolationMode(Enum):
    """Interpolation methods, with torchvision's names and values."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def interpolation_mode(mode) -> InterpolationMode:
    if isinstance(mode, InterpolationMode):
        return mode
    try:
        return InterpolationMode(mode)
    except ValueError:
        valid = [m.value for m in InterpolationMode]
        raise ValueError(f"interpolation must be an InterpolationMode or one of {valid}, got "
                         f"{mode!r}") from None


def pil_image_module():
    """``PIL.Image``, or an ImportError naming the extra that provides it."""
    try:
        from PIL import Image  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError("this needs Pillow: pip install 'ganglion[vision]' (or pip install "
                          "Pillow)") from None
    return Image


def is_pil(img) -> bool:
    mod = sys.modules.get("PIL.Image")  # Pillow not imported: img cannot be a PIL image
    return mod is not None and isinstance(img, mod.Image)


def _restore_numpy(ndim):
    def restore(a):
        return np.ascontiguousarray(np.moveaxis(a, -3, -1) if ndim >= 3 else a)
    return restore


def unpack(img):
    """``(array in (..., C, H, W) layout, restore)``; see the module docstring."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"expected an image tensor of shape (..., C, H, W) or (H, W), got "
                             f"shape {tuple(img.shape)}")
        return img.array, ganglion.from_numpy
    if isinstance(img, np.ndarray):
        if img.ndim < 2:
            raise ValueError(f"expected an image array of shape (H, W, C) or (H, W), got shape "
                             f"{img.shape}")
        arr = np.moveaxis(img, -1, -3) if img.ndim >= 3 else img
        return arr, _restore_numpy(img.ndim)
    if is_pil(img):
        arr = np.asarray(img)
        if arr.dtype == bool:  # mode "1"
            arr = arr.astype(np.uint8) * 255
        mode = img.mode if img.mode != "1" else "L"
        image_module = sys.modules["PIL.Image"]

        def restore(a):
            out = np.ascontiguousarray(np.moveaxis(a, -3, -1) if a.ndim >= 3 else a)
            return image_module.fromarray(out, mode=mode) if mode in ("L", "RGB", "RGBA") \
                else image_module.fromarray(out)
        return (np.moveaxis(arr, -1, -3) if arr.ndim >= 3 else arr), restore
    raise TypeError(f"expected a ganglion Tensor (C, H, W), a NumPy array (H, W, C) or a PIL "
                    f"image, got {type(img).__name__}")


def get_dimensions(img) -> list:
    """``[channels, height, width]`` of an image of any kind."""
    arr, _ = unpack(img)
    channels = arr.shape[-3] if arr.ndim >= 3 else 1
    return [channels, arr.shape[-2], arr.shape[-1]]


def rng() -> np.random.Generator:
    """The global generator's stream at call time (so ``manual_seed`` applies)."""
    return _random.default_generator.numpy


def to_float(arr: np.ndarray) -> np.ndarray:
    """Float working copy: float arrays keep their dtype, others compute in float32."""
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def from_float(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back to ``like``'s dtype: integers are rounded and clipped to their range."""
    if like.dtype.kind == "f":
        return out.astype(like.dtype, copy=False)
    if like.dtype == bool:
        return out >= 0.5
    info = np.iinfo(like.dtype)
    return np.clip(np.rint(out), info.min, info.max).astype(like.dtype)


def max_value(dtype) -> float:
    """The value of full intensity: 1.0 for floats, the maximum for integer dtypes."""
    dtype = np.dtype(dtype)
    return 1.0 if dtype.kind in "fb" else float(np.iinfo(dtype).max)
