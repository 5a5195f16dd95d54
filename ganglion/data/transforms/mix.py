"""Batch-level ``MixUp`` and ``CutMix`` with ``torchvision.transforms.v2`` semantics.

Both take a batch ``(images (B, C, H, W), labels (B,) int)`` and return the mixed images and
soft labels ``(B, num_classes)``: sample ``b`` is combined with sample ``b - 1`` (the batch
rolled by one) with weight ``lam ~ Beta(alpha, alpha)`` on itself. MixUp blends whole images
(Zhang et al. 2018, https://arxiv.org/abs/1710.09412); CutMix pastes a box of the rolled batch
and weighs the labels by the area kept (Yun et al. 2019, https://arxiv.org/abs/1905.04899).
Draws come from ganglion's global generator. Use them on batches, e.g. in a ``collate_fn`` or
the training loop.

Example:
    >>> import ganglion
    >>> images, labels = ganglion.rand(4, 3, 8, 8), ganglion.tensor([0, 1, 2, 3])
    >>> x, y = MixUp(alpha=1.0, num_classes=5)(images, labels)
    >>> x.shape, y.shape, bool(ganglion.allclose(y.sum(1), ganglion.ones(4)))
    (ganglion.Size([4, 3, 8, 8]), ganglion.Size([4, 5]), True)
"""
from __future__ import annotations

import math

import numpy as np

import ganglion
from ganglion.data.transforms._image import from_float, is_pil, rng, to_float
from ganglion.data.transforms.transforms import Transform
from ganglion.tensor import Tensor

__all__ = ["MixUp", "CutMix"]


class _BaseMix(Transform):
    def __init__(self, *, alpha: float = 1.0, num_classes=None) -> None:
        name = self.__class__.__name__
        if not alpha > 0:
            raise ValueError(f"{name}: alpha must be positive (the Beta(alpha, alpha) "
                             f"parameter), got {alpha}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"{name}: num_classes must be a positive int, got {num_classes}")
        self.alpha, self.num_classes = float(alpha), num_classes

    def _check(self, inputs):
        name = self.__class__.__name__
        if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
            inputs = tuple(inputs[0])
        if len(inputs) != 2:
            raise ValueError(f"{name}: expected (images, labels), got {len(inputs)} inputs")
        images, labels = inputs
        if is_pil(images):
            raise ValueError(f"{name}() does not support PIL images, bounding boxes and masks.")
        if not isinstance(images, Tensor) or not isinstance(labels, Tensor):
            raise TypeError(f"{name}: images and labels must be ganglion Tensors, got "
                            f"{type(images).__name__} and {type(labels).__name__}")
        if labels.ndim not in (1, 2):
            raise ValueError(f"labels should be tensor of shape (batch_size,) or (batch_size, "
                             f"num_classes) but got shape {tuple(labels.shape)} instead.")
        if images.ndim != 4:
            raise ValueError(f"Expected a batched input with 4 dims, but got {images.ndim} "
                             f"dimensions instead.")
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"The batch size of the image or video does not match the batch "
                             f"size of the labels: {images.shape[0]} != {labels.shape[0]}.")
        return images, labels

    def _soft_labels(self, labels: Tensor) -> np.ndarray:
        name = self.__class__.__name__
        lab = labels.array
        npd = ganglion.get_default_dtype().np
        if lab.ndim == 2:
            if self.num_classes is not None and lab.shape[-1] != self.num_classes:
                raise ValueError(f"{name}: labels have {lab.shape[-1]} columns but "
                                 f"num_classes={self.num_classes}")
            return lab if lab.dtype.kind == "f" else lab.astype(npd)
        if lab.dtype.kind not in "iu":
            raise ValueError(f"{name}: 1-d labels must be integer class indices, got "
                             f"{labels.dtype}")
        if self.num_classes is None:
            raise ValueError(f"{name}: num_classes is needed to one-hot encode class indices")
        if lab.size and (lab.min() < 0 or lab.max() >= self.num_classes):
            raise ValueError(f"{name}: labels must be in [0, {self.num_classes - 1}] "
                             f"(num_classes={self.num_classes}), got values in "
                             f"[{int(lab.min())}, {int(lab.max())}]")
        one_hot = np.zeros((lab.shape[0], self.num_classes), npd)
        one_hot[np.arange(lab.shape[0]), lab] = 1
        return one_hot

    @staticmethod
    def _mix_labels(soft: np.ndarray, lam: float) -> Tensor:
        return ganglion.from_numpy(np.roll(soft, 1, axis=0) * (1.0 - lam) + soft * lam)

    def _lam(self) -> float:
        return float(rng().beta(self.alpha, self.alpha))

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"


class MixUp(_BaseMix):
    """``x = lam * x + (1 - lam) * x_rolled``, the same for the one-hot labels.

    Args:
        alpha: the Beta(alpha, alpha) parameter of ``lam``. Default: 1.0.
        num_classes: the number of classes, to one-hot encode integer labels.
    """

    def forward(self, *inputs):
        images, labels = self._check(inputs)
        soft = self._soft_labels(labels)
        lam = self._lam()
        if images.requires_grad:  # keep the graph: built from ganglion ops
            mixed = images.roll(1, 0) * (1.0 - lam) + images * lam
        else:
            x = to_float(images.array)
            mixed = ganglion.from_numpy(from_float(
                np.roll(x, 1, axis=0) * (1.0 - lam) + x * lam, images.array))
        return mixed, self._mix_labels(soft, lam)


class CutMix(_BaseMix):
    """Paste a box of the rolled batch into each image; labels weighted by the area kept.

    The box is centred at a uniform random pixel with half-sides ``0.5 * sqrt(1 - lam)`` of
    the image's (clipped at the borders), and the label weight is the exact kept fraction
    ``1 - box_area / (H * W)``.

    Args:
        alpha: the Beta(alpha, alpha) parameter of ``lam``. Default: 1.0.
        num_classes: the number of classes, to one-hot encode integer labels.
    """

    @staticmethod
    def get_box(lam: float, height: int, width: int) -> tuple:
        """``((x1, y1, x2, y2), lam_adjusted)``."""
        r_x = int(rng().integers(0, width))
        r_y = int(rng().integers(0, height))
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * width), int(r * height)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, width), min(r_y + r_h_half, height)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (width * height))
        return (x1, y1, x2, y2), lam_adjusted

    def forward(self, *inputs):
        images, labels = self._check(inputs)
        soft = self._soft_labels(labels)
        (x1, y1, x2, y2), lam = self.get_box(self._lam(), images.shape[-2], images.shape[-1])
        if images.requires_grad:
            mask = np.zeros(images.shape[-2:], images.array.dtype)
            mask[y1:y2, x1:x2] = 1
            m = ganglion.from_numpy(mask)
            mixed = images * (1 - m) + images.roll(1, 0) * m
        else:
            out = images.array.copy()
            out[..., y1:y2, x1:x2] = np.roll(images.array, 1, axis=0)[..., y1:y2, x1:x2]
            mixed = ganglion.from_numpy(out)
        return mixed, self._mix_labels(soft, lam)
