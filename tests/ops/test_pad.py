"""Tests of ``pad`` (torch's ``nn.functional.pad``): every mode on 2-D..5-D inputs, gradients
and second derivatives, torch's limits and errors, dtypes."""
import numpy as np
import pytest

import ganglion
from ganglion.ops.pad import pad
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
F = torch.nn.functional

# (input shape, pad) combinations valid in every non-constant mode
MODE_CASES = [
    ((2, 5), (2, 3)), ((3, 2, 5), (0, 4)), ((2, 4), (-1, 3)), ((2, 5), (3, -2)),
    ((2, 3, 4), (1, 2, 2, 0)), ((2, 2, 3, 4), (3, 1, 1, 2)), ((1, 2, 4, 5), (-1, 2, 2, -1)),
    ((2, 3, 3, 4), (1, 0, 2, 1, 0, 2)), ((1, 2, 3, 4, 5), (2, 2, 1, 3, 1, 1)),
    ((0, 2, 3), (1, 2)), ((2, 3, 4), (0, 0, 0, 0)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
@pytest.mark.parametrize("shape,p", MODE_CASES)
def test_modes_match_torch(mode, shape, p):
    if mode == "reflect" and any(abs(v) >= shape[-1 - i // 2] for i, v in enumerate(p)):
        pytest.skip("reflect needs pads smaller than the dim")
    check_against_torch(lambda x: pad(x, p, mode=mode), shapes=[shape], gradgrad=True,
                        torch_fn=lambda x: F.pad(x, p, mode=mode))


@pytest.mark.parametrize("shape,p", [((2, 3), (4, 0)), ((2, 3, 4), (3, 3, 0, 2)),
                                     ((1, 1, 2, 2, 2), (2, 2, 2, 2, 2, 2))])
def test_replicate_and_circular_large_pads(shape, p):
    for mode in ("replicate", "circular"):
        if mode == "circular" and max(p) > min(shape[-1], shape[-2]):
            continue
        check_against_torch(lambda x: pad(x, p, mode=mode), shapes=[shape], gradgrad=True,
                            torch_fn=lambda x: F.pad(x, p, mode=mode))


@pytest.mark.parametrize("p,value", [((1, 2), None), ((2, 0, 1, 1), 2.5), ((-1, -1), None),
                                     ((0, 0, -1, 2, 1, 1), -1.0), ((1, 1, 1, 1, 1, 1, 1, 1), 0.5),
                                     ((-2, -1), 3.0), ((), None)])
def test_constant_any_dims_and_cropping(p, value):
    kw = {} if value is None else {"value": value}
    check_against_torch(lambda x: pad(x, p, **kw), shapes=[(2, 3, 3, 4)], gradgrad=True,
                        torch_fn=lambda x: F.pad(x, p, **kw))


def test_random_configurations_match_torch():
    rng = np.random.default_rng(0)
    for _ in range(60):
        k = int(rng.integers(1, 4))
        nd = k + int(rng.integers(1, 3))
        mode = ["reflect", "replicate", "circular", "constant"][int(rng.integers(4))]
        low = 3 if mode == "reflect" else 1  # mostly valid reflect configurations
        shape = tuple(int(s) for s in rng.integers(low, 5, nd))
        p = tuple(int(v) for v in rng.integers(-2, 4, 2 * k))
        args = (p,), {"mode": mode}
        try:
            expected = F.pad(torch.zeros(shape), *args[0], **args[1])
        except (RuntimeError, NotImplementedError) as e:
            with pytest.raises(type(e), match="pad"):
                pad(ganglion.zeros(shape), *args[0], **args[1])
            continue
        out = check_against_torch(lambda x: pad(x, p, mode=mode), shapes=[shape],
                                  torch_fn=lambda x: F.pad(x, p, mode=mode))
        assert tuple(out[0].shape) == tuple(expected.shape)


def test_finite_differences_all_modes():
    x = np.random.default_rng(1).uniform(-1, 1, (1, 2, 3, 4))
    for mode in ("reflect", "replicate", "circular", "constant"):
        xt = ganglion.tensor(x, requires_grad=True)
        assert gradcheck(lambda t: pad(t, (2, 1, -1, 2), mode=mode), [xt], eps=1e-6,
                         atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "uint8"])
@pytest.mark.parametrize("mode,value", [("constant", None), ("constant", 2.7),
                                        ("reflect", None), ("replicate", None),
                                        ("circular", None)])
def test_dtypes_match_torch(dtype, mode, value):
    a = np.random.default_rng(0).uniform(0, 3, (2, 3, 4)).astype(dtype)
    kw = {"mode": mode} if value is None else {"mode": mode, "value": value}
    try:
        expected = F.pad(torch.from_numpy(a.copy()), (1, 2), **kw)
    except (RuntimeError, NotImplementedError):
        pytest.skip("torch lacks this dtype for this mode")
    got = pad(ganglion.from_numpy(a.copy()), (1, 2), **kw)
    assert got.numpy().dtype == expected.numpy().dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_result_is_a_new_tensor():
    x = ganglion.zeros(2, 3, 4)
    for mode in ("constant", "reflect", "replicate", "circular"):
        y = pad(x, (0, 0), mode=mode)
        y.add_(1.0)
        assert x.numpy().sum() == 0 and x._version == 0
    y = pad(x, (-1, -1))
    y.add_(1.0)
    assert x.numpy().sum() == 0


ERRORS = [
    ((2, 3), (1,), "constant", None),
    ((2, 3), (1, 1, 1, 1, 1, 1), "constant", None),
    ((2, 3), (-2, -2), "constant", None),
    ((), (1, 1), "constant", None),
    ((2, 3), (1, 1), "bogus", None),
    ((3,), (1, 1), "reflect", None),
    ((2, 3), (1, 1, 1, 1), "reflect", None),
    ((1, 2, 3, 4, 5, 6), (1, 1, 1, 1, 1, 1), "replicate", None),
    ((2, 3, 4), (1, 1, 1, 1, 1, 1), "circular", None),
    ((2, 3), (3, 1), "reflect", None),
    ((2, 3), (1, 3), "reflect", None),
    ((2, 3), (-2, -1), "reflect", None),
    ((2, 3), (-2, -1), "replicate", None),
    ((0, 3), (1, 1), "reflect", None),
    ((2, 0, 3), (1, 1), "replicate", None),
    ((2, 3), (4, 0), "circular", None),
    ((2, 0), (1, 1), "circular", None),
    ((2, 3), (1, 1), "reflect", 1.0),
    ((2, 3), (1, 1), "circular", 2.0),
    ((2, 3), (1.5, 1), "constant", None),
    ((2, 3), 1, "constant", None),
]


@pytest.mark.parametrize("shape,p,mode,value", ERRORS)
def test_errors_match_torch(shape, p, mode, value):
    kw = {"mode": mode} if value is None else {"mode": mode, "value": value}
    with pytest.raises(Exception) as te:
        F.pad(torch.zeros(shape), p, **kw)
    with pytest.raises(type(te.value), match="pad"):
        pad(ganglion.zeros(shape), p, **kw)
