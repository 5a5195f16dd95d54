"""Forecast a real series with ganglion's LSTMForecaster and compare with seasonal naive.

The last 20% of the series is held out. The model learns the seasonally differenced
series d[t] = z[t] - z[t - season] (z = log y for multiplicative series such as airline
passengers), scaled on the training part only. Two evaluations:

- ``recursive``: one multi-step forecast of the whole test part from the end of training,
  each predicted step fed back in (the baseline tiles the last training season forward);
- ``rolling``: one-step-ahead forecasts, each from the true history up to that step (the
  baseline predicts y[t - season]).

Run: ``python examples/forecast_lstm.py [--series airline-passengers] [--plot out.png]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import ganglion
from ganglion import nn
from ganglion.data.timeseries import (Scaler, SlidingWindow, load_series, rmse,
                                      seasonal_naive, train_test_split_series)
from ganglion.models.forecaster import LSTMForecaster
from ganglion.utils.data import DataLoader

PRESETS = {  # series -> (season, log, input_len, mode, epochs)
    "airline-passengers": (12, True, 24, "recursive", 150),
    "daily-min-temperatures": (365, False, 30, "rolling", 8),
}


def _train(model, windows, epochs, lr, batch_size, seed):
    loader = DataLoader(windows, batch_size=batch_size, shuffle=True,
                        generator=ganglion.Generator().manual_seed(seed))
    opt = ganglion.optim.Adam(model.parameters(), lr=lr)
    sched = ganglion.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(x), count + len(x)
        sched.step()
        losses.append(total / count)
    return losses


def run(series="airline-passengers", epochs=None, hidden_size=32, lr=5e-3, batch_size=16,
        seed=0, mode=None, data=None):
    """Train and evaluate; returns a dict with the RMSEs, the forecast and the losses."""
    season, use_log, input_len, default_mode, default_epochs = PRESETS[series]
    mode, epochs = mode or default_mode, epochs or default_epochs
    ganglion.manual_seed(seed)
    y = (load_series(series) if data is None else np.asarray(data)).astype(np.float64)
    y_train, y_test = train_test_split_series(y, 0.2)
    z = np.log(y) if use_log else y
    n_train = len(y_train)
    d = z[season:] - z[:-season]  # d[i] belongs to time i + season
    scaler = Scaler().fit(d[:n_train - season])
    ds = scaler.transform(d).astype(np.float32)
    windows = SlidingWindow(ds[:n_train - season], input_len, 1)
    model = LSTMForecaster(1, hidden_size, horizon=1)
    start = time.perf_counter()
    losses = _train(model, windows, epochs, lr, batch_size, seed)
    train_s = time.perf_counter() - start
    model.eval()
    if mode == "recursive":
        hist = ganglion.tensor(ds[n_train - season - input_len:n_train - season, None])
        d_pred = scaler.inverse_transform(model.forecast(hist, len(y_test)).numpy()[:, 0])
        # z[t] = z[t - season] + d[t]: per season position, a cumulative sum of the
        # predicted differences on top of the last training season.
        n_seasons = -(-len(y_test) // season)
        padded = np.zeros(n_seasons * season)
        padded[:len(y_test)] = d_pred
        z_pred = (z[n_train - season:n_train] + padded.reshape(n_seasons, season).cumsum(0))
        z_pred = z_pred.reshape(-1)[:len(y_test)]
        baseline = seasonal_naive(y_train, season, len(y_test))
    else:
        # every window whose next step lies in the test part, as one strided view
        test_windows = SlidingWindow(ds[n_train - season - input_len:], input_len, 1).windows
        hist = ganglion.tensor(np.ascontiguousarray(test_windows))
        with ganglion.no_grad():
            d_pred = scaler.inverse_transform(model(hist).numpy()[:, 0, 0])
        t = np.arange(n_train, len(y))
        z_pred = z[t - season] + d_pred
        baseline = y[t - season]
    pred = np.exp(z_pred) if use_log else z_pred
    return {"series": series, "mode": mode, "rmse": rmse(pred, y_test),
            "baseline_rmse": rmse(baseline, y_test), "forecast": pred, "truth": y_test,
            "baseline": baseline, "history": y_train, "losses": losses, "train_s": train_s}


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(result["history"])
    t = np.arange(n, n + len(result["truth"]))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(np.arange(n), result["history"], color="0.5", lw=1, label="training part")
    ax.plot(t, result["truth"], color="k", lw=1, label="truth")
    ax.plot(t, result["baseline"], "--", lw=1, label=f"seasonal naive "
            f"(RMSE {result['baseline_rmse']:.2f})")
    ax.plot(t, result["forecast"], lw=1.5, label=f"LSTM {result['mode']} "
            f"(RMSE {result['rmse']:.2f})")
    ax.set_title(f"{result['series']}: last 20% held out")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="airline-passengers", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="write a PNG of forecast vs truth")
    args = parser.parse_args()
    result = run(args.series, epochs=args.epochs, seed=args.seed)
    print(f"{result['series']} ({result['mode']}): LSTM RMSE {result['rmse']:.3f}, "
          f"seasonal naive RMSE {result['baseline_rmse']:.3f}, "
          f"train {result['train_s']:.1f} s, final loss {result['losses'][-1]:.4f}")
    if args.plot:
        plot(result, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
