"""Colour, blur, noise, erasing, normalization and conversions, with torchvision's tensor
semantics (``_blend`` clamps to the dtype's range and truncates back to integer dtypes;
hue works in HSV; the Gaussian kernel and reflect padding of ``gaussian_blur``).

Example:
    >>> import numpy as np
    >>> img = np.full((2, 2, 3), 100, np.uint8)
    >>> adjust_brightness(img, 2.0)[0, 0].tolist(), to_tensor(img).shape
    ([200, 200, 200], ganglion.Size([3, 2, 2]))
"""
from __future__ import annotations

import numbers

import numpy as np

import ganglion
from ganglion.data.transforms._image import (from_float, is_pil, max_value, pil_image_module,
                                             rng, to_float, unpack)
from ganglion.tensor import Tensor

__all__ = ["to_tensor", "pil_to_tensor", "to_pil_image", "normalize", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "rgb_to_grayscale",
           "to_grayscale", "gaussian_blur", "gaussian_noise", "erase"]


def to_tensor(pic) -> Tensor:
    """A PIL image or ``(H, W[, C])`` array -> a ``(C, H, W)`` tensor; ``uint8`` is scaled to
    ``[0, 1]`` in the default float dtype, other dtypes are kept as they are (torchvision's
    ``ToTensor``)."""
    if is_pil(pic):
        arr = np.array(pic, copy=True)
        if arr.dtype == bool:  # mode "1"
            arr = arr.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        npd = ganglion.get_default_dtype().np
        return ganglion.from_numpy(chw.astype(npd) / npd.type(255))
    return ganglion.from_numpy(chw if chw.base is None else chw.copy())


def pil_to_tensor(pic) -> Tensor:
    """A PIL image (or an ``(H, W[, C])`` array) -> a ``(C, H, W)`` tensor of the same dtype,
    not scaled."""
    if not (is_pil(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.asarray(pic)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return ganglion.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """A ``(C, H, W)`` tensor or ``(H, W[, C])`` array -> a PIL image (needs Pillow). Float
    data is multiplied by 255 and truncated to ``uint8``, as torchvision."""
    image_module = pil_image_module()
    if isinstance(pic, Tensor):
        arr = pic.numpy()
        arr = arr[None] if arr.ndim == 2 else arr
        arr = np.moveaxis(arr, 0, -1)
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.dtype.kind == "f" and mode != "F":
        arr = (arr * 255).astype(np.uint8)
    return image_module.fromarray(np.ascontiguousarray(arr), mode=mode)


def normalize(tensor, mean, std, inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor
    (differentiable when the tensor requires grad)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    npd = tensor.array.dtype
    m = np.asarray(mean, dtype=npd).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=npd).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         f"division by zero.")
    if inplace:
        return tensor.sub_(ganglion.from_numpy(m)).div_(ganglion.from_numpy(s))
    if tensor.requires_grad:
        return (tensor - ganglion.from_numpy(m)) / ganglion.from_numpy(s)
    return ganglion.from_numpy((tensor.array - m) / s)


def _truncate_like(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    # torchvision's ``.clamp(0, bound).to(dtype)``: integer results truncate, not round.
    out = np.clip(out, 0.0, max_value(like.dtype))
    return out.astype(like.dtype, copy=False)


def _blend(x: np.ndarray, other, ratio: float, like: np.ndarray) -> np.ndarray:
    return _truncate_like(ratio * x + (1.0 - ratio) * other, like)


def _gray(arr: np.ndarray) -> np.ndarray:
    """Luma of ``(..., 3, H, W)`` as ``(..., 1, H, W)`` in ``arr``'s dtype (truncated)."""
    x = to_float(arr)
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b)[..., None, :, :].astype(arr.dtype)


def _channels(arr) -> int:
    return arr.shape[-3] if arr.ndim >= 3 else 1


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """ITU-R 601-2 luma (0.2989 R + 0.587 G + 0.114 B), 1 or 3 output channels."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    arr, restore = unpack(img)
    if _channels(arr) == 1:
        gray = arr if arr.ndim >= 3 else arr[None]
    elif _channels(arr) == 3:
        gray = _gray(arr)
    else:
        raise TypeError(f"Input image tensor permitted channel values are [1, 3], but found "
                        f"{_channels(arr)}")
    if num_output_channels == 3:
        gray = np.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:])
    return restore(gray)


def to_grayscale(img, num_output_channels: int = 1):
    return rgb_to_grayscale(img, num_output_channels)


def adjust_brightness(img, brightness_factor: float):
    """Multiply intensities by ``brightness_factor`` (0: black), clamped."""
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    arr, restore = unpack(img)
    return restore(_blend(to_float(arr), 0.0, brightness_factor, arr))


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level (0: flat grey, 1: unchanged)."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    arr, restore = unpack(img)
    gray = _gray(arr) if _channels(arr) == 3 else arr
    axes = (-3, -2, -1) if arr.ndim >= 3 else (-2, -1)
    mean = to_float(gray).mean(axis=axes, keepdims=True, dtype=np.float64)
    x = to_float(arr)
    return restore(_blend(x, mean.astype(x.dtype), contrast_factor, arr))


def adjust_saturation(img, saturation_factor: float):
    """Blend with the greyscale image (0: grey, 1: unchanged); 1-channel images unchanged."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    arr, restore = unpack(img)
    if _channels(arr) == 1:
        return restore(arr)
    return restore(_blend(to_float(arr), to_float(_gray(arr)), saturation_factor, arr))


def _rgb2hsv(x: np.ndarray) -> tuple:
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    maxc, minc = x.max(axis=-3), x.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1.0, maxc)
    div = np.where(eqc, 1.0, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = ((maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
         + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    return np.fmod(h / 6.0 + 1.0, 1.0), s, maxc


def _hsv2rgb(h, s, v) -> np.ndarray:
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # The six sextants of the hue circle, each channel picked by sextant index i.
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3)


def adjust_hue(img, hue_factor: float):
    """Rotate the hue by ``hue_factor`` turns, in [-0.5, 0.5]; 1-channel images unchanged."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    arr, restore = unpack(img)
    if _channels(arr) == 1:
        return restore(arr)
    x = to_float(arr)
    if arr.dtype == np.uint8:
        x = x / np.float32(255.0)
    h, s, v = _rgb2hsv(x)
    out = _hsv2rgb((h + hue_factor) % 1.0, s, v).astype(x.dtype)
    if arr.dtype == np.uint8:
        return restore((out * 255.0).astype(np.uint8))
    return restore(out.astype(arr.dtype, copy=False))


def _blur_params(kernel_size, sigma) -> tuple:
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got "
                        f"{type(kernel_size)}")
    ks = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    if len(ks) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got {len(ks)}")
    if any(k % 2 == 0 or k < 0 for k in ks):
        raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sig = [k * 0.15 + 0.35 for k in ks]
    elif isinstance(sigma, numbers.Number):
        sig = [float(sigma), float(sigma)]
    elif isinstance(sigma, (list, tuple)):
        sig = [float(sigma[0])] * 2 if len(sigma) == 1 else [float(s) for s in sigma]
        if len(sig) != 2:
            raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sig)}")
    else:
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    if any(s <= 0.0 for s in sig):
        raise ValueError(f"sigma should have positive values. Got {sigma}")
    return ks, sig


def _kernel1d(size: int, sigma: float) -> np.ndarray:
    half = (size - 1) * 0.5
    pdf = np.exp(-0.5 * (np.linspace(-half, half, size) / sigma) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Separable Gaussian blur with reflect padding (``kernel_size`` as ``(kx, ky)``)."""
    (kx, ky), (sx, sy) = _blur_params(kernel_size, sigma)
    arr, restore = unpack(img)
    x = to_float(arr)
    pad = [(0, 0)] * (x.ndim - 2) + [(ky // 2, ky // 2), (kx // 2, kx // 2)]
    xp = np.pad(x, pad, mode="reflect")
    h, w = x.shape[-2:]
    # One shifted slice per tap: vectorized over all pixels, a loop only over the kernel.
    wx, wy = _kernel1d(kx, sx).astype(x.dtype), _kernel1d(ky, sy).astype(x.dtype)
    rows = sum(wx[k] * xp[..., :, k:k + w] for k in range(kx))
    out = sum(wy[k] * rows[..., k:k + h, :] for k in range(ky))
    return restore(from_float(np.asarray(out), arr))


def gaussian_noise(inpt, mean: float = 0.0, sigma: float = 0.1, clip: bool = True):
    """Add ``mean + sigma * N(0, 1)`` noise to a float image, clipped to [0, 1] if ``clip``."""
    arr, restore = unpack(inpt)
    if arr.dtype.kind != "f":
        raise ValueError(f"Input tensor is expected to be in float dtype, got dtype={arr.dtype}")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    noise = rng().standard_normal(arr.shape, dtype=np.float64).astype(arr.dtype)
    out = arr + (mean + noise * np.asarray(sigma, arr.dtype))
    return restore(np.clip(out, 0, 1) if clip else out)


def erase(img, i: int, j: int, h: int, w: int, v, inplace: bool = False):
    """Set the ``h x w`` region at (``i``, ``j``) to ``v`` (broadcast over it)."""
    arr, restore = unpack(img)
    value = v.array if isinstance(v, Tensor) else np.asarray(v)
    if inplace and isinstance(img, Tensor):
        img.array[..., i:i + h, j:j + w] = value
        img._vc[0] += 1  # an in-place change: backward through an older use must notice
        return img
    out = arr.copy()
    out[..., i:i + h, j:j + w] = value
    return restore(out)
