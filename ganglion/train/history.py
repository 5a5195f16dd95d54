"""``History``: every logged value per epoch, as Keras' ``History.history``.

Example:
    >>> h = History()
    >>> h.append(0, {"train_loss": 0.9, "val_loss": 1.0, "lr": 0.1})
    >>> h.append(1, {"train_loss": 0.5, "val_loss": 0.7, "lr": 0.1})
    >>> h.history["val_loss"]
    [1.0, 0.7]
    >>> h.best("val_loss")
    (1, 0.7)
"""
from __future__ import annotations

import csv
import math
import numbers
import os

import numpy as np

__all__ = ["History", "is_scalar", "infer_mode"]

_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "r2")


def is_scalar(value) -> bool:
    """True for Python/NumPy numbers and one-element tensors/arrays (what a CSV cell holds)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (numbers.Number, np.generic)):
        return True
    shape = getattr(value, "shape", None)
    return shape is not None and int(np.prod(tuple(shape))) == 1


def infer_mode(monitor: str, mode: str = "auto", who: str = "History") -> str:
    """'min' or 'max' for a monitored key: 'auto' reads 'max' from accuracy/AUC/precision/recall/
    F1/R² names and 'min' from everything else (losses, errors), as Keras does."""
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}.")
    name = monitor.lower()
    return "max" if any(k in name for k in _HIGHER_IS_BETTER) else "min"


def _scalar(value) -> float:
    item = getattr(value, "item", None)
    return float(item()) if callable(item) else float(value)


class History:
    """Per-epoch logs: ``history[key]`` is a list with one value per epoch.

    Keys are ``train_<metric>``, ``val_<metric>`` and ``lr`` (plus whatever callbacks add).
    Scalars are stored as floats; a key that first appears in a later epoch is padded with
    NaN before it so every list lines up with ``epoch``. Non-scalar values (a confusion
    matrix) are kept as they are and left out of ``to_csv``/``plot``.

    Attributes:
        history: dict of key -> list of per-epoch values.
        epoch: the 0-based epoch index of each entry.
    """

    def __init__(self) -> None:
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict) -> None:
        """Record the logs of one epoch."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n)
            column.append(_scalar(value) if is_scalar(value) else value)
        for key, column in self.history.items():
            if len(column) == n:  # a key this epoch did not log
                column.append(math.nan)

    def __getitem__(self, key: str) -> list:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def scalar_keys(self) -> list[str]:
        """The keys whose values are all scalars (the CSV columns and plot curves)."""
        return [k for k, v in self.history.items() if all(isinstance(x, float) for x in v)]

    def best(self, monitor: str, mode: str = "auto") -> tuple[int, float]:
        """``(epoch, value)`` of the best finite value of ``monitor``."""
        if monitor not in self.history:
            raise KeyError(f"History.best: no key {monitor!r}; have {sorted(self.history)}.")
        values = np.asarray(self.history[monitor], dtype=np.float64)
        if not np.isfinite(values).any():
            raise ValueError(f"History.best: {monitor!r} has no finite value.")
        signed = values if infer_mode(monitor, mode, "History.best") == "min" else -values
        i = int(np.nanargmin(np.where(np.isfinite(signed), signed, np.nan)))
        return self.epoch[i], float(values[i])

    def to_csv(self, path) -> None:
        """Write one row per epoch (``epoch`` then every scalar key) to ``path``."""
        keys = self.scalar_keys()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *keys])
            for i, epoch in enumerate(self.epoch):
                writer.writerow([epoch, *(repr(self.history[k][i]) for k in keys)])

    def plot(self, path, metrics=None, **kwargs):
        """Save learning curves to a PNG (see ``ganglion.train.plots.plot_history``)."""
        from ganglion.train.plots import plot_history  # noqa: PLC0415 - matplotlib is optional

        return plot_history(self, path, metrics=metrics, **kwargs)

    def state_dict(self) -> dict:
        """A JSON-serialisable copy (tensors become nested lists with their dtype)."""
        def encode(v):
            if isinstance(v, float):
                return v
            arr = np.asarray(v)
            return {"__array__": arr.tolist(), "dtype": str(arr.dtype)}

        return {"epoch": list(self.epoch),
                "history": {k: [encode(v) for v in col] for k, col in self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        import ganglion  # noqa: PLC0415 - decoding tensors needs the top-level package

        def decode(v):
            if isinstance(v, dict):
                return ganglion.from_numpy(np.asarray(v["__array__"], dtype=v["dtype"]))
            return float(v)

        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [decode(v) for v in col] for k, col in state["history"].items()}

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
