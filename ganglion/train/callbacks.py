"""Keras-style callbacks: hooks around training, early stopping, learning-rate monitoring.

A callback overrides any of ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``
and ``on_batch_begin/end(batch, logs)``; ``self.trainer`` (and ``self.model``) are set before
training starts, and setting ``self.trainer.stop_training = True`` ends training after the
current batch. Callbacks run in the order of their ``order`` attribute (stable): ones that add
to the epoch logs (``LearningRateMonitor``, order -10) run before the epoch enters ``History``;
``ModelCheckpoint`` (order 10) runs last so that the checkpoint holds every other callback's
state after the epoch. ``state_dict``/``load_state_dict`` carry a callback's state through a
checkpoint, so a resumed run behaves exactly as an uninterrupted one.

Example:
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, sorted(logs))
    >>> PrintEpoch().on_epoch_end(0, {"val_loss": 0.5, "train_loss": 0.4})
    0 ['train_loss', 'val_loss']
"""
from __future__ import annotations

import math
import warnings

from ganglion.train.history import infer_mode, is_scalar

__all__ = ["Callback", "CallbackList", "EarlyStopping", "LearningRateMonitor", "TerminateOnNaN",
           "LambdaCallback"]


class Callback:
    """Base class: every hook does nothing; subclasses override the ones they need."""

    order = 0
    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return self.trainer.model if self.trainer is not None else None

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_train_end(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs=None) -> None:
        pass

    def on_batch_end(self, batch: int, logs=None) -> None:
        pass

    def state_dict(self) -> dict:
        """What a checkpoint keeps of this callback (plain data and tensors)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class CallbackList:
    """Dispatches each hook to every callback in ``order``."""

    def __init__(self, callbacks=None) -> None:
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Trainer: callbacks must be ganglion.train.Callback instances, "
                                f"got {type(cb).__name__}; subclass Callback.")
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)

    def __iter__(self):
        return iter(self.callbacks)

    def keys(self) -> list[str]:
        """Stable names for checkpoint state: position and class (``'2:EarlyStopping'``)."""
        return [f"{i}:{type(cb).__name__}" for i, cb in enumerate(self.callbacks)]

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def epoch_end(self, epoch: int, logs: dict, record) -> None:
        """Run callbacks with ``order < 0``, then ``record()`` (History), then the rest."""
        recorded = False
        for cb in self.callbacks:
            if cb.order >= 0 and not recorded:
                record()
                recorded = True
            cb.on_epoch_end(epoch, logs)
        if not recorded:
            record()


def _monitored(logs, monitor: str, who: str):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who}: monitored key {monitor!r} is not in the logs (have "
                      f"{sorted(logs or {})}); pass one of them as monitor=, or give fit() "
                      f"validation data for 'val_*' keys.", RuntimeWarning, stacklevel=3)
        return None
    if not is_scalar(value):
        raise ValueError(f"{who}: monitor {monitor!r} must be a scalar metric.")
    return float(value.item() if hasattr(value, "item") else value)


class Improvement:
    """Tracks the best value of a monitored key with Keras' ``min_delta`` rule."""

    def __init__(self, monitor: str, mode: str, min_delta: float, who: str) -> None:
        self.monitor, self.min_delta = monitor, abs(float(min_delta))
        self.mode = infer_mode(monitor, mode, who)
        self.best = math.inf if self.mode == "min" else -math.inf

    def better(self, value: float, reference: float | None = None) -> bool:
        reference = self.best if reference is None else reference
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference


def _clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (Keras' EarlyStopping).

    Args:
        monitor: the log key to watch. Default: ``'val_loss'``.
        min_delta: changes smaller than this do not count as improvement. Default: 0.
        patience: epochs without improvement before stopping. Default: 0.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (from the name: accuracy/AUC/F1/... maximise).
        baseline: training also stops if the monitored value does not beat this.
        restore_best_weights: load the weights of the best epoch when training ends (also when
            it ran to the last epoch without stopping early, unlike Keras 2).
        start_from_epoch: epochs to wait before monitoring (warm-up). Default: 0.

    Attributes:
        stopped_epoch: the epoch training stopped at (0 if it did not stop early).
        best_epoch, best: where and what the best value was.

    Example:
        >>> es = EarlyStopping(monitor="val_loss", patience=1)
        >>> class T: stop_training = False
        >>> es.set_trainer(T())
        >>> for epoch, loss in enumerate([1.0, 0.8, 0.9, 0.85]):
        ...     es.on_epoch_end(epoch, {"val_loss": loss})
        ...     if es.trainer.stop_training:
        ...         break
        >>> es.stopped_epoch, es.best_epoch, es.best
        (2, 1, 0.8)
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}.")
        self.monitor, self.patience, self.baseline = monitor, int(patience), baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self._tracker = Improvement(monitor, mode, min_delta, "EarlyStopping")
        self.mode = self._tracker.mode
        self._reset()

    def _reset(self) -> None:
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self._tracker.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_train_begin(self, logs=None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _clone_state(self.model)
        self.wait += 1
        if self._tracker.better(current):
            self._tracker.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _clone_state(self.model)
            if self.baseline is None or self._tracker.better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_epoch": self.best_epoch, "best": self.best,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best_epoch, self._tracker.best = state["best_epoch"], state["best"]
        self.best_weights = state["best_weights"]


class LearningRateMonitor(Callback):
    """Adds every param group's learning rate (and momentum) to the epoch logs.

    Values are those at the start of the epoch (what its first batch trains with), as the
    Trainer's own ``lr``. One group logs ``lr`` (and ``momentum``); several log
    ``lr_group{i}``. With ``logging_interval='batch'`` the values every batch trained with are
    also kept in ``self.lrs``.

    Args:
        logging_interval: ``'epoch'`` or ``'batch'``.
        log_momentum: also log ``momentum`` (SGD/RMSprop) or ``betas[0]`` (Adam family).

    Example:
        >>> import ganglion, ganglion.optim
        >>> opt = ganglion.optim.SGD([ganglion.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        >>> class T: optimizer = opt
        >>> mon = LearningRateMonitor(log_momentum=True)
        >>> mon.set_trainer(T())
        >>> logs = {}
        >>> mon.on_epoch_begin(0); mon.on_epoch_end(0, logs); logs
        {'lr': 0.1, 'momentum': 0.9}
    """

    order = -10

    def __init__(self, logging_interval: str = "epoch", log_momentum: bool = False) -> None:
        if logging_interval not in ("epoch", "batch"):
            raise ValueError(f"LearningRateMonitor: logging_interval must be 'epoch' or 'batch', "
                             f"got {logging_interval!r}.")
        self.logging_interval, self.log_momentum = logging_interval, log_momentum
        self.lrs: list[dict] = []
        self._epoch_values: dict = {}

    def _values(self) -> dict:
        groups = self.trainer.optimizer.param_groups
        out = {}
        for i, group in enumerate(groups):
            suffix = "" if len(groups) == 1 else f"_group{i}"
            out[f"lr{suffix}"] = float(group["lr"])
            momentum = group.get("momentum", group.get("betas", (None,))[0])
            if self.log_momentum and momentum is not None:
                out[f"momentum{suffix}"] = float(momentum)
        return out

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch_values = self._values()

    def on_batch_begin(self, batch: int, logs=None) -> None:
        if self.logging_interval == "batch":
            self.lrs.append(self._values())

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is not None:
            logs.update(self._epoch_values or self._values())


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, batch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            warnings.warn(f"TerminateOnNaN: batch {batch} has loss {loss}; stopping training.",
                          RuntimeWarning, stacklevel=2)
            self.trainer.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``.

    Example:
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print("done", epoch))
        >>> cb.on_epoch_end(3, {})
        done 3
    """

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks) -> None:
        unknown = set(hooks) - set(self._HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hooks {sorted(unknown)}; expected some of "
                            f"{list(self._HOOKS)}.")
        for name, fn in hooks.items():
            setattr(self, name, fn)
