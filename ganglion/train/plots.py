"""Learning curves: one panel per quantity (loss, each metric, lr), train against validation.

matplotlib is optional (``pip install 'ganglion[plot]'``) and imported only here, with its
object-oriented API and the Agg canvas: no pyplot global state, no GUI backend, safe in
headless CI and in threads.

Example:
    >>> from ganglion.train import History
    >>> h = History()
    >>> h.append(0, {"train_loss": 1.0, "val_loss": 1.2})
    >>> h.append(1, {"train_loss": 0.6, "val_loss": 0.9})
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "curves.png")
    >>> plot_history(h, path) == path
    True
"""
from __future__ import annotations

import math
import os

__all__ = ["plot_history"]

_PREFIXES = ("train_", "val_")


def _load_matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as e:
        raise ImportError("plot_history needs matplotlib: install it with "
                          "pip install 'ganglion[plot]'.") from e
    return Figure, FigureCanvasAgg


def _panels(keys, metrics) -> dict[str, list[str]]:
    """Group keys by quantity: 'train_loss' and 'val_loss' share the panel 'loss'."""
    panels: dict[str, list[str]] = {}
    for key in keys:
        base = next((key[len(p):] for p in _PREFIXES if key.startswith(p)), key)
        if metrics is None or base in metrics:
            panels.setdefault(base, []).append(key)
    return panels


def plot_history(history, path, metrics=None, title: str | None = None, dpi: int = 100):
    """Save learning curves of ``history`` to the PNG file ``path``.

    Args:
        history: a ``History`` (or its ``.history`` dict).
        path: the output file (its directory is created).
        metrics: the quantities to draw, e.g. ``['loss', 'accuracy']``. Default: all scalar ones.
        title: a title over the figure.
        dpi: resolution.

    Returns:
        ``path``.

    Raises:
        ImportError: when matplotlib is not installed (names the extra ``ganglion[plot]``).
        ValueError: when nothing is left to draw.
    """
    data = history.history if hasattr(history, "history") else dict(history)
    keys = [k for k, v in data.items() if v and all(isinstance(x, (int, float)) for x in v)]
    panels = _panels(keys, metrics)
    if not panels:
        raise ValueError(f"plot_history: nothing to plot; scalar keys are {keys}, "
                         f"metrics={metrics!r}.")
    Figure, FigureCanvasAgg = _load_matplotlib()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.5 * cols, 3.4 * rows), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (base, members) in enumerate(panels.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key in members:
            values = data[key]
            epochs = range(1, len(values) + 1)
            ax.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                    label="val" if key.startswith("val_") else "train" if key != base else key)
        if base == "lr" and all(v > 0 for v in data[members[0]]):
            ax.set_yscale("log")
        ax.set_title(base)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return path
