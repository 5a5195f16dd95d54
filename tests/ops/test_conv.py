"""Tests of the convolution family against torch: conv1d/2d/3d, conv_transpose1d/2d/3d,
unfold/fold and ``conv_pad``; forward, gradients, second derivatives, finite differences and
errors. ``jit_mode`` runs the comparisons on the compiled (conv_jit) and the NumPy paths."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as GF
from ganglion.ops.conv import conv_pad
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (input shape, weight shape, kwargs)
CONV2D = [
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((1, 4, 9, 8), (6, 2, 3, 3), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2),
                                  "groups": 2}),
    ((2, 4, 6, 6), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise
    ((2, 4, 6, 6), (8, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise multiplier 2
    ((2, 6, 5, 5), (4, 6, 1, 1), {}),  # pointwise
    ((2, 3, 8, 8), (4, 3, 2, 2), {"stride": 2}),  # disjoint windows
    ((2, 3, 8, 7), (5, 3, 4, 3), {"padding": "same"}),  # even kernel: asymmetric padding
    ((2, 3, 8, 7), (5, 3, 3, 3), {"padding": "same", "dilation": (2, 1)}),
    ((2, 3, 5, 6), (2, 3, 3, 3), {"padding": "valid", "stride": (1, 3)}),
    ((3, 5, 5), (2, 3, 3, 3), {"padding": 1}),  # unbatched
    ((0, 3, 5, 5), (2, 3, 3, 3), {}),  # empty batch
    ((2, 3, 5, 5), (2, 3, 5, 5), {}),  # kernel covers the whole input
]


def _bias_inputs(xs, ws, bias, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrs = [rng.uniform(-1, 1, xs).astype(dtype), rng.uniform(-1, 1, ws).astype(dtype)]
    if bias:
        arrs.append(rng.uniform(-1, 1, ws[0]).astype(dtype))
    return arrs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONV2D)
def test_conv2d_matches_torch(xs, ws, kw, dtype, jit_mode):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    check_against_torch(lambda x, w, b: _F(x).conv2d(x, w, b, **kw),
                        inputs=_bias_inputs(xs, ws, True, dtype), atol=tol, rtol=tol,
                        gradgrad=dtype == np.float64)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 9), (4, 3, 3), {}), ((2, 4, 9), (6, 2, 3), {"stride": 2, "padding": 2,
                                                         "dilation": 2, "groups": 2}),
    ((3, 9), (4, 3, 4), {"padding": "same"}), ((2, 3, 9), (4, 3, 1), {"stride": 3}),
])
def test_conv1d_matches_torch(xs, ws, kw, jit_mode):
    check_against_torch(lambda x, w, b: _F(x).conv1d(x, w, b, **kw),
                        inputs=_bias_inputs(xs, ws, True, np.float64), gradgrad=True)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 2, 5, 4, 6), (3, 2, 3, 2, 3), {"padding": (1, 0, 1), "stride": (1, 2, 2)}),
    ((1, 4, 4, 5, 5), (4, 2, 2, 3, 1), {"groups": 2, "dilation": (2, 1, 1)}),
])
def test_conv3d_matches_torch(xs, ws, kw, jit_mode):
    check_against_torch(lambda x, w, b: _F(x).conv3d(x, w, b, **kw),
                        inputs=_bias_inputs(xs, ws, True, np.float64), gradgrad=True)


def _F(x):
    return GF if isinstance(x, ganglion.Tensor) else TF


CONVT2D = [
    ((2, 4, 5, 5), (4, 3, 3, 3), {}),
    ((2, 4, 5, 4), (4, 3, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 4, 5), (4, 2, 3, 2), {"stride": (2, 3), "padding": (1, 0),
                                  "output_padding": (0, 2), "groups": 2, "dilation": (1, 2)}),
    ((2, 4, 3, 3), (4, 2, 2, 2), {"stride": 2}),  # disjoint taps (U-Net upsampling)
    ((2, 3, 3, 4), (3, 2, 3, 3), {"dilation": 2, "output_padding": 1}),  # op < dilation only
    ((4, 3, 3), (4, 2, 2, 2), {"stride": 2}),  # unbatched
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONVT2D)
def test_conv_transpose2d_matches_torch(xs, ws, kw, dtype, jit_mode):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    groups = kw.get("groups", 1)
    arrs = _bias_inputs(xs, ws, False, dtype)
    arrs.append(np.random.default_rng(3).uniform(-1, 1, ws[1] * groups).astype(dtype))
    check_against_torch(lambda x, w, b: _F(x).conv_transpose2d(x, w, b, **kw), inputs=arrs,
                        atol=tol, rtol=tol, gradgrad=dtype == np.float64)


@pytest.mark.parametrize("fn,xs,ws,kw", [
    ("conv_transpose1d", (2, 3, 6), (3, 2, 3), {"stride": 3, "padding": 1,
                                                "output_padding": 2}),
    ("conv_transpose1d", (2, 4, 6), (4, 1, 2), {"groups": 4, "dilation": 3}),
    ("conv_transpose3d", (1, 2, 3, 3, 2), (2, 2, 2, 3, 2), {"stride": (2, 1, 2),
                                                            "padding": (0, 1, 1)}),
])
def test_conv_transpose_1d_3d_match_torch(fn, xs, ws, kw, jit_mode):
    check_against_torch(lambda x, w: getattr(_F(x), fn)(x, w, **kw),
                        inputs=_bias_inputs(xs, ws, False, np.float64), gradgrad=True)


@pytest.mark.parametrize("xs,kw", [
    ((2, 3, 6, 5), {"kernel_size": 3}),
    ((2, 2, 7, 6), {"kernel_size": (2, 3), "dilation": (2, 1), "padding": (1, 2),
                    "stride": (2, 1)}),
    ((3, 5, 5), {"kernel_size": 2, "stride": 2, "padding": 1}),
])
def test_unfold_fold_match_torch(xs, kw, jit_mode):
    check_against_torch(lambda x: _F(x).unfold(x, **kw), shapes=[xs], dtype=np.float64,
                        gradgrad=True)
    cols = TF.unfold(torch.zeros(xs), **kw)
    size = xs[-2:]
    check_against_torch(lambda c: _F(c).fold(c, size, **kw), shapes=[tuple(cols.shape)],
                        dtype=np.float64, gradgrad=True)


def test_conv_noncontiguous_input(jit_mode):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 3, 9, 8)).transpose(0, 1, 3, 2)
    w = rng.uniform(-1, 1, (4, 3, 3, 3))
    check_against_torch(lambda a, b: _F(a).conv2d(a, b, padding=1), inputs=[x, w],
                        noncontig=True)


def test_second_derivative_mixed_terms(jit_mode):
    # d/dx of <grad_w, v> needs ConvTranspose of the weight cotangent; compare everything.
    rng = np.random.default_rng(2)
    arrs = [rng.uniform(-1, 1, (2, 2, 6, 5)), rng.uniform(-1, 1, (3, 2, 3, 2))]

    def f(x, w):
        y = _F(x).conv2d(x, w, stride=(2, 1), padding=1)
        return (y * y).sum()  # nonlinear in (x, w): the Hessian has every block

    check_against_torch(f, inputs=arrs, gradgrad=True)


def test_conv_gradcheck_finite_differences():
    rng = np.random.default_rng(3)
    x, w, b = rng.uniform(-1, 1, (2, 4, 5, 4)), rng.uniform(-1, 1, (2, 2, 2, 3)), rng.normal(size=2)
    gradcheck(lambda x, w, b: GF.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2),
              [x, w, b], eps=1e-6, atol=1e-6, rtol=1e-4)
    wt = rng.uniform(-1, 1, (4, 1, 3, 2))
    gradcheck(lambda x, w: GF.conv_transpose2d(x, w, stride=2, output_padding=1, groups=2),
              [x, wt], eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv_pad_modes_match_torch_layer(mode, padding):
    layer = torch.nn.Conv2d(2, 3, (3, 4), padding=padding, padding_mode=mode, dtype=torch.float64)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 2, 6, 7))
    want = layer(torch.from_numpy(x)).detach().numpy()
    xg, p = conv_pad(ganglion.from_numpy(x), padding, (3, 4), 1, mode)
    got = GF.conv2d(xg, ganglion.from_numpy(layer.weight.detach().numpy()),
                    ganglion.from_numpy(layer.bias.detach().numpy()), 1, p)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_conv_pad_zeros_is_identity():
    x = ganglion.ones(1, 1, 3, 3)
    assert conv_pad(x, 1, (3, 3)) == (x, 1)
    with pytest.raises(ValueError, match="padding_mode"):
        conv_pad(x, 1, (3, 3), padding_mode="mirror")


def _t(*shape, dtype=ganglion.float32):
    return ganglion.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize("call,match", [
    (lambda: GF.conv2d(_t(1, 4, 8, 8), _t(16, 3, 3, 3)),
     r"conv2d: expected input with 3 channels \(weight shape \(16, 3, 3, 3\)\), but got "
     r"input of shape \(1, 4, 8, 8\)"),
    (lambda: GF.conv2d(_t(1, 3, 2, 2), _t(16, 3, 3, 3)), "conv2d: .*kernel"),
    (lambda: GF.conv2d(_t(1, 6, 5, 5), _t(5, 3, 3, 3), groups=2), "conv2d: .*divisible"),
    (lambda: GF.conv2d(_t(1, 4, 5, 5), _t(4, 3, 3, 3), groups=2), "conv2d: expected input"),
    (lambda: GF.conv2d(_t(3, 2), _t(16, 3, 3, 3)), r"conv2d: expected 3D .* \(3, 2\)"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5), _t(16, 3, 3)), "conv2d: expected a 4-D weight"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=2, padding="same"),
     "conv2d: padding='same'"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5, dtype=ganglion.float64), _t(4, 3, 3, 3)),
     "conv2d: .*dtype"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), _t(3)), r"conv2d: .*bias of shape"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding=-1), "conv2d: negative"),
    (lambda: GF.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=0), "conv2d: stride"),
    (lambda: GF.conv1d(_t(1, 3, 5), _t(4, 3, 3), padding=(1, 1)), "conv1d: expected padding"),
    (lambda: GF.conv_transpose2d(_t(1, 3, 5, 5), _t(4, 2, 3, 3)),
     "conv_transpose2d: expected input with 4 channels"),
    (lambda: GF.conv_transpose2d(_t(1, 4, 5, 5), _t(4, 2, 3, 3), stride=2, output_padding=2),
     "conv_transpose2d: output padding"),
    (lambda: GF.conv_transpose2d(_t(1, 4, 1, 1), _t(4, 2, 1, 1), padding=1),
     "conv_transpose2d: .*too small"),
    (lambda: GF.fold(_t(1, 5, 4), (3, 3), 2), "fold: .*divisible"),
    (lambda: GF.fold(_t(1, 4, 5), (3, 3), 2), "fold: .*blocks"),
    (lambda: GF.unfold(_t(1, 1, 2, 2), 3), "unfold: .*larger"),
])
def test_conv_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_conv_type_errors_and_int_inputs():
    with pytest.raises(TypeError, match="conv2d"):
        GF.conv2d(np.zeros((1, 3, 5, 5)), _t(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="conv2d: expected a floating"):
        GF.conv2d(_t(1, 3, 5, 5, dtype=ganglion.int64), _t(4, 3, 3, 3, dtype=ganglion.int64))
    with pytest.raises(TypeError, match="conv_transpose2d"):
        GF.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 3, 3, 3), padding="same")
    with pytest.raises(NotImplementedError, match="unfold"):
        GF.unfold(_t(1, 1, 2, 2, 2), 1)


def test_conv_float32_stays_float32_and_skips_unneeded_grads():
    x = ganglion.randn(2, 3, 6, 6)
    w = ganglion.randn(4, 3, 3, 3, requires_grad=True)
    y = GF.conv2d(x, w)
    assert y.dtype == ganglion.float32
    y.sum().backward()
    assert x.grad is None and w.grad.dtype == ganglion.float32
