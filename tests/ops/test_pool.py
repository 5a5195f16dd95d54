"""Tests of the pooling family against torch: max/avg/adaptive pooling, unpooling, lp pooling;
forward values and indices, gradients, second derivatives, tie and NaN rules, errors.

Every test runs twice (the ``jit_mode`` fixture): on the compiled kernels (``pool_jit``) and on
the NumPy paths, each compared with torch."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as GF
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.usefixtures("jit_mode")


def _F(x):
    return GF if isinstance(x, ganglion.Tensor) else TF


def _distinct(shape, seed=0, dtype=np.float64):
    """Values without ties (a permutation), so the argmax is unambiguous."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0).astype(dtype)


MAX2D = [
    ((2, 3, 8, 8), {"kernel_size": 2}),
    ((2, 2, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((1, 2, 9, 8), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1),
                    "dilation": (2, 1)}),
    ((2, 2, 7, 7), {"kernel_size": 2, "ceil_mode": True}),
    ((1, 2, 10, 9), {"kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True}),
    ((3, 6, 5), {"kernel_size": 2, "stride": 1}),  # unbatched
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", MAX2D)
def test_max_pool2d_values_indices_grads(shape, kw, dtype):
    x = _distinct(shape, dtype=dtype)
    check_against_torch(lambda a: _F(a).max_pool2d(a, return_indices=True, **kw), inputs=[x],
                        gradgrad=dtype == np.float64)


@pytest.mark.parametrize("fn,shape,kw", [
    ("max_pool1d", (2, 3, 11), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("max_pool1d", (3, 9), {"kernel_size": 2, "dilation": 3}),
    ("max_pool3d", (1, 2, 5, 6, 4), {"kernel_size": 2, "stride": (1, 2, 2), "padding": 1}),
])
def test_max_pool_1d_3d(fn, shape, kw):
    check_against_torch(lambda a: getattr(_F(a), fn)(a, return_indices=True, **kw),
                        inputs=[_distinct(shape)], gradgrad=True)


def test_max_pool_ties_and_nan_follow_torch():
    x = np.zeros((1, 1, 4, 6))
    x[0, 0, 1, 1] = x[0, 0, 0, 3] = x[0, 0, 1, 2] = 1.0  # ties inside windows
    x[0, 0, 2:, 4:] = np.nan
    x[0, 0, 3, 0] = np.nan
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        got = GF.max_pool2d(ganglion.from_numpy(x), return_indices=True, **kw)
        want = TF.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())


@pytest.mark.parametrize("fn,kw", [
    ("max_pool2d", {"kernel_size": 2}),
    ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),  # overlapping windows
    ("max_pool2d", {"kernel_size": (2, 3), "stride": 1, "dilation": (2, 1), "ceil_mode": True}),
    ("max_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1}),
])
def test_max_pool_tie_heavy_nan_data_matches_torch(fn, kw):
    """Many ties and a few NaN (torch: first maximum, a NaN wins) on enough planes to spread
    over threads; the gradient (scatter-add where windows overlap) must match too."""
    rng = np.random.default_rng(3)
    shape = (4, 6, 13, 11) if fn == "max_pool2d" else (4, 6, 29)
    x = rng.integers(0, 3, shape).astype(np.float32)
    x.reshape(-1)[rng.choice(x.size, 9, replace=False)] = np.nan
    gx, tx = ganglion.from_numpy(x).requires_grad_(), torch.from_numpy(x).requires_grad_()
    got, want = getattr(GF, fn)(gx, return_indices=True, **kw), getattr(TF, fn)(
        tx, return_indices=True, **kw)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    np.testing.assert_array_equal(got[0].detach().numpy(), want[0].detach().numpy())
    g = rng.standard_normal(tuple(want[0].shape)).astype(np.float32)
    got[0].backward(ganglion.from_numpy(g))
    want[0].backward(torch.from_numpy(g))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d", "max_pool1d"])
def test_pool_empty_batch_forward_and_backward_like_torch(fn):
    shape = (0, 2, 4, 4) if fn.endswith("2d") else (0, 2, 4)
    gx, tx = ganglion.zeros(*shape, requires_grad=True), torch.zeros(*shape, requires_grad=True)
    got, want = getattr(GF, fn)(gx, 2), getattr(TF, fn)(tx, 2)
    assert tuple(got.shape) == tuple(want.shape)
    got.sum().backward()
    want.sum().backward()
    assert tuple(gx.grad.shape) == tuple(tx.grad.shape)


def test_max_pool_2x2_special_windows_follow_torch():
    """-inf everywhere (first cell), NaN first and last (the last NaN), ties (the first)."""
    x = np.array([[-np.inf, -np.inf, np.nan, 5.0, 1.0, 3.0],
                  [-np.inf, -np.inf, 7.0, np.nan, 3.0, 2.0]], np.float32)[None, None]
    got = GF.max_pool2d(ganglion.from_numpy(x), 2, return_indices=True)
    want = TF.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())


def test_max_pool_all_minus_inf_window_points_inside():
    x = np.full((1, 1, 3, 3), -np.inf)
    got = GF.max_pool2d(ganglion.from_numpy(x), 3, 1, 1, return_indices=True)[1]
    want = TF.max_pool2d(torch.from_numpy(x), 3, 1, 1, return_indices=True)[1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_max_pool_integer_input():
    x = np.random.default_rng(0).integers(-50, 50, (2, 2, 6, 6))
    check_against_torch(lambda a: _F(a).max_pool2d(a, 3, 2, 1, return_indices=True), inputs=[x])


AVG2D = [
    ((2, 3, 8, 8), {"kernel_size": 2}),
    ((2, 2, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 2, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ((1, 2, 7, 8), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                    "ceil_mode": True}),
    ((1, 2, 7, 8), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                    "ceil_mode": True, "count_include_pad": False}),
    ((2, 2, 6, 6), {"kernel_size": 3, "padding": 1, "divisor_override": 5}),
    ((3, 6, 5), {"kernel_size": 2, "stride": 1}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", AVG2D)
def test_avg_pool2d_matches_torch(shape, kw, dtype):
    check_against_torch(lambda a: _F(a).avg_pool2d(a, **kw), shapes=[shape], dtype=dtype,
                        gradgrad=dtype == np.float64)


@pytest.mark.parametrize("fn,shape,kw", [
    ("avg_pool1d", (2, 3, 11), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                "count_include_pad": False}),
    ("avg_pool3d", (1, 2, 5, 6, 4), {"kernel_size": 2, "stride": (1, 2, 2), "padding": 1}),
])
def test_avg_pool_1d_3d(fn, shape, kw):
    check_against_torch(lambda a: getattr(_F(a), fn)(a, **kw), shapes=[shape],
                        dtype=np.float64, gradgrad=True)


def test_avg_pool_integer_truncates_like_torch():
    x = np.random.default_rng(0).integers(-50, 50, (1, 2, 5, 5))
    check_against_torch(lambda a: _F(a).avg_pool2d(a, 2, padding=1), inputs=[x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,size", [((2, 3, 8, 8), 4), ((2, 3, 7, 9), (3, 4)),
                                        ((2, 3, 7, 5), (3, None)), ((3, 5, 5), 1),
                                        ((1, 2, 5, 11), (7, 3)), ((2, 2, 4, 4), (0, 2))])
def test_adaptive_pool2d_match_torch(shape, size, dtype):
    gg = dtype == np.float64
    grad = 0 not in np.atleast_1d(size)  # torch has no backward for an empty output
    check_against_torch(lambda a: _F(a).adaptive_avg_pool2d(a, size), shapes=[shape],
                        dtype=dtype, gradgrad=gg, grad=grad)
    check_against_torch(lambda a: _F(a).adaptive_max_pool2d(a, size, return_indices=True),
                        inputs=[_distinct(shape, dtype=dtype)], gradgrad=gg, grad=grad)


@pytest.mark.parametrize("fn,shape,size", [
    ("adaptive_avg_pool1d", (2, 3, 10), 4), ("adaptive_max_pool1d", (2, 3, 10), 3),
    ("adaptive_avg_pool3d", (1, 2, 5, 4, 6), (2, 3, 4)),
    ("adaptive_max_pool3d", (1, 2, 5, 4, 6), (2, 3, 4)),
])
def test_adaptive_pool_1d_3d(fn, shape, size):
    kw = {"return_indices": True} if "max" in fn else {}
    check_against_torch(lambda a: getattr(_F(a), fn)(a, size, **kw), inputs=[_distinct(shape)],
                        gradgrad=True)


def test_adaptive_max_ties_and_nan_follow_torch():
    x = np.zeros((1, 1, 5, 7))
    x[0, 0, 0, 2] = x[0, 0, 1, 0] = 2.0
    x[0, 0, 3:, 4] = np.nan
    got = GF.adaptive_max_pool2d(ganglion.from_numpy(x), (2, 3), return_indices=True)
    want = TF.adaptive_max_pool2d(torch.from_numpy(x), (2, 3), return_indices=True)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())


@pytest.mark.parametrize("nd,shape,kw", [
    (1, (2, 3, 8), {"kernel_size": 2}),
    (2, (2, 2, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
    (2, (2, 2, 6, 6), {"kernel_size": 2}),
    (3, (1, 2, 4, 4, 6), {"kernel_size": 2}),
])
def test_max_unpool_roundtrip_matches_torch(nd, shape, kw):
    x = _distinct(shape)

    def f(a):
        F = _F(a)
        out, idx = getattr(F, f"max_pool{nd}d")(a, return_indices=True, **kw)
        return getattr(F, f"max_unpool{nd}d")(out * 2.0, idx, output_size=shape[2:], **kw)

    check_against_torch(f, inputs=[x], gradgrad=True)


def test_max_unpool_default_size_and_errors():
    out, idx = TF.max_pool2d(torch.from_numpy(_distinct((1, 1, 4, 4))), 2, return_indices=True)
    got = GF.max_unpool2d(ganglion.from_numpy(out.numpy()), ganglion.from_numpy(idx.numpy()), 2)
    np.testing.assert_array_equal(got.numpy(), TF.max_unpool2d(out, idx, 2).numpy())
    with pytest.raises(RuntimeError, match="max_unpool2d: found an invalid max index"):
        GF.max_unpool2d(ganglion.ones(1, 1, 2, 2), ganglion.tensor([[[[0, 1], [2, 99]]]]), 2)
    with pytest.raises(ValueError, match="max_unpool2d: invalid output_size"):
        GF.max_unpool2d(ganglion.ones(1, 1, 2, 2), ganglion.zeros(1, 1, 2, 2).long(), 2,
                        output_size=(9, 9))


@pytest.mark.parametrize("fn,shape,args", [("lp_pool2d", (2, 2, 6, 5), (2, 2)),
                                           ("lp_pool2d", (2, 2, 7, 7), (3, (3, 2), 2, True)),
                                           ("lp_pool1d", (2, 3, 9), (2.5, 3, 2))])
def test_lp_pool_matches_torch(fn, shape, args):
    check_against_torch(lambda a: getattr(_F(a), fn)(a, *args), shapes=[shape], low=0.5,
                        high=2.0, dtype=np.float64)


def test_pool_gradcheck_finite_differences():
    x = _distinct((2, 2, 5, 6))
    gradcheck(lambda a: GF.max_pool2d(a, 3, 2, 1, ceil_mode=True), [x], eps=1e-6, atol=1e-6)
    gradcheck(lambda a: GF.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False),
              [x], eps=1e-6, atol=1e-6)
    gradcheck(lambda a: GF.adaptive_avg_pool2d(a, (3, 4)), [x], eps=1e-6, atol=1e-6)
    gradcheck(lambda a: GF.adaptive_max_pool2d(a, (2, 4)), [x], eps=1e-6, atol=1e-6)


def _t(*shape):
    return ganglion.zeros(*shape)


@pytest.mark.parametrize("call,match", [
    (lambda: GF.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), "max_pool2d: pad should be"),
    (lambda: GF.max_pool2d(_t(1, 1, 1, 1), 2), "max_pool2d: .*too small"),
    (lambda: GF.max_pool2d(_t(4, 4), 2), r"max_pool2d: .*\(4, 4\)"),
    (lambda: GF.max_pool2d(_t(1, 1, 4, 4), 0), "max_pool2d: kernel_size"),
    (lambda: GF.avg_pool2d(_t(1, 1, 4, 4), 2, divisor_override=0), "avg_pool2d: divisor"),
    (lambda: GF.avg_pool1d(_t(1, 1, 4), 2, padding=2), "avg_pool1d: pad should be"),
    (lambda: GF.adaptive_avg_pool2d(_t(1, 1, 4, 4), (1, 2, 3)), "adaptive_avg_pool2d"),
    (lambda: GF.adaptive_max_pool2d(_t(4), 2), r"adaptive_max_pool2d: .*\(4,\)"),
    (lambda: GF.max_pool2d(_t(1, 1, 4, 4), (2, 2, 2)), "max_pool2d: kernel_size"),
])
def test_pool_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_pool_float32_stays_float32():
    x = ganglion.randn(2, 3, 6, 6, requires_grad=True)
    for y in (GF.max_pool2d(x, 2), GF.avg_pool2d(x, 2), GF.adaptive_avg_pool2d(x, 4),
              GF.adaptive_max_pool2d(x, 4)):
        assert y.dtype == ganglion.float32
        (gx,) = ganglion.autograd.grad(y.sum(), [x])
        assert gx.dtype == ganglion.float32
