"""An LSTM forecaster: a window of past steps in, the next ``horizon`` steps out, and a
recursive multi-step ``forecast`` that feeds its own predictions back in.

Example:
    >>> import ganglion
    >>> model = LSTMForecaster(input_size=1, hidden_size=8, horizon=3)
    >>> model(ganglion.randn(4, 12, 1)).shape
    ganglion.Size([4, 3, 1])
    >>> model.forecast(ganglion.randn(12, 1), steps=7).shape
    ganglion.Size([7, 1])
"""
from __future__ import annotations

import ganglion
from ganglion import nn

__all__ = ["LSTMForecaster"]


class LSTMForecaster(nn.Module):
    """LSTM over the window; the last layer's final hidden state maps to the next
    ``horizon`` steps of every feature (one linear head, a direct multi-output forecast).

    Args:
        input_size: features per time step (1 for a univariate series).
        hidden_size: LSTM width.
        horizon: steps predicted per call.
        num_layers: stacked LSTM layers.
        dropout: between LSTM layers (torch's ``LSTM(dropout=...)``) and before the head.

    Shape:
        ``(N, L, input_size)`` -> ``(N, horizon, input_size)``.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 64, horizon: int = 1,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if horizon < 1:
            raise ValueError(f"LSTMForecaster: horizon (steps predicted per call) must be "
                             f">= 1, got {horizon}")
        self.input_size, self.horizon = input_size, horizon
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, horizon * input_size)

    def forward(self, window):
        if window.dim() != 3 or window.shape[-1] != self.input_size:
            raise ValueError(f"LSTMForecaster: expected a window of shape (N, L, "
                             f"{self.input_size}) (batch, time, features), got "
                             f"{tuple(window.shape)}; add a batch axis with "
                             f"window.unsqueeze(0) for one window")
        _, (h, _) = self.lstm(window)
        out = self.head(self.drop(h[-1]))
        return out.reshape(window.shape[0], self.horizon, self.input_size)

    def forecast(self, history, steps: int):
        """Predict ``steps`` future steps after ``history`` (``(L, input_size)``, the most
        recent window), ``horizon`` at a time, appending each prediction to the window.
        Runs in eval mode without recording a graph; restores the training flag."""
        if history.dim() != 2 or history.shape[-1] != self.input_size:
            raise ValueError(f"LSTMForecaster.forecast: expected history of shape (L, "
                             f"{self.input_size}), got {tuple(history.shape)}")
        if steps < 1:
            raise ValueError(f"LSTMForecaster.forecast: steps (how many future steps to "
                             f"predict) must be >= 1, got {steps}")
        was_training = self.training
        self.eval()
        window, preds, made = history.unsqueeze(0), [], 0
        try:  # the flag comes back even when a step raises
            with ganglion.no_grad():
                while made < steps:
                    step = self(window)  # (1, horizon, F)
                    preds.append(step[0])
                    made += self.horizon
                    window = ganglion.cat([window, step], dim=1)[:, step.shape[1]:]
        finally:
            self.train(was_training)
        return ganglion.cat(preds, dim=0)[:steps]
