"""Tests for the 'random' family. Draws differ from torch's (another bit generator), so values
are checked through statistics, shapes and dtypes are compared with torch for each argument
form, and reproducibility through manual_seed and generator=."""
import math

import numpy as np
import pytest

import ganglion
import ganglion.ops.random as R

torch = pytest.importorskip("torch")

N = 100_000


def _lib_dtype(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("call", [
    lambda m: m.rand(2, 3),
    lambda m: m.rand((2, 3), dtype=m.float64),
    lambda m: m.rand([0, 3]),
    lambda m: m.rand(()),
    lambda m: m.randn(4),
    lambda m: m.randn(2, 2, dtype=m.float16),
    lambda m: m.randint(10, (3,)),
    lambda m: m.randint(3, 10, (2, 2)),
    lambda m: m.randint(0, 10, (2,), dtype=m.float32),
    lambda m: m.randint(high=5, size=(2,)),
    lambda m: m.randint(-5, 5, size=(3,), dtype=m.int32),
    lambda m: m.rand_like(m.zeros(2, dtype=m.float64)),
    lambda m: m.randn_like(m.zeros(2, 3)),
    lambda m: m.randint_like(m.zeros(2), 5),
    lambda m: m.randint_like(m.zeros(2, dtype=m.int32), 3, 5),
    lambda m: m.randperm(5),
    lambda m: m.randperm(5, dtype=m.float32),
    lambda m: m.normal(m.zeros(2, 3), m.ones(3)),
    lambda m: m.normal(m.zeros(2, 3, dtype=m.float64), 2.0),
    lambda m: m.normal(1.0, m.ones(4)),
    lambda m: m.normal(2.0, 3.0, (2, 2)),
    lambda m: m.normal(2.0, 3.0, size=(2,), dtype=m.float64),
    lambda m: m.bernoulli(m.full((3,), 0.5)),
    lambda m: m.bernoulli(m.full((3,), 0.5, dtype=m.float64), p=0.3),
    lambda m: m.multinomial(m.ones(3), 2),
    lambda m: m.multinomial(m.ones(4, 3), 5, replacement=True),
    lambda m: m.multinomial(m.ones(0, 3), 2),
    lambda m: m.poisson(m.ones(2, 2)),
    lambda m: m.zeros(3).uniform_(),
    lambda m: m.zeros(3, dtype=m.int32).random_(0, 5),
    lambda m: m.zeros(3, dtype=m.int64).bernoulli_(0.5),
    lambda m: m.zeros(3).exponential_(),
    lambda m: m.zeros(3, dtype=m.float64).geometric_(0.3),
    lambda m: m.zeros(2).log_normal_(),
    lambda m: m.zeros(2).cauchy_(),
])
def test_shapes_and_dtypes_match_torch(call):
    g, t = call(ganglion), call(torch)
    assert tuple(g.shape) == tuple(t.shape)
    assert _lib_dtype(g) == _lib_dtype(t)


def test_statistics_of_continuous_samplers():
    ganglion.manual_seed(0)
    cases = [
        (ganglion.rand(N), 0.5, 1 / 12),
        (ganglion.randn(N), 0.0, 1.0),
        (ganglion.normal(2.0, 3.0, (N,)), 2.0, 9.0),
        (ganglion.normal(ganglion.full((N,), -1.0), ganglion.full((N,), 0.5)), -1.0, 0.25),
        (ganglion.empty(N).uniform_(-2, 4), 1.0, 3.0),
        (ganglion.empty(N).normal_(1.0, 2.0), 1.0, 4.0),
        (ganglion.empty(N).exponential_(2.0), 0.5, 0.25),
        (ganglion.empty(N).geometric_(0.25), 4.0, 12.0),
        (ganglion.empty(N).log_normal_(0.0, 0.5), math.exp(0.125),
         (math.exp(0.25) - 1) * math.exp(0.25)),
        (ganglion.poisson(ganglion.full((N,), 3.0)), 3.0, 3.0),
        (ganglion.bernoulli(ganglion.full((N,), 0.3)), 0.3, 0.21),
        (ganglion.randint(0, 10, (N,)).double(), 4.5, 8.25),
    ]
    for x, mean, var in cases:
        a = x.numpy().astype(np.float64)
        se = math.sqrt(var / N)
        assert abs(a.mean() - mean) < 6 * se, (mean, a.mean())
        assert abs(a.var() - var) < 0.05 * var, (var, a.var())


def test_cauchy_median_and_quartiles():
    ganglion.manual_seed(1)
    a = ganglion.empty(N).cauchy_(1.0, 2.0).numpy()
    q1, med, q3 = np.quantile(a, [0.25, 0.5, 0.75])
    assert abs(med - 1.0) < 0.05 and abs(q1 + 1.0) < 0.1 and abs(q3 - 3.0) < 0.1


def test_samplers_stay_float32_and_in_range():
    x = ganglion.rand(1000)
    assert x.dtype == ganglion.float32 and x.array.dtype == np.float32
    assert (x.numpy() >= 0).all() and (x.numpy() < 1).all()
    y = ganglion.randint(-3, 4, (1000,)).numpy()
    assert y.min() == -3 and y.max() == 3
    f = ganglion.zeros(1000).random_().numpy()
    assert (f >= 0).all() and (f <= 2 ** 24).all() and (f == np.round(f)).all()
    z = ganglion.zeros(1000, dtype=ganglion.int32).random_(7).numpy()
    assert z.min() == 0 and z.max() == 6


def test_manual_seed_reproduces_every_sampler():
    def draws():
        return [ganglion.rand(5), ganglion.randn(5), ganglion.randint(0, 9, (5,)),
                ganglion.randperm(7), ganglion.multinomial(ganglion.ones(6), 3),
                ganglion.dropout(ganglion.ones(9)), ganglion.empty(4).normal_()]

    ganglion.manual_seed(123)
    a = draws()
    ganglion.manual_seed(123)
    b = draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_generator_argument_is_independent_of_global_state():
    g1 = ganglion.Generator().manual_seed(7)
    a = [ganglion.rand(4, generator=g1), ganglion.randn(3, generator=g1),
         ganglion.empty(3).uniform_(generator=g1), ganglion.randperm(5, generator=g1)]
    g2 = ganglion.Generator().manual_seed(7)
    ganglion.rand(10)  # the global stream moves; g2 must not care
    b = [ganglion.rand(4, generator=g2), ganglion.randn(3, generator=g2),
         ganglion.empty(3).uniform_(generator=g2), ganglion.randperm(5, generator=g2)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    with pytest.raises(TypeError, match="Generator"):
        ganglion.rand(2, generator=np.random.default_rng(0))


def test_randperm_is_permutation():
    p = ganglion.randperm(1000).numpy()
    assert sorted(p.tolist()) == list(range(1000))
    assert ganglion.randperm(0).shape == (0,)


def test_multinomial_frequencies_with_replacement():
    ganglion.manual_seed(0)
    w = np.array([[1.0, 0.0, 3.0, 6.0], [5.0, 5.0, 0.0, 0.0]], dtype=np.float32)
    idx = ganglion.multinomial(ganglion.from_numpy(w), N, replacement=True).numpy()
    for row in range(2):
        counts = np.bincount(idx[row], minlength=4)
        expected = w[row] / w[row].sum() * N
        assert counts[expected == 0].sum() == 0  # zero weight: never drawn
        nz = expected > 0
        chi2 = (((counts[nz] - expected[nz]) ** 2) / expected[nz]).sum()
        assert chi2 < 20, chi2  # 3 dof: p(chi2 > 20) ~ 2e-4


def test_multinomial_without_replacement():
    ganglion.manual_seed(0)
    w = ganglion.tensor([[1.0, 2.0, 3.0, 4.0, 0.0]] * 2000)
    idx = ganglion.multinomial(w, 4).numpy()
    assert all(len(set(r)) == 4 for r in idx.tolist())  # no repeats
    assert (idx != 4).all()  # zero weight never drawn while others remain
    # first draw follows the weights; the second is P(j | i first) summed over i
    first = np.bincount(idx[:, 0], minlength=5) / len(idx)
    np.testing.assert_allclose(first[:4], [0.1, 0.2, 0.3, 0.4], atol=0.04)


@pytest.mark.parametrize("args,match", [
    ((ganglion.tensor([-1.0, 1.0]), 1), "element < 0"),
    ((ganglion.tensor([0.0, 0.0]), 1), "sum of probabilities"),
    ((ganglion.tensor([1.0, 1.0]), 3), "without replacement"),
    ((ganglion.ones(2, 2, 2), 1), "1 or 2 dim"),
    ((ganglion.tensor([1, 2]), 1), "floating-point"),
    ((ganglion.tensor([1.0, math.nan]), 1), "nan"),
    ((ganglion.ones(3), 0), "n_sample <= 0"),
])
def test_multinomial_errors_like_torch(args, match):
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.from_numpy(np.asarray(args[0].numpy())), args[1])
    with pytest.raises(RuntimeError, match=match):
        ganglion.multinomial(*args)


def test_sampler_errors():
    with pytest.raises(RuntimeError, match="rand"):
        ganglion.rand(2, dtype=ganglion.int64)
    with pytest.raises(RuntimeError, match="randn"):
        ganglion.randn(2, dtype=ganglion.int64)
    with pytest.raises(RuntimeError, match="randint"):
        ganglion.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match="randperm"):
        ganglion.randperm(-1)
    with pytest.raises(RuntimeError, match="normal"):
        ganglion.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="bernoulli"):
        ganglion.bernoulli(ganglion.tensor([1.5]))
    with pytest.raises(RuntimeError, match="uniform_"):
        ganglion.zeros(2, dtype=ganglion.int64).uniform_()
    with pytest.raises(RuntimeError, match="random_"):
        ganglion.zeros(2).random_(5, 2)


def test_inplace_fill_on_leaf_requiring_grad_raises_like_torch():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        torch.zeros(3, requires_grad=True).uniform_()
    with pytest.raises(RuntimeError, match="uniform_"):
        ganglion.zeros(3, requires_grad=True).uniform_()
    x = ganglion.zeros(3, requires_grad=True)
    with ganglion.no_grad():
        x.normal_()  # what init functions do
    assert x.requires_grad and x.is_leaf and (x.detach().numpy() != 0).all()


def test_inplace_fill_on_non_leaf_gives_zero_gradient_like_torch():
    x = ganglion.ones(3, requires_grad=True)
    y = x * 2
    v = y._version
    y.uniform_()
    assert y._version > v and y.requires_grad
    y.sum().backward()
    tx = torch.ones(3, requires_grad=True)
    ty = tx * 2
    ty.uniform_()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_sample_gradients_are_zero_like_torch():
    m = ganglion.zeros(3, requires_grad=True)
    ganglion.normal(m, 1.0).sum().backward()
    tm = torch.zeros(3, requires_grad=True)
    torch.normal(tm, 1.0).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), tm.grad.numpy())


# ---- dropout --------------------------------------------------------------------------------

def test_dropout_scaling_fraction_and_gradient():
    ganglion.manual_seed(0)
    x = ganglion.ones(N, requires_grad=True)
    y = ganglion.dropout(x, p=0.3)
    vals = y.detach().numpy()
    kept = vals != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(vals[kept], 1 / 0.7, rtol=1e-6)
    assert y.dtype == ganglion.float32
    y.backward(ganglion.full((N,), 2.0))
    np.testing.assert_allclose(x.grad.numpy(), 2 * vals, rtol=1e-6)  # g * mask * scale


def test_dropout_gradient_is_differentiable():
    x = ganglion.randn(50, requires_grad=True)
    y = ganglion.dropout(x, 0.5)
    (gx,) = ganglion.autograd.grad((y * y).sum(), [x], create_graph=True)
    (ggx,) = ganglion.autograd.grad(gx.sum(), [x])
    mask = (y.detach().numpy() != 0) * 2.0
    np.testing.assert_allclose(ggx.numpy(), 2 * mask * mask, rtol=1e-5)


def test_dropout_eval_and_edge_probabilities_like_torch():
    x = ganglion.randn(4, 5)
    tx = torch.from_numpy(x.numpy().copy())
    assert ganglion.dropout(x, 0.5, training=False) is x
    assert torch.nn.functional.dropout(tx, 0.5, training=False) is tx
    assert ganglion.dropout(x, 0.0) is x
    assert (ganglion.dropout(x, 1.0).numpy() == 0).all()
    assert ganglion.alpha_dropout(x, 0.5) is x  # training defaults to False
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        ganglion.dropout(x, 1.5)
    for fn in ("alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
               "dropout3d"):
        with pytest.raises(ValueError, match="dropout probability"):
            getattr(ganglion, fn)(ganglion.ones(2, 3, 4, 4), -0.1)


def test_dropout_inplace():
    x = ganglion.ones(1000)
    out = ganglion.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy()).tolist()) <= {0.0, 2.0}
    leaf = ganglion.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="dropout"):
        ganglion.dropout(leaf, 0.5, inplace=True)


def test_alpha_dropout_keeps_mean_and_variance():
    ganglion.manual_seed(0)
    x = ganglion.randn(N)
    for p in (0.1, 0.5):
        y = ganglion.alpha_dropout(x, p, training=True).numpy().astype(np.float64)
        assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.03
    t = torch.nn.functional.alpha_dropout(torch.randn(N), 0.5, training=True).numpy()
    assert abs(t.mean()) < 0.02 and abs(t.var() - 1) < 0.03  # same property in the oracle


def test_alpha_dropout_values_match_torch_formula():
    ganglion.manual_seed(0)
    x = ganglion.full((1000,), 0.5)
    y = ganglion.alpha_dropout(x, 0.2, training=True).numpy()
    tx = torch.full((1000,), 0.5)
    ty = torch.nn.functional.alpha_dropout(tx, 0.2, training=True).numpy()
    # two values (kept / dropped): the same pair as torch
    np.testing.assert_allclose(np.unique(y), np.unique(ty), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("fn,shape,mask_dims", [
    ("dropout1d", (4, 8, 50), 2), ("dropout1d", (8, 50), 1),
    ("dropout2d", (4, 8, 5, 5), 2), ("dropout2d", (4, 8, 25), 2),
    ("dropout3d", (4, 8, 2, 3, 3), 2), ("dropout3d", (8, 2, 3, 3), 1),
    ("feature_alpha_dropout", (4, 8, 25), 2),
])
def test_channel_dropout_zeroes_whole_channels(fn, shape, mask_dims):
    x = ganglion.ones(*shape)
    y = getattr(ganglion, fn)(x, 0.5, True).numpy()
    ty = getattr(torch.nn.functional, fn)(torch.ones(*shape), 0.5, True)
    assert y.shape == tuple(ty.shape)
    flat = y.reshape(shape[:mask_dims] + (-1,))
    assert (flat == flat[..., :1]).all()  # one value per channel
    assert len(np.unique(flat[..., 0])) == 2


def test_dropout2d_3d_input_warns_like_torch():
    with pytest.warns(UserWarning, match="dropout2d"):
        torch.nn.functional.dropout2d(torch.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="dropout2d"):
        ganglion.dropout2d(ganglion.ones(2, 3, 4))


def test_channel_dropout_errors():
    with pytest.raises(RuntimeError, match="dropout1d"):
        ganglion.dropout1d(ganglion.ones(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="Feature dropout"):
        ganglion.feature_alpha_dropout(ganglion.ones(5), 0.5, True)


def test_all_is_exported():
    for name in R.__all__:
        assert hasattr(ganglion, name)
