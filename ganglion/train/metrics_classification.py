"""Classification metrics: accuracy (top-k), confusion matrix, precision, recall and F1.

All of them reduce a batch to counts with array operations (``argmax``, one ``bincount`` for
the confusion matrix), so an update costs a few vectorised passes over the batch. Precision,
recall and F1 follow scikit-learn's definitions: a class with an empty denominator scores 0
(sklearn's ``zero_division`` default), and macro/weighted averages run over the classes that
occur in the targets or the predictions (sklearn's ``unique_labels``).

Example:
    >>> import ganglion
    >>> f1 = F1Score(average="macro")
    >>> f1.update(ganglion.tensor([0, 1, 1, 2]), ganglion.tensor([0, 1, 2, 2]))
    >>> round(f1.compute(), 4)
    0.7778
"""
from __future__ import annotations

import numpy as np

from ganglion.train.metrics_base import (Metric, as_array, class_labels, integral_targets, to_host,
                                         xp_of)

__all__ = ["Accuracy", "ConfusionMatrix", "Precision", "Recall", "F1Score"]

_AVERAGES = ("macro", "micro", "weighted", "binary", None)


class Accuracy(Metric):
    """Fraction of correct predictions; with ``top_k`` the target must be among the k best.

    Args:
        top_k: count a sample as correct when its target's score is among the ``top_k``
            highest (needs class scores of shape ``(N, C, *)``). Ties count in the target's
            favour (only strictly greater scores push it down). Default: 1.
        name: the log key. Default: ``'accuracy'``, or ``'top{k}_accuracy'``.
        logits: for binary float predictions shaped like the targets: True thresholds at 0
            (logits), False at 0.5 (probabilities), None (default) guesses per batch (logits
            when a value lies outside [0, 1]).

    Shape: preds ``(N, C, *)`` scores (logits or probabilities) with targets ``(N, *)``, or
    preds shaped like the targets: labels, or binary probabilities/logits.

    Example:
        >>> import ganglion
        >>> m = Accuracy(top_k=2)
        >>> m.update(ganglion.tensor([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05]]), ganglion.tensor([2, 2]))
        >>> m.compute()
        0.5
    """

    def __init__(self, top_k: int = 1, name: str | None = None, logits: bool | None = None):
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"Accuracy: top_k must be a positive int, got {top_k!r}.")
        self.top_k, self.logits = top_k, logits
        self.name = name or ("accuracy" if top_k == 1 else f"top{top_k}_accuracy")
        super().__init__()

    def reset(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, preds, targets) -> None:
        if self.top_k == 1:
            p, t, _ = class_labels(preds, targets, "Accuracy", self.logits)
            self.correct += int((p == t).sum())
            self.total += int(t.size)
            return
        p, t = as_array(preds), integral_targets(as_array(targets), "Accuracy")
        if p.ndim != t.ndim + 1 or p.shape[:1] + p.shape[2:] != t.shape:
            raise ValueError(f"Accuracy(top_k={self.top_k}): needs class scores (N, C, *) and "
                             f"targets (N, *), got {tuple(p.shape)} and {tuple(t.shape)}.")
        xp = xp_of(p)
        scores = xp.moveaxis(p, 1, -1).reshape(-1, p.shape[1])
        t = t.reshape(-1, 1)
        target_score = xp.take_along_axis(scores, t, axis=1)
        self.correct += int(((scores > target_score).sum(axis=1) < self.top_k).sum())
        self.total += int(t.size)

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class ConfusionMatrix(Metric):
    """Counts ``C[i, j]`` of samples of true class i predicted as j (sklearn's layout).

    Args:
        num_classes: the number of classes. Default: None (taken from the scores' class
            dimension, or grown to the largest label seen).
        normalize: None (counts), ``'true'`` (rows sum to 1), ``'pred'`` (columns sum to 1) or
            ``'all'`` (the matrix sums to 1), as sklearn's ``confusion_matrix``.
        logits: how binary float predictions are thresholded (see ``Accuracy``).

    Returns (compute): an int64 Tensor of shape ``(C, C)``, float64 when normalized.

    Example:
        >>> import ganglion
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> cm.update(ganglion.tensor([1, 1, 0]), ganglion.tensor([0, 1, 0]))
        >>> cm.compute()
        tensor([[1, 1],
                [0, 1]])
    """

    name = "confusion_matrix"

    def __init__(self, num_classes: int | None = None, normalize: str | None = None,
                 name: str | None = None, logits: bool | None = None) -> None:
        if normalize not in (None, "true", "pred", "all"):
            raise ValueError(f"ConfusionMatrix: normalize must be None, 'true', 'pred' or 'all', "
                             f"got {normalize!r}.")
        self.num_classes, self.normalize, self.logits = num_classes, normalize, logits
        self.name = name or type(self).name
        super().__init__()

    def reset(self) -> None:
        n = self.num_classes or 0
        self.matrix = np.zeros((n, n), dtype=np.int64)

    def update(self, preds, targets) -> None:
        p, t, implied = class_labels(preds, targets, type(self).__name__, self.logits)
        xp = xp_of(p)
        if t.size and (int(t.min()) < 0 or int(p.min()) < 0):
            raise ValueError(f"{type(self).__name__}: class labels must be >= 0, got "
                             f"min target {int(t.min())}, min prediction {int(p.min())}.")
        seen = int(max(int(t.max()), int(p.max()))) + 1 if t.size else 0
        n = max(self.matrix.shape[0], implied or 0, seen)
        if self.num_classes is not None and n > self.num_classes:
            raise ValueError(f"{type(self).__name__}: num_classes={self.num_classes} but saw "
                             f"class index {n - 1}; raise num_classes.")
        counts = xp.bincount(t * n + p, minlength=n * n).reshape(n, n)
        if xp_of(self.matrix) is not xp:
            self.matrix = xp.asarray(self.matrix)
        old = self.matrix.shape[0]
        if old < n:  # a new class appeared: grow the matrix, keeping the counts so far
            grown = xp.zeros((n, n), dtype=np.int64)
            grown[:old, :old] = self.matrix
            self.matrix = grown
        self.matrix += counts

    def compute(self):
        import ganglion  # noqa: PLC0415 - the package imports train lazily

        m = to_host(self.matrix)
        if self.normalize is None:
            return ganglion.from_numpy(m.copy())
        axis = {"true": 1, "pred": 0, "all": None}[self.normalize]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = m / m.sum(axis=axis, keepdims=axis is not None)
        return ganglion.from_numpy(np.nan_to_num(out))  # sklearn: empty rows/columns become 0


def _ratio(num, den):
    """num / den with 0 where den == 0 (sklearn's zero_division default)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


class _PRF(ConfusionMatrix):
    """Precision/recall/F1 read off a streaming confusion matrix."""

    higher_is_better = True

    def __init__(self, average: str | None = "macro", num_classes: int | None = None,
                 pos_label: int = 1, name: str | None = None, logits: bool | None = None):
        if average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of {_AVERAGES}, got "
                             f"{average!r}.")
        self.average, self.pos_label = average, pos_label
        default = self.base_name if average in ("macro", None) else f"{self.base_name}_{average}"
        super().__init__(num_classes=num_classes, name=name or default, logits=logits)

    def _per_class(self, tp, fp, fn):
        raise NotImplementedError

    def compute(self):
        m = to_host(self.matrix).astype(np.float64)
        tp = np.diag(m)
        fp, fn = m.sum(axis=0) - tp, m.sum(axis=1) - tp
        if self.average == "micro":
            return float(self._per_class(tp.sum(), fp.sum(), fn.sum()))
        scores = self._per_class(tp, fp, fn)
        if self.average == "binary":
            if m.shape[0] > 2:
                raise ValueError(f"{type(self).__name__}: average='binary' needs 2 classes, saw "
                                 f"{m.shape[0]}; use average='macro' or 'micro'.")
            return float(scores[self.pos_label]) if m.shape[0] > self.pos_label else 0.0
        if self.average is None:
            import ganglion  # noqa: PLC0415

            return ganglion.from_numpy(scores)
        present = (m.sum(axis=0) + m.sum(axis=1)) > 0
        if not present.any():
            return float("nan")
        weights = m.sum(axis=1) if self.average == "weighted" else present.astype(np.float64)
        weights = weights * present
        return float((scores * weights).sum() / weights.sum()) if weights.sum() else 0.0


class Precision(_PRF):
    """Precision ``tp / (tp + fp)``, as ``sklearn.metrics.precision_score``.

    Args:
        average: ``'macro'`` (unweighted mean over classes), ``'micro'`` (global counts),
            ``'weighted'`` (mean weighted by support), ``'binary'`` (the ``pos_label`` class
            only) or None (a per-class Tensor). Default: ``'macro'``.
        num_classes: see ``ConfusionMatrix``.
        pos_label: the positive class of ``average='binary'``. Default: 1.
        name: the log key. Default: ``'precision'`` (macro) or ``'precision_<average>'``.
        logits: how binary float predictions are thresholded (see ``Accuracy``).

    Example:
        >>> import ganglion
        >>> m = Precision(average="binary")
        >>> m.update(ganglion.tensor([0.9, 0.8, 0.2]), ganglion.tensor([1, 0, 0]))
        >>> m.compute()
        0.5
    """

    base_name = "precision"

    def _per_class(self, tp, fp, fn):
        return _ratio(tp, tp + fp)


class Recall(_PRF):
    """Recall ``tp / (tp + fn)``, as ``sklearn.metrics.recall_score`` (arguments as Precision).

    Example:
        >>> import ganglion
        >>> m = Recall(average="micro")
        >>> m.update(ganglion.tensor([0, 2, 1]), ganglion.tensor([0, 1, 1]))
        >>> round(m.compute(), 4)
        0.6667
    """

    base_name = "recall"

    def _per_class(self, tp, fp, fn):
        return _ratio(tp, tp + fn)


class F1Score(_PRF):
    """F1 ``2 tp / (2 tp + fp + fn)``, as ``sklearn.metrics.f1_score`` (arguments as Precision).

    Example:
        >>> import ganglion
        >>> m = F1Score(average="binary")
        >>> m.update(ganglion.tensor([1, 1, 0, 0]), ganglion.tensor([1, 0, 1, 0]))
        >>> m.compute()
        0.5
    """

    base_name = "f1"

    def _per_class(self, tp, fp, fn):
        return _ratio(2 * tp, 2 * tp + fp + fn)
