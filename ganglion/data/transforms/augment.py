"""Random augmentations with torchvision's names, arguments and parameter draws:
``RandomRotation``, ``RandomAffine``, ``ColorJitter``, ``GaussianBlur``, ``GaussianNoise``
(torchvision v2) and ``RandomErasing``. Draws come from ganglion's global generator.

Example:
    >>> import numpy as np
    >>> import ganglion
    >>> _ = ganglion.manual_seed(0)
    >>> out = ColorJitter(brightness=0.5)(np.full((4, 4, 3), 100, np.uint8))
    >>> out.shape, out.dtype
    ((4, 4, 3), dtype('uint8'))
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ganglion.data.transforms import functional as F
from ganglion.data.transforms._image import InterpolationMode, get_dimensions, rng
from ganglion.data.transforms.transforms import Transform, _setup_size
from ganglion.tensor import Tensor

__all__ = ["RandomRotation", "RandomAffine", "ColorJitter", "GaussianBlur", "GaussianNoise",
           "RandomErasing"]


def _check_sequence_input(x, name: str, req_sizes) -> None:
    msg = req_sizes[0] if len(req_sizes) < 2 else " or ".join(str(s) for s in req_sizes)
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{name} should be a sequence of length {msg}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length {msg}.")


def _setup_angle(x, name: str, req_sizes=(2,)) -> list:
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(x), float(x)]
    _check_sequence_input(x, name, req_sizes)
    return [float(d) for d in x]


def _check_fill(fill):
    if fill is None:
        return 0
    if not isinstance(fill, (list, tuple, numbers.Number)):
        raise TypeError("Fill should be either a sequence or a number.")
    return fill


def _fill_for(fill, img):
    channels = get_dimensions(img)[0]
    if isinstance(fill, (int, float)):
        return [float(fill)] * channels
    return [float(f) for f in fill]


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (``d`` means ``(-d, d)``).

    Args:
        degrees: the range of angles (counter-clockwise).
        interpolation: ``NEAREST`` (default) or ``BILINEAR``.
        expand: enlarge the output to hold the whole rotated image.
        center: ``(x, y)`` rotation centre in pixels (default: the middle).
        fill: value (or one per channel) outside the rotated image.

    Example:
        >>> import numpy as np
        >>> RandomRotation((90, 90))(np.arange(4).reshape(2, 2)).tolist()
        [[1, 3], [0, 2]]
    """

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center, self.interpolation, self.expand = center, interpolation, expand
        self.fill = _check_fill(fill)

    @staticmethod
    def get_params(degrees) -> float:
        return float(rng().uniform(float(degrees[0]), float(degrees[1])))

    def forward(self, img):
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center,
                        _fill_for(self.fill, img))

    def extra_repr(self) -> str:
        mode = getattr(self.interpolation, "value", self.interpolation)
        return (f"degrees={self.degrees}, interpolation={mode}, expand={self.expand}, "
                f"fill={self.fill}")


def _check_translate_scale(translate, scale) -> None:
    if translate is not None:
        _check_sequence_input(translate, "translate", req_sizes=(2,))
        if any(not 0.0 <= t <= 1.0 for t in translate):
            raise ValueError("translation values should be between 0 and 1")
    if scale is not None:
        _check_sequence_input(scale, "scale", req_sizes=(2,))
        if any(s <= 0 for s in scale):
            raise ValueError("scale values should be positive")


class RandomAffine(Transform):
    """A random affine map keeping the centre: rotation from ``degrees``, translation up to
    ``translate`` (fractions of width, height), scale from ``scale``, shear from ``shear``.

    Example:
        >>> import numpy as np
        >>> RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))(
        ...     np.zeros((8, 8, 3), np.uint8)).shape
        (8, 8, 3)
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        _check_translate_scale(translate, scale)
        self.translate, self.scale = translate, scale
        self.shear = _setup_angle(shear, name="shear", req_sizes=(2, 4)) \
            if shear is not None else None
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.interpolation, self.center = interpolation, center
        self.fill = _check_fill(fill)

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size) -> tuple:
        """``(angle, (tx, ty), scale, (shear_x, shear_y))``; ``img_size`` is ``[w, h]``."""
        r = rng()
        angle = float(r.uniform(float(degrees[0]), float(degrees[1])))
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            translations = (int(round(r.uniform(-max_dx, max_dx))),
                            int(round(r.uniform(-max_dy, max_dy))))
        else:
            translations = (0, 0)
        scale = float(r.uniform(scale_ranges[0], scale_ranges[1])) if scale_ranges else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(r.uniform(shears[0], shears[1]))
            if len(shears) == 4:
                shear_y = float(r.uniform(shears[2], shears[3]))
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        _, h, w = get_dimensions(img)
        angle, translate, scale, shear = self.get_params(self.degrees, self.translate,
                                                         self.scale, self.shear, [w, h])
        return F.affine(img, angle, list(translate), scale, list(shear), self.interpolation,
                        _fill_for(self.fill, img), self.center)

    def extra_repr(self) -> str:
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}")


def _jitter_range(value, name, center=1.0, bound=(0.0, float("inf")), clip_first=True):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Each argument is a non-negative ``x`` (factor drawn from ``[max(0, 1 - x), 1 + x]``; for
    ``hue`` from ``[-x, x]`` with ``x <= 0.5``) or an explicit ``(min, max)``.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue) -> tuple:
        r = rng()
        fn_idx = r.permutation(4).tolist()

        def draw(rng_range):
            return None if rng_range is None else float(r.uniform(rng_range[0], rng_range[1]))
        return fn_idx, draw(brightness), draw(contrast), draw(saturation), draw(hue)

    def forward(self, img):
        fn_idx, *factors = self.get_params(self.brightness, self.contrast, self.saturation,
                                           self.hue)
        ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for i in fn_idx:
            if factors[i] is not None:
                img = ops[i](img, factors[i])
        return img

    def extra_repr(self) -> str:
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue}")


class GaussianBlur(Transform):
    """Blur with a Gaussian of ``sigma`` drawn uniformly from ``sigma = (min, max)``.

    Example:
        >>> import numpy as np
        >>> GaussianBlur(3)(np.full((5, 5), 7, np.uint8)).tolist()[2]
        [7, 7, 7, 7, 7]
    """

    def __init__(self, kernel_size, sigma=(0.1, 2.0)) -> None:
        self.kernel_size = _setup_size(kernel_size,
                                       "Kernel size should be a tuple/list of two integers")
        for ks in self.kernel_size:
            if ks <= 0 or ks % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (sigma, sigma)
        elif isinstance(sigma, (list, tuple)) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        else:
            raise TypeError("sigma should be a single number or a list/tuple with length 2.")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return float(rng().uniform(sigma_min, sigma_max))

    def forward(self, img):
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, list(self.kernel_size), [sigma, sigma])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


class GaussianNoise(Transform):
    """Add Gaussian noise ``mean + sigma * N(0, 1)`` to a float image, clipped to [0, 1]
    unless ``clip=False`` (torchvision.transforms.v2)."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def forward(self, img):
        return F.gaussian_noise(img, self.mean, self.sigma, self.clip)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, sigma={self.sigma}, clip={self.clip}"


class RandomErasing(Transform):
    """With probability ``p``, erase a random rectangle of area fraction in ``scale`` and
    aspect ratio in ``ratio`` (log-uniform) with ``value`` (a number, one per channel, or
    ``"random"`` for standard-normal noise). Operates on ``(..., C, H, W)`` tensors (and
    ``(H, W, C)`` arrays).

    Example:
        >>> import ganglion
        >>> out = RandomErasing(p=1.0, value=0)(ganglion.ones(3, 8, 8))
        >>> bool((out == 0).any()), out.shape
        (True, ganglion.Size([3, 8, 8]))
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if not isinstance(scale, (tuple, list)):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, (tuple, list)):
            raise TypeError("Ratio should be a sequence")
        if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
            warnings.warn("Scale and ratio should be of kind (min, max)", stacklevel=2)
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p, self.scale, self.ratio = p, scale, ratio
        self.value, self.inplace = value, inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None) -> tuple:
        """``(i, j, h, w, v)``: the rectangle and its values; the whole image unchanged when
        10 tries find no rectangle that fits."""
        img_c, img_h, img_w = get_dimensions(img)
        area = img_h * img_w
        r = rng()
        for _ in range(10):
            erase_area = area * r.uniform(scale[0], scale[1])
            aspect = F.log_uniform_ratio(ratio, r.random())
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = r.standard_normal((img_c, h, w), dtype=np.float32)
            else:
                v = np.asarray(value, dtype=np.float32)[:, None, None]
            i = int(r.integers(0, img_h - h + 1))
            j = int(r.integers(0, img_w - w + 1))
            return i, j, h, w, v
        return 0, 0, img_h, img_w, img

    def forward(self, img):
        if rng().random() >= self.p:
            return img
        channels = get_dimensions(img)[0]
        value = self.value
        if isinstance(value, (int, float)):
            value = [float(value)]
        elif isinstance(value, str):
            value = None
        elif isinstance(value, (tuple, list)):
            value = [float(v) for v in value]
        if value is not None and len(value) not in (1, channels):
            raise ValueError(f"If value is a sequence, it should have either a single value or "
                             f"{channels} (number of input channels)")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        if v is img:
            return img
        arr = img.array if isinstance(img, Tensor) else None
        if arr is not None and arr.dtype.kind != "f":
            v = np.rint(v).astype(arr.dtype)
        return F.erase(img, i, j, h, w, v, self.inplace)

    def extra_repr(self) -> str:
        return (f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}, "
                f"inplace={self.inplace}")
