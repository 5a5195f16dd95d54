"""scaled_dot_product_attention and nn.MultiheadAttention against torch: forward values, the
gradients of every input (float masks included) and parameter, second derivatives, masks of
every kind, and torch's errors."""
import types
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.autograd.gradcheck import gradgradcheck
from ganglion.nn.layers.attention import MultiheadAttention
from ganglion.ops.attention import scaled_dot_product_attention as g_sdpa
from ganglion.ops.attention_mha import AttentionArgError, multi_head_attention_forward
from ganglion.testing import check_against_torch, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# ganglion's side of the layers under test (the names match torch.nn's)
GNN = types.SimpleNamespace(MultiheadAttention=MultiheadAttention)


def _rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape).astype(dtype)


def _bool_mask(shape, seed=1, p=0.3, full_row=False):
    m = np.random.default_rng(seed).random(shape) > p  # True = takes part (SDPA convention)
    m[..., 0] = True  # every row keeps a position ...
    if full_row:
        m[..., 1, :] = False  # ... except row 1: all masked
    return m


# (q, k, v shapes, attn_mask array or None, kwargs)
SDPA_CASES = {
    "basic": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), None, {}),
    "unbatched_2d": ((4, 8), (5, 8), (5, 3), None, {}),
    "batch_3d": ((2, 4, 8), (2, 5, 8), (2, 5, 8), None, {}),
    "broadcast_batch": ((3, 1, 4, 8), (1, 2, 5, 8), (2, 5, 6), None, {}),
    "bool_mask": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), _bool_mask((4, 5)), {}),
    "bool_mask_heads": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), _bool_mask((2, 1, 4, 5)), {}),
    "bool_mask_full_row": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
                           _bool_mask((4, 5), full_row=True), {}),
    "float_mask": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), _rand((3, 4, 5), 7), {}),
    "causal_square": ((2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 3), None, {"is_causal": True}),
    "causal_wide": ((1, 2, 3, 4), (1, 2, 6, 4), (1, 2, 6, 2), None, {"is_causal": True}),
    "causal_tall": ((1, 2, 6, 4), (1, 2, 3, 4), (1, 2, 3, 2), None, {"is_causal": True}),
    "scale": ((2, 2, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6), None, {"scale": 0.3}),
    "gqa": ((2, 4, 3, 8), (2, 2, 5, 8), (2, 1, 5, 6), None, {"enable_gqa": True}),
    "empty_source": ((2, 3, 8), (2, 0, 8), (2, 0, 4), None, {}),
    "empty_target": ((2, 0, 8), (2, 5, 8), (2, 5, 4), None, {}),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, dtype, jit_mode):
    qs, ks, vs, mask, kw = SDPA_CASES[case]
    arrays = [_rand(qs, 0, dtype), _rand(ks, 1, dtype), _rand(vs, 2, dtype)]
    if mask is not None:
        arrays.append(mask.astype(dtype) if mask.dtype.kind == "f" else mask)

    def run(sdpa):
        return lambda *t: sdpa(*t[:3], attn_mask=t[3] if len(t) > 3 else None, **kw)

    tol = 1e-5 if dtype == np.float32 else 1e-10
    check_against_torch(run(g_sdpa), inputs=arrays, torch_fn=run(TF.scaled_dot_product_attention),
                        atol=tol, rtol=1e-4, gradgrad=dtype == np.float64)


@pytest.mark.parametrize("shape_q,shape_k,kw", [
    ((2, 3, 70, 8), (2, 3, 50, 8), {"is_causal": True}),   # row blocks cut mid-sequence
    ((2, 3, 50, 8), (2, 3, 70, 8), {"is_causal": True}),
    ((1, 2, 40, 8), (1, 2, 40, 8), {"scale": -0.7}),       # a negative scale flips the max
    ((1, 2, 40, 8), (1, 2, 40, 8), {"scale": 0.0}),
])
def test_sdpa_long_rows_match_torch(shape_q, shape_k, kw, jit_mode):
    arrays = [_rand(shape_q, 0), _rand(shape_k, 1), _rand(shape_k, 2)]
    check_against_torch(lambda q, k, v: g_sdpa(q, k, v, **kw), inputs=arrays,
                        torch_fn=lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw),
                        atol=1e-5, rtol=1e-4)


def test_sdpa_nan_and_inf_rows_like_the_math():
    # torch's own CPU kernels disagree here (its flash kernel drops a NaN query row), so the
    # reference is the math: a NaN query, or a +inf score among a row's allowed positions,
    # makes that row NaN (inf - inf); a -inf score only gets weight 0. Both paths must agree.
    from ganglion.backend import jit

    q, k, v = _rand((1, 2, 6, 4), 0), _rand((1, 2, 6, 4), 1), _rand((1, 2, 6, 4), 2)
    q[0, 0, 2, 1] = np.nan
    k[0, 1, 4, 0] = np.inf
    outs = []
    for off in (False, True):
        with np.errstate(invalid="ignore"), (jit.disabled() if off else _nullcontext()):
            outs.append(g_sdpa(*(ganglion.from_numpy(a) for a in (q, k, v)),
                               is_causal=True).numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)  # NaNs where NaNs
    nan_rows = np.isnan(outs[0]).any(-1)
    expect = np.zeros(q.shape[:-1], bool)
    expect[0, 0, 2] = True
    expect[0, 1, 4:] = q[0, 1, 4:, 0] > 0  # q . k[4] = +inf only for a positive coefficient
    np.testing.assert_array_equal(nan_rows, expect)
    assert np.isnan(outs[0][nan_rows]).all()


def _nullcontext():
    import contextlib

    return contextlib.nullcontext()


def test_sdpa_dropout_same_on_compiled_and_numpy_paths():
    # one seed, one mask: both paths draw dropout's counter-based keep mask
    from ganglion.backend import jit

    arrays = [_rand((2, 3, 37, 16), s) for s in range(3)]
    results = []
    for off in (False, True):
        ts = [ganglion.from_numpy(a.copy()).requires_grad_() for a in arrays]
        ganglion.manual_seed(11)
        if off:
            with jit.disabled():
                out = g_sdpa(*ts, dropout_p=0.3, is_causal=True)
                (out * out).sum().backward()
        else:
            out = g_sdpa(*ts, dropout_p=0.3, is_causal=True)
            (out * out).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sdpa_float_mask_with_inf_rows_matches_torch():
    mask = np.zeros((4, 5), np.float32)
    mask[2] = -np.inf
    mask[0, 3:] = -np.inf
    arrays = [_rand((2, 4, 8)), _rand((2, 5, 8), 1), _rand((2, 5, 3), 2), mask]
    check_against_torch(lambda q, k, v, m: g_sdpa(q, k, v, attn_mask=m), inputs=arrays,
                        torch_fn=lambda q, k, v, m: TF.scaled_dot_product_attention(
                            q, k, v, attn_mask=m), requires_grad=[True, True, True, False])


def test_sdpa_float16_dtype_matches_torch():
    q, k, v = (ganglion.from_numpy(_rand((2, 3, 4), s, np.float16)) for s in range(3))
    out = g_sdpa(q, k, v)
    ref = TF.scaled_dot_product_attention(*(torch.from_numpy(t.numpy()) for t in (q, k, v)))
    assert out.dtype == ganglion.float16 and ref.dtype == torch.float16
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=2e-3)


def test_sdpa_finite_differences_with_dropout():
    rng = np.random.default_rng(0)
    q, k, v = (ganglion.from_numpy(rng.standard_normal(s)).requires_grad_()
               for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))

    def fn(q, k, v):
        ganglion.manual_seed(3)  # the same dropout mask at every evaluation
        return g_sdpa(q, k, v, dropout_p=0.4)

    assert gradcheck(fn, [q, k, v], eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, [q, k, v], eps=1e-6, atol=1e-5)


def test_sdpa_dropout_semantics():
    q, k, v = (ganglion.from_numpy(_rand((2, 4, 8), s)) for s in range(3))
    ganglion.manual_seed(5)
    a = g_sdpa(q, k, v, dropout_p=0.5)
    ganglion.manual_seed(5)
    b = g_sdpa(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # manual_seed reproduces the mask
    assert not np.allclose(a.numpy(), g_sdpa(q, k, v).numpy())
    assert not np.any(g_sdpa(q, k, v, dropout_p=1.0).numpy())  # torch: all weights dropped


def test_sdpa_errors_match_torch():
    q, k, v = (ganglion.randn(2, 4, 8) for _ in range(3))
    tq, tk, tv = (torch.randn(2, 4, 8) for _ in range(3))
    cases = [
        ({"attn_mask": ganglion.ones(4, 4, dtype=ganglion.bool), "is_causal": True},
         {"attn_mask": torch.ones(4, 4, dtype=torch.bool), "is_causal": True}),
        ({"attn_mask": ganglion.zeros(3, 4)}, {"attn_mask": torch.zeros(3, 4)}),
        ({"attn_mask": ganglion.zeros(4, 4, dtype=ganglion.int64)},
         {"attn_mask": torch.zeros(4, 4, dtype=torch.int64)}),
        ({"attn_mask": ganglion.zeros(4, 4, dtype=ganglion.float64)},
         {"attn_mask": torch.zeros(4, 4, dtype=torch.float64)}),
    ]
    for gkw, tkw in cases:
        with pytest.raises(RuntimeError):
            TF.scaled_dot_product_attention(tq, tk, tv, **tkw)
        with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
            g_sdpa(q, k, v, **gkw)
    with pytest.raises(RuntimeError, match="same dtype"):
        g_sdpa(q, k.double(), v)
    with pytest.raises(RuntimeError, match="at least 2-D"):
        g_sdpa(q[0, 0], k[0, 0], v[0, 0])
    with pytest.raises(RuntimeError, match=r"\(2, 4, 8\), \(2, 4, 6\)"):
        g_sdpa(q, k[..., :6], v)
    with pytest.raises(ValueError, match="dropout probability"):
        g_sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="Number of heads"):
        g_sdpa(ganglion.randn(1, 4, 2, 8), ganglion.randn(1, 3, 2, 8), ganglion.randn(1, 3, 2, 8),
               enable_gqa=True)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        g_sdpa(ganglion.randn(1, 4, 2, 8), ganglion.randn(1, 2, 2, 8), ganglion.randn(1, 2, 2, 8))
    with pytest.raises(TypeError, match="'key' must be Tensor"):
        g_sdpa(q, tk, v)


# --------------------------------------------------------------------------------------------
# nn.MultiheadAttention


def _to_torch_state(module):
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in module.state_dict().items()}


def compare_modules(make, arrays, call, train=False, dtype=np.float32, atol=2e-5, seed=0):
    """Build ganglion's and torch's module with ``make(nn)``, copy ganglion's weights into
    torch, run ``call(lib, module, *inputs)`` on both, then compare the outputs, the gradients
    of a random projection of them for every float input, and every parameter's gradient."""
    ganglion.manual_seed(seed)
    gm, tm = make(GNN), make(torch.nn)
    assert list(gm.state_dict()) == list(tm.state_dict())
    tm.load_state_dict(_to_torch_state(gm))
    if dtype == np.float64:
        gm, tm = gm.double(), tm.double()
    gm.train(train)
    tm.train(train)
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    g_in = [ganglion.from_numpy(a.copy()).requires_grad_(a.dtype.kind == "f") for a in arrays]
    t_in = [torch.from_numpy(a.copy()).requires_grad_(a.dtype.kind == "f") for a in arrays]
    g_out, t_out = call(ganglion, gm, *g_in), call(torch, tm, *t_in)
    g_out = g_out if isinstance(g_out, tuple) else (g_out,)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    rng = np.random.default_rng(seed + 1)
    g_loss = t_loss = 0
    for go, to in zip(g_out, t_out):
        assert (go is None) == (to is None)
        if to is None:
            continue
        np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), atol=atol,
                                   rtol=1e-4, equal_nan=True)
        c = rng.uniform(0.5, 1.5, tuple(to.shape)).astype(dtype)
        g_loss = g_loss + (go * ganglion.from_numpy(c)).sum()
        t_loss = t_loss + (to * torch.from_numpy(c)).sum()
    g_loss.backward()
    t_loss.backward()
    for k, (gi, ti) in enumerate(zip(g_in, t_in)):
        if ti.requires_grad and ti.grad is not None:
            np.testing.assert_allclose(gi.grad.numpy(), ti.grad.numpy(), atol=atol * 10,
                                       rtol=1e-3, err_msg=f"input {k} grad")
    t_params = dict(tm.named_parameters())
    for name, p in gm.named_parameters():
        tg = t_params[name].grad
        assert (p.grad is None) == (tg is None), name
        if tg is not None:
            np.testing.assert_allclose(p.grad.numpy(), tg.numpy(), atol=atol * 10, rtol=1e-3,
                                       err_msg=f"{name} grad")
    return gm, tm


def _self_attn(**kw):
    def call(lib, m, x, *masks):
        return m(x, x, x, **_mask_kwargs(lib, masks, kw))
    return call


def _mask_kwargs(lib, masks, kw):
    """kw: names of the masks passed positionally, plus plain keyword arguments."""
    kw = dict(kw)
    names = kw.pop("masks", ())
    kw.update({n: m for n, m in zip(names, masks)})
    return kw


L, N, E, H = 4, 3, 8, 2


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_mha_self_attention(need_weights, batch_first, train, jit_mode):
    shape = (N, L, E) if batch_first else (L, N, E)
    compare_modules(lambda nn: nn.MultiheadAttention(E, H, batch_first=batch_first),
                    [_rand(shape)], _self_attn(need_weights=need_weights), train=train)


def _pad_mask(seed=3):
    m = np.random.default_rng(seed).random((N, 6)) < 0.3  # True = padding (torch's MHA)
    m[:, 0] = False
    return m


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("float_masks", [False, True])
def test_mha_cross_attention_masks(need_weights, average, float_masks):
    kpm = _pad_mask()
    am = np.random.default_rng(4).random((L, 6)) < 0.2
    am[:, 1] = False
    if float_masks:
        kpm, am = np.where(kpm, -np.inf, 0.0), np.where(am, -1e4, _rand((L, 6), 5))

    def call(lib, m, q, kv, kpm, am):
        return m(q, kv, kv, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights,
                 average_attn_weights=average)

    compare_modules(lambda nn: nn.MultiheadAttention(E, H), [_rand((L, N, E)),
                    _rand((6, N, E), 1), kpm, am], call)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_kdim_vdim_bias_kv_zero_attn_3d_mask(need_weights):
    am = np.random.default_rng(4).random((N * H, L, 6)) < 0.3
    am[..., 0] = False

    def call(lib, m, q, k, v, am, kpm):
        return m(q, k, v, attn_mask=am, key_padding_mask=kpm, need_weights=need_weights)

    make = lambda nn: nn.MultiheadAttention(E, H, add_bias_kv=True, add_zero_attn=True,
                                            kdim=5, vdim=7)
    compare_modules(make, [_rand((L, N, E)), _rand((6, N, 5), 1), _rand((6, N, 7), 2), am,
                           _pad_mask()], call)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_no_bias(need_weights):
    def call(lib, m, q, k, v):
        return m(q, k, v, need_weights=need_weights, average_attn_weights=False)

    compare_modules(lambda nn: nn.MultiheadAttention(E, 4, bias=False, kdim=E, vdim=6),
                    [_rand((L, E)), _rand((5, E), 1), _rand((5, 6), 2)], call)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_causal_float64(need_weights, jit_mode):
    causal = np.triu(np.full((L, L), -np.inf), 1)

    def call(lib, m, x, mask):
        return m(x, x, x, attn_mask=mask, is_causal=True, need_weights=need_weights)

    compare_modules(lambda nn: nn.MultiheadAttention(E, H), [_rand((L, N, E)), causal], call,
                    dtype=np.float64, atol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_causal_self_attention_long_rows(batch_first, dtype, jit_mode):
    # the packed path (heads as views of the projection) over several row blocks
    Lc, Nc = 37, 3
    causal = np.triu(np.full((Lc, Lc), -np.inf), 1)

    def call(lib, m, x, mask):
        return m(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)

    shape = (Nc, Lc, 16) if batch_first else (Lc, Nc, 16)
    compare_modules(lambda nn: nn.MultiheadAttention(16, 4, batch_first=batch_first),
                    [_rand(shape), causal], call, train=True, dtype=dtype,
                    atol=2e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_packed_path_second_derivatives_and_dropout(batch_first):
    from ganglion.backend import jit

    ganglion.manual_seed(0)
    m = MultiheadAttention(8, 2, batch_first=batch_first).double()
    x = ganglion.from_numpy(_rand((3, 5, 8), 0, np.float64)).requires_grad_()
    mask = ganglion.from_numpy(np.triu(np.full((5, 5), -np.inf), 1))
    fn = lambda x: m(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)[0]
    assert gradcheck(fn, [x], eps=1e-6, atol=1e-6)
    assert gradgradcheck(fn, [x], eps=1e-6, atol=1e-5)
    # dropout on the weights: the packed and the general path draw the same mask
    m = MultiheadAttention(8, 2, dropout=0.4, batch_first=batch_first)
    x32 = ganglion.from_numpy(_rand((3, 5, 8)))
    outs = []
    for off in (False, True):
        ganglion.manual_seed(7)
        if off:
            with jit.disabled():
                outs.append(m(x32, x32, x32, need_weights=False)[0].detach().numpy())
        else:
            outs.append(m(x32, x32, x32, need_weights=False)[0].detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)


def test_mha_fully_masked_row_like_torch():
    """need_weights=True: torch's softmax gives nan; need_weights=False: SDPA gives 0."""
    kpm = np.zeros((N, L), bool)
    kpm[1] = True
    for nw in (True, False):
        def call(lib, m, x, kpm, nw=nw):
            return m(x, x, x, key_padding_mask=kpm, need_weights=nw)[0]
        ganglion.manual_seed(0)
        gm = MultiheadAttention(E, H)
        tm = torch.nn.MultiheadAttention(E, H)
        tm.load_state_dict(_to_torch_state(gm))
        x = _rand((L, N, E))
        a = call(ganglion, gm, ganglion.from_numpy(x), ganglion.from_numpy(kpm))
        b = call(torch, tm, torch.from_numpy(x), torch.from_numpy(kpm))
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-5,
                                   equal_nan=True)
        assert np.isnan(a.detach().numpy()).any() == nw


def test_mha_init_state_dict_and_repr_like_torch():
    for kw in ({}, {"kdim": 5}, {"bias": False, "add_bias_kv": True}):
        gm, tm = MultiheadAttention(E, H, **kw), torch.nn.MultiheadAttention(E, H, **kw)
        assert list(gm.state_dict()) == list(tm.state_dict())
        assert [tuple(p.shape) for p in gm.parameters()] == [tuple(p.shape)
                                                             for p in tm.parameters()]
        assert repr(gm) == repr(tm)
    gm = MultiheadAttention(64, 4)
    w = gm.in_proj_weight.detach().numpy()
    bound = np.sqrt(6.0 / (64 + 192))  # xavier_uniform_ of (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not gm.in_proj_bias.detach().numpy().any()
    assert not gm.out_proj.bias.detach().numpy().any()


def test_mha_functional_matches_torch():
    ganglion.manual_seed(0)
    gm = MultiheadAttention(E, H)
    x = _rand((L, N, E))
    args = lambda m: (E, H, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
                      m.out_proj.weight, m.out_proj.bias)
    tm = torch.nn.MultiheadAttention(E, H)
    tm.load_state_dict(_to_torch_state(gm))
    gx, tx = ganglion.from_numpy(x), torch.from_numpy(x)
    a = multi_head_attention_forward(gx, gx, gx, *args(gm), training=False)
    b = TF.multi_head_attention_forward(tx, tx, tx, *args(tm), training=False)
    for u, w in zip(a, b):
        np.testing.assert_allclose(u.detach().numpy(), w.detach().numpy(), atol=1e-5)


def test_mha_errors_like_torch():
    with pytest.raises(AssertionError, match="divisible"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="MultiheadAttention.*divisible"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        MultiheadAttention(0, 2)
    m = MultiheadAttention(E, H)
    x = ganglion.randn(L, N, E)
    with pytest.raises(RuntimeError, match=r"MultiheadAttention: The shape of the 2D attn_mask "
                                           r"is \(3, 4\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=ganglion.zeros(3, 4))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        m(x, x, x, attn_mask=ganglion.zeros(2, 4, 4))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=ganglion.zeros(4, 4, dtype=ganglion.int64))
    with pytest.raises(AssertionError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=ganglion.zeros(N, L, dtype=ganglion.int32))
    with pytest.raises(AssertionError, match="key_padded_mask.shape"):
        m(x, x, x, key_padding_mask=ganglion.zeros(N, L + 1, dtype=ganglion.bool))
    with pytest.raises(AssertionError, match="embedding dimension of 8, but got 6"):
        m(x[..., :6], x[..., :6], x[..., :6])
    with pytest.raises(AssertionError, match="unbatched 2D or batched 3D"):
        m(x[0, 0], x[0, 0], x[0, 0])
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(x, x, x, key_padding_mask=ganglion.zeros(N, L, dtype=ganglion.bool),
          attn_mask=ganglion.zeros(L, L))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(x, x, x, key_padding_mask=ganglion.zeros(N, L), attn_mask=ganglion.zeros(L, L))
    with pytest.raises(AssertionError):  # torch agrees
        torch.nn.MultiheadAttention(10, 3)
    assert issubclass(AttentionArgError, ValueError)
