"""Batch, layer and RMS norm on both paths (compiled kernels and NumPy) vs torch: the shapes the
kernels special-case, accuracy with a large mean, running statistics, eval mode, NaN, and a
compiled forward whose backward runs with the kernels off."""
import numpy as np
import pytest

import ganglion
from ganglion.backend import jit
from ganglion.testing import check_against_torch

torch = pytest.importorskip("torch")


def _tol(dtype):
    return dict(atol=1e-9, rtol=1e-9) if dtype == np.float64 else dict(atol=3e-5, rtol=3e-4)


def _arr(shape, dtype, seed=0, loc=0.0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + loc).astype(dtype)


def _bn(mod, training=True, **kw):
    def f(x, w, b):
        return mod.nn.functional.batch_norm(x, None, None, w, b, training=training, **kw)
    return f


# (N, C) takes the kernels' sample-row branch, the others the (n, c)-row branch
@pytest.mark.parametrize("shape", [(7, 3), (5, 4, 1), (3, 5, 17), (2, 3, 4, 5), (33, 2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_both_paths(jit_mode, shape, dtype):
    c = shape[1]
    inputs = [_arr(shape, dtype), _arr((c,), dtype, 1), _arr((c,), dtype, 2)]
    check_against_torch(_bn(ganglion), inputs=inputs, torch_fn=_bn(torch), **_tol(dtype))


def _bn_step(lib, arrays, dtype):
    x, w, b, cot = (lib.from_numpy(a.astype(dtype)) for a in arrays)
    for t in (x, w, b):
        t.requires_grad_(True)
    out = lib.nn.functional.batch_norm(x, None, None, w, b, training=True)
    out.backward(cot)
    return [t.detach().numpy().astype(np.float64) for t in (out, x.grad, w.grad, b.grad)]


def test_batch_norm_kernels_accurate_with_large_mean():
    # mean 1e3, std 1e-1: a one-pass variance without a shift would lose every digit. The
    # kernels (float64 sums) must stay within twice torch's own float32 error of the float64
    # result, output and every gradient.
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    arrays = [_arr((16, 4, 50), np.float32, loc=1e3, scale=0.1), _arr((4,), np.float32, 1),
              _arr((4,), np.float32, 2), _arr((16, 4, 50), np.float32, 3)]
    ref = _bn_step(torch, arrays, np.float64)
    ours, theirs = _bn_step(ganglion, arrays, np.float32), _bn_step(torch, arrays, np.float32)
    for a, t, r in zip(ours, theirs, ref):
        assert np.abs(a - r).max() <= 2 * np.abs(t - r).max() + 1e-6


@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_batch_norm_running_stats_both_paths(jit_mode, momentum):
    x = _arr((6, 3, 10), np.float32, loc=2.0)
    g = [ganglion.zeros(3), ganglion.ones(3)]
    t = [torch.zeros(3), torch.ones(3)]
    for _ in range(3):
        ganglion.nn.functional.batch_norm(ganglion.from_numpy(x), *g, training=True,
                                          momentum=momentum)
        torch.nn.functional.batch_norm(torch.from_numpy(x), *t, training=True, momentum=momentum)
    for a, r in zip(g, t):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(9, 3), (4, 3, 7, 2)])
def test_batch_norm_eval_both_paths(jit_mode, shape):
    rm, rv = _arr((3,), np.float32, 5), np.abs(_arr((3,), np.float32, 6)) + 0.5

    def fn(mod):
        def f(x, w, b):
            return mod.nn.functional.batch_norm(x, mod.from_numpy(rm), mod.from_numpy(rv), w, b)
        return f
    inputs = [_arr(shape, np.float32), _arr((3,), np.float32, 1), _arr((3,), np.float32, 2)]
    check_against_torch(fn(ganglion), inputs=inputs, torch_fn=fn(torch), atol=1e-5, rtol=1e-4)


def test_batch_norm_without_affine_and_gradgrad(jit_mode):
    x = _arr((4, 3, 5), np.float64)
    check_against_torch(lambda t: ganglion.nn.functional.batch_norm(t, None, None,
                                                                    training=True),
                        inputs=[x], torch_fn=lambda t: torch.nn.functional.batch_norm(
                            t, None, None, training=True), gradgrad=True, atol=1e-9)


def test_batch_norm_nan_poisons_its_channel_only(jit_mode):
    x = _arr((4, 3, 5), np.float32)
    x[1, 2, 3] = np.nan
    g = ganglion.nn.functional.batch_norm(ganglion.from_numpy(x), None, None,
                                          training=True).numpy()
    r = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, training=True).numpy()
    np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
    np.testing.assert_allclose(g[:, :2], r[:, :2], atol=1e-5)


def test_compiled_forward_then_numpy_backward():
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    x = ganglion.from_numpy(_arr((5, 3, 4), np.float64)).requires_grad_(True)
    w = ganglion.from_numpy(_arr((3,), np.float64, 1)).requires_grad_(True)
    out = ganglion.nn.functional.batch_norm(x, None, None, w, None, training=True)
    cot = ganglion.from_numpy(_arr((5, 3, 4), np.float64, 3))
    with jit.disabled():
        out.backward(cot)
    tx = torch.from_numpy(x.detach().numpy()).requires_grad_(True)
    tw = torch.from_numpy(w.detach().numpy()).requires_grad_(True)
    torch.nn.functional.batch_norm(tx, None, None, tw, None, training=True).backward(
        torch.from_numpy(cot.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("shape,ns", [((6, 8), (8,)), ((2, 5, 3, 4), (3, 4)), ((1, 1), (1,))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_both_paths(jit_mode, shape, ns, dtype, affine):
    inputs = [_arr(shape, dtype, loc=3.0)]
    if affine:
        inputs += [_arr(ns, dtype, 1), _arr(ns, dtype, 2)]

    def fn(mod):
        return lambda x, *wb: mod.nn.functional.layer_norm(x, ns, *wb, eps=1e-4)
    check_against_torch(fn(ganglion), inputs=inputs, torch_fn=fn(torch), **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_both_paths(jit_mode, dtype):
    inputs = [_arr((5, 7, 16), dtype), _arr((16,), dtype, 1)]

    def fn(mod):
        return lambda x, w: mod.nn.functional.rms_norm(x, (16,), w, eps=1e-6)
    check_against_torch(fn(ganglion), inputs=inputs, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


def test_layer_norm_nan_row(jit_mode):
    x = _arr((3, 6), np.float32)
    x[1, 0] = np.nan
    g = ganglion.nn.functional.layer_norm(ganglion.from_numpy(x), (6,)).numpy()
    r = torch.nn.functional.layer_norm(torch.from_numpy(x), (6,)).numpy()
    np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
    np.testing.assert_allclose(g[[0, 2]], r[[0, 2]], atol=1e-5)
