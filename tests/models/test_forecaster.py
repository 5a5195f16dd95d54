"""LSTMForecaster: shapes, errors, and learning on the real airline series."""
import numpy as np
import pytest

import ganglion
from ganglion.data.download import find_data_root
from ganglion.models.forecaster import LSTMForecaster
from tests.examples_loader import load_example


def test_forecast_shapes_and_errors():
    model = LSTMForecaster(2, 8, horizon=3)
    assert tuple(model(ganglion.randn(5, 10, 2)).shape) == (5, 3, 2)
    assert tuple(model.forecast(ganglion.randn(10, 2), 7).shape) == (7, 2)
    assert model.training
    with pytest.raises(ValueError, match="LSTMForecaster"):
        model(ganglion.randn(5, 10, 3))


@pytest.mark.skipif(find_data_root("timeseries") is None, reason="shared data absent")
def test_airline_beats_seasonal_naive():
    result = load_example("forecast_lstm").run("airline-passengers", epochs=60)
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    assert np.isfinite(result["rmse"])
    assert result["rmse"] < result["baseline_rmse"]


def test_forecast_restores_training_flag_when_a_step_raises(monkeypatch):
    model = LSTMForecaster(2, 8, horizon=3)

    def broken(window):
        raise RuntimeError("step failed")

    monkeypatch.setattr(model, "forward", broken)
    with pytest.raises(RuntimeError, match="step failed"):
        model.forecast(ganglion.randn(10, 2), 4)
    assert model.training
