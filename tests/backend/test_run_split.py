"""parallel.run_split and the kernels that cut their work with it, at 2 kernel threads."""
import numpy as np
import pytest

import ganglion
from ganglion.backend import jit, parallel

pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="numba not installed")


@pytest.fixture
def two_threads(monkeypatch):
    prev = ganglion.get_num_threads()
    ganglion.set_num_threads(2)
    monkeypatch.setattr(jit, "kernel_threads", lambda: 2)
    yield
    ganglion.set_num_threads(prev)


@pytest.mark.parametrize("n,parts,align", [(0, 2, 16), (5, 2, 16), (40, 2, 16), (1001, 2, 1),
                                           (1 << 20, 3, 16)])
def test_pieces_cover_the_range_once(n, parts, align, two_threads):
    seen = []
    parallel.run_split(lambda lo, hi: seen.append((lo, hi)), n, parts, align)
    seen.sort()
    assert [i for lo, hi in seen for i in range(lo, hi)] == list(range(n))
    assert len(seen) <= parts and all(lo % align == 0 for lo, _ in seen)


def test_split_kernels_match_numpy(two_threads):
    from ganglion.ops import activation_jit, norm_jit

    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 33, 1000)).astype(np.float32)  # odd sizes: uneven pieces
    x.flat[::97] = np.nan
    g = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(activation_jit.relu(x), np.where(x <= 0, 0, x))
    np.testing.assert_array_equal(activation_jit.relu_grad(g, x), np.where(x <= 0, 0, g))
    with jit.disabled():  # NumPy's sigmoid, to float32 rounding
        want_sig = ganglion.tensor(x).sigmoid().numpy()
    np.testing.assert_allclose(activation_jit.sigmoid(x), want_sig, rtol=3e-7, atol=1e-37)
    y = activation_jit.sigmoid(x)
    np.testing.assert_allclose(activation_jit.sigmoid_grad(g, y), g * ((1 - y) * y),
                               rtol=1e-6, atol=1e-37)
    m, s, t = (rng.standard_normal(33).astype(np.float32) for _ in range(3))
    want = (x - m[:, None]) * s[:, None] + t[:, None]
    np.testing.assert_allclose(norm_jit.channel_affine(x, m, s, t), want, rtol=1e-6,
                               atol=1e-6)


def test_large_add_in_pieces_matches_numpy(two_threads):
    from ganglion.ops import arith

    rng = np.random.default_rng(1)
    a = rng.standard_normal(arith.SPLIT_ADD_MIN + 37).astype(np.float32)
    b = rng.standard_normal(a.size).astype(np.float32)
    ta, tb = ganglion.tensor(a, requires_grad=True), ganglion.tensor(b)
    y = ta + tb
    np.testing.assert_array_equal(y.detach().numpy(), a + b)  # the same float32 sums
    y.sum().backward()
    np.testing.assert_array_equal(ta.grad.numpy(), np.ones_like(a))
    # a broadcast or mixed-dtype add keeps NumPy's path and its promotion
    c = ganglion.tensor(b.astype(np.float64))
    assert (ta + c).dtype == ganglion.float64
