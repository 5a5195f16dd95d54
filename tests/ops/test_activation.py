"""Targeted tests of the activation family: errors, dtypes, in-place forms, stability."""
import warnings

import numpy as np
import pytest

import ganglion
import ganglion.ops.activation as GF
from ganglion.testing import check_against_torch
from tests.ops.table_activation import ROWS

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(fn_name, **kw):
    """(ganglion fn, torch fn) calling F.<fn_name>(x, **kw)."""
    return (lambda *t: getattr(GF, fn_name)(*t, **kw),
            lambda *t: getattr(TF, fn_name)(*t, **kw))


def _g(a):
    return ganglion.from_numpy(np.array(a))


def _t(a):
    return torch.from_numpy(np.array(a))


# ---------------------------------------------------------------------------------- errors
def test_glu_odd_dim_raises_like_torch():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is "
                                           "size 3"):
        GF.glu(_g(x), 1)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        TF.glu(_t(x), 1)
    with pytest.raises(RuntimeError, match="glu"):
        GF.glu(ganglion.tensor(1.0))
    with pytest.raises(IndexError, match="glu"):
        GF.glu(_g(x), 2)


@pytest.mark.parametrize("fn_name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((2, 3), 2), ((2, 3), -3), ((), 1)])
def test_softmax_bad_dim_raises_index_error(fn_name, shape, dim):
    x = np.zeros(shape, np.float32)
    with pytest.raises(IndexError):
        getattr(TF, fn_name)(_t(x), dim)
    with pytest.raises(IndexError, match=rf"{fn_name}.*range of \[.*but got {dim}"):
        getattr(GF, fn_name)(_g(x), dim)


def test_softmax_non_int_dim_raises_type_error():
    with pytest.raises(TypeError, match="softmax"):
        GF.softmax(ganglion.zeros(2), 0.5)


def test_prelu_errors_name_both_sizes():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(RuntimeError, match="parameter numbers = 2 and channel size = 3"):
        TF.prelu(_t(x), torch.zeros(2))
    with pytest.raises(RuntimeError, match="prelu.*parameter numbers = 2 and channel size = 3"):
        GF.prelu(_g(x), ganglion.zeros(2))
    with pytest.raises(RuntimeError, match="prelu.*ndim = 2"):
        GF.prelu(_g(x), ganglion.zeros(1, 3))
    with pytest.raises(RuntimeError, match="prelu.*Type promoting"):
        GF.prelu(_g(x), ganglion.zeros(3, dtype=ganglion.float64))
    with pytest.raises(RuntimeError, match="channel size = 1"):  # 1-d input: one channel
        GF.prelu(ganglion.zeros(3), ganglion.zeros(3))


@pytest.mark.parametrize("call,exc,match", [
    (lambda F, x: F.hardtanh(x, 1.0, -1.0), ValueError, "min_val cannot be greater"),
    (lambda F, x: F.gelu(x, approximate="foo"), RuntimeError, "approximate"),
    (lambda F, x: F.celu(x, alpha=0.0), RuntimeError, "alpha cannot be 0"),
    (lambda F, x: F.softshrink(x, -1.0), RuntimeError, "softshrink|lambda"),
    (lambda F, x: F.relu(3.0), TypeError, "relu"),
])
def test_bad_arguments_raise_like_torch(call, exc, match):
    with pytest.raises(exc):
        call(TF, torch.zeros(2))
    with pytest.raises(exc, match=match):
        call(GF, ganglion.zeros(2))


# ---------------------------------------------------------------------------------- dtypes
ALL_UNARY = ["relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "celu", "gelu", "silu",
             "mish", "softplus", "softsign", "hardsigmoid", "hardswish", "logsigmoid",
             "tanhshrink", "hardshrink", "softshrink", "rrelu", "glu"]
EXTRA = {"threshold": {"threshold": 1.0, "value": 5.0}, "softmax": {"dim": -1},
         "log_softmax": {"dim": -1}, "softmin": {"dim": -1}}


@pytest.mark.parametrize("fn_name", ALL_UNARY + list(EXTRA))
@pytest.mark.parametrize("np_dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_and_bool_inputs_match_torch(fn_name, np_dtype):
    g_fn, t_fn = _pair(fn_name, **EXTRA.get(fn_name, {}))
    a = np.array([[-2, 1, 3, 0]]).astype(np_dtype)
    try:
        expected = t_fn(_t(a))
    except RuntimeError as e:  # NotImplementedError included: the exact type must match
        with pytest.raises(RuntimeError) as info:
            g_fn(_g(a))
        assert info.type is type(e), f"{info.type.__name__} raised, torch raises {e!r}"
        assert fn_name in str(info.value) or "Negation" in str(info.value)
        return
    got = g_fn(_g(a))
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fn_name", ALL_UNARY + list(EXTRA))
def test_float16_matches_torch(fn_name):
    g_fn, t_fn = _pair(fn_name, **EXTRA.get(fn_name, {}))
    a = np.random.default_rng(0).uniform(-4, 4, (3, 4)).astype(np.float16)
    expected = t_fn(_t(a))
    got = g_fn(_g(a))
    assert got.dtype == ganglion.float16
    np.testing.assert_allclose(got.numpy().astype(np.float64), expected.numpy(), rtol=2e-3,
                               atol=2e-3)


def test_float64_stays_float64_with_grad():
    x = ganglion.tensor([-1.5, 0.5, 2.0], dtype=ganglion.float64, requires_grad=True)
    for fn_name in ["gelu", "silu", "mish", "softplus", "elu", "relu", "logsigmoid"]:
        y = getattr(GF, fn_name)(x)
        assert y.dtype == ganglion.float64
        (gx,) = ganglion.autograd.grad(y.sum(), [x])
        assert gx.dtype == ganglion.float64


def test_softmax_dtype_argument_casts_before_the_op():
    a = np.array([[1, 2, 3], [0, 0, 5]])
    got = GF.softmax(_g(a), dim=1, dtype=ganglion.float64)
    expected = TF.softmax(_t(a), dim=1, dtype=torch.float64)
    assert got.dtype == ganglion.float64
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="softmax"):
        GF.softmax(_g(a), dim=1)
    # float32 -> float64 inside: the gradient comes back as float32, as in torch
    f = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    for name in ["softmax", "log_softmax", "softmin"]:
        check_against_torch(lambda x, n=name: getattr(GF, n)(x, 1, dtype=ganglion.float64),
                            inputs=[f],
                            torch_fn=lambda x, n=name: getattr(TF, n)(x, 1, dtype=torch.float64))
    h = GF.log_softmax(_g(f.astype(np.float16)), -1, dtype=ganglion.float32)
    assert h.dtype == ganglion.float32
    # torch.softmax(x, dim, dtype): the top-level positional form
    top = ganglion.softmax(_g(f), 1, ganglion.float64)
    np.testing.assert_allclose(top.numpy(), torch.softmax(_t(f), 1, torch.float64).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (2, 3, 4, 2)])
def test_softmax_implicit_dim_warns_and_matches_torch(shape):
    a = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TF.softmax(_t(a))
        expected_log = TF.log_softmax(_t(a))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        got = GF.softmax(_g(a))
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        got_log = GF.log_softmax(_g(a))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_log.numpy(), expected_log.numpy(), rtol=1e-5, atol=1e-6)


def test_implicit_dim_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as rec:
        GF.softmax(ganglion.zeros(2, 3))
    assert rec[0].filename == __file__


# ------------------------------------------------------------------------------ in-place
INPLACE = [("relu_", "relu_", {}), ("elu_", "elu_", {"alpha": 0.7}),
           ("leaky_relu_", "leaky_relu_", {"negative_slope": 0.2}),
           ("hardtanh_", "hardtanh_", {"min_val": -0.5, "max_val": 0.8}),
           ("threshold_", "threshold_", {"threshold": 0.3, "value": -2.0}),
           ("selu_", "selu_", {}), ("celu_", "celu_", {"alpha": 1.5}),
           ("rrelu_", "rrelu_", {})]
INPLACE_FLAG = ["relu", "relu6", "elu", "selu", "celu", "leaky_relu", "hardtanh", "silu",
                "mish", "hardsigmoid", "hardswish", "rrelu"]


def _x_off_kinks(seed=3):
    a = np.random.default_rng(seed).uniform(-4, 4, (3, 4))
    for k in (0.0, 0.3, -0.5, 0.8, -1.0, 1.0, -3.0, 3.0):
        a[np.abs(a - k) < 0.05] += 0.1
    return a.astype(np.float32)


def _check_inplace(g_call, t_call):
    a = _x_off_kinks()
    gx, tx = _g(a), _t(a)
    gr, tr = g_call(gx), t_call(tx)
    assert gr is gx
    np.testing.assert_allclose(gx.numpy(), tx.numpy(), rtol=1e-5, atol=1e-6)
    # through autograd: the in-place result replaces y in the graph
    gl = ganglion.from_numpy(a.copy()).requires_grad_()
    tl = _t(a).requires_grad_()
    gy, ty = gl * 1.5, tl * 1.5
    g_call(gy)
    t_call(ty)
    (gy * gy).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(gl.grad.numpy(), tl.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("g_name,t_name,kw", INPLACE, ids=[r[0] for r in INPLACE])
def test_inplace_functions_match_torch(g_name, t_name, kw):
    _check_inplace(lambda x: getattr(GF, g_name)(x, **kw),
                   lambda x: getattr(TF, t_name)(x, **kw))


@pytest.mark.parametrize("name", INPLACE_FLAG)
def test_inplace_flag_matches_torch(name):
    _check_inplace(lambda x: getattr(GF, name)(x, inplace=True),
                   lambda x: getattr(TF, name)(x, inplace=True))


def test_inplace_on_leaf_requiring_grad_raises():
    x = ganglion.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="relu_.*leaf"):
        GF.relu(x, inplace=True)


def test_tensor_methods_match_torch():
    a = _x_off_kinks()
    w = np.array([0.1, -0.2, 0.3, 0.4], np.float32)
    check_against_torch(lambda x: x.relu(), inputs=[a])
    check_against_torch(lambda x: x.softmax(1), inputs=[a])
    check_against_torch(lambda x: x.log_softmax(-1, dtype=ganglion.float64), inputs=[a],
                        torch_fn=lambda x: x.log_softmax(-1, dtype=torch.float64))
    check_against_torch(lambda x: x.hardshrink(0.3), inputs=[a])
    check_against_torch(lambda x, w: x.prelu(w), inputs=[a, w])
    check_against_torch(lambda x: (x * 1).relu_(), inputs=[a])


# ----------------------------------------------------------------------- special semantics
def test_gelu_tanh_differs_from_exact_and_both_match_torch():
    a = np.linspace(-3, 3, 13).astype(np.float64)
    exact = GF.gelu(_g(a)).numpy()
    approx = GF.gelu(_g(a), approximate="tanh").numpy()
    assert np.abs(exact - approx).max() > 1e-5
    np.testing.assert_allclose(exact, TF.gelu(_t(a)).numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(approx, TF.gelu(_t(a), approximate="tanh").numpy(), rtol=1e-12,
                               atol=1e-14)


STABLE = [("softplus", {}, [100.0, -100.0, 30.0, 1e4]),
          ("softplus", {"beta": 0.5, "threshold": 5.0}, [9.9, 10.1, -50.0]),
          ("logsigmoid", {}, [-100.0, 100.0, -1e4, 1e4]),
          ("silu", {}, [-1000.0, 1000.0]), ("mish", {}, [-1000.0, 1000.0, -30.0]),
          ("elu", {}, [-1000.0, 1000.0]), ("selu", {}, [-1000.0, 1000.0]),
          ("celu", {"alpha": 0.5}, [-1000.0, 1000.0]), ("gelu", {}, [-30.0, 30.0]),
          ("gelu", {"approximate": "tanh"}, [-30.0, 30.0]), ("tanhshrink", {}, [-50.0, 50.0]),
          ("softsign", {}, [-1e30, 1e30]), ("softmax", {"dim": 0}, [1000.0, 0.0]),
          ("log_softmax", {"dim": 0}, [1000.0, 0.0]), ("softmin", {"dim": 0}, [-1000.0, 0.0]),
          ("softmax", {"dim": 0}, [-np.inf, 0.0]), ("log_softmax", {"dim": 0}, [-np.inf, 0.0])]


@pytest.mark.parametrize("fn_name,kw,vals", STABLE)
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
def test_large_magnitudes_match_torch(fn_name, kw, vals, np_dtype):
    g_fn, t_fn = _pair(fn_name, **kw)
    a = np.array(vals, np_dtype)
    gx = ganglion.from_numpy(a.copy()).requires_grad_()
    tx = _t(a).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow noise from NumPy
        gy = g_fn(gx)
        gy.sum().backward()
    ty = t_fn(tx)
    ty.sum().backward()
    assert np.isfinite(gy.detach().numpy()).all() == np.isfinite(ty.detach().numpy()).all()
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_all_minus_inf_row_gives_nan_like_torch():
    a = np.array([[-np.inf, -np.inf], [0.0, 1.0]], np.float32)
    for name in ["softmax", "log_softmax"]:
        np.testing.assert_array_equal(np.isnan(getattr(GF, name)(_g(a), 1).numpy()),
                                      np.isnan(getattr(TF, name)(_t(a), 1).numpy()))


KINKS = [("relu", {}, [0.0]), ("relu6", {}, [0.0, 6.0]), ("hardtanh", {}, [-1.0, 1.0]),
         ("leaky_relu", {"negative_slope": 0.3}, [0.0]), ("elu", {"alpha": 2.0}, [0.0]),
         ("selu", {}, [0.0]), ("celu", {"alpha": 2.0}, [0.0]),
         ("threshold", {"threshold": 0.5, "value": 2.0}, [0.5]),
         ("hardsigmoid", {}, [-3.0, 3.0]), ("hardswish", {}, [-3.0, 3.0]),
         ("hardshrink", {}, [-0.5, 0.5]), ("softshrink", {}, [-0.5, 0.5]),
         ("softplus", {"beta": 2.0, "threshold": 3.0}, [1.5]), ("rrelu", {}, [0.0])]


@pytest.mark.parametrize("fn_name,kw,kinks", KINKS)
def test_subgradient_at_kinks_matches_torch(fn_name, kw, kinks):
    g_fn, t_fn = _pair(fn_name, **kw)
    a = np.array(kinks, np.float64)
    check_against_torch(g_fn, inputs=[a], torch_fn=t_fn, atol=1e-12, rtol=1e-10)


def test_prelu_at_zero_and_weight_grad_match_torch():
    x = np.array([[0.0, -1.0, 2.0], [-3.0, 0.0, 1.0]])
    w = np.array([0.25, -0.5, 0.1])
    check_against_torch(lambda x, w: GF.prelu(x, w), inputs=[x, w], torch_fn=TF.prelu,
                        atol=1e-12, rtol=1e-10, gradgrad=True)


@pytest.mark.parametrize("row", [r for r in ROWS if r.make_inputs is not None],
                         ids=lambda r: r.name)
def test_kinked_rows_on_noncontiguous_inputs(row):
    case = next(c for c in row.cases if any(len(s) >= 2 for s in c))
    arrays = row.make_inputs(np.random.default_rng(5), np.float32, [s[::-1] for s in case])
    inputs = [a.T if a.ndim >= 2 else a for a in arrays]
    assert any(not a.flags.c_contiguous for a in inputs)
    check_against_torch(row.fn, inputs=inputs, torch_fn=row.torch_fn, atol=row.atol,
                        rtol=row.rtol)


@pytest.mark.parametrize("fn_name,kw", [("gelu", {}), ("gelu", {"approximate": "tanh"}),
                                        ("silu", {}), ("mish", {}), ("elu", {}),
                                        ("softplus", {}), ("logsigmoid", {}),
                                        ("tanhshrink", {}), ("softsign", {}),
                                        ("softmax", {"dim": -1}), ("log_softmax", {"dim": -1})])
def test_third_derivative_matches_torch(fn_name, kw):
    g_fn, t_fn = _pair(fn_name, **kw)
    a = np.array([[-1.3, -0.4, 0.7, 1.9]])
    gx = ganglion.from_numpy(a.copy()).requires_grad_()
    tx = _t(a).requires_grad_()
    results = []
    for lib, x, fn in ((ganglion, gx, g_fn), (torch, tx, t_fn)):
        y = (fn(x) * lib.from_numpy(np.array([[1.0, 2.0, 3.0, 4.0]]))).sum()
        (d1,) = lib.autograd.grad(y, [x], create_graph=True)
        (d2,) = lib.autograd.grad((d1 * d1).sum(), [x], create_graph=True)
        (d3,) = lib.autograd.grad((d2 * x).sum(), [x])
        results.append(d3.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-11)


def test_rrelu_training_draws_slopes_in_range_and_is_seeded():
    a = np.linspace(-2, 2, 41)
    a = a[np.abs(a) > 1e-9]
    ganglion.manual_seed(0)
    x = ganglion.from_numpy(a.copy()).requires_grad_()
    y = GF.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    slope = y.detach().numpy() / a
    neg = a < 0
    assert np.all((slope[neg] >= 0.1) & (slope[neg] <= 0.3)) and np.unique(slope[neg]).size > 1
    np.testing.assert_array_equal(slope[~neg], 1.0)
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-12)
    ganglion.manual_seed(0)
    again = GF.rrelu(ganglion.from_numpy(a.copy()), 0.1, 0.3, training=True)
    np.testing.assert_array_equal(again.numpy(), y.detach().numpy())


def test_hardsigmoid_second_derivative_is_zero_like_finite_differences():
    # torch has no double backward for hardsigmoid; off the kinks f'' = 0, so compare the
    # create_graph gradient's own gradient with a finite difference of torch's first derivative
    a = np.array([-3.5, -1.0, 0.5, 2.9, 3.5])
    x = ganglion.from_numpy(a.copy()).requires_grad_()
    (d1,) = ganglion.autograd.grad(GF.hardsigmoid(x).sum(), [x], create_graph=True)
    (d2,) = ganglion.autograd.grad((d1 * d1).sum(), [x])

    def t_d1(v):
        tv = _t(v).requires_grad_()
        TF.hardsigmoid(tv).sum().backward()
        return tv.grad.numpy()

    fd = (t_d1(a + 1e-6) ** 2 - t_d1(a - 1e-6) ** 2) / 2e-6
    # torch's float64 kernel multiplies by a float32 1/6 (relative error 3e-8); ganglion's is
    # the float64 1/6
    np.testing.assert_allclose(d1.detach().numpy(), t_d1(a), rtol=1e-7)
    np.testing.assert_allclose(d2.numpy(), fd, atol=1e-6)
