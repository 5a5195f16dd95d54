"""Regression metrics: MAE, MSE, RMSE and R², accumulated in float64 over batches.

R² merges each batch's target mean and sum of squared deviations into the running ones with
Chan et al.'s parallel update, so it stays accurate where ``sum(y²) - n·mean²`` would cancel.
Multi-output targets ``(N, D)`` are scored per output and averaged uniformly, as scikit-learn's
``multioutput='uniform_average'``.

Example:
    >>> import ganglion
    >>> m = MeanAbsoluteError()
    >>> m.update(ganglion.tensor([1.0, 2.0]), ganglion.tensor([2.0, 2.0]))
    >>> m.compute()
    0.5
"""
from __future__ import annotations

import numpy as np

from ganglion.train.metrics_base import Metric, as_array, to_host, xp_of

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "R2Score"]


def _pair(preds, targets, who: str):
    """Predictions and targets as float64 ``(N, D)`` arrays; ``(N, 1)`` vs ``(N,)`` is allowed."""
    p, t = as_array(preds), as_array(targets)
    if p.shape != t.shape:
        if p.size != t.size or p.shape[:1] != t.shape[:1]:
            raise ValueError(f"{who}: predictions of shape {tuple(p.shape)} do not match targets "
                             f"of shape {tuple(t.shape)}.")
        p = p.reshape(t.shape)  # (N, 1) model outputs against (N,) targets
    n = t.shape[0] if t.ndim else 1
    return p.reshape(n, -1).astype(np.float64), t.reshape(n, -1).astype(np.float64)


class _ErrorSum(Metric):
    higher_is_better = False

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).name
        super().__init__()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, preds, targets) -> None:
        p, t = _pair(preds, targets, type(self).__name__)
        self.total += float(self._errors(p - t).sum())
        self.count += int(t.size)

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class MeanAbsoluteError(_ErrorSum):
    """Mean of ``|pred - target|`` over all elements (``sklearn.metrics.mean_absolute_error``).

    Example:
        >>> import ganglion
        >>> m = MeanAbsoluteError()
        >>> m.update(ganglion.tensor([0.0, 3.0]), ganglion.tensor([1.0, 1.0]))
        >>> m.compute()
        1.5
    """

    name = "mae"

    @staticmethod
    def _errors(d):
        return xp_of(d).abs(d)


class MeanSquaredError(_ErrorSum):
    """Mean of ``(pred - target)²`` over all elements (``sklearn.metrics.mean_squared_error``).

    Example:
        >>> import ganglion
        >>> m = MeanSquaredError()
        >>> m.update(ganglion.tensor([0.0, 3.0]), ganglion.tensor([1.0, 1.0]))
        >>> m.compute()
        2.5
    """

    name = "mse"

    @staticmethod
    def _errors(d):
        return d * d


class RootMeanSquaredError(MeanSquaredError):
    """Square root of the mean squared error over all batches (not a mean of batch RMSEs).

    Example:
        >>> import ganglion
        >>> m = RootMeanSquaredError()
        >>> m.update(ganglion.tensor([0.0, 4.0]), ganglion.tensor([0.0, 0.0]))
        >>> round(m.compute(), 4)
        2.8284
    """

    name = "rmse"

    def compute(self) -> float:
        return float(np.sqrt(super().compute()))


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` (``sklearn.metrics.r2_score``).

    A constant target column scores 1.0 when predicted exactly and 0.0 otherwise, as sklearn's
    ``force_finite=True``.

    Example:
        >>> import ganglion
        >>> m = R2Score()
        >>> m.update(ganglion.tensor([1.0, 2.0]), ganglion.tensor([1.0, 2.0]))
        >>> m.update(ganglion.tensor([2.5]), ganglion.tensor([3.0]))
        >>> round(m.compute(), 4)
        0.875
    """

    name = "r2"

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).name
        super().__init__()

    def reset(self) -> None:
        self.n, self.mean, self.m2, self.sse = 0, 0.0, 0.0, 0.0

    def update(self, preds, targets) -> None:
        p, t = _pair(preds, targets, "R2Score")
        xp = xp_of(t)
        nb = t.shape[0]
        if nb == 0:
            return
        mean_b = t.mean(axis=0)
        m2_b = ((t - mean_b) ** 2).sum(axis=0)
        total = self.n + nb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (nb / total)
        self.m2 = self.m2 + m2_b + delta * delta * (self.n * nb / total)
        self.sse = self.sse + xp.square(p - t).sum(axis=0)
        self.n = total

    def compute(self) -> float:
        if self.n < 2:
            return float("nan")  # sklearn: R² is not well-defined with fewer than two samples
        sse, m2 = np.asarray(to_host(self.sse)), np.asarray(to_host(self.m2))
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = np.where(m2 > 0, 1.0 - sse / np.where(m2 > 0, m2, 1.0),
                          np.where(sse == 0, 1.0, 0.0))
        return float(np.mean(r2))
