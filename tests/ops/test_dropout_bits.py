"""Dropout's counter-based mask (``random_dropout`` / ``random_jit``): the same bits on the
compiled and NumPy paths and at any thread count, ``manual_seed`` reproduction, the kept fraction,
torch's NaN rule, gradients (to second order), odd sizes, non-contiguous and float16 inputs."""
import numpy as np
import pytest

import ganglion
from ganglion.backend import jit

torch = pytest.importorskip("torch")


def _drop(x, p, seed=7, **kw):
    ganglion.manual_seed(seed)
    return ganglion.dropout(x, p, **kw).numpy()


@pytest.mark.skipif(not jit.enabled(), reason="compiled kernels are off")
@pytest.mark.parametrize("n", [1, 2, 3, 65_537, 200_001])
def test_mask_is_the_same_on_both_paths_and_any_thread_count(n):
    x = ganglion.from_numpy(np.arange(1, n + 1, dtype=np.float32))
    want = _drop(x, 0.3)
    with jit.disabled():
        np.testing.assert_array_equal(_drop(x, 0.3), want)
    threads = ganglion.get_num_threads()
    try:
        ganglion.set_num_threads(1)
        np.testing.assert_array_equal(_drop(x, 0.3), want)
    finally:
        ganglion.set_num_threads(threads)


@pytest.mark.usefixtures("jit_mode")
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_kept_fraction_scale_and_reproduction(p):
    n = 400_001
    x = ganglion.ones(n)
    y = _drop(x, p)
    kept = y != 0
    sd = np.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - (1 - p)) < 5 * sd
    np.testing.assert_array_equal(y[kept], np.float32(1 / (1 - p)))
    np.testing.assert_array_equal(_drop(x, p), y)  # manual_seed reproduces the mask
    assert not np.array_equal(_drop(x, p, seed=8), y)
    ganglion.manual_seed(7)
    a, b = ganglion.dropout(x, p).numpy(), ganglion.dropout(x, p).numpy()
    assert not np.array_equal(a, b)  # each call draws a new mask
    # neighbouring elements (low and high half of one 64-bit draw) are independent
    both = (kept[:-1:2] & kept[1::2]).mean()
    assert abs(both - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 / (n // 2))


@pytest.mark.usefixtures("jit_mode")
def test_nan_stays_nan_where_dropped_like_torch():
    x = np.full(64, np.nan, np.float32)
    assert np.isnan(_drop(ganglion.from_numpy(x), 0.5)).all()
    assert torch.isnan(torch.nn.functional.dropout(torch.from_numpy(x), 0.5)).all()


@pytest.mark.usefixtures("jit_mode")
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_gradient_is_mask_times_scale_to_second_order(dtype):
    rng = np.random.default_rng(0)
    x = ganglion.from_numpy(rng.standard_normal((33, 31)).astype(dtype)).requires_grad_()
    ganglion.manual_seed(1)
    y = ganglion.dropout(x, 0.25)
    assert y.dtype == x.dtype
    m = (y.detach().numpy() != 0) * np.float64(1 / 0.75)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() * m, rtol=1e-3)
    (gx,) = ganglion.autograd.grad((y * y).sum(), [x], create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), 2 * x.detach().numpy() * m * m, rtol=2e-3)
    (ggx,) = ganglion.autograd.grad(gx.sum(), [x])
    np.testing.assert_allclose(ggx.numpy(), 2 * m * m, rtol=2e-3)


@pytest.mark.usefixtures("jit_mode")
def test_non_contiguous_and_inplace_inputs():
    base = ganglion.from_numpy(np.arange(1.0, 201.0, dtype=np.float32).reshape(20, 10))
    view = base.t()  # not C-contiguous
    y = _drop(view, 0.5)
    assert y.shape == (10, 20)
    np.testing.assert_allclose(y[y != 0], 2 * view.numpy()[y != 0])
    z = base.clone()
    ganglion.manual_seed(7)
    out = ganglion.dropout(z, 0.5, inplace=True)
    assert out is z
    np.testing.assert_array_equal(z.numpy(), _drop(base, 0.5))  # same mask as out of place
