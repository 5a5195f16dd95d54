"""Tests of resampling against torch: ``interpolate`` in every mode (size vs scale_factor,
align_corners, recompute_scale_factor, torch's 2-D nearest special cases), gradients and second
derivatives, ``pixel_shuffle``/``pixel_unshuffle``, the deprecated aliases, errors."""
import warnings

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as GF
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _F(x):
    return GF if isinstance(x, ganglion.Tensor) else TF


CASES = [
    ("nearest", (2, 3, 5), {"scale_factor": 1.7}),
    ("nearest", (2, 2, 5, 4), {"scale_factor": 2.1}),  # 2-D: doubled size halves the index
    ("nearest", (2, 2, 5, 4), {"scale_factor": (1.1, 0.6)}),  # 2-D: equal size copies
    ("nearest", (1, 2, 3, 4, 5), {"size": (5, 3, 7)}),
    ("nearest-exact", (2, 2, 5, 6), {"scale_factor": 1.5}),
    ("nearest-exact", (2, 3, 7), {"size": 4}),
    ("linear", (2, 3, 5), {"scale_factor": 2.5}),
    ("linear", (2, 3, 5), {"size": 8, "align_corners": True}),
    ("linear", (2, 3, 6), {"scale_factor": 0.7, "recompute_scale_factor": True}),
    ("bilinear", (2, 2, 4, 5), {"scale_factor": 2}),
    ("bilinear", (2, 2, 4, 5), {"size": (7, 3), "align_corners": True}),
    ("bilinear", (1, 2, 6, 7), {"scale_factor": (0.6, 1.3)}),
    ("bilinear", (1, 2, 6, 7), {"size": (6, 1), "align_corners": True}),
    ("bicubic", (2, 2, 4, 5), {"scale_factor": 1.5}),
    ("bicubic", (2, 2, 5, 4), {"size": (3, 8), "align_corners": True}),
    ("trilinear", (1, 2, 3, 4, 3), {"scale_factor": 1.5}),
    ("trilinear", (1, 2, 3, 4, 3), {"size": (2, 5, 3), "align_corners": True}),
    ("area", (2, 2, 7, 6), {"size": (3, 4)}),
    ("area", (2, 3, 8), {"scale_factor": 0.5}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,kw", CASES)
def test_interpolate_matches_torch(mode, shape, kw, dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    check_against_torch(lambda a: _F(a).interpolate(a, mode=mode, **kw), shapes=[shape],
                        dtype=dtype, atol=tol, rtol=tol, gradgrad=dtype == np.float64)


def test_interpolate_random_configurations_match_torch():
    rng = np.random.default_rng(0)
    modes = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]
    dims = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    for it in range(150):
        mode = modes[it % 7]
        nd = dims.get(mode, 1 + it % 3)
        x = rng.standard_normal((1, 2) + tuple(int(v) for v in rng.integers(1, 9, nd)))
        x = x.astype(np.float32)
        if it % 3 == 0:
            kw = {"size": tuple(int(v) for v in rng.integers(1, 13, nd))}
        else:
            kw = {"scale_factor": float(rng.choice([0.5, 1.5, 2, 3, 0.7, 1.3, 2.5, 1.1]))}
        if mode not in ("nearest", "nearest-exact", "area"):
            kw["align_corners"] = bool(it % 4 == 1)
        try:
            want = TF.interpolate(torch.from_numpy(x), mode=mode, **kw).numpy()
        except RuntimeError:  # an empty output; ganglion's error is tested below
            continue
        got = GF.interpolate(ganglion.from_numpy(x), mode=mode, **kw).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"{mode} {x.shape} {kw}")


def test_interpolate_nearest_integer_input():
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)  # torch: uint8 only
    check_against_torch(lambda a: _F(a).interpolate(a, scale_factor=1.5), inputs=[x])


def test_interpolate_gradcheck_finite_differences():
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4))
    for kw in ({"mode": "bilinear", "scale_factor": 1.5}, {"mode": "bicubic", "size": (5, 3),
                                                           "align_corners": True},
               {"mode": "nearest", "size": (5, 7)}, {"mode": "area", "size": (2, 3)}):
        gradcheck(lambda a: GF.interpolate(a, **kw), [x], eps=1e-6, atol=1e-6)


def test_interpolate_inf_stays_local():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0] = np.inf
    got = GF.interpolate(ganglion.from_numpy(x), scale_factor=2, mode="bilinear").numpy()
    want = TF.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear").numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


@pytest.mark.parametrize("shape,r", [((1, 8, 3, 2), 2), ((2, 1, 9, 4, 3), 3), ((4, 2, 3), 2)])
def test_pixel_shuffle_roundtrip_matches_torch(shape, r):
    check_against_torch(lambda a: _F(a).pixel_shuffle(a, r), shapes=[shape], dtype=np.float64,
                        gradgrad=True)
    out = tuple(shape[:-3]) + (shape[-3] // r ** 2, shape[-2] * r, shape[-1] * r)
    check_against_torch(lambda a: _F(a).pixel_unshuffle(a, r), shapes=[out], dtype=np.float64,
                        gradgrad=True)


def test_deprecated_aliases_warn_and_match():
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 3)).astype(np.float32)
    for name, kw in (("upsample", {"scale_factor": 2, "mode": "bilinear"}),
                     ("upsample_nearest", {"size": 5}), ("upsample_bilinear", {"size": 5})):
        with pytest.warns(UserWarning, match="deprecated"):
            got = getattr(GF, name)(ganglion.from_numpy(x), **kw).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = getattr(TF, name)(torch.from_numpy(x), **kw).numpy()
        np.testing.assert_allclose(got, want, atol=1e-6)


def _t(*shape):
    return ganglion.zeros(*shape)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: GF.interpolate(_t(1, 1, 4, 4), size=2, scale_factor=2), ValueError,
     "only one of size"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4)), ValueError, "either size or scale_factor"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4), size=2, align_corners=True), ValueError,
     "align_corners"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4), size=(2, 2, 2)), ValueError, r"\(1, 1, 4, 4\)"),
    (lambda: GF.interpolate(_t(1, 1, 4), size=2, mode="bilinear"), NotImplementedError,
     "bilinear"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4), size=2, mode="cubic"), NotImplementedError,
     "unknown mode"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4), scale_factor=0.1), RuntimeError, "greater than 0"),
    (lambda: GF.interpolate(_t(1, 1, 4, 4), size=2, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor"),
    (lambda: GF.pixel_shuffle(_t(1, 5, 2, 2), 2), RuntimeError, "pixel_shuffle: .*divisible"),
    (lambda: GF.pixel_unshuffle(_t(1, 1, 3, 4), 2), RuntimeError, "pixel_unshuffle"),
    (lambda: GF.pixel_shuffle(_t(4, 4), 2), RuntimeError, r"pixel_shuffle: .*\(4, 4\)"),
])
def test_upsample_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
