"""``Trainer``: a Keras-style ``fit``/``evaluate``/``predict`` over torch-style models.

It runs the loop people otherwise write by hand (forward, loss, backward, optimizer step, zero
the grads), plus streaming metrics, gradient accumulation and clipping, learning-rate
schedules per batch or per epoch, callbacks, progress bars and exact resume from checkpoints.

Example:
    >>> import ganglion, ganglion.nn as nn, ganglion.optim as optim
    >>> import ganglion.nn.functional as F
    >>> class Logistic(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.weight = nn.Parameter(ganglion.zeros(2, 4))
    ...     def forward(self, x):
    ...         return x @ self.weight.T
    >>> _ = ganglion.manual_seed(0)
    >>> x = ganglion.randn(64, 4); y = (x.sum(1) > 0).long()
    >>> model = Logistic()
    >>> trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.5), F.cross_entropy,
    ...                   metrics=["accuracy"], progress=False)
    >>> history = trainer.fit((x, y), val=(x, y), epochs=5, batch_size=16)
    >>> sorted(history.history)
    ['lr', 'train_accuracy', 'train_loss', 'val_accuracy', 'val_loss']
    >>> history.history["val_accuracy"][-1] > 0.9
    True
"""
from __future__ import annotations

import copy
import time

from ganglion.train import _batches, _state
from ganglion.train.callbacks import CallbackList
from ganglion.train.history import History
from ganglion.train.metrics import get_metric
from ganglion.train.progress import EpochProgress

__all__ = ["Trainer"]

CHECKPOINT_FORMAT = "ganglion.train.checkpoint/1"


def _is_plateau(scheduler) -> bool:
    # By class name, so any ReduceLROnPlateau look-alike (ganglion's, a subclass) is recognised.
    return any(c.__name__ == "ReduceLROnPlateau" for c in type(scheduler).__mro__)


def _check_positive(value, name: str) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"Trainer: {name} must be positive (or None), got {value!r}.")


class Trainer:
    """Trains ``model`` with ``optimizer`` on ``loss``; see the module docstring.

    Args:
        model: a ``ganglion.nn.Module`` (anything with ``parameters()``, ``train()``/``eval()``,
            ``state_dict()``/``load_state_dict()`` and ``__call__``).
        optimizer: a ``ganglion.optim`` optimizer over the model's parameters.
        loss: ``loss(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()`` or
            ``F.cross_entropy``.
        metrics: names (``'accuracy'``, ``'top5_accuracy'``, ``'f1'``, ``'f1_micro'``,
            ``'roc_auc'``, ``'mae'``, ``'r2'``, ... see ``ganglion.train.metrics``) or ``Metric``
            objects, computed over each epoch on train and validation data (each phase works
            on its own copy of a given object, so train and val states never mix).
        callbacks: ``Callback`` objects (EarlyStopping, ModelCheckpoint, CSVLogger, ...).
        scheduler: an ``lr_scheduler``; ``ReduceLROnPlateau`` is stepped with the monitored value.
        scheduler_interval: ``'epoch'`` (step after each epoch) or ``'batch'`` (after each
            optimizer step).
        scheduler_monitor: the log key ``ReduceLROnPlateau`` watches. Default: ``'val_loss'``
            when there is validation data, else ``'train_loss'``.
        grad_accumulation_steps: batches whose gradients add up before one optimizer step; each
            loss is scaled by ``1/steps``, and a last partial group steps at the epoch's end.
        grad_clip_norm: clip the gradients' total 2-norm to this (``clip_grad_norm_``).
        grad_clip_value: clamp each gradient element to ``[-v, v]`` (``clip_grad_value_``),
            applied before ``grad_clip_norm`` when both are given.
        device: move the model and every batch there (``'cpu'``, ``'cuda'``). Default: leave as is.
        progress: show a progress bar per epoch on a terminal, or one summary line per epoch
            when stderr is not a TTY (CI logs); False: silent.

    Attributes:
        history: the ``History`` of the latest ``fit``.
        stop_training: set it to True (e.g. from a callback) to end ``fit`` after this batch.
        epoch: completed epochs; global_step: optimizer steps so far; initial_epoch: the epoch
            the latest ``fit`` started at (> 0 when resumed).
    """

    def __init__(self, model, optimizer, loss, metrics=None, callbacks=None, scheduler=None,
                 scheduler_interval: str = "epoch", grad_accumulation_steps: int = 1,
                 grad_clip_norm: float | None = None, grad_clip_value: float | None = None,
                 device=None, progress: bool = True, scheduler_monitor: str | None = None):
        if not callable(loss):
            raise TypeError(f"Trainer: loss must be callable as loss(outputs, targets), got "
                            f"{type(loss).__name__}.")
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'batch', got "
                             f"{scheduler_interval!r}.")
        if scheduler is not None and _is_plateau(scheduler) and scheduler_interval == "batch":
            raise ValueError("Trainer: ReduceLROnPlateau needs an epoch metric; use "
                             "scheduler_interval='epoch'.")
        if not isinstance(grad_accumulation_steps, int) or grad_accumulation_steps < 1:
            raise ValueError(f"Trainer: grad_accumulation_steps must be an int >= 1, got "
                             f"{grad_accumulation_steps!r}.")
        _check_positive(grad_clip_norm, "grad_clip_norm")
        _check_positive(grad_clip_value, "grad_clip_value")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.grad_accumulation_steps = grad_accumulation_steps
        self.grad_clip_norm, self.grad_clip_value = grad_clip_norm, grad_clip_value
        self.device = device
        self.metrics = self._metric_specs(metrics)
        self.callbacks = CallbackList(callbacks)
        self.progress = EpochProgress(enabled=bool(progress))
        self.history, self.stop_training = History(), False
        self.epoch, self.global_step, self.initial_epoch = 0, 0, 0
        self._loaders = ()
        if device is not None:
            model.to(device)

    @staticmethod
    def _metric_specs(metrics) -> list:
        if metrics is None:
            return []
        if isinstance(metrics, str) or not hasattr(metrics, "__iter__"):
            metrics = [metrics]
        specs = [get_metric(m) for m in metrics]  # validates names now, not mid-training
        names = [m.name for m in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes or "loss" in names:
            raise ValueError(f"Trainer: metric names must be unique and not 'loss', got "
                             f"{names}; pass name= to the Metric objects.")
        return specs

    def _fresh_metrics(self) -> list:
        return [copy.deepcopy(m) for m in self.metrics]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, train, val=None, epochs: int = 1, resume_from=None, *, batch_size: int = 32,
            shuffle: bool = True) -> History:
        """Train for ``epochs`` epochs (in total: a resumed run continues up to ``epochs``).

        Args:
            train: a DataLoader, any iterable of ``(inputs, targets)`` batches, or an
                ``(x, y)`` tuple of tensors (batched with ``batch_size``, shuffled each epoch).
            val: validation data in the same forms (evaluated after every epoch), or None.
            epochs: the total number of epochs, counted from the start of training: a run
                resumed after epoch k trains epochs k+1 .. ``epochs``.
            resume_from: a checkpoint file written by ``ModelCheckpoint``: restores the model,
                optimizer, scheduler, epoch, history, callback states and every RNG state,
                then continues, ending bit-identical to a run that never stopped.
            batch_size: batch size for tensor-tuple ``train``/``val``.
            shuffle: reshuffle tensor-tuple ``train`` every epoch.

        Returns:
            ``self.history``: per-epoch ``train_*``, ``val_*`` and ``lr`` (the learning rate
            at the start of the epoch) values.
        """
        train_loader = _batches.as_loader(train, batch_size, shuffle, "fit")
        val_loader = None if val is None else _batches.as_loader(val, batch_size, False, "fit")
        self._loaders = (train_loader, val_loader)
        self.history, self.stop_training, self.epoch, self.global_step = History(), False, 0, 0
        callback_states = self._resume(resume_from) if resume_from is not None else None
        self.initial_epoch = self.epoch
        for cb in self.callbacks:
            cb.set_trainer(self)
        self.callbacks.call("on_train_begin", {})
        if callback_states is not None:
            self._load_callback_states(callback_states)
        logs: dict = {}
        try:
            for epoch in range(self.epoch, epochs):
                logs = self._run_epoch(epoch, epochs, train_loader, val_loader)
                if self.stop_training:
                    break
        finally:
            self.progress.close()
        self.callbacks.call("on_train_end", logs)
        return self.history

    def _run_epoch(self, epoch: int, epochs: int, train_loader, val_loader) -> dict:
        self.callbacks.call("on_epoch_begin", epoch, {})
        lr = float(self.optimizer.param_groups[0]["lr"])  # what the epoch's first batch uses
        start = time.perf_counter()
        self.progress.epoch_begin(epoch, epochs, _len_or_none(train_loader))
        logs = {f"train_{k}": v for k, v in self._train_epoch(train_loader).items()}
        if val_loader is not None:
            logs.update({f"val_{k}": v for k, v in self._evaluate(val_loader).items()})
        logs["lr"] = lr
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self._step_scheduler_epoch(logs)
        self.epoch = epoch + 1
        self.callbacks.epoch_end(epoch, logs, lambda: self.history.append(epoch, logs))
        self.progress.epoch_end(logs, time.perf_counter() - start)
        return logs

    def _step_scheduler_epoch(self, logs: dict) -> None:
        if not _is_plateau(self.scheduler):
            self.scheduler.step()
            return
        monitor = self.scheduler_monitor or ("val_loss" if "val_loss" in logs else "train_loss")
        if monitor not in logs:
            raise KeyError(f"Trainer: scheduler_monitor {monitor!r} is not in the epoch logs "
                           f"{sorted(logs)}; pass val data or another scheduler_monitor.")
        self.scheduler.step(float(logs[monitor]))

    def _train_epoch(self, loader) -> dict:
        self.model.train()
        metrics = self._fresh_metrics()
        loss_sum, count, pending = 0.0, 0, 0
        k = self.grad_accumulation_steps
        self.optimizer.zero_grad()
        for i, batch in enumerate(loader):
            self.callbacks.call("on_batch_begin", i, {})
            inputs, targets = _batches.split_batch(batch, "fit")
            inputs, targets = (_batches.to_device(inputs, self.device),
                               _batches.to_device(targets, self.device))
            outputs = _batches.forward(self.model, inputs)
            loss = self.loss_fn(outputs, targets)
            (loss / k if k > 1 else loss).backward()
            pending += 1
            if pending == k:
                self._optimizer_step()
                pending = 0
            value, n = float(loss.item()), _batches.batch_size_of(targets, inputs)
            loss_sum, count = loss_sum + value * n, count + n
            _update_metrics(metrics, outputs, targets)
            self.callbacks.call("on_batch_end", i, {"loss": value, "size": n})
            self.progress.batch_end(lambda: _logs(loss_sum, count, metrics))
            if self.stop_training:
                break
        if pending:  # the epoch's last, partial accumulation group
            self._optimizer_step()
        return _logs(loss_sum, count, metrics)

    def _optimizer_step(self) -> None:
        from ganglion.nn.utils import clip_grad_norm_, clip_grad_value_  # noqa: PLC0415

        if self.grad_clip_value is not None or self.grad_clip_norm is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            if self.grad_clip_value is not None:
                clip_grad_value_(params, self.grad_clip_value)
            if self.grad_clip_norm is not None:
                clip_grad_norm_(params, self.grad_clip_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "batch":
            self.scheduler.step()

    # -- evaluate / predict ---------------------------------------------------------------
    def evaluate(self, data, *, batch_size: int = 32) -> dict:
        """Loss and metrics over ``data`` (model in eval mode, no gradients).

        Returns:
            ``{'loss': ..., '<metric>': ...}``; the loss is the mean over samples.
        """
        return self._evaluate(_batches.as_loader(data, batch_size, False, "evaluate"))

    def _evaluate(self, loader) -> dict:
        import ganglion  # noqa: PLC0415

        was_training = getattr(self.model, "training", True)
        self.model.eval()
        metrics = self._fresh_metrics()
        loss_sum, count = 0.0, 0
        try:
            with ganglion.no_grad():
                for batch in loader:
                    inputs, targets = _batches.split_batch(batch, "evaluate")
                    inputs, targets = (_batches.to_device(inputs, self.device),
                                       _batches.to_device(targets, self.device))
                    outputs = _batches.forward(self.model, inputs)
                    n = _batches.batch_size_of(targets, inputs)
                    loss_sum += float(self.loss_fn(outputs, targets).item()) * n
                    count += n
                    _update_metrics(metrics, outputs, targets)
        finally:
            self.model.train(was_training)
        return _logs(loss_sum, count, metrics)

    def predict(self, data, *, batch_size: int = 32):
        """The model's outputs over ``data`` (a tensor ``x``, a DataLoader of ``x`` or of
        ``(x, y)`` batches), concatenated along dim 0; eval mode, no gradients."""
        import ganglion  # noqa: PLC0415

        loader = _batches.as_loader(data, batch_size, False, "predict")
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        outputs = []
        try:
            with ganglion.no_grad():
                for batch in loader:
                    inputs = _batches.to_device(_batches.predict_inputs(batch), self.device)
                    outputs.append(_batches.forward(self.model, inputs))
        finally:
            self.model.train(was_training)
        if not outputs:
            raise ValueError("Trainer.predict: the data yielded no batches.")
        return ganglion.cat(outputs, dim=0)

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """Everything ``fit(resume_from=...)`` needs, as a dict ``ganglion.save`` can store."""
        callbacks = {key: cb.state_dict() for key, cb in zip(self.callbacks.keys(),
                                                              self.callbacks)}
        return {"format": CHECKPOINT_FORMAT, "epoch": self.epoch,
                "global_step": self.global_step, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "history": self.history.state_dict(), "callbacks": callbacks,
                "rng": _state.capture_rng_state(*self._loaders)}

    def save_checkpoint(self, path) -> None:
        """Write ``checkpoint_state()`` to ``path`` atomically."""
        _state.save_checkpoint(path, self.checkpoint_state())

    def _resume(self, path) -> dict:
        ckpt = _state.load_checkpoint(path)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"Trainer.fit: {path!s} is not a Trainer checkpoint (no format "
                             f"{CHECKPOINT_FORMAT!r}); write one with ModelCheckpoint.")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt["scheduler"] is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.history.load_state_dict(ckpt["history"])
        self.epoch, self.global_step = int(ckpt["epoch"]), int(ckpt["global_step"])
        _state.restore_rng_state(ckpt["rng"], *self._loaders)
        return ckpt["callbacks"]

    def _load_callback_states(self, states: dict) -> None:
        for key, cb in zip(self.callbacks.keys(), self.callbacks):
            if key in states:
                cb.load_state_dict(states[key])


def _len_or_none(loader):
    try:
        return len(loader)
    except TypeError:
        return None


def _update_metrics(metrics, outputs, targets) -> None:
    if not metrics:
        return
    outputs = outputs.detach() if hasattr(outputs, "detach") else outputs
    for m in metrics:
        m.update(outputs, targets)


def _logs(loss_sum: float, count: int, metrics) -> dict:
    logs = {"loss": loss_sum / count if count else float("nan")}
    for m in metrics:
        logs[m.name] = m.compute()
    return logs
