"""cross_entropy on logits large enough for the compiled path (loss_ce._MIN_JIT), on both paths
(``jit_mode``: the compiled row kernels of ``loss_jit`` and the NumPy path) against torch: rows longer than the kernels' vector lanes with a
ragged tail, NaN / +inf / -inf logits, every option; and the float32 exponential itself."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
BOTH = pytest.mark.usefixtures("jit_mode")


def _logits(shape, seed=0):
    x = (np.random.default_rng(seed).standard_normal(shape) * 4).astype(np.float32)
    x[1, 3] = np.nan  # a NaN row
    x[2, 5] = np.inf  # a row holding +inf: NaN in torch's log-softmax
    x[3, ::7] = -np.inf  # some impossible classes: finite loss
    return x


def _both(x, t, w=None, **kw):
    """(ganglion, torch) loss and logits gradient (a random output gradient for 'none')."""
    out = []
    for lib, fn in ((ganglion, F), (torch, TF)):
        xt = lib.from_numpy(x.copy()).requires_grad_()
        wt = None if w is None else lib.from_numpy(w)
        loss = fn.cross_entropy(xt, lib.from_numpy(t), weight=wt, **kw)
        g = np.random.default_rng(5).standard_normal(tuple(loss.shape)).astype(np.float32)
        loss.backward(lib.from_numpy(g))
        out.append((loss.detach().numpy(), xt.grad.numpy()))
    return out


@BOTH
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_rows_match_torch(reduction, smoothing, weighted):
    c = 203  # 12 full lanes of 16 and a tail of 11
    x = _logits((37, c))
    t = np.random.default_rng(1).integers(0, c, 37)
    t[4] = -100  # ignored
    t[3] = 1  # a finite class of the row with -inf entries (class 0 is -inf)
    w = np.random.default_rng(2).uniform(0.5, 2.0, c).astype(np.float32) if weighted else None
    if reduction != "none":  # the NaN rows would make a reduced loss NaN altogether
        x[1, 3] = x[2, 5] = 0.0
    (gl, gg), (tl, tg) = _both(x, t, w, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(gl, tl, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(gg, tg, rtol=2e-4, atol=1e-6)


@BOTH
def test_cross_entropy_class_dim_not_last_matches_torch():
    x = np.random.default_rng(3).standard_normal((3, 40, 8, 6)).astype(np.float32)
    t = np.random.default_rng(4).integers(0, 40, (3, 8, 6))
    (gl, gg), (tl, tg) = _both(x, t, reduction="none", label_smoothing=0.2)
    np.testing.assert_allclose(gl, tl, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(gg, tg, rtol=2e-4, atol=1e-7)


@BOTH
def test_cross_entropy_float64_rows_match_torch():
    x = np.random.default_rng(6).standard_normal((40, 130))
    t = np.random.default_rng(7).integers(0, 130, 40)
    (gl, gg), (tl, tg) = _both(x, t)
    np.testing.assert_allclose(gl, tl, rtol=1e-12)
    np.testing.assert_allclose(gg, tg, rtol=1e-10, atol=1e-15)


def test_exp32_within_one_ulp_and_special_values():
    numba = pytest.importorskip("numba")

    from ganglion.ops import loss_jit

    @numba.njit
    def ev(a, out):
        for i in range(a.size):
            out[i] = loss_jit.exp32(a[i])

    a = np.linspace(-87.3, 88.7, 400_001).astype(np.float32)
    out = np.empty_like(a)
    ev(a, out)
    ref = np.exp(a.astype(np.float64))
    ulp = np.abs(out - ref) / np.spacing(ref.astype(np.float32))
    assert ulp.max() <= 1.0
    special = np.array([np.nan, -np.inf, np.inf, -100.0, 100.0, 0.0], np.float32)
    out = np.empty_like(special)
    ev(special, out)
    np.testing.assert_array_equal(out, [np.nan, 0.0, np.inf, 0.0, np.inf, 1.0])


def test_these_sizes_reach_the_kernels(monkeypatch):
    from ganglion.backend import jit
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    from ganglion.ops import loss_jit

    calls = []
    real = loss_jit.row_lse
    monkeypatch.setattr(loss_jit, "row_lse", lambda *a: calls.append(1) or real(*a))
    _both(_logits((37, 203)), np.zeros(37, np.int64), reduction="none")
    assert calls


@BOTH
def test_a_held_gradient_is_not_overwritten_by_the_next_backward():
    """The compiled backward reuses its last gradient array, only once nobody holds it."""
    t = ganglion.from_numpy(np.random.default_rng(2).integers(0, 300, 64))
    grads = []
    for seed in (0, 1, 2):
        x = ganglion.from_numpy(_logits((64, 300), seed)[4:20].copy()).requires_grad_()
        y = x * 1.0  # a non-leaf, as a model's logits
        y.retain_grad()
        F.cross_entropy(y, t[4:20]).backward()
        grads.append((x.detach().numpy().copy(), y.grad.numpy()))
    for xa, g in grads:
        tx = torch.from_numpy(xa).requires_grad_()
        TF.cross_entropy(tx, torch.from_numpy(t.numpy()[4:20])).backward()
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=2e-4, atol=1e-7)


@BOTH
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_second_derivatives_after_the_compiled_forward_match_torch(smoothing):
    from ganglion.testing import check_against_torch

    x = np.random.default_rng(8).standard_normal((20, 256))
    t = np.random.default_rng(9).integers(0, 256, 20)
    t[3] = -100
    w = np.random.default_rng(10).uniform(0.5, 2.0, 256)

    def fn(lib, ns):
        return lambda a: ns.cross_entropy(a, lib.from_numpy(t), weight=lib.from_numpy(w),
                                          label_smoothing=smoothing)
    check_against_torch(fn(ganglion, F), inputs=[x], torch_fn=fn(torch, TF), gradgrad=True,
                        atol=1e-9, rtol=1e-7)
