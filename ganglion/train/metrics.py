"""Streaming metrics for ``Trainer``, by name or as objects.

Names: ``'accuracy'``, ``'top5_accuracy'`` (any ``top{k}_accuracy``), ``'precision'``,
``'recall'``, ``'f1'`` (macro; append ``_micro``, ``_weighted`` or ``_binary``),
``'confusion_matrix'``, ``'roc_auc'``, ``'mae'``, ``'mse'``, ``'rmse'``, ``'r2'``.

Example:
    >>> import ganglion
    >>> m = get_metric("top2_accuracy")
    >>> m.update(ganglion.tensor([[0.1, 0.5, 0.4]]), ganglion.tensor([2]))
    >>> m.name, m.compute()
    ('top2_accuracy', 1.0)
"""
from __future__ import annotations

import re

from ganglion.train.metrics_auc import RocAuc
from ganglion.train.metrics_base import Metric
from ganglion.train.metrics_classification import (Accuracy, ConfusionMatrix, F1Score, Precision,
                                                   Recall)
from ganglion.train.metrics_regression import (MeanAbsoluteError, MeanSquaredError, R2Score,
                                               RootMeanSquaredError)

__all__ = ["Metric", "Accuracy", "ConfusionMatrix", "Precision", "Recall", "F1Score", "RocAuc",
           "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "R2Score",
           "get_metric", "metric_names"]

_SIMPLE = {
    "accuracy": Accuracy, "acc": Accuracy, "confusion_matrix": ConfusionMatrix,
    "roc_auc": RocAuc, "auc": RocAuc, "mae": MeanAbsoluteError, "mse": MeanSquaredError,
    "rmse": RootMeanSquaredError, "r2": R2Score,
}
_PRF_CLASSES = {"precision": Precision, "recall": Recall, "f1": F1Score}
_TOPK = re.compile(r"top(\d+)_acc(uracy)?$")
_AVERAGED = re.compile(r"(precision|recall|f1)(?:_(macro|micro|weighted|binary))?$")


def metric_names() -> list[str]:
    """The metric names ``get_metric`` knows (``top{k}_accuracy`` stands for any k)."""
    prf = [f"{b}{s}" for b in _PRF_CLASSES for s in ("", "_micro", "_weighted", "_binary")]
    return sorted(set(_SIMPLE) | set(prf) | {"top{k}_accuracy"})


def get_metric(metric) -> Metric:
    """A fresh ``Metric`` for a name, or the object itself when it is one.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
        TypeError: for anything that is neither a name nor a ``Metric``.
    """
    if isinstance(metric, Metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"get_metric: expected a metric name or a Metric instance, got "
                        f"{type(metric).__name__}; subclass ganglion.train.Metric for custom "
                        f"metrics.")
    key = metric.lower()
    if key in _SIMPLE:
        return _SIMPLE[key]()
    top = _TOPK.match(key)
    if top:
        return Accuracy(top_k=int(top.group(1)))
    prf = _AVERAGED.match(key)
    if prf:
        return _PRF_CLASSES[prf.group(1)](average=prf.group(2) or "macro")
    raise ValueError(f"get_metric: unknown metric {metric!r}; known names: "
                     f"{', '.join(metric_names())}.")
