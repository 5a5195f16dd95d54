"""Targeted tests of the unary ops: dtypes, special values, tie rules, errors, accuracy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ganglion
from ganglion.ops import _special

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
FLOAT_OPS = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
             "reciprocal", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
             "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh",
             "arctanh", "sigmoid", "logit", "erf", "erfc", "erfinv", "deg2rad", "rad2deg"]
KEEP_OPS = ["neg", "negative", "abs", "absolute", "sign", "sgn", "square", "floor", "ceil",
            "round", "trunc", "fix", "frac", "nan_to_num", "positive"]


def _both(values, dtype):
    a = np.array(values).astype(dtype)
    return ganglion.tensor(a), torch.tensor(a)


def _np(t):
    """A torch tensor as a NumPy array (force: torch returns lazy ZeroTensors as gradients)."""
    return t.detach().numpy(force=True)


def _run(lib_fn, *args, **kwargs):
    try:
        return lib_fn(*args, **kwargs), None
    except Exception as e:  # noqa: BLE001 - the exception type is what we compare
        return None, e


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", FLOAT_OPS + KEEP_OPS)
def test_dtype_and_values_match_torch(name, dt):
    vals = [0, 1, 3, 0, 1, 2] if dt in ("bool", "uint8") else [-3, -1, 0, 1, 2, 0.5]
    if dt == "bool":
        vals = [v % 2 for v in vals]
    if name in ("asin", "acos", "atanh", "erfinv", "arcsin", "arccos", "arctanh", "logit"):
        vals = [v / 4 for v in vals] if dt.startswith("float") else vals
    g, t = _both(vals, dt)
    gr, ge = _run(getattr(ganglion, name), g)
    tr, te = _run(getattr(torch, name), t)
    if te is not None:
        assert ge is not None, f"{name}({dt}): torch raises {te!r}, ganglion returned {gr}"
        assert isinstance(ge, type(te)), f"{name}({dt}): {ge!r} vs torch's {te!r}"
        return
    assert ge is None, f"{name}({dt}) raised {ge!r}; torch gives {tr}"
    assert str(gr.dtype).split(".")[-1] == str(tr.dtype).split(".")[-1]
    tol = 2e-3 if dt == "float16" else 1e-6
    np.testing.assert_allclose(gr.numpy().astype(np.float64), tr.numpy().astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)
    assert getattr(g, name)().dtype == gr.dtype  # the Tensor method agrees


@pytest.mark.parametrize("name", ["exp", "log", "sigmoid", "tanh", "erf", "erfc", "erfinv",
                                  "atanh", "rsqrt", "reciprocal", "logit", "sign", "nan_to_num",
                                  "floor", "ceil", "trunc", "acosh", "log1p", "abs", "neg",
                                  "atan", "asinh", "sin", "frac", "square", "cosh"])
def test_special_values_match_torch_without_warnings(name):
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.0, 1e-30, -1e30],
                    np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(ganglion, name)(ganglion.tensor(vals)).numpy()
    ref = getattr(torch, name)(torch.tensor(vals)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=0, equal_nan=True)
    assert (np.signbit(out) == np.signbit(ref))[~np.isnan(ref)].all(), "signed zeros differ"


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1e4, -200.0, -88.7, -30.0, 0.0, 30.0, 88.7, 200.0, 1e4], np.float32)
    g = ganglion.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = g.sigmoid()
        y.sum().backward()
    t = torch.tensor(x, requires_grad=True)
    torch.sigmoid(t).sum().backward()
    assert y.dtype == ganglion.float32 and np.isfinite(y.detach().numpy()).all()
    np.testing.assert_allclose(y.detach().numpy(), _np(torch.sigmoid(t)),
                               rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(g.grad.numpy(), _np(t.grad), rtol=1e-6, atol=1e-30)


def test_tanh_and_sigmoid_save_their_output():
    x = ganglion.tensor([0.3, -0.2], requires_grad=True)
    for name in ("tanh", "sigmoid", "exp"):
        y = getattr(x, name)()
        (saved,) = y.grad_fn.saved_tensors
        # the output itself: its array at its place in the graph (a stand-in Tensor, so
        # that the node does not hold its own output in a reference cycle)
        assert saved.array is y.array, f"{name} should save its output, not its input"
        assert saved.grad_fn is y.grad_fn and saved._out_idx == y._out_idx
    import gc
    import weakref

    gc.disable()
    try:
        ref = weakref.ref(x.exp())
        assert ref() is None, "an output that saves itself is freed without the cyclic GC"
    finally:
        gc.enable()


def test_round_half_to_even_and_decimals_match_torch():
    vals = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 1.25, 0.125, 1234.5, -0.05, 2.675]
    for dt in (np.float32, np.float64, np.float16):
        g, t = _both(vals, dt)
        for d in (0, 1, 2, -1, -2):
            out = ganglion.round(g, decimals=d).numpy()
            ref = torch.round(t, decimals=d).numpy()
            np.testing.assert_array_equal(out, ref, err_msg=f"{dt} decimals={d}")
            assert np.array_equal(np.signbit(out), np.signbit(ref))


def test_round_integer_tensors():
    g, t = _both([-3, 2, 7], np.int64)
    out = g.round()
    assert out.dtype == ganglion.int64 and out.tolist() == torch.round(t).tolist()
    with pytest.raises(type(_run(torch.round, t, decimals=1)[1]), match="round"):
        g.round(decimals=1)
    with pytest.raises(TypeError, match="decimals"):
        ganglion.round(ganglion.tensor([1.5]), decimals=1.5)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "fix", "sign", "sgn"])
def test_piecewise_constant_ops_have_zero_gradient(name):
    x = np.array([-1.5, -0.5, 0.0, 0.5, 2.0, 2.5], np.float64)  # jumps and ties included
    g = ganglion.tensor(x, requires_grad=True)
    getattr(g, name)().sum().backward()
    t = torch.tensor(x, requires_grad=True)
    getattr(t, name)().sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), _np(t.grad))


def test_abs_gradient_is_zero_at_zero():
    x = np.array([-2.0, -0.0, 0.0, 3.0])
    g = ganglion.tensor(x, requires_grad=True)
    g.abs().sum().backward()
    t = torch.tensor(x, requires_grad=True)
    t.abs().sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), _np(t.grad))


@pytest.mark.parametrize("eps", [None, 0.0, 0.1, 0.6, -1.0])
def test_logit_eps_forward_and_gradient_match_torch(eps):
    x = np.array([-0.2, 0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 0.95, 1.0, 1.3])
    g = ganglion.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    gy, ty = ganglion.logit(g, eps), torch.logit(t, eps)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), equal_nan=True)
    gy.backward(ganglion.ones_like(gy))  # not sum(): the outputs hold +-inf
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(g.grad.numpy(), _np(t.grad), rtol=1e-12, equal_nan=True)


def test_nan_to_num_defaults_and_arguments_match_torch():
    vals = [np.nan, np.inf, -np.inf, 1.5, -2.0]
    for dt in (np.float16, np.float32, np.float64):
        g, t = _both(vals, dt)
        for kw in ({}, {"nan": 1.0}, {"posinf": 7.0, "neginf": -7}, {"nan": 2, "posinf": 1e10}):
            out = ganglion.nan_to_num(g, **kw)
            ref = torch.nan_to_num(t, **kw)
            assert out.dtype == g.dtype
            np.testing.assert_array_equal(out.numpy(), ref.numpy(), err_msg=f"{dt} {kw}")
    g, t = _both([1, 2], np.int32)
    assert ganglion.nan_to_num(g, nan=3.0).tolist() == torch.nan_to_num(t, nan=3.0).tolist()
    with pytest.raises(TypeError, match="nan_to_num"):
        ganglion.nan_to_num(ganglion.tensor([1.0]), nan="zero")


def test_erf_family_accuracy_float64_against_torch():
    x = np.concatenate([np.linspace(-6, 6, 2001), [0.0, -0.0, 1e-300, 0.46875, 4.0, -4.0]])
    for name in ("erf", "erfc"):
        out = getattr(ganglion, name)(ganglion.tensor(x)).numpy()
        ref = getattr(torch, name)(torch.tensor(x)).numpy()
        np.testing.assert_allclose(out, ref, rtol=5e-15, atol=1e-300, err_msg=name)
    p = np.concatenate([np.linspace(-0.999999, 0.999999, 2001), 1 - np.logspace(-15, -1, 50),
                        -np.logspace(-300, -1, 50)])
    out = ganglion.erfinv(ganglion.tensor(p)).numpy()
    np.testing.assert_allclose(out, torch.erfinv(torch.tensor(p)).numpy(), rtol=1e-13)


def test_erfc_tail_has_no_cancellation():
    x = np.array([5.0, 10.0, 15.0, 20.0, 25.0, 26.5, 27.0, 30.0, np.inf, -np.inf, np.nan])
    out = ganglion.erfc(ganglion.tensor(x)).numpy()
    ref = torch.erfc(torch.tensor(x)).numpy()
    # relative error bounded by the conditioning of erfc (~2 x^2 ulp), far from 1 - erf
    np.testing.assert_allclose(out, ref, rtol=2 * 30**2 * 2.3e-16, atol=1e-320, equal_nan=True)
    assert out[4] > 0  # erfc(25) ~ 8e-274, which 1 - erf(25) would lose entirely


def test_special_matches_scipy_when_available():
    sp = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-27, 27, 5001), np.logspace(-200, 1, 200)])
    np.testing.assert_allclose(_special.erf(x), sp.erf(x), rtol=2e-15, atol=1e-300)
    small = np.abs(x) <= 10  # beyond, erfc's conditioning (~2 x^2 ulp) dominates both
    # scipy's own erfc is off by up to ~1e-14 there (ganglion's is within 1e-15 of mpmath)
    np.testing.assert_allclose(_special.erfc(x[small]), sp.erfc(x[small]), rtol=2e-14)
    p = np.concatenate([np.linspace(-1, 1, 4001)[1:-1], 1 - np.logspace(-16, -1, 100)])
    np.testing.assert_allclose(_special.erfinv(p), sp.erfinv(p), rtol=2e-15)


def test_special_keeps_float32_and_promotes_ints():
    x32 = np.array([0.3, -1.2], np.float32)
    for fn in (_special.erf, _special.erfc, _special.erfinv):
        assert fn(x32).dtype == np.float32
        assert fn(np.array([0, 1])).dtype == np.float32
        assert fn(np.zeros((0, 3))).shape == (0, 3)
    assert _special.erf(np.array(0.5)).shape == ()


def test_erf_float32_within_two_ulp_of_exact():
    # the float32/float16 path is a separate rational fit: check it on a dense grid against
    # torch's float64 erf rounded to float32 (the bound it documents is 1.6 ulp)
    x = np.concatenate([np.linspace(-5, 5, 200_001), np.logspace(-38, 0.7, 2001)])
    x = np.concatenate([x, -x]).astype(np.float32)
    exact = torch.erf(torch.from_numpy(x.astype(np.float64))).numpy()
    ulp = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    err = np.abs(_special.erf(x).astype(np.float64) - exact) / ulp
    assert err.max() <= 2.0, f"erf float32: {err.max():.2f} ulp at x={x[err.argmax()]!r}"
    x16 = np.linspace(-5, 5, 4001).astype(np.float16)
    exact16 = torch.erf(torch.from_numpy(x16.astype(np.float64))).numpy()
    np.testing.assert_array_equal(_special.erf(x16), exact16.astype(np.float16))


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "abs", "floor", "erf", "round",
                                  "nan_to_num", "logit", "square", "sign"])
def test_inplace_variants_match_torch(name):
    x = np.array([0.2, -0.7, 0.4])
    g, t = ganglion.tensor(x), torch.tensor(x)
    r = getattr(g, name + "_")()
    getattr(t, name + "_")()
    assert r is g
    np.testing.assert_allclose(g.numpy(), t.numpy(), equal_nan=True)


def test_inplace_float_op_on_int_tensor_raises_like_torch():
    g, t = _both([1, 2], np.int64)
    with pytest.raises(RuntimeError):
        t.exp_()
    with pytest.raises(RuntimeError, match="exp_"):
        g.exp_()
    g.abs_()  # abs keeps the integer dtype: allowed
    g.neg_()
    assert g.dtype == ganglion.int64 and g.tolist() == [-1, -2]


def test_out_argument():
    x = ganglion.tensor([1.0, 2.0])
    out = ganglion.empty(2, dtype=ganglion.float64)
    r = ganglion.exp(x, out=out)
    assert r is out and np.allclose(out.numpy(), np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="exp"):
        ganglion.exp(x, out=ganglion.empty(2, dtype=ganglion.int64))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        ganglion.exp(x.requires_grad_(), out=ganglion.empty(2))


@pytest.mark.parametrize("name,dt", [("abs", "bool"), ("neg", "bool"), ("floor", "bool"),
                                     ("frac", "int64"), ("frac", "bool"), ("positive", "bool"),
                                     ("round", "bool"), ("trunc", "bool")])
def test_errors_match_torch(name, dt):
    g, t = _both([1, 0], dt)
    _, te = _run(getattr(torch, name), t)
    assert te is not None
    with pytest.raises(type(te), match=name):
        getattr(ganglion, name)(g)


@pytest.mark.parametrize("name", ["exp", "abs", "floor", "sigmoid", "logit", "nan_to_num",
                                  "erf", "neg", "sign", "square", "round"])
def test_non_tensor_input_raises_type_error(name):
    with pytest.raises(TypeError, match=name):
        getattr(ganglion, name)([1.0, 2.0])


def test_grad_fn_names_match_torch():
    x = np.array([0.3, 0.6])
    g = ganglion.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    for name in ("exp", "log1p", "sigmoid", "abs", "erfinv", "floor", "frac", "square",
                 "deg2rad", "nan_to_num", "logit", "sgn", "tanh", "acosh"):
        assert getattr(g, name)().grad_fn.name() == getattr(t, name)().grad_fn.name(), name


def test_float32_stays_float32_through_backward():
    x = ganglion.tensor([0.3, 0.6], requires_grad=True)
    for name in FLOAT_OPS + ["abs", "square", "frac", "floor"]:
        x.grad = None
        getattr(x, name)().sum().backward()
        assert x.grad.dtype == ganglion.float32, name


def test_second_derivatives_match_torch():
    x = np.array([0.3, -0.6, 0.8])
    for name in ("tanh", "sigmoid", "erf", "erfinv", "logit", "atanh", "rsqrt", "abs"):
        vals = np.abs(x) if name in ("rsqrt", "logit") else x
        g = ganglion.tensor(vals, requires_grad=True)
        t = torch.tensor(vals, requires_grad=True)
        (gg,) = ganglion.autograd.grad(getattr(g, name)().sum(), [g], create_graph=True)
        (tg,) = torch.autograd.grad(getattr(t, name)().sum(), [t], create_graph=True)
        if not tg.requires_grad:  # e.g. abs: the second derivative is identically zero
            continue
        (gg2,) = ganglion.autograd.grad(gg.sum(), [g])
        (tg2,) = torch.autograd.grad(tg.sum(), [t])
        np.testing.assert_allclose(gg2.numpy(), _np(tg2), rtol=1e-10, err_msg=name)


@pytest.mark.parametrize("shape", [(8, 8), (300, 300), (70, 40)])
def test_sigmoid_compiled_paths_match_torch_and_numpy(shape):
    """float32 sigmoid runs one compiled pass each way (serial small, parallel from 64K
    elements; a transposed input takes NumPy's path): all agree with torch to rounding."""
    from ganglion.backend import jit

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    x.flat[:4] = [np.nan, np.inf, -np.inf, -95.0]
    g = rng.standard_normal(shape).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    torch.sigmoid(t).backward(torch.tensor(g))
    results = []
    for off in (False, True):
        a = ganglion.tensor(x, requires_grad=True)
        ctx = jit.disabled() if off else warnings.catch_warnings()
        with ctx:
            y = a.sigmoid()
            y.backward(ganglion.tensor(g))
        results.append((y.detach().numpy(), a.grad.numpy()))
        np.testing.assert_allclose(results[-1][0], _np(torch.sigmoid(t)), rtol=3e-7,
                                   atol=1e-37)
        # (1 - y) cancels near y = 1: one ulp of y there is a large relative change, in
        # torch's float32 formula as in ours, so the gradient compares absolutely
        np.testing.assert_allclose(results[-1][1], _np(t.grad), rtol=2e-6, atol=5e-7)
    # a non-contiguous input (NumPy's path when compiled) and its gradient
    a = ganglion.tensor(x.T.copy(), requires_grad=True)
    y = a.t().sigmoid()
    y.backward(ganglion.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), results[0][0], rtol=3e-7, atol=1e-37)
    np.testing.assert_allclose(a.grad.numpy().T, results[0][1], rtol=2e-6, atol=5e-7)
