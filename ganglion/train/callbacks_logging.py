"""Logging callbacks: ``CSVLogger`` (one row per epoch) and ``TensorBoard`` (event files).

TensorBoard files are written with tensorboard's own ``EventFileWriter`` and ``Summary``/
``Event`` protos (no TensorFlow needed): install the extra with
``pip install 'ganglion[tensorboard]'``.
"""
from __future__ import annotations

import csv
import os
import time

from ganglion.train.callbacks import Callback
from ganglion.train.history import is_scalar

__all__ = ["CSVLogger", "TensorBoard"]


def _float(v) -> float:
    return float(v.item() if hasattr(v, "item") else v)


class CSVLogger(Callback):
    """Append each epoch's scalar logs to a CSV file (``epoch`` first, as Keras' CSVLogger).

    Args:
        filename: the CSV path.
        separator: the column separator. Default: ``','``.
        append: continue an existing file instead of overwriting it. When ``fit`` resumes from
            a checkpoint, rows of epochs the checkpoint does not cover (written after it by
            the interrupted run) are dropped first, so each epoch appears once.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> logger = CSVLogger(path)
        >>> logger.on_train_begin()
        >>> logger.on_epoch_end(0, {"train_loss": 0.5, "val_loss": 0.75})
        >>> logger.on_train_end()
        >>> print(open(path).read().strip())
        epoch,train_loss,val_loss
        0,0.5,0.75
    """

    def __init__(self, filename, separator: str = ",", append: bool = False) -> None:
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._file = self._writer = None

    def on_train_begin(self, logs=None) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.filename)), exist_ok=True)
        self.keys = None
        rows = []
        if self.append and os.path.isfile(self.filename) and os.path.getsize(self.filename):
            with open(self.filename, newline="") as f:
                rows = list(csv.reader(f, delimiter=self.sep))
            self.keys = rows[0][1:]
            start = getattr(self.trainer, "initial_epoch", 0)
            if start:  # resumed: keep the rows the checkpoint covers
                rows = rows[:1] + [r for r in rows[1:] if r and int(r[0]) < start]
        self._file = open(self.filename, "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.sep)
        self._writer.writerows(rows)
        self._file.flush()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = {k: v for k, v in (logs or {}).items() if is_scalar(v)}
        if self.keys is None:
            self.keys = list(logs)
            self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *(repr(_float(logs[k])) if k in logs else "nan"
                                        for k in self.keys)])
        self._file.flush()

    def on_train_end(self, logs=None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


def _load_tensorboard():
    try:
        from tensorboard.compat.proto.event_pb2 import Event  # noqa: PLC0415
        from tensorboard.compat.proto.summary_pb2 import Summary  # noqa: PLC0415
        from tensorboard.summary.writer.event_file_writer import (  # noqa: PLC0415
            EventFileWriter)
    except ImportError as e:
        raise ImportError("TensorBoard callback needs the tensorboard package: install it with "
                          "pip install 'ganglion[tensorboard]'.") from e
    return EventFileWriter, Event, Summary


class TensorBoard(Callback):
    """Write epoch scalars as TensorBoard event files (Keras' layout).

    ``train_<m>`` goes to ``log_dir/train`` and ``val_<m>`` to ``log_dir/validation``, both
    under the tag ``epoch_<m>``, so TensorBoard overlays train and validation curves; other keys
    (``lr``) go to ``log_dir/train`` as ``epoch_<key>``. Steps are 0-based epochs. With
    ``update_freq`` an int ``n`` (or ``'batch'``: 1), the batch loss is also written every
    ``n`` batches as ``batch_loss`` at the global batch count.

    Args:
        log_dir: the run directory (``tensorboard --logdir`` it or its parent).
        update_freq: ``'epoch'``, ``'batch'`` or an int.

    Raises:
        ImportError: without tensorboard (names the extra ``ganglion[tensorboard]``).
    """

    def __init__(self, log_dir="logs", update_freq="epoch") -> None:
        _load_tensorboard()  # fail at construction, not after the first epoch
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"int, got {update_freq!r}.")
        self.log_dir, self.update_freq = os.fspath(log_dir), update_freq
        self._writers: dict = {}
        self._batches = 0

    def _writer(self, split: str):
        if split not in self._writers:
            EventFileWriter, _, _ = _load_tensorboard()
            self._writers[split] = EventFileWriter(os.path.join(self.log_dir, split))
        return self._writers[split]

    def _scalar(self, split: str, tag: str, value: float, step: int) -> None:
        _, Event, Summary = _load_tensorboard()
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        self._writer(split).add_event(Event(wall_time=time.time(), step=step, summary=summary))

    def on_train_begin(self, logs=None) -> None:
        self._batches = getattr(self.trainer, "global_step", 0) if self.trainer else 0

    def on_batch_end(self, batch: int, logs=None) -> None:
        self._batches += 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0:
            self._scalar("train", "batch_loss", _float(logs["loss"]), self._batches)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for key, value in (logs or {}).items():
            if not is_scalar(value):
                continue
            if key.startswith("val_"):
                self._scalar("validation", f"epoch_{key[4:]}", _float(value), epoch)
            else:
                name = key[6:] if key.startswith("train_") else key
                self._scalar("train", f"epoch_{name}", _float(value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
