"""Shared fixtures: every test starts from the same global seed."""
import numpy as np
import pytest

import ganglion


@pytest.fixture(autouse=True)
def _seed():
    ganglion.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(params=["jit", "numpy"])
def jit_mode(request):
    """Run a test once with ganglion's compiled kernels and once on the NumPy paths."""
    from ganglion.backend import jit

    if request.param == "jit":
        if not jit.enabled():
            pytest.skip("compiled kernels are off (numba missing or GANGLION_JIT=0)")
        yield "jit"
    else:
        with jit.disabled():
            yield "numpy"
