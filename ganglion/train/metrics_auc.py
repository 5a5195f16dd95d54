"""Area under the ROC curve, binary and one-vs-rest, from ranks (Mann-Whitney U).

The AUC equals the probability that a random positive scores above a random negative, ties
counting one half; with average ranks for tied scores that is ``(R+ - n+(n+ + 1)/2) / (n+ n-)``
where ``R+`` is the positives' rank sum. This is exactly the trapezoidal area that
``sklearn.metrics.roc_auc_score`` integrates, ties included, and needs one sort per column.

Example:
    >>> import ganglion
    >>> m = RocAuc()
    >>> m.update(ganglion.tensor([0.1, 0.4, 0.35, 0.8]), ganglion.tensor([0, 0, 1, 1]))
    >>> m.compute()
    0.75
"""
from __future__ import annotations

import warnings

import numpy as np

from ganglion.train.metrics_base import Metric, as_array, integral_targets, to_host

__all__ = ["RocAuc"]


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks of each column of ``scores`` (n, C); tied values share their mean rank."""
    n = scores.shape[0]
    order = np.argsort(scores, axis=0, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=0)
    idx = np.broadcast_to(np.arange(n)[:, None], scores.shape)
    starts_group = np.ones(scores.shape, dtype=bool)
    starts_group[1:] = ordered[1:] != ordered[:-1]
    ends_group = np.ones(scores.shape, dtype=bool)
    ends_group[:-1] = starts_group[1:]
    # Spread each tie group's first index forward and its last index backward over the group.
    first = np.maximum.accumulate(np.where(starts_group, idx, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends_group, idx, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(scores.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    return ranks


def auc_columns(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of every column: ``scores`` (n, C) against boolean ``positive`` (n, C)."""
    ranks = average_ranks(scores)
    n_pos = positive.sum(axis=0).astype(np.float64)
    n_neg = scores.shape[0] - n_pos
    rank_sum = (ranks * positive).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that are not already probabilities (in [0, 1], summing to 1) are taken as logits and
    softmaxed: one-vs-rest ranks samples by each class's probability, as sklearn requires."""
    rows_ok = np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)
    if rows_ok and scores.min() >= 0 and scores.max() <= 1:
        return scores
    z = np.exp(scores - scores.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class RocAuc(Metric):
    """ROC AUC: binary, or one-vs-rest macro average over classes (sklearn's ``ovr``).

    Keeps every score and target seen (the AUC is a ranking statistic with no small running
    state) and ranks them at ``compute()``.

    Args:
        average: ``'macro'`` (unweighted mean of the per-class AUCs) or ``'weighted'`` (by
            class support), as ``roc_auc_score(multi_class='ovr', average=...)``.
        name: the log key. Default: ``'roc_auc'``.

    Shape: binary scores ``(N,)`` (probabilities or logits: any monotone score) or ``(N, 2)``
    with targets ``(N,)`` in {0, 1}; multiclass probabilities or logits ``(N, C)`` with targets
    ``(N,)``.

    Example:
        >>> import ganglion
        >>> m = RocAuc()
        >>> m.update(ganglion.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]),
        ...          ganglion.tensor([0, 1, 2]))
        >>> m.compute()
        1.0
    """

    name = "roc_auc"

    def __init__(self, average: str = "macro", name: str | None = None) -> None:
        if average not in ("macro", "weighted"):
            raise ValueError(f"RocAuc: average must be 'macro' or 'weighted', got {average!r}.")
        self.average = average
        self.name = name or type(self).name
        super().__init__()

    def reset(self) -> None:
        self._scores, self._targets = [], []

    def update(self, preds, targets) -> None:
        p = to_host(as_array(preds))
        t = to_host(integral_targets(as_array(targets), "RocAuc")).reshape(-1)
        if p.ndim == 2 and p.shape[1] == 1:
            p = p[:, 0]
        if p.ndim not in (1, 2) or p.shape[0] != t.shape[0]:
            raise ValueError(f"RocAuc: expected scores (N,) or (N, C) and targets (N,), got "
                             f"{tuple(p.shape)} and {tuple(as_array(targets).shape)}.")
        if self._scores and self._scores[0].shape[1:] != p.shape[1:]:
            raise ValueError(f"RocAuc: scores changed shape from (N, *{self._scores[0].shape[1:]})"
                             f" to {tuple(p.shape)} between batches.")
        self._scores.append(p.astype(np.float64))
        self._targets.append(t)

    def compute(self) -> float:
        if not self._scores:
            return float("nan")
        scores, targets = np.concatenate(self._scores), np.concatenate(self._targets)
        if scores.ndim == 2 and scores.shape[1] == 2:
            scores = scores[:, 1] - scores[:, 0]  # ranks like p1 and like the logit margin
        if scores.ndim == 1:
            auc = auc_columns(scores[:, None], (targets == 1)[:, None])[0]
            if not np.isfinite(auc):
                warnings.warn("RocAuc: only one class present in the targets; the AUC is "
                              "undefined (nan).", RuntimeWarning, stacklevel=2)
            return float(auc)
        probs = _as_probabilities(scores)
        positive = targets[:, None] == np.arange(scores.shape[1])[None, :]
        aucs = auc_columns(probs, positive)
        valid = np.isfinite(aucs)
        if not valid.all():
            warnings.warn(f"RocAuc: classes {np.flatnonzero(~valid).tolist()} have no positive or "
                          f"no negative sample; they are left out of the average.",
                          RuntimeWarning, stacklevel=2)
        if not valid.any():
            return float("nan")
        weights = positive.sum(axis=0) if self.average == "weighted" else np.ones(len(aucs))
        return float((aucs[valid] * weights[valid]).sum() / weights[valid].sum())
