"""LSTMForecaster: shapes, errors, and learning on the real airline series."""
import importlib.util
import os

import numpy as np
import pytest

import ganglion
from ganglion.data.download import find_data_root
from ganglion.models.forecaster import LSTMForecaster

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "forecast_lstm.py")


def _recipe():
    spec = importlib.util.spec_from_file_location("forecast_lstm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forecast_shapes_and_errors():
    model = LSTMForecaster(2, 8, horizon=3)
    assert tuple(model(ganglion.randn(5, 10, 2)).shape) == (5, 3, 2)
    assert tuple(model.forecast(ganglion.randn(10, 2), 7).shape) == (7, 2)
    assert model.training
    with pytest.raises(ValueError, match="LSTMForecaster"):
        model(ganglion.randn(5, 10, 3))


@pytest.mark.skipif(find_data_root("timeseries") is None, reason="shared data absent")
def test_airline_beats_seasonal_naive():
    result = _recipe().run("airline-passengers", epochs=60)
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    assert np.isfinite(result["rmse"])
    assert result["rmse"] < result["baseline_rmse"]
