"""nn.init against torch.nn.init: gains, fans, exact fills, and the sampled distributions'
statistics against the formulas torch uses."""
import math
import warnings

import numpy as np
import pytest

import ganglion
from ganglion import nn
from ganglion.nn import init

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed():
    ganglion.manual_seed(0)  # the statistical checks below are then deterministic


@pytest.mark.parametrize("name,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_calculate_gain_errors():
    for lib in (init, torch.nn.init):
        with pytest.raises(ValueError, match="Unsupported nonlinearity"):
            lib.calculate_gain("gelu")
        with pytest.raises(ValueError, match="not a valid number"):
            lib.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (6, 2, 3, 3), (2, 4, 1, 2, 3), (0, 3)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ganglion.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fans_need_two_dims():
    for lib, tinit in ((ganglion, init), (torch, torch.nn.init)):
        for fn in (tinit._calculate_fan_in_and_fan_out, tinit.xavier_uniform_,
                   tinit.kaiming_normal_):
            with pytest.raises(ValueError, match="fewer than 2 dimensions"):
                fn(lib.empty(5))


def test_kaiming_mode_error():
    for lib, tinit in ((ganglion, init), (torch, torch.nn.init)):
        with pytest.raises(ValueError, match="Mode fan_avg not supported"):
            tinit.kaiming_uniform_(lib.empty(3, 4), mode="fan_avg")


@pytest.mark.parametrize("fill", [
    lambda m, lib: m.constant_(lib.empty(3, 4), 0.25),
    lambda m, lib: m.ones_(lib.empty(2, 2)),
    lambda m, lib: m.zeros_(lib.ones(2, 2)),
    lambda m, lib: m.eye_(lib.empty(3, 5)),
    lambda m, lib: m.eye_(lib.empty(4, 2, dtype=lib.float64)),
    lambda m, lib: m.dirac_(lib.empty(4, 3, 3)),
    lambda m, lib: m.dirac_(lib.empty(6, 2, 3, 4), groups=2),
    lambda m, lib: m.dirac_(lib.empty(2, 3, 3, 3, 1)),
])
def test_deterministic_fills_match_torch(fill):
    g = fill(init, ganglion)
    t = fill(torch.nn.init, torch)
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    assert g.dtype.name == str(t.dtype).split(".")[1]


def test_shape_errors_match_torch():
    for lib, tinit in ((ganglion, init), (torch, torch.nn.init)):
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
            tinit.eye_(lib.empty(2, 2, 2))
        with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
            tinit.dirac_(lib.empty(2, 2))
        with pytest.raises(ValueError, match="divisible by groups"):
            tinit.dirac_(lib.empty(3, 2, 3), groups=2)
        with pytest.raises(ValueError, match="2 or more dimensions"):
            tinit.orthogonal_(lib.empty(4))
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
            tinit.sparse_(lib.empty(2, 2, 2), 0.5)


N = (200, 300)  # 60k samples: the statistics below hold to about 1%


def _stats(t):
    a = t.numpy().astype(np.float64)
    return a.mean(), a.std(), np.abs(a).max()


@pytest.mark.parametrize("kw", [{}, {"a": 0.2}, {"mode": "fan_out"},
                                {"nonlinearity": "relu"}, {"nonlinearity": "tanh"}])
def test_kaiming_uniform_bound(kw):
    w = init.kaiming_uniform_(ganglion.empty(*N), **kw)
    fan = N[1] if kw.get("mode", "fan_in") == "fan_in" else N[0]
    gain = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0))
    bound = gain * math.sqrt(3.0 / fan)
    mean, std, top = _stats(w)
    assert top <= bound and top > 0.99 * bound
    assert abs(mean) < 0.02 * bound and abs(std - bound / math.sqrt(3)) < 0.01 * bound


@pytest.mark.parametrize("kw", [{}, {"mode": "fan_out", "nonlinearity": "relu"}])
def test_kaiming_normal_std(kw):
    w = init.kaiming_normal_(ganglion.empty(*N), **kw)
    fan = N[1] if kw.get("mode", "fan_in") == "fan_in" else N[0]
    gain = torch.nn.init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), 0)
    mean, std, _ = _stats(w)
    assert abs(std / (gain / math.sqrt(fan)) - 1) < 0.015 and abs(mean) < 0.02 * std


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    std = gain * math.sqrt(2.0 / sum(N))
    u = init.xavier_uniform_(ganglion.empty(*N), gain=gain)
    _, s, top = _stats(u)
    assert top <= math.sqrt(3) * std and abs(s / std - 1) < 0.015
    _, s, _ = _stats(init.xavier_normal_(ganglion.empty(*N), gain=gain))
    assert abs(s / std - 1) < 0.015


def test_uniform_normal_and_dtype():
    u = init.uniform_(ganglion.empty(*N, dtype=ganglion.float64), -2.0, 3.0)
    mean, std, _ = _stats(u)
    a = u.numpy()
    assert u.dtype == ganglion.float64 and a.min() >= -2.0 and a.max() < 3.0
    assert abs(mean - 0.5) < 0.03 and abs(std - 5 / math.sqrt(12)) < 0.02
    mean, std, _ = _stats(init.normal_(ganglion.empty(*N), 1.5, 0.5))
    assert abs(mean - 1.5) < 0.01 and abs(std - 0.5) < 0.01


def _truncnorm_moments(mean, std, a, b):
    al, be = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    zz = cdf(be) - cdf(al)
    m = mean + std * (pdf(al) - pdf(be)) / zz
    var = std ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / zz - ((pdf(al) - pdf(be)) / zz) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),     # wide window: normal proposals
    (0.0, 0.02, -0.04, 0.04),  # ViT-style
    (0.0, 1.0, 0.5, 0.9),      # narrow window (p < 0.3): uniform proposals
    (1.0, 2.0, -1.0, 0.0)])
def test_trunc_normal_moments(mean, std, a, b):
    w = init.trunc_normal_(ganglion.empty(*N), mean, std, a, b)
    arr = w.numpy().astype(np.float64)
    m, s = _truncnorm_moments(mean, std, a, b)
    assert arr.min() >= a and arr.max() <= b
    assert abs(arr.mean() - m) < 0.02 * s and abs(arr.std() / s - 1) < 0.02


def test_trunc_normal_warns_and_errors():
    for lib, tinit in ((ganglion, init), (torch, torch.nn.init)):
        with pytest.warns(UserWarning, match="more than 2 std"):
            tinit.trunc_normal_(lib.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)
    with pytest.raises(RuntimeError, match="a <= b"):
        init.trunc_normal_(ganglion.empty(3), a=1.0, b=-1.0)


@pytest.mark.parametrize("shape,gain", [((3, 5), 1.0), ((5, 3), 2.0), ((4, 2, 3), 1.0),
                                        ((6, 6), 0.5)])
def test_orthogonal(shape, gain):
    for dtype in (ganglion.float32, ganglion.float64):
        w = init.orthogonal_(ganglion.empty(*shape, dtype=dtype), gain=gain)
        assert w.dtype == dtype
        flat = w.numpy().reshape(shape[0], -1).astype(np.float64) / gain
        small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)


def test_sparse_zero_counts():
    w = init.sparse_(ganglion.empty(20, 30), sparsity=0.25, std=0.5)
    zeros = (w.numpy() == 0).sum(0)
    assert (zeros == math.ceil(0.25 * 20)).all()
    nz = w.numpy()[w.numpy() != 0]
    assert abs(nz.std() - 0.5) < 0.05


def test_generator_and_manual_seed_reproducible():
    fns = [lambda t, g: init.kaiming_uniform_(t, generator=g),
           lambda t, g: init.xavier_normal_(t, generator=g),
           lambda t, g: init.orthogonal_(t, generator=g),
           lambda t, g: init.trunc_normal_(t, generator=g),
           lambda t, g: init.sparse_(t, 0.5, generator=g)]
    for fn in fns:
        a = fn(ganglion.empty(4, 6), ganglion.Generator().manual_seed(7)).numpy().copy()
        b = fn(ganglion.empty(4, 6), ganglion.Generator().manual_seed(7)).numpy().copy()
        np.testing.assert_array_equal(a, b)
        ganglion.manual_seed(3)
        c = fn(ganglion.empty(4, 6), None).numpy().copy()
        ganglion.manual_seed(3)
        np.testing.assert_array_equal(c, fn(ganglion.empty(4, 6), None).numpy())


def test_init_parameters_in_place_under_grad_mode():
    p = nn.Parameter(ganglion.empty(3, 4))
    array, version = p.array, p._version
    for fn in (init.kaiming_uniform_, init.orthogonal_, init.eye_, init.zeros_,
               lambda t: init.trunc_normal_(t, std=0.1), init.xavier_normal_):
        out = fn(p)
        assert out is p and p.array is array and p.requires_grad and p.grad_fn is None
        assert p._version > version
        version = p._version


def test_zero_element_kaiming_warns_and_deprecated_aliases():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(ganglion.empty(0, 3))
    with pytest.warns(FutureWarning, match="nn.init.uniform_"):
        init.uniform(ganglion.empty(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert init.xavier_uniform(ganglion.empty(2, 2)).shape == (2, 2)
