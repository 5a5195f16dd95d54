"""Shared fixtures: every test starts from the same global seed."""
import numpy as np
import pytest

import ganglion


@pytest.fixture(autouse=True)
def _seed():
    ganglion.manual_seed(0)
    np.random.seed(0)
    yield
