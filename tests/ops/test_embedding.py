"""embedding / embedding_bag vs torch: lookups, weight gradients with repeated indices,
padding_idx, scale_grad_by_freq, max_norm renormalisation, bag modes, offsets, per-sample
weights, second derivatives, finite differences and errors."""
import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)
W = RNG.standard_normal((7, 3))
IDX = np.array([[1, 2, 2], [6, 0, 1]])
FLAT = np.array([1, 2, 2, 5, 0, 1, 3, 3])
OFFSETS = np.array([0, 3, 3, 5])  # bag 1 is empty
DTYPES = [np.float32, np.float64]


def _conv(mod, v):
    return mod.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v


def check(name, arrays, dtype=np.float64, gradgrad=True, rg=None, **kw):
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    kw = {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
          for k, v in kw.items()}

    def fn(mod, ns):
        return lambda *a: getattr(ns, name)(*a, **{k: _conv(mod, v) for k, v in kw.items()})
    check_against_torch(fn(ganglion, F), inputs=arrays, torch_fn=fn(torch, TF), atol=1e-6,
                        rtol=1e-5, gradgrad=gradgrad, requires_grad=rg)


# -------------------------------------------------------------------------- embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("idx", [IDX, IDX[0], np.array(4), np.zeros((2, 0), np.int64)])
def test_embedding_matches_torch(dtype, idx):
    check("embedding", [idx, W], dtype=dtype)


@pytest.mark.parametrize("padding_idx", [2, -1, 0])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_padding_and_frequency_scaling(padding_idx, scale):
    check("embedding", [IDX, W], padding_idx=padding_idx, scale_grad_by_freq=scale)


def test_embedding_int32_indices_and_sparse_flag():
    check("embedding", [IDX.astype(np.int32), W], sparse=False)
    g = F.embedding(ganglion.from_numpy(IDX), ganglion.from_numpy(W).requires_grad_(),
                    sparse=True)
    assert tuple(g.shape) == (2, 3, 3)


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renormalizes_weight_in_place_like_torch(norm_type):
    gw, tw = ganglion.from_numpy(W.copy() * 3), torch.from_numpy(W.copy() * 3)
    gi, ti = ganglion.from_numpy(IDX), torch.from_numpy(IDX)
    v = gw._version
    go = F.embedding(gi, gw, max_norm=1.5, norm_type=norm_type)
    to = TF.embedding(ti, tw, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(go.numpy(), to.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), tw.numpy(), rtol=1e-12)  # only referenced rows
    assert gw._version > v


def test_embedding_max_norm_with_grad_like_torch():
    def fn(mod):
        def f(w):
            return mod.nn.functional.embedding(mod.from_numpy(IDX), w, max_norm=1.0) * w[0]
        return f
    check_against_torch(fn(ganglion), inputs=[W.copy()], torch_fn=fn(torch), atol=1e-10)


def test_embedding_double_backward_through_weight_products():
    # the embedding's gradient is linear in the output gradient: differentiate through a
    # product so the second derivative is non-trivial
    def fn(mod):
        return lambda w: (mod.nn.functional.embedding(mod.from_numpy(IDX), w) ** 3)
    check_against_torch(fn(ganglion), inputs=[W], torch_fn=fn(torch), gradgrad=True, atol=1e-10)


def test_embedding_finite_differences():
    w = ganglion.from_numpy(W.copy()).requires_grad_()
    idx = ganglion.from_numpy(IDX)
    # (padding_idx and scale_grad_by_freq change the gradient on purpose: checked vs torch)
    assert gradcheck(lambda w: F.embedding(idx, w).sin(), [w], atol=1e-6)


# ---------------------------------------------------------------------- embedding_bag
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_input(dtype, mode):
    check("embedding_bag", [IDX, W], dtype=dtype, mode=mode)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_offsets_empty_bags_padding(mode, padding_idx):
    check("embedding_bag", [FLAT, W], mode=mode, offsets=OFFSETS, padding_idx=padding_idx)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_include_last_offset(mode):
    check("embedding_bag", [FLAT, W], mode=mode, offsets=np.array([0, 3, 3, 5, 8]),
          include_last_offset=True)
    # indices after the last offset still join the last bag (torch's CPU kernel)
    check("embedding_bag", [FLAT, W], mode=mode, offsets=np.array([0, 2, 6]),
          include_last_offset=True)


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_bag_per_sample_weights(padding_idx):
    psw = RNG.uniform(0.5, 1.5, FLAT.shape)

    def fn(mod):
        def f(w, p):
            return mod.nn.functional.embedding_bag(mod.from_numpy(FLAT), w,
                                                   mod.from_numpy(OFFSETS), mode="sum",
                                                   per_sample_weights=p,
                                                   padding_idx=padding_idx)
        return f
    check_against_torch(fn(ganglion), inputs=[W, psw], torch_fn=fn(torch), atol=1e-10)
    check_against_torch(fn(ganglion), inputs=[W.astype(np.float32), psw.astype(np.float32)],
                        torch_fn=fn(torch), atol=1e-5)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq(mode):
    # torch 2.13's CPU embedding_bag divides by the wrong count when frequencies differ
    # (pytorch/pytorch#190063); the oracle is the documented rule, built from torch's
    # (correct) F.embedding(scale_grad_by_freq=True) summed per bag.
    bags = np.repeat(np.arange(4), np.diff(np.r_[OFFSETS, FLAT.size]))
    tw = torch.from_numpy(W.copy()).requires_grad_()
    rows = TF.embedding(torch.from_numpy(FLAT), tw, scale_grad_by_freq=True)
    out = torch.zeros(4, 3, dtype=torch.float64).index_add(0, torch.from_numpy(bags), rows)
    if mode == "mean":
        out = out / torch.from_numpy(np.maximum(np.bincount(bags, minlength=4), 1))[:, None]
    gw = ganglion.from_numpy(W.copy()).requires_grad_()
    go = F.embedding_bag(ganglion.from_numpy(FLAT), gw, ganglion.from_numpy(OFFSETS), mode=mode,
                         scale_grad_by_freq=True)
    cot = RNG.uniform(0.5, 1.5, (4, 3))
    (out * torch.from_numpy(cot)).sum().backward()
    (go * ganglion.from_numpy(cot)).sum().backward()
    np.testing.assert_allclose(go.detach().numpy(), out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), atol=1e-12)


def test_embedding_bag_max_norm_like_torch():
    gw, tw = ganglion.from_numpy(W.copy() * 2), torch.from_numpy(W.copy() * 2)
    go = F.embedding_bag(ganglion.from_numpy(IDX), gw, max_norm=1.0)
    to = TF.embedding_bag(torch.from_numpy(IDX), tw, max_norm=1.0)
    np.testing.assert_allclose(go.numpy(), to.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), tw.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_double_backward_finite_differences(mode):
    # torch has no double backward for embedding_bag: check ganglion's against finite
    # differences of its own (torch-checked) first derivative
    flat, off = ganglion.from_numpy(FLAT), ganglion.from_numpy(OFFSETS)
    psw = ganglion.from_numpy(RNG.uniform(0.5, 1.5, FLAT.shape)).requires_grad_()

    def grad_fn(w, p):
        kw = {"per_sample_weights": p} if mode == "sum" else {}
        out = F.embedding_bag(flat, w, off, mode=mode, **kw)
        grads = ganglion.autograd.grad((out ** 3).sum(), [w, p] if kw else [w],
                                       create_graph=True)
        return sum((g * g).sum() for g in grads)
    w = ganglion.from_numpy(W.copy()).requires_grad_()
    assert gradcheck(grad_fn, [w, psw] if mode == "sum" else [w, psw.detach()], atol=1e-5)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_finite_differences(mode):
    w = ganglion.from_numpy(W.copy()).requires_grad_()
    psw = ganglion.from_numpy(RNG.uniform(0.5, 1.5, FLAT.shape)).requires_grad_()
    flat, off = ganglion.from_numpy(FLAT), ganglion.from_numpy(OFFSETS)
    if mode == "sum":
        assert gradcheck(lambda w, p: F.embedding_bag(flat, w, off, mode=mode,
                                                      per_sample_weights=p), [w, psw])
    else:
        assert gradcheck(lambda w: F.embedding_bag(flat, w, off, mode=mode), [w])


# ------------------------------------------------------------------------------ errors
def _raises_both(exc, match, g_call, t_call):
    with pytest.raises(exc):
        t_call()
    with pytest.raises(exc, match=match):
        g_call()


def test_embedding_errors_like_torch():
    gw, tw = ganglion.from_numpy(W), torch.from_numpy(W)
    _raises_both(IndexError, "embedding: index out of range in self: index 9",
                 lambda: F.embedding(ganglion.tensor([1, 9]), gw),
                 lambda: TF.embedding(torch.tensor([1, 9]), tw))
    _raises_both(RuntimeError, "embedding: Expected tensor for argument #1 'indices'",
                 lambda: F.embedding(ganglion.tensor([1.0]), gw),
                 lambda: TF.embedding(torch.tensor([1.0]), tw))
    _raises_both(AssertionError, "embedding: Padding_idx must be within num_embeddings",
                 lambda: F.embedding(ganglion.tensor([1]), gw, padding_idx=7),
                 lambda: TF.embedding(torch.tensor([1]), tw, padding_idx=7))
    with pytest.raises(ValueError, match="Padding_idx"):  # also a ValueError (style guide)
        F.embedding(ganglion.tensor([1]), gw, padding_idx=-8)


def test_embedding_bag_errors_like_torch():
    gw, tw = ganglion.from_numpy(W), torch.from_numpy(W)
    g1, t1 = ganglion.tensor([1, 2]), torch.tensor([1, 2])
    _raises_both(ValueError, "embedding_bag: offsets has to be a 1D Tensor but got None",
                 lambda: F.embedding_bag(g1, gw), lambda: TF.embedding_bag(t1, tw))
    _raises_both(RuntimeError, "embedding_bag: offsets\\[0\\] has to be 0",
                 lambda: F.embedding_bag(g1, gw, ganglion.tensor([1])),
                 lambda: TF.embedding_bag(t1, tw, torch.tensor([1])))
    _raises_both(RuntimeError, "embedding_bag: offsets\\[-1\\] can not be greater than input's "
                               "length 2 but got offsets\\[-1\\] of 3",
                 lambda: F.embedding_bag(g1, gw, ganglion.tensor([0, 3])),
                 lambda: TF.embedding_bag(t1, tw, torch.tensor([0, 3])))
    g2, t2 = ganglion.tensor([[1, 2]]), torch.tensor([[1, 2]])
    _raises_both(ValueError, "embedding_bag: if input is 2D, then offsets has to be None",
                 lambda: F.embedding_bag(g2, gw, ganglion.tensor([0])),
                 lambda: TF.embedding_bag(t2, tw, torch.tensor([0])))
    _raises_both(NotImplementedError, "embedding_bag: per_sample_weights was not None",
                 lambda: F.embedding_bag(g2, gw, mode="max",
                                         per_sample_weights=ganglion.ones(1, 2)),
                 lambda: TF.embedding_bag(t2, tw, mode="max", per_sample_weights=torch.ones(1, 2)))
    _raises_both(ValueError, "embedding_bag: max mode does not support scaling",
                 lambda: F.embedding_bag(g2, gw, mode="max", scale_grad_by_freq=True),
                 lambda: TF.embedding_bag(t2, tw, mode="max", scale_grad_by_freq=True))
    with pytest.raises(ValueError, match="embedding_bag: mode has to be one of"):
        F.embedding_bag(g2, gw, mode="prod")
