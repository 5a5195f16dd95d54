"""Time-series loading, sliding windows, chronological splits, scaling and baselines."""
import math
import os

import numpy as np
import pytest

import ganglion
from ganglion.data.download import find_data_root
from ganglion.data.timeseries import (Scaler, SlidingWindow, load_series, mae, rmse,
                                      seasonal_naive, train_test_split_series)
from ganglion.utils.data import DataLoader

TS_ROOT = find_data_root("timeseries")
needs_ts = pytest.mark.skipif(TS_ROOT is None, reason="shared timeseries data not present")

# Box & Jenkins' AirPassengers, 1959 and 1960 (thousands), from the published table.
AIR_1959 = [360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405]
AIR_1960 = [417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432]


@needs_ts
def test_load_series_shared_files():
    air, dates = load_series(os.path.join(TS_ROOT, "airline-passengers.csv"),
                             return_dates=True)
    assert air.shape == (144,) and air.dtype == np.float32
    assert air[:3].tolist() == [112, 118, 132] and air[-24:].tolist() == AIR_1959 + AIR_1960
    assert dates.dtype == np.dtype("datetime64[M]")
    assert str(dates[0]) == "1949-01" and str(dates[-1]) == "1960-12"
    assert (np.diff(dates) == np.timedelta64(1, "M")).all()
    temps, days = load_series("daily-min-temperatures", return_dates=True)  # bare name
    assert temps.shape == (3650,) and days.dtype == np.dtype("datetime64[D]")
    assert temps[0] == np.float32(20.7) and 0.0 <= temps.min() and temps.max() <= 26.3
    assert load_series("monthly-sunspots.csv", dtype=np.float64).shape == (2820,)


def test_load_series_small_files_and_errors(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text('"Date","Value"\n"2020-01-01",1.5\n"2020-01-02",-2\n')
    values, dates = load_series(path, return_dates=True)
    assert values.tolist() == [1.5, -2.0] and dates.dtype == np.dtype("datetime64[D]")
    path.write_text('"t","v"\n"a",1\n"b",2\n')
    assert load_series(path, return_dates=True)[1].tolist() == ["a", "b"]
    path.write_text('"t","v"\n"a",1\n"b",?2\n')
    with pytest.raises(ValueError, match=r"s.csv line 3: the value '\?2' is not a number"):
        load_series(path)
    path.write_text('"t","v"\n"a",1,9\n')
    with pytest.raises(ValueError, match=r"s.csv line 2: expected 2 comma-separated"):
        load_series(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_series(tmp_path / "missing.csv")


def _naive_windows(x, input_len, horizon, stride):
    xs, ys = [], []
    i = 0
    while i + input_len + horizon <= len(x):
        xs.append(x[i:i + input_len])
        ys.append(x[i + input_len:i + input_len + horizon])
        i += stride
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("input_len,horizon,stride", [(3, 1, 1), (4, 2, 3), (1, 5, 2),
                                                      (10, 2, 1)])
def test_sliding_window_equals_naive_construction(input_len, horizon, stride):
    x = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    ds = SlidingWindow(x, input_len, horizon, stride)
    xs, ys = _naive_windows(x, input_len, horizon, stride)
    assert len(ds) == len(xs)
    np.testing.assert_array_equal(ds.windows, xs)
    np.testing.assert_array_equal(ds.targets, ys)
    assert np.shares_memory(ds.windows, x)  # a view, not a copy
    for i in range(len(ds)):
        w, t = ds[i]
        assert isinstance(w, ganglion.Tensor) and w.dtype == ganglion.float32
        np.testing.assert_array_equal(w.numpy(), xs[i])
        np.testing.assert_array_equal(t.numpy(), ys[i])


def test_sliding_window_univariate_tensor_and_loader():
    series = ganglion.arange(20, dtype=ganglion.float64)
    ds = SlidingWindow(series, input_len=5, horizon=3)
    xs, ys = _naive_windows(np.arange(20.0)[:, None], 5, 3, 1)
    np.testing.assert_array_equal(ds.windows, xs)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 5, 1) and y.shape == (4, 3, 1) and x.dtype == ganglion.float64
    np.testing.assert_array_equal(y.numpy(), ys[:4])
    ints = SlidingWindow(np.arange(6), 2)
    assert ints[0][0].dtype == ganglion.float32


def test_sliding_window_target_columns_and_errors():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    ds = SlidingWindow(x, 4, horizon=2, target_columns=[2])
    assert ds[1][0].shape == (4, 3) and ds[1][1].tolist() == [[17.0], [20.0]]
    with pytest.raises(ValueError, match=r"SlidingWindow: the series has 10 steps"):
        SlidingWindow(x, 9, horizon=2)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        SlidingWindow(x, 3, stride=0)
    with pytest.raises(ValueError, match=r"\(2, 5, 3\)"):
        SlidingWindow(np.zeros((2, 5, 3)), 2)


def test_train_test_split_series_is_chronological():
    x = np.arange(144)
    train, test = train_test_split_series(x, 0.2)
    assert len(test) == math.ceil(144 * 0.2) == 29 and len(train) == 115
    np.testing.assert_array_equal(np.concatenate([train, test]), x)
    _, test = train_test_split_series(x, 0.2, overlap=12)
    assert test[0] == 115 - 12 and len(test) == 41
    assert len(train_test_split_series(np.arange(100), 0.07)[1]) == 7  # not 8
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split_series(x, 1.5)


def test_scaler_standard_and_minmax_match_numpy_formulas():
    rng = np.random.default_rng(1)
    train = rng.normal(3.0, 2.0, size=(50, 3))
    train[:, 2] = 7.0  # a constant feature
    test = rng.normal(3.0, 2.0, size=(10, 3))
    s = Scaler().fit(train)
    std = np.where(train.std(0) == 0, 1.0, train.std(0))
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) / std)
    np.testing.assert_allclose(s.inverse_transform(s.transform(test)), test)
    m = Scaler("minmax", feature_range=(-1, 1)).fit(train[:, :2])
    lo, hi = train[:, :2].min(0), train[:, :2].max(0)
    np.testing.assert_allclose(m.transform(test[:, :2]), 2 * (test[:, :2] - lo) / (hi - lo) - 1)
    np.testing.assert_allclose(m.transform(train[:, :2]).min(0), [-1, -1])
    np.testing.assert_allclose(m.inverse_transform(m.transform(test[:, :2])), test[:, :2])


def test_scaler_on_tensors_and_windows():
    series = np.linspace(100, 600, 40, dtype=np.float32)
    train, _ = train_test_split_series(series, 0.25)
    s = Scaler().fit(train)
    t = ganglion.tensor(series[:6].reshape(2, 3, 1), requires_grad=True)
    z = s.transform(t)
    assert isinstance(z, ganglion.Tensor) and z.dtype == ganglion.float32
    np.testing.assert_allclose(z.detach().numpy().ravel(),
                               (series[:6] - train.mean()) / train.std(), rtol=1e-5)
    back = s.inverse_transform(z)
    np.testing.assert_allclose(back.detach().numpy(), t.detach().numpy(), rtol=1e-6)
    back.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.ones((2, 3, 1)), rtol=1e-6)
    assert s.transform(series).dtype == np.float32
    with pytest.raises(RuntimeError, match="fit"):
        Scaler().transform(series)
    with pytest.raises(ValueError, match="method"):
        Scaler("robust")


def test_seasonal_naive_equals_naive_rule():
    x = np.arange(1, 11, dtype=np.float64)
    for season in (1, 3, 10):
        for horizon in (0, 2, 7):
            want = [x[len(x) + h - season * math.ceil(h / season) - 1]
                    for h in range(1, horizon + 1)]
            assert seasonal_naive(x, season, horizon).tolist() == want
    with pytest.raises(ValueError, match="season must be"):
        seasonal_naive(x, 11, 3)


@needs_ts
def test_seasonal_naive_rmse_on_airline_by_hand():
    air = load_series(os.path.join(TS_ROOT, "airline-passengers.csv"))
    train, test = train_test_split_series(air, 12)
    assert len(train_test_split_series(air, 12 / 144)[1]) == 12
    forecast = seasonal_naive(train, season=12, horizon=12)
    assert forecast.tolist() == AIR_1959 and test.tolist() == AIR_1960
    # 1960 minus 1959, month by month: 57 49 13 65 52 63 74 47 45 54 28 27
    squares = [57**2, 49**2, 13**2, 65**2, 52**2, 63**2, 74**2, 47**2, 45**2, 54**2, 28**2,
               27**2]
    assert sum(squares) == 30856
    assert rmse(forecast, test) == pytest.approx(math.sqrt(30856 / 12))  # 50.708...
    assert mae(forecast, test) == pytest.approx(574 / 12)
    assert rmse(forecast[:3], test[:3]) == pytest.approx(math.sqrt((57**2 + 49**2 + 13**2) / 3))
    with pytest.raises(ValueError, match=r"rmse: prediction shape \(3,\)"):
        rmse(forecast[:3], test)
