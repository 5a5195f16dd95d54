"""``ModelCheckpoint``: full training checkpoints after each epoch, written atomically.

A checkpoint holds the model, optimizer and scheduler state_dicts, the epoch, the history, the
other callbacks' states and every RNG state (see ``Trainer.checkpoint_state``), so
``Trainer.fit(..., resume_from=path)`` continues exactly where the run stopped. Files are
``ganglion.save`` files (safetensors + JSON, no pickle) written to a temporary name and moved
into place with ``os.replace``: a crash mid-write never leaves a truncated checkpoint.
"""
from __future__ import annotations

import os
import warnings

from ganglion.train.callbacks import Callback, Improvement, _monitored

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save checkpoints every epoch, on improvement, and/or as a rolling ``last.ckpt``.

    Two ways to name files:

    * ``dirpath``: with ``save_best_only`` the best epoch goes to ``dirpath/best.ckpt``; with
      ``save_last`` every epoch overwrites ``dirpath/last.ckpt``; with neither, every
      ``every_n_epochs``-th epoch goes to its own file ``dirpath/<filename>``.
    * ``filepath`` (Keras): a format string such as ``'ckpt/{epoch:02d}-{val_loss:.3f}.ckpt'``
      filled with the 1-based epoch and the epoch logs; written every epoch, or only on
      improvement with ``save_best_only``. ``save_last`` adds ``last.ckpt`` beside it.

    Args:
        dirpath: the directory for checkpoints.
        monitor: the log key that decides "best". Default: ``'val_loss'``.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (from the monitor's name).
        save_best_only: only write when ``monitor`` improves.
        save_last: also keep ``last.ckpt`` with the latest epoch (what a resume starts from).
        filepath: a file-name template instead of ``dirpath``.
        filename: the per-epoch template under ``dirpath``. Default: ``'epoch{epoch:03d}.ckpt'``.
        every_n_epochs: period of the per-epoch files. Default: 1.

    Attributes:
        best_model_path, last_model_path: the latest best / last file written ('' if none).
        best: the best monitored value so far.

    Example:
        >>> import os, tempfile, ganglion, ganglion.nn as nn, ganglion.optim as optim
        >>> import ganglion.nn.functional as F
        >>> from ganglion.train import Trainer
        >>> class Scale(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = nn.Parameter(ganglion.ones(1))
        ...     def forward(self, x):
        ...         return x * self.w
        >>> model = Scale()
        >>> d = tempfile.mkdtemp()
        >>> trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.mse_loss,
        ...                   callbacks=[ModelCheckpoint(d, save_last=True)], progress=False)
        >>> _ = trainer.fit((ganglion.randn(8, 3), ganglion.randn(8, 3)), epochs=2)
        >>> sorted(os.listdir(d))
        ['last.ckpt']
    """

    order = 10  # after every other callback: the checkpoint holds their post-epoch state

    def __init__(self, dirpath=None, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = False, save_last: bool = False, *, filepath=None,
                 filename: str = "epoch{epoch:03d}.ckpt", every_n_epochs: int = 1) -> None:
        if (dirpath is None) == (filepath is None):
            raise ValueError("ModelCheckpoint: pass exactly one of dirpath (a directory) or "
                             "filepath (a file-name template such as 'ckpt/{epoch:02d}.ckpt').")
        if every_n_epochs < 1:
            raise ValueError(f"ModelCheckpoint: every_n_epochs must be >= 1, got "
                             f"{every_n_epochs}.")
        self.dirpath = os.fspath(dirpath) if dirpath is not None else None
        self.filepath = os.fspath(filepath) if filepath is not None else None
        self.filename, self.every_n_epochs = filename, every_n_epochs
        self.monitor, self.save_best_only, self.save_last = monitor, save_best_only, save_last
        self._tracker = Improvement(monitor, mode, 0.0, "ModelCheckpoint")
        self.best_model_path, self.last_model_path = "", ""

    @property
    def best(self) -> float:
        return self._tracker.best

    def _directory(self) -> str:
        return self.dirpath if self.dirpath is not None else \
            os.path.dirname(os.path.abspath(self.filepath))

    def _format(self, template: str, epoch: int, logs: dict) -> str:
        values = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}
        try:
            return template.format(epoch=epoch + 1, **values)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: the file template {template!r} names {e}, which "
                           f"is not in the epoch logs {sorted(values)}.") from None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        targets = []
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is not None and self._tracker.better(current):
                self._tracker.best = current
                self.best_model_path = os.path.join(self.dirpath, "best.ckpt") \
                    if self.dirpath is not None else self._format(self.filepath, epoch, logs)
                targets.append(self.best_model_path)
        elif self.filepath is not None or not self.save_last:
            if (epoch + 1) % self.every_n_epochs == 0:
                template = self.filepath or os.path.join(self.dirpath, self.filename)
                targets.append(self._format(template, epoch, logs))
        if self.save_last:
            self.last_model_path = os.path.join(self._directory(), "last.ckpt")
            targets.append(self.last_model_path)
        if targets:
            # Serialise once, write each file atomically (state is identical for all of them).
            state = self.trainer.checkpoint_state()
            from ganglion.train._state import save_checkpoint  # noqa: PLC0415

            for path in targets:
                save_checkpoint(path, state)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_model_path": self.best_model_path,
                "last_model_path": self.last_model_path}

    def load_state_dict(self, state: dict) -> None:
        self._tracker.best = state["best"]
        self.best_model_path = state["best_model_path"]
        self.last_model_path = state["last_model_path"]
        if self.best_model_path and not os.path.exists(self.best_model_path):
            warnings.warn(f"ModelCheckpoint: the best checkpoint {self.best_model_path!r} "
                          f"recorded in the resumed state no longer exists.", RuntimeWarning,
                          stacklevel=2)
