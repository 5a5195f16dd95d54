"""Normalization ops vs torch: forward, gradients of every input, second derivatives, running
statistics, finite differences, errors."""
import warnings

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(atol=1e-6, rtol=1e-6) if dtype == np.float64 else dict(atol=2e-5, rtol=2e-4)


def _arr(shape, dtype, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _both(name, **kw):
    """(ganglion fn, torch fn) calling F.<name>(*tensors, **kw), tensors wrapped as needed."""
    def conv(mod, v):
        return mod.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v
    return (lambda *a: getattr(F, name)(*a, **{k: conv(ganglion, v) for k, v in kw.items()}),
            lambda *a: getattr(TF, name)(*a, **{k: conv(torch, v) for k, v in kw.items()}))


# --------------------------------------------------------------------------- batch_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(dtype, shape, affine):
    c = shape[1]
    arrays = [_arr(shape, dtype)]
    if affine:
        arrays += [_arr((c,), dtype, 1), _arr((c,), dtype, 2)]

    def fn(mod):
        def f(x, *wb):
            return mod.nn.functional.batch_norm(x, None, None, *wb, training=True, eps=1e-3)
        return f
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 2, 2)])
def test_batch_norm_eval_matches_torch(dtype, shape):
    rm, rv = _arr((3,), dtype, 5), _arr((3,), dtype, 6, 0.5, 2.0)

    def fn(mod):
        def f(x, w, b):
            return mod.nn.functional.batch_norm(x, mod.from_numpy(rm.copy()),
                                                mod.from_numpy(rv.copy()), w, b)
        return f
    arrays = [_arr(shape, dtype), _arr((3,), dtype, 1), _arr((3,), dtype, 2)]
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_updates_running_stats_like_torch(momentum):
    x = _arr((6, 3, 4), np.float32)
    g_rm, g_rv = ganglion.zeros(3), ganglion.ones(3)
    t_rm, t_rv = torch.zeros(3), torch.ones(3)
    for _ in range(3):
        F.batch_norm(ganglion.from_numpy(x), g_rm, g_rv, training=True, momentum=momentum)
        TF.batch_norm(torch.from_numpy(x), t_rm, t_rv, training=True, momentum=momentum)
    np.testing.assert_allclose(g_rm.numpy(), t_rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_rv.numpy(), t_rv.numpy(), rtol=1e-5, atol=1e-6)  # unbiased


def test_batch_norm_running_stats_version_bumped():
    rm = ganglion.zeros(2)
    v = rm._version
    F.batch_norm(ganglion.randn(4, 2), rm, None, training=True)
    assert rm._version > v


def test_batch_norm_noncontiguous_input():
    x = _arr((4, 5, 3), np.float64).transpose(0, 2, 1)  # (4, 3, 5) strided
    f = _both("batch_norm", running_mean=None, running_var=None, training=True)
    check_against_torch(lambda t: f[0](t), inputs=[x], torch_fn=lambda t: f[1](t), atol=1e-10)


# ------------------------------------------------------------------------ instance_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 2, 3)])
def test_instance_norm_matches_torch(dtype, shape):
    arrays = [_arr(shape, dtype), _arr((3,), dtype, 1), _arr((3,), dtype, 2)]

    def fn(mod):
        return lambda x, w, b: mod.nn.functional.instance_norm(x, weight=w, bias=b)
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


def test_instance_norm_running_stats_and_eval_like_torch():
    x = _arr((4, 3, 5), np.float32)
    g_rm, g_rv = ganglion.zeros(3), ganglion.ones(3)
    t_rm, t_rv = torch.zeros(3), torch.ones(3)
    F.instance_norm(ganglion.from_numpy(x), g_rm, g_rv, momentum=0.3)
    TF.instance_norm(torch.from_numpy(x), t_rm, t_rv, momentum=0.3)
    np.testing.assert_allclose(g_rm.numpy(), t_rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_rv.numpy(), t_rv.numpy(), rtol=1e-5, atol=1e-6)

    def fn(mod, rm, rv):
        return lambda t: mod.nn.functional.instance_norm(t, rm, rv, use_input_stats=False)
    # the gradient is x-independent here (a constant scale): no second derivative to compare
    check_against_torch(fn(ganglion, g_rm, g_rv), inputs=[x], torch_fn=fn(torch, t_rm, t_rv))


# --------------------------------------------------------------- layer_norm / rms_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", [((4, 6), (6,)), ((2, 3, 4), (3, 4)), ((5,), (5,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(dtype, shape, ns, affine):
    nsh = (ns,) if isinstance(ns, int) else ns
    arrays = [_arr(shape, dtype)]
    if affine:
        arrays += [_arr(nsh, dtype, 1), _arr(nsh, dtype, 2)]

    def fn(mod):
        return lambda x, *wb: mod.nn.functional.layer_norm(x, ns, *wb, eps=1e-4)
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


def test_layer_norm_weight_only_and_empty_batch():
    w = _arr((4,), np.float64, 1)

    def fn(mod):
        return lambda x, w: mod.nn.functional.layer_norm(x, (4,), w)
    check_against_torch(fn(ganglion), inputs=[_arr((3, 4), np.float64), w], torch_fn=fn(torch),
                        gradgrad=True, atol=1e-10)
    check_against_torch(fn(ganglion), inputs=[np.zeros((0, 4)), w], torch_fn=fn(torch))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_matches_torch(dtype, eps, with_weight):
    arrays = [_arr((3, 2, 5), dtype)] + ([_arr((2, 5), dtype, 1)] if with_weight else [])

    def fn(mod):
        return lambda x, *w: mod.nn.functional.rms_norm(x, (2, 5), *w, eps=eps)
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


# ------------------------------------------------------------------------- group_norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 8), 2), ((2, 6, 4), 2), ((2, 4, 2, 3), 4),
                                          ((1, 4, 3), 1)])
def test_group_norm_matches_torch(dtype, shape, groups):
    c = shape[1]
    arrays = [_arr(shape, dtype), _arr((c,), dtype, 1), _arr((c,), dtype, 2)]

    def fn(mod):
        return lambda x, w, b: mod.nn.functional.group_norm(x, groups, w, b)
    check_against_torch(fn(ganglion), inputs=arrays, torch_fn=fn(torch), gradgrad=True,
                        **_tol(dtype))


# ----------------------------------------------------- normalize / local_response_norm
@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize_matches_torch(p, dim):
    f = _both("normalize", p=p, dim=dim)
    check_against_torch(f[0], inputs=[_arr((3, 4), np.float64)], torch_fn=f[1], gradgrad=True,
                        atol=1e-10)


def test_normalize_zero_vector_uses_eps_like_torch():
    x = np.zeros((2, 3))
    x[1] = [1.0, 2.0, 2.0]
    f = _both("normalize")
    check_against_torch(f[0], inputs=[x], torch_fn=f[1], atol=1e-10)


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((1, 4, 2, 3), 2), ((1, 3, 2, 2, 2), 4)])
def test_local_response_norm_matches_torch(shape, size):
    f = _both("local_response_norm", size=size, alpha=0.5, beta=0.7, k=1.5)
    check_against_torch(f[0], inputs=[_arr(shape, np.float64)], torch_fn=f[1], gradgrad=True,
                        atol=1e-10)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: F.instance_norm(x.reshape(2, 3, 2), weight=w, bias=b),
    lambda x, w, b: F.layer_norm(x.reshape(3, 4)[:, :3], (3,), w, b),
    lambda x, w, b: F.group_norm(x.reshape(2, 3, 2), 3, w, b),
    lambda x, w, b: F.rms_norm(x.reshape(4, 3), (3,), w) + b,
])
def test_norms_finite_differences(fn):
    rng = np.random.default_rng(3)
    x = ganglion.from_numpy(rng.normal(size=(4, 3))).requires_grad_()
    w = ganglion.from_numpy(rng.normal(size=3)).requires_grad_()
    b = ganglion.from_numpy(rng.normal(size=3)).requires_grad_()
    assert gradcheck(fn, [x, w, b], eps=1e-6, atol=1e-6, rtol=1e-4)


def test_layer_norm_double_backward_finite_differences():
    rng = np.random.default_rng(4)
    x = ganglion.from_numpy(rng.normal(size=(2, 4))).requires_grad_()
    w = ganglion.from_numpy(rng.normal(size=4)).requires_grad_()

    def grad_fn(x, w):
        y = F.layer_norm(x, (4,), w)
        gx, gw = ganglion.autograd.grad((y * y * y).sum(), [x, w], create_graph=True)
        return gx.sum() + (gw * gw).sum()
    assert gradcheck(grad_fn, [x, w], eps=1e-6, atol=1e-5, rtol=1e-3)


# ------------------------------------------------------------------------------ errors
def _raises_both(exc, match, g_call, t_call):
    with pytest.raises(exc):
        t_call()
    with pytest.raises(exc, match=match):
        g_call()


def test_batch_norm_errors_like_torch():
    g, t = ganglion.randn(1, 3), torch.randn(1, 3)
    _raises_both(ValueError, "batch_norm.*more than 1 value per channel",
                 lambda: F.batch_norm(g, None, None, training=True),
                 lambda: TF.batch_norm(t, None, None, training=True))
    g, t = ganglion.randn(2, 3), torch.randn(2, 3)
    _raises_both(RuntimeError, "batch_norm: running_mean should contain 3 elements not 4",
                 lambda: F.batch_norm(g, ganglion.zeros(4), ganglion.ones(4), training=True),
                 lambda: TF.batch_norm(t, torch.zeros(4), torch.ones(4), training=True))
    _raises_both(RuntimeError, "batch_norm: running_mean must be defined in evaluation mode",
                 lambda: F.batch_norm(g, None, None), lambda: TF.batch_norm(t, None, None))
    _raises_both(RuntimeError, "batch_norm: weight should contain 3 elements not 4",
                 lambda: F.batch_norm(g, None, None, ganglion.ones(4), training=True),
                 lambda: TF.batch_norm(t, None, None, torch.ones(4), training=True))


def test_layer_group_instance_rms_errors_like_torch():
    g, t = ganglion.randn(2, 3), torch.randn(2, 3)
    _raises_both(RuntimeError, r"layer_norm: Given normalized_shape=\[4\]",
                 lambda: F.layer_norm(g, (4,)), lambda: TF.layer_norm(t, (4,)))
    _raises_both(RuntimeError, "layer_norm: Expected weight to be of same shape",
                 lambda: F.layer_norm(g, (3,), ganglion.ones(4)),
                 lambda: TF.layer_norm(t, (3,), torch.ones(4)))
    _raises_both(RuntimeError, r"rms_norm: Given normalized_shape=\[4\]",
                 lambda: F.rms_norm(g, (4,)), lambda: TF.rms_norm(t, (4,)))
    g, t = ganglion.randn(2, 6), torch.randn(2, 6)
    _raises_both(RuntimeError, "group_norm: .*divisible by num_groups.*num_groups=4",
                 lambda: F.group_norm(g, 4), lambda: TF.group_norm(t, 4))
    _raises_both(RuntimeError, "group_norm: Expected weight to be a vector",
                 lambda: F.group_norm(g, 3, ganglion.ones(5)),
                 lambda: TF.group_norm(t, 3, torch.ones(5)))
    g, t = ganglion.randn(2, 3, 1), torch.randn(2, 3, 1)
    _raises_both(ValueError, "instance_norm: Expected more than 1 spatial element",
                 lambda: F.instance_norm(g), lambda: TF.instance_norm(t))
    with pytest.raises(RuntimeError, match="layer_norm: expected a floating point input"):
        F.layer_norm(ganglion.ones(2, 3, dtype=ganglion.int64), (3,))
    with pytest.raises(ValueError, match="local_response_norm: Expected 3D or higher"):
        F.local_response_norm(ganglion.ones(2, 3), 2)


def test_norm_output_dtype_follows_input():
    for dt, tdt in [(ganglion.float64, torch.float64), (ganglion.float32, torch.float32)]:
        out = F.layer_norm(ganglion.ones(2, 3, dtype=dt), (3,))
        assert str(out.dtype).split(".")[-1] == str(tdt).split(".")[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy float warnings leak out of the fused op
        F.batch_norm(ganglion.zeros(4, 2), None, None, training=True)
