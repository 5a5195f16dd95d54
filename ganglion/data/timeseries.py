"""Time series for forecasting: ``load_series`` (two-column ``date,value`` CSV files such as
the airline passengers, Melbourne temperatures and sunspots series), ``SlidingWindow``
(``(input_len, features)`` windows and ``(horizon, features)`` targets as one strided view
of the series), a chronological ``train_test_split_series``, a ``Scaler`` fitted on the
training part only, the ``seasonal_naive`` baseline and the ``rmse`` / ``mae`` metrics.

Example:
    >>> import numpy as np
    >>> series = np.arange(10, dtype=np.float32)
    >>> train, test = train_test_split_series(series, test_fraction=0.3)
    >>> ds = SlidingWindow(train, input_len=3, horizon=2)
    >>> len(ds), ds[0][0].shape, ds[0][1].tolist()
    (3, ganglion.Size([3, 1]), [[3.0], [4.0]])
    >>> seasonal_naive(train, season=3, horizon=4).tolist()
    [4.0, 5.0, 6.0, 4.0]
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ganglion.utils.data import Dataset

__all__ = ["load_series", "SlidingWindow", "train_test_split_series", "Scaler",
           "seasonal_naive", "rmse", "mae"]


def _resolve(path) -> str:
    path = os.path.expanduser(os.fspath(path))
    if os.path.isfile(path):
        return path
    if os.path.dirname(path) == "":  # a bare name: look in the shared time-series folder
        from ganglion.data.download import find_data_root
        root = find_data_root("timeseries")
        for name in (path, path + ".csv"):
            if root is not None and os.path.isfile(os.path.join(root, name)):
                return os.path.join(root, name)
    raise FileNotFoundError(f"load_series: no such file {path!r} (a bare name such as "
                            f"'airline-passengers' is also looked up in the shared "
                            f"timeseries folder)")


def load_series(path, dtype=np.float32, return_dates: bool = False):
    """Read a CSV with a header and one ``date,value`` observation per line, in time order.

    Args:
        path: the file, or a bare name (``"airline-passengers"``) of a file in the shared
            ``timeseries`` folder (``ganglion.data.find_data_root``).
        dtype: the values' NumPy dtype.
        return_dates: also return the dates, as ``datetime64`` when they parse (months give
            ``datetime64[M]``, days ``datetime64[D]``), else as strings.

    Returns:
        The values, a 1-D array (or ``(values, dates)``).

    Raises:
        ValueError: naming the file and line when a line has not two fields or its value is
            not a number.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "s.csv")
        >>> with open(path, "w") as f:
        ...     _ = f.write('"Month","Passengers"\\n"1949-01",112\\n"1949-02",118')
        >>> values, dates = load_series(path, return_dates=True)
        >>> values.tolist(), str(dates.dtype)
        ([112.0, 118.0], 'datetime64[M]')
    """
    path = _resolve(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise ValueError(f"load_series: {path} is empty")
    header, body = rows[0], rows[1:]
    if len(header) != 2:
        raise ValueError(f"load_series: {path} line 1: expected a two-column header such as "
                         f'"date","value", got {header}')
    bad = next((i for i, r in enumerate(body) if len(r) != 2), None)
    if bad is not None:
        raise ValueError(f"load_series: {path} line {bad + 2}: expected 2 comma-separated "
                         f"fields, got {body[bad]}")
    values = _parse_values(np.array([r[1] for r in body], dtype=str), path, dtype)
    dates = np.array([r[0] for r in body], dtype=str)
    if not return_dates:
        return values
    try:
        dates = dates.astype("datetime64")
    except ValueError:
        pass  # not ISO dates: keep the strings
    return values, dates


def _parse_values(cells: np.ndarray, path: str, dtype) -> np.ndarray:
    try:
        return cells.astype(np.float64).astype(dtype)
    except ValueError:
        ok = np.array([_is_number(c) for c in cells.tolist()], dtype=bool)  # error path only
        i = int(np.argmin(ok))
        raise ValueError(f"load_series: {path} line {i + 2}: the value {str(cells[i])!r} is not a "
                         f"number; fix or remove that line") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _as_array(series, op: str) -> np.ndarray:
    arr = np.asarray(series.detach() if hasattr(series, "detach") else series)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: expected a numeric series, got dtype {arr.dtype}")
    return arr


class SlidingWindow(Dataset):
    """Samples ``(window, target)``: ``input_len`` consecutive steps and the ``horizon``
    steps that follow, every ``stride`` steps.

    Window ``i`` is ``series[i*stride : i*stride + input_len]`` and its target
    ``series[i*stride + input_len : i*stride + input_len + horizon]``. Both are read-only
    strided views of the series (``.windows``, ``.targets``): no copy, no Python loop.

    Args:
        series: a ``(T,)`` or ``(T, features)`` array or tensor (integers become float32).
        input_len: the window length.
        horizon: how many steps to predict.
        stride: the step between window starts.
        target_columns: the feature indices to predict (default: all).

    Shape:
        window ``(input_len, features)``, target ``(horizon, len(target_columns))``, both
        ganglion tensors of the series' float dtype.
    """

    def __init__(self, series, input_len: int, horizon: int = 1, stride: int = 1, *,
                 target_columns=None) -> None:
        op = "SlidingWindow"
        arr = _as_array(series, op)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"{op}: expected a series of shape (T,) or (T, features), got "
                             f"{tuple(arr.shape)}")
        for name, v in (("input_len", input_len), ("horizon", horizon), ("stride", stride)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")
        span = input_len + horizon
        if arr.shape[0] < span:
            raise ValueError(f"{op}: the series has {arr.shape[0]} steps, fewer than "
                             f"input_len + horizon = {span}; shorten the window or the horizon")
        cols = slice(None) if target_columns is None else np.atleast_1d(target_columns)
        # (n, features, span) view -> (n, span, features); [::stride] keeps it a view.
        view = np.lib.stride_tricks.sliding_window_view(arr, span, axis=0)[::stride]
        view = view.transpose(0, 2, 1)
        self.series, self.input_len, self.horizon, self.stride = arr, input_len, horizon, stride
        self.windows = view[:, :input_len]
        self.targets = view[:, input_len:, cols]

    def __len__(self) -> int:
        return self.windows.shape[0]

    def __getitem__(self, index):
        import ganglion
        window, target = self.windows[index], self.targets[index]
        return ganglion.tensor(window), ganglion.tensor(target)

    def __repr__(self) -> str:
        return (f"SlidingWindow(samples={len(self)}, input_len={self.input_len}, horizon="
                f"{self.horizon}, stride={self.stride}, features={self.series.shape[1]})")


def train_test_split_series(series, test_fraction: float = 0.2, *, overlap: int = 0):
    """Split a series chronologically: the last ``ceil(T * test_fraction)`` steps are the
    test part (no shuffling: the future never leaks into training).

    Args:
        series: an array or tensor whose first axis is time.
        test_fraction: in (0, 1), or an int: the number of test steps.
        overlap: start the test part this many steps earlier (e.g. ``input_len``, so that
            the first test target directly follows the training data).

    Returns:
        ``(train, test)``, views of the input.
    """
    n = len(series)
    if isinstance(test_fraction, (int, np.integer)) and not isinstance(test_fraction, bool):
        n_test = int(test_fraction)  # a count of steps, as scikit-learn's int test_size
    elif 0 < test_fraction < 1:
        # round first: 0.07 * 100 is 7.000000000000001, whose ceil would be 8
        n_test = int(np.ceil(round(n * test_fraction, 9)))
    else:
        raise ValueError(f"train_test_split_series: test_fraction must be in (0, 1) (or an "
                         f"int number of steps), got {test_fraction!r}")
    if not 0 < n_test < n or not 0 <= overlap <= n - n_test:
        raise ValueError(f"train_test_split_series: cannot split {n} steps with "
                         f"test_fraction={test_fraction} and overlap={overlap}")
    return series[:n - n_test], series[n - n_test - overlap:]


class Scaler:
    """Per-feature scaling fitted on the training data only, with its inverse.

    Args:
        method: ``'standard'`` (zero mean, unit variance; a constant feature is only
            centred) or ``'minmax'`` (to ``feature_range``).
        feature_range: the ``(min, max)`` of ``'minmax'``.

    Statistics are taken over the first axis, so a ``(T, features)`` fit scales the last
    axis of anything (windows of shape ``(B, L, features)`` too). NumPy arrays and ganglion
    tensors both work and keep their type and dtype (tensors stay differentiable).

    Example:
        >>> import numpy as np
        >>> s = Scaler("minmax").fit(np.array([2.0, 4.0, 6.0]))
        >>> s.transform(np.array([4.0, 8.0])).tolist(), s.inverse_transform([0.5]).tolist()
        ([0.5, 1.5], [4.0])
    """

    def __init__(self, method: str = "standard", feature_range=(0.0, 1.0)) -> None:
        if method not in ("standard", "minmax"):
            raise ValueError(f"Scaler: method must be 'standard' or 'minmax', got {method!r}")
        self.method, self.feature_range = method, tuple(feature_range)
        self.center_ = self.scale_ = None

    def fit(self, data) -> "Scaler":
        x = _as_array(data, "Scaler.fit").astype(np.float64)
        if x.shape[0] == 0:
            raise ValueError("Scaler.fit: the data has no rows")
        if self.method == "standard":
            center, scale = x.mean(axis=0), x.std(axis=0)
        else:
            lo, hi = self.feature_range
            center = x.min(axis=0)
            scale = (x.max(axis=0) - center) / (hi - lo)
            center = center - lo * scale  # so that (x - center) / scale maps min to lo
        self.center_ = center
        self.scale_ = np.where(scale == 0, 1.0, scale)  # constant feature: as scikit-learn
        return self

    def _stats(self, data, op: str):
        if self.center_ is None:
            raise RuntimeError(f"Scaler.{op}: call fit() on the training data first")
        if hasattr(data, "detach"):  # a ganglion tensor: the stats become tensors of its dtype
            import ganglion
            return (data, ganglion.tensor(self.center_, dtype=data.dtype),
                    ganglion.tensor(self.scale_, dtype=data.dtype))
        x = np.asarray(data)
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return x.astype(dtype, copy=False), self.center_.astype(dtype), self.scale_.astype(dtype)

    def transform(self, data):
        x, center, scale = self._stats(data, "transform")
        return (x - center) / scale

    def inverse_transform(self, data):
        x, center, scale = self._stats(data, "inverse_transform")
        return x * scale + center

    def fit_transform(self, data):
        return self.fit(data).transform(data)

    def __repr__(self) -> str:
        extra = f", feature_range={self.feature_range}" if self.method == "minmax" else ""
        return f"Scaler({self.method!r}{extra})"


def seasonal_naive(series, season: int, horizon: int) -> np.ndarray:
    """The seasonal naive forecast: each future step repeats the value one season earlier,
    ``y[T + h] = y[T + h - season * ceil(h / season)]`` for ``h = 1 .. horizon``.

    Returns:
        ``(horizon, ...)``, the last season of ``series`` tiled forward.
    """
    arr = _as_array(series, "seasonal_naive")
    if not isinstance(season, (int, np.integer)) or season < 1 or season > len(arr):
        raise ValueError(f"seasonal_naive: season must be an int in [1, {len(arr)}] (the "
                         f"series length), got {season!r}")
    if not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise ValueError(f"seasonal_naive: horizon must be a non-negative int, got {horizon!r}")
    return arr[len(arr) - season + np.arange(horizon) % season]


def _paired(prediction, target, op: str):
    p, t = _as_array(prediction, op), _as_array(target, op)
    if p.shape != t.shape:
        raise ValueError(f"{op}: prediction shape {tuple(p.shape)} differs from target shape "
                         f"{tuple(t.shape)}; reshape one so that they match")
    return p.astype(np.float64), t.astype(np.float64)


def rmse(prediction, target) -> float:
    """Root mean squared error over all elements (arrays or tensors of the same shape).

    Example:
        >>> rmse([1.0, 2.0], [1.0, 4.0])
        1.4142135623730951
    """
    p, t = _paired(prediction, target, "rmse")
    return float(np.sqrt(np.mean((p - t) ** 2)))


def mae(prediction, target) -> float:
    """Mean absolute error over all elements.

    Example:
        >>> mae([1.0, 2.0], [1.0, 4.0])
        1.0
    """
    p, t = _paired(prediction, target, "mae")
    return float(np.mean(np.abs(p - t)))
