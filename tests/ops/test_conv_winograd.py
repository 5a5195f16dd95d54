"""Winograd F(2x2, 3x3) path of the compiled convolutions against PyTorch (forward, input and
weight gradients), with the thread gate lifted so the path runs at any thread count."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion.backend import jit

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not jit.AVAILABLE, reason="numba not installed")


@pytest.fixture
def winograd(monkeypatch):
    from ganglion.ops import conv_jit, conv_winograd

    monkeypatch.setattr(conv_winograd, "MAX_THREADS", 1 << 20)
    monkeypatch.setattr(conv_jit, "_WINO_BLOCK_BYTES", 1 << 16)  # several blocks per batch
    calls = []
    real = conv_winograd.input_transform

    def counted(*a):
        calls.append(1)
        return real(*a)

    monkeypatch.setattr(conv_winograd, "input_transform", counted)
    return calls


def _grads(lib, x, w, b, g, padding):
    xt = lib.tensor(x, requires_grad=True)
    wt = lib.tensor(w, requires_grad=True)
    bt = lib.tensor(b, requires_grad=True)
    fn = torch.nn.functional if lib is torch else F
    y = fn.conv2d(xt, wt, bt, padding=padding)
    y.backward(lib.tensor(g))
    return [t.detach().numpy() for t in (y, xt.grad, wt.grad, bt.grad)]


@pytest.mark.parametrize("shape,cout,padding", [((3, 16, 7, 9), 20, 1), ((2, 17, 8, 8), 16, 0),
                                                ((5, 16, 5, 6), 18, 2), ((1, 24, 3, 3), 16, 1),
                                                ((4, 16, 6, 5), 16, (1, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_matches_torch(shape, cout, padding, dtype, winograd):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((cout, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=padding)
    g = rng.standard_normal(tuple(y.shape)).astype(dtype)
    want = _grads(torch, x, w, b, g, padding)
    got = _grads(ganglion, x, w, b, g, padding)
    assert winograd, "the Winograd transforms did not run"
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for a, e in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol * np.abs(e).max())


def test_infinity_falls_back_to_im2col(winograd):
    """inf - inf inside the transforms would give NaN where the direct sum is inf."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 16, 6, 6)).astype(np.float32)
    x[0, 3, 2, 2] = np.inf
    w = np.abs(rng.standard_normal((16, 16, 3, 3))).astype(np.float32)
    got = F.conv2d(ganglion.tensor(x), ganglion.tensor(w), padding=1).numpy()
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    assert winograd
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-4, atol=1e-4)


def test_thread_rule_keeps_large_planes_only():
    # above MAX_THREADS only output planes of MIN_PLANE_THREADED+ positions take Winograd;
    # at one thread every eligible layer does; the shape rules hold at any thread count
    from ganglion.ops import conv_winograd as cw

    prev = ganglion.get_num_threads()
    w, one = (64, 64, 3, 3), (1, 1)
    try:
        ganglion.set_num_threads(2)
        assert cw.applies(w, one, one, 1, cw.MIN_PLANE_THREADED)
        assert not cw.applies(w, one, one, 1, cw.MIN_PLANE_THREADED - 1)
        assert not cw.applies(w, (2, 2), one, 1, cw.MIN_PLANE_THREADED)
        # a layer's forward pass takes it from the smaller MIN_PLANE_FORWARD
        assert cw.MIN_PLANE_FORWARD < cw.MIN_PLANE_THREADED
        assert cw.applies(w, one, one, 1, cw.MIN_PLANE_FORWARD, forward=True)
        assert not cw.applies(w, one, one, 1, cw.MIN_PLANE_FORWARD)
        assert not cw.applies(w, one, one, 1, cw.MIN_PLANE_FORWARD - 1, forward=True)
        ganglion.set_num_threads(1)
        assert cw.applies(w, one, one, 1, 16 * 16)
        assert not cw.applies((64, 8, 3, 3), one, one, 1, 16 * 16)
    finally:
        ganglion.set_num_threads(prev)


def test_two_threads_forward_only_between_the_plane_thresholds(monkeypatch):
    """At 2 threads a plane between MIN_PLANE_FORWARD and MIN_PLANE_THREADED runs Winograd in
    the forward pass only (input and weight gradients by im2col); all three match torch."""
    from ganglion.ops import conv_jit, conv_winograd

    passes = []
    for name in ("_wino_forward_block", "_wino_wgrad_block"):
        real = getattr(conv_jit, name)
        monkeypatch.setattr(conv_jit, name,
                            lambda *a, _r=real, _n=name: passes.append(_n) or _r(*a))
    prev = ganglion.get_num_threads()
    try:
        ganglion.set_num_threads(2)
        rng = np.random.default_rng(4)
        x = rng.standard_normal((3, 16, 26, 26)).astype(np.float32)  # 24x24 output plane
        w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
        b = rng.standard_normal(16).astype(np.float32)
        g = rng.standard_normal((3, 16, 24, 24)).astype(np.float32)
        got = _grads(ganglion, x, w, b, g, 0)
    finally:
        ganglion.set_num_threads(prev)
    # forward: one call per block; the input gradient (a 26x26 plane by the flipped forward)
    # and the weight gradient take none
    assert passes and set(passes) == {"_wino_forward_block"}
    for a, e in zip(got, _grads(torch, x, w, b, g, 0)):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())
