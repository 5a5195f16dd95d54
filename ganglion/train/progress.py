"""Per-epoch progress: a live tqdm bar on a terminal, one plain summary line per epoch elsewhere.

tqdm's ``disable=None`` rule decides: the bar shows when stderr is a TTY. In CI logs (stderr not
a TTY), or without tqdm installed, each epoch prints a single line to stdout instead, so logs
stay readable and free of carriage returns.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> p = EpochProgress(enabled=True, file=out, use_tqdm=False)
    >>> p.epoch_begin(0, epochs=2, total=3)
    >>> p.epoch_end({"train_loss": 0.51234, "lr": 0.001}, seconds=1.25)
    >>> out.getvalue()
    'Epoch 1/2 - 1.2s - train_loss: 0.5123 - lr: 0.001\\n'
"""
from __future__ import annotations

import sys
import time

from ganglion.train.history import is_scalar

__all__ = ["EpochProgress", "format_logs"]

_POSTFIX_INTERVAL_S = 0.25  # refresh live metrics at most this often (compute() is not free)


def _fmt(value) -> str:
    value = float(value.item() if hasattr(value, "item") else value)
    return f"{value:.4g}"


def format_logs(logs: dict) -> str:
    """``'key: value - key: value'`` of the scalar entries of ``logs``."""
    return " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items() if is_scalar(v))


def _load_tqdm():
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    """Reports one epoch at a time.

    Args:
        enabled: False prints nothing at all.
        file: where plain summary lines go. Default: ``sys.stdout``.
        use_tqdm: None (default) uses tqdm when installed and stderr is a TTY; False forces
            plain lines; True asks tqdm, which still stays quiet off a TTY.
    """

    def __init__(self, enabled: bool = True, file=None, use_tqdm: bool | None = None) -> None:
        self.enabled, self.file, self.use_tqdm = enabled, file, use_tqdm
        self._bar, self._last_postfix = None, 0.0
        self._prefix = ""

    def epoch_begin(self, epoch: int, epochs: int, total: int | None) -> None:
        """Start the bar of 0-based ``epoch`` of ``epochs``; ``total`` batches if known."""
        self._prefix = f"Epoch {epoch + 1}/{epochs}"
        self._bar = None
        if not self.enabled or self.use_tqdm is False:
            return
        tqdm = _load_tqdm()
        if tqdm is None:
            return
        # disable=None: tqdm turns itself off when stderr is not a TTY (CI logs).
        bar = tqdm(total=total, desc=self._prefix, unit="batch", disable=None, leave=True,
                   dynamic_ncols=True)
        if bar.disable:
            bar.close()
        else:
            self._bar = bar

    def batch_end(self, postfix) -> None:
        """Advance one batch; ``postfix()`` returns the live logs (called at most 4x/s)."""
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.monotonic()
        if now - self._last_postfix >= _POSTFIX_INTERVAL_S:
            self._last_postfix = now
            self._bar.set_postfix_str(format_logs(postfix()), refresh=False)

    def epoch_end(self, logs: dict, seconds: float) -> None:
        """Finish the epoch with its final logs (the bar's postfix, or one plain line)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
            return
        file = self.file or sys.stdout
        summary = format_logs(logs)
        print(f"{self._prefix} - {seconds:.1f}s" + (f" - {summary}" if summary else ""),
              file=file, flush=True)

    def close(self) -> None:
        """Close a bar left open (training interrupted by an exception)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
