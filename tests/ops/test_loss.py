"""Loss functions vs torch: forward, gradients of every differentiable input, second
derivatives of the main losses, every reduction and option, finite differences, errors."""
import warnings

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
Y = RNG.standard_normal((4, 5))
Z = RNG.standard_normal((4, 5))
T = np.array([1, 0, 4, 2])
T_IGN = np.array([1, -100, 4, 2])
W = RNG.uniform(0.5, 1.5, 5)
P = RNG.uniform(0.05, 0.95, (4, 5))
PROB = P / P.sum(1, keepdims=True)
XK = RNG.standard_normal((2, 5, 3, 2))
TK = RNG.integers(0, 5, (2, 3, 2))
SIGN = np.array([1.0, -1.0, -1.0, 1.0])


def _conv(mod, v):
    return mod.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v


def check(name, arrays, rg=None, gradgrad=True, dtype=np.float64, **kw):
    """F.<name>(*arrays, **kw) on both libraries; array keyword values become tensors."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    kw = {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
          for k, v in kw.items()}

    def fn(mod, ns):
        return lambda *a: getattr(ns, name)(*a, **{k: _conv(mod, v) for k, v in kw.items()})
    tol = dict(atol=1e-9, rtol=1e-7) if dtype == np.float64 else dict(atol=2e-5, rtol=2e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_against_torch(fn(ganglion, F), inputs=arrays, torch_fn=fn(torch, TF),
                            requires_grad=rg, gradgrad=gradgrad, **tol)


@pytest.mark.usefixtures("jit_mode")  # compiled kernels and the NumPy path
# ---------------------------------------------------------------------- cross_entropy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_class_indices(dtype, reduction, smoothing):
    check("cross_entropy", [X, T], dtype=dtype, reduction=reduction, label_smoothing=smoothing)


@pytest.mark.usefixtures("jit_mode")  # compiled kernels and the NumPy path
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_weight_and_ignore_index(reduction, smoothing):
    check("cross_entropy", [X, T_IGN, W], rg=[True, False, False], reduction=reduction,
          label_smoothing=smoothing)
    check("cross_entropy", [X, T], rg=[True, False], reduction=reduction, ignore_index=2,
          label_smoothing=smoothing, weight=W)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets(dtype, reduction, smoothing):
    check("cross_entropy", [X, PROB], dtype=dtype, reduction=reduction,
          label_smoothing=smoothing)
    check("cross_entropy", [X, PROB, W], rg=[True, True, False], dtype=dtype,
          reduction=reduction, label_smoothing=smoothing)


@pytest.mark.usefixtures("jit_mode")  # compiled kernels and the NumPy path
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_k_dimensional(reduction):
    tk = TK.copy()
    tk[0, 1, 1] = 3
    check("cross_entropy", [XK, tk, W], rg=[True, False, False], reduction=reduction,
          ignore_index=3, label_smoothing=0.1)
    check("cross_entropy", [XK[..., 0], PROB[:2, :, None].repeat(3, 2) / 1.0],
          reduction=reduction)


@pytest.mark.usefixtures("jit_mode")  # compiled kernels and the NumPy path
def test_cross_entropy_unbatched_and_all_ignored():
    check("cross_entropy", [X[0], np.array(3)], reduction="none")
    check("cross_entropy", [X[0], np.array(3)], label_smoothing=0.1)
    check("cross_entropy", [X[0], PROB[0]])
    ign = np.full(4, -100)
    for ls in (0.0, 0.2):  # every target ignored: 0 / 0 = nan, as torch
        g = F.cross_entropy(ganglion.from_numpy(X), ganglion.from_numpy(ign), label_smoothing=ls)
        t = TF.cross_entropy(torch.from_numpy(X), torch.from_numpy(ign), label_smoothing=ls)
        assert np.isnan(g.item()) and np.isnan(t.item())


@pytest.mark.usefixtures("jit_mode")  # compiled kernels and the NumPy path
def test_cross_entropy_large_logits_are_stable():
    x = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]], np.float32)
    check("cross_entropy", [x, np.array([2, 0])], dtype=np.float32, reduction="none")


@pytest.mark.parametrize("name,args", [("cross_entropy", (T,)), ("mse_loss", (Y,)),
                                       ("binary_cross_entropy_with_logits", (PROB,)),
                                       ("kl_div", (PROB,))])
def test_float16_results_like_torch(name, args):
    x = X.astype(np.float16)
    args = [a.astype(np.float16) if a.dtype.kind == "f" else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = getattr(F, name)(ganglion.from_numpy(x), *[ganglion.from_numpy(a) for a in args])
        t = getattr(TF, name)(torch.from_numpy(x), *[torch.from_numpy(a) for a in args])
    assert g.numpy().dtype == t.numpy().dtype == np.float16
    np.testing.assert_allclose(g.numpy().astype(np.float32), t.numpy().astype(np.float32),
                               rtol=5e-3, atol=5e-3)


def test_cross_entropy_legacy_args():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        g = F.cross_entropy(ganglion.from_numpy(X), ganglion.from_numpy(T), size_average=False)
    t = TF.cross_entropy(torch.from_numpy(X), torch.from_numpy(T), reduction="sum")
    np.testing.assert_allclose(g.item(), t.item(), rtol=1e-12)
    with pytest.warns(UserWarning):
        g = F.cross_entropy(ganglion.from_numpy(X), ganglion.from_numpy(T), reduce=False)
    assert tuple(g.shape) == (4,)


# --------------------------------------------------------------------------- nll_loss
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(dtype, reduction):
    # nll_loss is linear in its input: its second derivative is checked through log_softmax
    check("nll_loss", [X, T_IGN, W], rg=[True, False, False], gradgrad=False, dtype=dtype,
          reduction=reduction)
    check("nll_loss", [XK, TK], gradgrad=False, dtype=dtype, reduction=reduction,
          ignore_index=1)
    check("nll_loss", [X[0], np.array(2)], gradgrad=False, dtype=dtype, reduction=reduction)


def test_nll_loss_of_log_softmax_second_derivative():
    def fn(mod):
        return lambda x: mod.nn.functional.nll_loss(x.log_softmax(1), mod.from_numpy(T),
                                                    mod.from_numpy(W))
    check_against_torch(fn(ganglion), inputs=[X], torch_fn=fn(torch), gradgrad=True, atol=1e-10)


def test_nll_loss_uint8_target_accepted():
    check("nll_loss", [X, T.astype(np.uint8)], gradgrad=False)


# --------------------------------------------------------------------- regression
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}),
                                     ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                     ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 0.4})])
def test_regression_losses(dtype, reduction, name, kw):
    check(name, [X, Y], dtype=dtype, reduction=reduction, **kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_losses_with_weight(reduction, name):
    check(name, [X, Y], reduction=reduction, weight=P)


def test_regression_losses_broadcast_target_warns_like_torch():
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(ganglion.zeros(2, 3), ganglion.zeros(3))
    check("mse_loss", [X, Y[:1]])
    check("l1_loss", [X, Y[0]], reduction="none")


# ---------------------------------------------------------------------------- binary
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(dtype, reduction):
    check("binary_cross_entropy", [P, PROB], dtype=dtype, reduction=reduction)
    check("binary_cross_entropy", [P, PROB, W], rg=[True, True, False], dtype=dtype,
          reduction=reduction)


def test_binary_cross_entropy_clamps_log_like_torch():
    x = np.array([0.0, 1.0, 1e-50, 0.5])
    g = F.binary_cross_entropy(ganglion.from_numpy(x), ganglion.from_numpy(x * 0 + 1),
                               reduction="none")
    t = TF.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(x * 0 + 1),
                                reduction="none")
    np.testing.assert_allclose(g.numpy(), t.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(dtype, reduction):
    check("binary_cross_entropy_with_logits", [X * 5, PROB], dtype=dtype, reduction=reduction)
    check("binary_cross_entropy_with_logits", [X, PROB, W], rg=[True, True, False],
          dtype=dtype, reduction=reduction, pos_weight=W[::-1].copy())


# ------------------------------------------------------------------ probabilistic
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    target = np.log(PROB) if log_target else PROB
    check("kl_div", [np.log(P), target], reduction=reduction, log_target=log_target)


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(ganglion.zeros(2), ganglion.ones(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_loss(reduction):
    counts = np.array([[0.0, 1.0, 2.0, 5.0, 0.5]] * 4)
    check("poisson_nll_loss", [X, counts], rg=[True, False], reduction=reduction, full=True)
    check("poisson_nll_loss", [P, PROB + 0.5], reduction=reduction, log_input=False)
    check("poisson_nll_loss", [X, PROB + 2.0], reduction=reduction, full=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 5), (4,), (4, 1)])
def test_gaussian_nll_loss(reduction, var_shape):
    var = RNG.uniform(0.1, 2.0, var_shape)
    check("gaussian_nll_loss", [X, Y, var], reduction=reduction, full=True)


def test_gaussian_nll_loss_clamped_var_passes_gradient_like_torch():
    var = np.array([1e-9, 0.5, 2.0, 1e-8])
    check("gaussian_nll_loss", [X[:, 0], Y[:, 0], var], eps=1e-6)
    check("gaussian_nll_loss", [X, Y], var=0.7)


# -------------------------------------------------------------------- margin / soft
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_losses(reduction):
    check("soft_margin_loss", [X, np.sign(Y)], rg=[True, False], reduction=reduction)
    check("multilabel_soft_margin_loss", [X, PROB.round()], reduction=reduction)
    check("multilabel_soft_margin_loss", [X, PROB], reduction=reduction, weight=W)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_embedding_and_ranking_losses(reduction):
    check("cosine_embedding_loss", [X, Y, SIGN], rg=[True, True, False], reduction=reduction,
          margin=0.1)
    check("cosine_embedding_loss", [X[0], Y[0], np.array(-1.0)], rg=[True, True, False],
          reduction=reduction, margin=-0.5)
    check("margin_ranking_loss", [X[:, 0], Y[:, 0], SIGN], rg=[True, True, False],
          reduction=reduction, margin=0.1)
    check("hinge_embedding_loss", [X, np.sign(Y)], rg=[True, False], reduction=reduction,
          margin=0.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,swap", [(2, False), (2, True), (1, False), (3, True)])
def test_triplet_margin_loss(reduction, p, swap):
    check("triplet_margin_loss", [X, Y, Z], reduction=reduction, p=p, swap=swap, margin=2.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss(reduction, p):
    # torch has no double backward for multi_margin_loss: first derivatives only
    check("multi_margin_loss", [X, T], gradgrad=False, reduction=reduction, p=p, margin=0.7,
          weight=W)
    check("multi_margin_loss", [X[0], np.array(3)], gradgrad=False, reduction=reduction, p=p)


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_cosine_similarity(dim):
    check("cosine_similarity", [X, Y], dim=dim)
    check("cosine_similarity", [X, Y[:1]], dim=dim)


def test_cosine_similarity_small_norm_clamped_like_torch():
    x = X.copy()
    x[1] = 1e-10
    check("cosine_similarity", [x, Y], dim=1)


@pytest.mark.parametrize("p,keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance(p, keepdim):
    check("pairwise_distance", [X, Y], p=p, keepdim=keepdim)
    check("pairwise_distance", [X[0], Y], p=p, keepdim=keepdim)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("fn", [
    lambda x, p: F.cross_entropy(x, ganglion.tensor([1, 0, 2]), label_smoothing=0.2),
    lambda x, p: F.cross_entropy(x, p.softmax(1), label_smoothing=0.1),
    lambda x, p: F.binary_cross_entropy(x.sigmoid(), p.sigmoid()),
    lambda x, p: F.binary_cross_entropy_with_logits(x, p.sigmoid(), pos_weight=p[0].exp()),
    lambda x, p: F.kl_div(x.log_softmax(1), p.softmax(1), reduction="batchmean"),
    lambda x, p: F.gaussian_nll_loss(x, p, (x * p).exp()),
    lambda x, p: F.cosine_embedding_loss(x, p, ganglion.tensor([1.0, -1.0, 1.0]), 0.1),
    lambda x, p: F.triplet_margin_loss(x, p, x * 2 - p, swap=True),
])
def test_losses_finite_differences(fn):
    rng = np.random.default_rng(5)
    x = ganglion.from_numpy(rng.normal(size=(3, 4))).requires_grad_()
    p = ganglion.from_numpy(rng.normal(size=(3, 4))).requires_grad_()
    assert gradcheck(fn, [x, p], eps=1e-6, atol=1e-6, rtol=1e-4)


# ------------------------------------------------------------------------------ errors
def _raises_both(exc, match, g_call, t_call):
    with pytest.raises(exc):
        t_call()
    with pytest.raises(exc, match=match):
        g_call()


def _gt(a):
    return ganglion.from_numpy(np.array(a)), torch.from_numpy(np.array(a))


def test_cross_entropy_and_nll_target_errors_like_torch():
    gx, tx = _gt(X.astype(np.float32))
    gf, tf = _gt(np.array([1.0, 2.0, 3.0, 0.0], np.float32))
    for name in ("cross_entropy", "nll_loss"):
        _raises_both(RuntimeError, f"{name}: expected target dtype to be Long.*Float",
                     lambda: getattr(F, name)(gx, gf), lambda: getattr(TF, name)(tx, tf))
    gi, ti = _gt(np.array([1, 2, 0, 0], np.int32))
    _raises_both(RuntimeError, "nll_loss: expected target dtype to be Long or Byte.*Int",
                 lambda: F.nll_loss(gx, gi), lambda: TF.nll_loss(tx, ti))
    gb, tb = _gt(np.array([1, 7, 0, 0]))
    _raises_both(IndexError, "cross_entropy: Target 7 is out of bounds.*5 classes",
                 lambda: F.cross_entropy(gx, gb), lambda: TF.cross_entropy(tx, tb))
    gb, tb = _gt(np.array([1, -3, 0, 0]))
    _raises_both(IndexError, "nll_loss: Target -3 is out of bounds",
                 lambda: F.nll_loss(gx, gb), lambda: TF.nll_loss(tx, tb))
    gs, ts = _gt(np.array([1, 2]))
    _raises_both(ValueError, r"cross_entropy: Expected input batch_size \(4\) to match target "
                             r"batch_size \(2\).*\(4, 5\).*\(2,\)",
                 lambda: F.cross_entropy(gx, gs), lambda: TF.cross_entropy(tx, ts))
    gk, tk = _gt(XK)
    gs, ts = _gt(np.zeros((2, 3, 3), np.int64))
    _raises_both(RuntimeError, r"cross_entropy: Expected target size \[2, 3, 2\], got "
                               r"\[2, 3, 3\]",
                 lambda: F.cross_entropy(gk, gs), lambda: TF.cross_entropy(tk, ts))


def test_cross_entropy_option_errors_like_torch():
    gx, tx = _gt(X)
    gt, tt = _gt(T)
    gp, tp = _gt(PROB)
    _raises_both(RuntimeError, "cross_entropy: label_smoothing must be between 0.0 and 1.0",
                 lambda: F.cross_entropy(gx, gt, label_smoothing=1.5),
                 lambda: TF.cross_entropy(tx, tt, label_smoothing=1.5))
    _raises_both(RuntimeError, "cross_entropy: weight tensor should be defined either for all 5",
                 lambda: F.cross_entropy(gx, gt, ganglion.ones(4, dtype=ganglion.float64)),
                 lambda: TF.cross_entropy(tx, tt, torch.ones(4, dtype=torch.float64)))
    _raises_both(RuntimeError, "cross_entropy: ignore_index is not supported for floating",
                 lambda: F.cross_entropy(gx, gp, ignore_index=1),
                 lambda: TF.cross_entropy(tx, tp, ignore_index=1))
    gi, ti = _gt(np.ones((4, 5), np.int64))
    _raises_both(RuntimeError, "cross_entropy: Expected floating point type for target with "
                               "class probabilities, got Long",
                 lambda: F.cross_entropy(gx, gi), lambda: TF.cross_entropy(tx, ti))
    _raises_both(ValueError, "cross_entropy: avg is not a valid value for reduction",
                 lambda: F.cross_entropy(gx, gt, reduction="avg"),
                 lambda: TF.cross_entropy(tx, tt, reduction="avg"))


def test_pointwise_loss_errors_like_torch():
    g1, t1 = _gt(np.array([0.5, 1.5]))
    g2, t2 = _gt(np.array([0.0, 1.0]))
    _raises_both(RuntimeError, "binary_cross_entropy: all elements of input should be between "
                               "0 and 1",
                 lambda: F.binary_cross_entropy(g1, g2), lambda: TF.binary_cross_entropy(t1, t2))
    g3, t3 = _gt(np.array([[0.0, 1.0]]))
    _raises_both(ValueError, r"binary_cross_entropy: Using a target size .*\[1, 2\].* input "
                             r"size .*\[2\]",
                 lambda: F.binary_cross_entropy(g2, g3), lambda: TF.binary_cross_entropy(t2, t3))
    _raises_both(ValueError, r"binary_cross_entropy_with_logits: Target size .*\[1, 2\]",
                 lambda: F.binary_cross_entropy_with_logits(g2, g3),
                 lambda: TF.binary_cross_entropy_with_logits(t2, t3))
    _raises_both(ValueError, "gaussian_nll_loss: var is of incorrect size",
                 lambda: F.gaussian_nll_loss(g3, g3, ganglion.ones(3, dtype=ganglion.float64)),
                 lambda: TF.gaussian_nll_loss(t3, t3, torch.ones(3, dtype=torch.float64)))
    _raises_both(ValueError, "gaussian_nll_loss: var has negative",
                 lambda: F.gaussian_nll_loss(g2, g2, -g2 - 1),
                 lambda: TF.gaussian_nll_loss(t2, t2, -t2 - 1))
    _raises_both(ValueError, "mse_loss: sums is not a valid value for reduction",
                 lambda: F.mse_loss(g2, g2, reduction="sums"),
                 lambda: TF.mse_loss(t2, t2, reduction="sums"))
    _raises_both(RuntimeError, "margin_ranking_loss: All input tensors should have same "
                               "dimension",
                 lambda: F.margin_ranking_loss(g2, g3, g2),
                 lambda: TF.margin_ranking_loss(t2, t3, t2))
    _raises_both(RuntimeError, "triplet_margin_loss: .*anchor 1D, positive 2D",
                 lambda: F.triplet_margin_loss(g2, g3, g2),
                 lambda: TF.triplet_margin_loss(t2, t3, t2))
    _raises_both(RuntimeError, "cosine_embedding_loss: 1D target tensor expects 2D input",
                 lambda: F.cosine_embedding_loss(g2, g2, g2),
                 lambda: TF.cosine_embedding_loss(t2, t2, t2))


def test_loss_result_dtypes_follow_torch():
    for dt in (np.float32, np.float64):
        g = F.cross_entropy(ganglion.from_numpy(X.astype(dt)), ganglion.from_numpy(T))
        t = TF.cross_entropy(torch.from_numpy(X.astype(dt)), torch.from_numpy(T))
        assert g.numpy().dtype == t.numpy().dtype
        g = F.mse_loss(ganglion.from_numpy(X.astype(dt)), ganglion.from_numpy(Y.astype(dt)))
        assert g.numpy().dtype == dt
