"""The compiled convolution path (``conv_jit``) against torch and against the NumPy path:
batches that span several blocks with a partial last one, groups, strides, dilation,
asymmetric padding, the col2im input gradient, 1-D convolutions, NaN propagation, and reuse of
the scratch buffers across calls of different shapes."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as GF
from ganglion.backend import jit
from ganglion.ops import conv_kernels as ck
from ganglion.testing import check_against_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.skipif(not jit.enabled(), reason="compiled kernels are off")


def _F(x):
    return GF if isinstance(x, ganglion.Tensor) else TF


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 3 items, so the test batches of 5-7 run several blocks and a partial one."""
    from ganglion.ops import conv_jit

    monkeypatch.setattr(conv_jit, "_items_per_block", lambda n, *_: min(n, 3))


# (input shape, weight shape, kwargs)
CASES = [
    ((7, 3, 6, 5), (4, 3, 3, 3), {"padding": 1}),
    ((5, 4, 9, 8), (6, 2, 3, 3), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2),
                                  "groups": 2}),
    ((6, 4, 7, 7), (8, 1, 3, 3), {"padding": 1, "groups": 4}),
    ((5, 3, 8, 7), (5, 3, 4, 3), {"padding": "same"}),  # asymmetric padding
    ((6, 5, 9, 9), (3, 5, 3, 2), {"stride": 3}),  # strided, disjoint taps
    ((5, 2, 6, 6), (3, 2, 1, 1), {"stride": 2}),
    ((5, 6, 6, 6), (3, 6, 3, 3), {"padding": 1}),  # fewer out than in channels
    ((5, 2, 6, 6), (6, 2, 3, 3), {"padding": 2, "dilation": 2}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_blocked_conv2d_matches_torch(xs, ws, kw, dtype, small_blocks):
    rng = np.random.default_rng(0)
    arrs = [rng.uniform(-1, 1, s).astype(dtype) for s in (xs, ws, ws[:1])]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    check_against_torch(lambda x, w, b: _F(x).conv2d(x, w, b, **kw), inputs=arrs, atol=tol,
                        rtol=tol)


@pytest.mark.parametrize("xs,ws,kw", [((7, 3, 11), (4, 3, 3), {"padding": 2, "dilation": 2}),
                                      ((5, 4, 12), (6, 2, 4), {"stride": 3, "groups": 2})])
def test_blocked_conv1d_matches_torch(xs, ws, kw, small_blocks):
    rng = np.random.default_rng(1)
    arrs = [rng.uniform(-1, 1, s) for s in (xs, ws, ws[:1])]
    check_against_torch(lambda x, w, b: _F(x).conv1d(x, w, b, **kw), inputs=arrs)


def test_conv_transpose_on_compiled_path(small_blocks):
    rng = np.random.default_rng(2)
    arrs = [rng.uniform(-1, 1, (5, 4, 5, 4)), rng.uniform(-1, 1, (4, 3, 3, 3))]
    check_against_torch(lambda x, w: _F(x).conv_transpose2d(x, w, stride=2, padding=1,
                                                            output_padding=1), inputs=arrs)


@pytest.mark.parametrize("xs,ws,geom", [
    ((5, 4, 7, 6), (6, 2, 3, 2), ck.Geom((2, 1), ((1, 0), (2, 1)), (1, 2), 2)),
    ((6, 3, 8, 8), (4, 3, 3, 3), ck.Geom((1, 1), ((1, 1), (1, 1)), (1, 1), 1)),
])
def test_kernels_equal_numpy_twins(xs, ws, geom, small_blocks):
    """Each raw pass on the compiled path equals the NumPy path (float64, tight)."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    osp = ck.conv_out_size(xs[2:], ws[2:], geom)
    g = rng.standard_normal((xs[0], ws[0]) + osp)

    def passes():
        return (ck.conv_forward(x, w, b, geom, osp), ck.conv_input_grad(g, w, xs, geom),
                ck.conv_weight_grad(x, g, ws, geom))

    got = passes()
    with jit.disabled():
        want = passes()
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_nan_propagates_like_torch():
    x = np.random.default_rng(4).standard_normal((3, 2, 6, 6)).astype(np.float32)
    x[1, 0, 2, 3] = np.nan
    x[2, 1, 0, 0] = np.inf
    w = np.ones((3, 2, 3, 3), np.float32)
    got = GF.conv2d(ganglion.from_numpy(x), ganglion.from_numpy(w), padding=1).numpy()
    want = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-5)


def test_scratch_reuse_across_shapes():
    """Buffers kept between calls never leak one call's data into another's result."""
    rng = np.random.default_rng(5)
    for xs, ws in [((4, 8, 10, 10), (6, 8, 3, 3)), ((2, 2, 5, 5), (3, 2, 3, 3)),
                   ((4, 8, 10, 10), (6, 8, 3, 3)), ((3, 1, 4, 4), (2, 1, 2, 2))]:
        x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws)
        w = w.astype(np.float32)
        got = GF.conv2d(ganglion.from_numpy(x), ganglion.from_numpy(w), padding=1).numpy()
        want = TF.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
