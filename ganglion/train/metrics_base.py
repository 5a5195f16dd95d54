"""The streaming ``Metric`` protocol and the array helpers the metric families share.

A metric folds batches into a small running state with ``update(preds, targets)``, reports over
everything seen with ``compute()`` and starts over with ``reset()``. States are arrays of the
batches' own array module (NumPy, or CuPy for tensors on a GPU), so updates never loop over
samples in Python and never copy a GPU batch to the host.

Example:
    >>> import ganglion
    >>> from ganglion.train.metrics import Accuracy
    >>> m = Accuracy()
    >>> m.update(ganglion.tensor([[2.0, 1.0], [0.0, 3.0]]), ganglion.tensor([0, 0]))
    >>> m.compute()
    0.5
"""
from __future__ import annotations

import numpy as np

from ganglion.backend.device import get_array_module

__all__ = ["Metric"]


class Metric:
    """Base class of streaming metrics: subclass and define ``update``, ``compute``, ``reset``.

    Attributes:
        name: the key the metric takes in logs and History (``train_<name>``, ``val_<name>``).
        higher_is_better: the direction ``EarlyStopping``/``ModelCheckpoint`` use in mode 'auto'.

    Example:
        >>> class Count(Metric):
        ...     name = "count"
        ...     def reset(self):
        ...         self.n = 0
        ...     def update(self, preds, targets):
        ...         self.n += len(targets)
        ...     def compute(self):
        ...         return float(self.n)
        >>> c = Count()
        >>> c.update(None, [1, 2, 3]); c.compute()
        3.0
    """

    name = "metric"
    higher_is_better = True

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define reset()")

    def update(self, preds, targets) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update(preds, targets)")

    def compute(self):
        raise NotImplementedError(f"{type(self).__name__} must define compute()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def as_array(x):
    """The backend array behind a Tensor (no copy), or ``np.asarray`` of anything else."""
    arr = getattr(x, "array", None)
    if arr is None:
        arr = np.asarray(x)
    return arr


def to_host(arr) -> np.ndarray:
    """A NumPy copy of a CuPy array; NumPy arrays pass through."""
    return arr.get() if hasattr(arr, "get") and not isinstance(arr, np.ndarray) else arr


def xp_of(arr):
    return get_array_module(arr)


def integral_targets(t, who: str):
    """Class-label targets as int64; float targets must hold whole numbers (e.g. 0./1.)."""
    xp = xp_of(t)
    if t.dtype.kind == "b":
        return t.astype(np.int64)
    if t.dtype.kind == "f":
        if t.size and not bool(xp.all(t == xp.round(t))):
            raise ValueError(f"{who}: targets must be class indices, got non-integer float values "
                             f"(dtype {t.dtype}); pass integer labels (or 0./1. for binary).")
        return t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{who}: targets must be integer class indices, got dtype {t.dtype}.")
    return t.astype(np.int64, copy=False)


def binary_labels(p, logits=None):
    """0/1 labels of binary predictions: logits thresholded at 0 (sigmoid(x) >= 0.5 exactly when
    x >= 0), probabilities at 0.5. ``logits=None`` guesses per batch: logits when any value lies
    outside [0, 1] (a batch of logits that all fall in [0, 1] is misread: say which you pass)."""
    xp = xp_of(p)
    if p.dtype.kind != "f":
        return p.astype(np.int64)
    if logits is None:
        logits = bool(p.size) and (bool(xp.any(p < 0)) or bool(xp.any(p > 1)))
    if logits:
        return (p >= 0).astype(np.int64)
    return (p >= 0.5).astype(np.int64)


def class_labels(preds, targets, who: str, logits=None):
    """Flat predicted and true labels plus the number of classes the predictions imply.

    ``preds`` of shape ``(N, C, *)`` with targets ``(N, *)`` are scores over classes (logits or
    probabilities, reduced by argmax over dim 1, as torch's losses read them); ``(N, 1)`` is
    binary. ``preds`` shaped like ``targets`` are labels (integers) or binary scores (floats;
    ``logits`` as in ``binary_labels``).
    Returns ``(pred_labels, true_labels, num_classes or None)``.
    """
    p, t = as_array(preds), integral_targets(as_array(targets), who)
    if p.ndim == t.ndim + 1 and p.shape[1] == 1:
        p = p.reshape(p.shape[:1] + p.shape[2:])
    if p.ndim == t.ndim + 1:
        if p.shape[:1] + p.shape[2:] != t.shape:
            raise ValueError(f"{who}: scores of shape {tuple(p.shape)} (N, C, *) need targets of "
                             f"shape {tuple(p.shape[:1] + p.shape[2:])}, got {tuple(t.shape)}.")
        return xp_of(p).argmax(p, axis=1).reshape(-1), t.reshape(-1), int(p.shape[1])
    if p.shape != t.shape:
        raise ValueError(f"{who}: predictions of shape {tuple(p.shape)} do not match targets of "
                         f"shape {tuple(t.shape)}; pass class scores (N, C) with targets (N,) "
                         f"or labels/binary scores shaped like the targets.")
    if p.dtype.kind == "f":
        return binary_labels(p, logits).reshape(-1), t.reshape(-1), 2
    return p.astype(np.int64).reshape(-1), t.reshape(-1), None
