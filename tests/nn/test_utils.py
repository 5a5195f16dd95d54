"""nn.utils (clipping, parameter/vector conversion) against torch.nn.utils on the same grads."""
import math
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.nn import Parameter, utils

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


def _params(dtype=np.float32, scale=1.0, missing=True, seed=0):
    """The same parameters with the same .grad in both libraries (one without a grad)."""
    rng = np.random.default_rng(seed)
    gs, ts = [], []
    for i, shape in enumerate(SHAPES):
        w = rng.normal(size=shape).astype(dtype)
        g = (rng.normal(size=shape) * scale).astype(dtype)
        pg = Parameter(ganglion.tensor(w))
        pt = torch.nn.Parameter(torch.tensor(w))
        if not (missing and i == 1):
            pg.grad, pt.grad = ganglion.tensor(g), torch.tensor(g)
        gs.append(pg)
        ts.append(pt)
    return gs, ts


def _assert_grads(gs, ts, rtol=1e-6):
    for pg, pt in zip(gs, ts):
        if pt.grad is None:
            assert pg.grad is None
        else:
            assert pg.grad.dtype.name == str(pt.grad.dtype).split(".")[1]
            np.testing.assert_allclose(pg.grad.numpy(), pt.grad.numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, -math.inf, 3.5, 0.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    gs, ts = _params()
    ng = utils.clip_grad_norm_(gs, max_norm, norm_type=float(norm_type))
    nt = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=float(norm_type))
    assert isinstance(ng, ganglion.Tensor) and ng.shape == ()
    assert ng.dtype == ganglion.float32
    np.testing.assert_allclose(ng.item(), nt.item(), rtol=1e-5)
    _assert_grads(gs, ts, rtol=1e-5)


def test_clip_grad_norm_float64_single_tensor_and_generator():
    gs, ts = _params(np.float64, scale=10.0)
    ng = utils.clip_grad_norm_(gs[0], 1.0)
    nt = torch.nn.utils.clip_grad_norm_(ts[0], 1.0)
    assert ng.dtype == ganglion.float64
    np.testing.assert_allclose(ng.item(), nt.item(), rtol=1e-12)
    _assert_grads(gs, ts, rtol=1e-12)
    ng = utils.clip_grad_norm_((p for p in gs), 0.1)
    nt = torch.nn.utils.clip_grad_norm_((p for p in ts), 0.1)
    np.testing.assert_allclose(ng.item(), nt.item(), rtol=1e-12)
    _assert_grads(gs, ts, rtol=1e-12)


def test_clip_grad_norm_empty_and_nonfinite():
    assert utils.clip_grad_norm_([], 1.0).item() == torch.nn.utils.clip_grad_norm_([], 1.0).item()
    with pytest.warns(UserWarning, match="empty generator"):
        utils.clip_grad_norm_((p for p in []), 1.0)
    gs, ts = _params()
    gs[0].grad.array[0, 0] = np.nan
    ts[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(gs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(ts, 1.0, error_if_nonfinite=True)
    ng = utils.clip_grad_norm_(gs, 1.0)  # scaled by NaN anyway, as torch
    nt = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert math.isnan(ng.item()) and math.isnan(nt.item())
    assert np.isnan(gs[2].grad.numpy()).all() and torch.isnan(ts[2].grad).all()


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    gs, ts = _params(scale=3.0)
    grads_g = [p.grad for p in gs if p.grad is not None]
    grads_t = [p.grad for p in ts if p.grad is not None]
    for p in (2.0, 1.0, math.inf):
        np.testing.assert_allclose(utils.get_total_norm(grads_g, p).item(),
                                   torch.nn.utils.get_total_norm(grads_t, p).item(), rtol=1e-5)
    total_g = utils.get_total_norm(grads_g)
    total_t = torch.nn.utils.get_total_norm(grads_t)
    utils.clip_grads_with_norm_(gs, 2.0, total_g)
    torch.nn.utils.clip_grads_with_norm_(ts, 2.0, total_t)
    _assert_grads(gs, ts, rtol=1e-5)


@pytest.mark.parametrize("clip", [0.3, 5.0])
def test_clip_grad_value_matches_torch(clip):
    gs, ts = _params()
    assert utils.clip_grad_value_(gs, clip) is None
    torch.nn.utils.clip_grad_value_(ts, clip)
    _assert_grads(gs, ts)
    utils.clip_grad_value_(gs[0], 0.1)
    torch.nn.utils.clip_grad_value_(ts[0], 0.1)
    _assert_grads(gs, ts)


def test_clip_grad_norm_deprecated_alias():
    gs, _ = _params()
    with pytest.warns(FutureWarning, match="deprecated"):
        utils.clip_grad_norm(gs, 1.0)


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    gs, ts = _params(missing=False)
    vg = utils.parameters_to_vector(gs)
    vt = torch.nn.utils.parameters_to_vector(ts)
    np.testing.assert_array_equal(vg.detach().numpy(), vt.detach().numpy())
    w = np.arange(vt.numel(), dtype=np.float32)
    (vg * ganglion.tensor(w)).sum().backward()
    (vt * torch.tensor(w)).sum().backward()
    # the grads were pre-set by _params, so both accumulated on top of the same values
    _assert_grads(gs, ts)


def test_vector_to_parameters_matches_torch_and_shares_memory():
    gs, ts = _params(missing=False)
    n = sum(p.numel() for p in gs)
    vec = np.random.default_rng(5).normal(size=n).astype(np.float32)
    vg = ganglion.tensor(vec)
    utils.vector_to_parameters(vg, gs)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), ts)
    for pg, pt in zip(gs, ts):
        assert tuple(pg.shape) == tuple(pt.shape)
        np.testing.assert_array_equal(pg.detach().numpy(), pt.detach().numpy())
        assert np.shares_memory(pg.array, vg.array)


def test_convert_errors():
    with pytest.raises(TypeError, match="expected ganglion.Tensor"):
        utils.vector_to_parameters(np.zeros(3), [ganglion.zeros(3)])
    with pytest.raises(RuntimeError, match="needs? 4|need 4"):
        utils.vector_to_parameters(ganglion.zeros(3), [ganglion.zeros(4)])
    with pytest.raises(RuntimeError, match="non-empty"):
        utils.parameters_to_vector([])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.clip_grad_norm_([ganglion.zeros(2)], 1.0)  # no grads: a quiet no-op
