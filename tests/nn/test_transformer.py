"""Transformer layers, stacks and the full model against torch (copied weights: outputs and
the gradients of inputs and every parameter, masks, norm_first, activations), plus ganglion's
own positional encodings checked against direct NumPy formulas and the rotary property."""
import math

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as GF
from ganglion.nn.layers.activation import GELU
from ganglion.nn.layers.normalization import LayerNorm
from ganglion.nn.layers.positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
)
from ganglion.nn.layers.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from tests.nn import test_attention as ta

torch = pytest.importorskip("torch")
# torch warns about its nested-tensor fast path; both warn about bool/float mask mixes (tested
# in test_attention.py)
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True",
                                        "ignore:Support for mismatched")

ta.GNN.__dict__.update(Transformer=Transformer, TransformerEncoder=TransformerEncoder,
                       TransformerDecoder=TransformerDecoder, LayerNorm=LayerNorm,
                       TransformerEncoderLayer=TransformerEncoderLayer,
                       TransformerDecoderLayer=TransformerDecoderLayer, GELU=GELU)
compare = ta.compare_modules
_rand = ta._rand
S, T, N, E, H, FF = 5, 4, 2, 8, 2, 12


def _activation(kind, nn):
    # a callable that is neither F.relu nor F.gelu: the nn.GELU module (tanh approximation)
    return {"relu": "relu", "gelu": "gelu", "callable": None}[kind] or nn.GELU("tanh")


def _causal(n):
    return np.triu(np.full((n, n), -np.inf, np.float32), 1)


def _padding(n, seed=3):
    m = np.random.default_rng(seed).random((N, n)) < 0.3  # True = padding
    m[:, 0] = False
    return m


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer(norm_first, activation, batch_first):
    def make(nn):
        return nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=batch_first,
                                          activation=_activation(activation, nn),
                                          norm_first=norm_first)

    def call(lib, m, x, mask, kpm):
        return m(x, src_mask=mask, src_key_padding_mask=kpm)

    shape = (N, S, E) if batch_first else (S, N, E)
    compare(make, [_rand(shape), _rand((S, S), 7), _padding(S)], call, train=True)


@pytest.mark.parametrize("is_causal", [False, True])
def test_encoder_layer_causal_eval_unbatched(is_causal):
    def call(lib, m, x, mask):
        return m(x, src_mask=mask, is_causal=is_causal)

    compare(lambda nn: nn.TransformerEncoderLayer(E, H, FF, bias=False), [_rand((S, E)),
            _causal(S)], call)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer(norm_first, batch_first):
    def make(nn):
        return nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation="gelu",
                                          batch_first=batch_first, norm_first=norm_first)

    def call(lib, m, tgt, mem, tmask, mmask, tkpm, mkpm):
        return m(tgt, mem, tgt_mask=tmask, memory_mask=mmask, tgt_key_padding_mask=tkpm,
                 memory_key_padding_mask=mkpm)

    tshape, mshape = ((N, T, E), (N, S, E)) if batch_first else ((T, N, E), (S, N, E))
    mmask = np.random.default_rng(5).random((T, S)) < 0.3
    mmask[:, 0] = False
    compare(make, [_rand(tshape), _rand(mshape, 1), _causal(T), mmask, _padding(T, 4),
                   _padding(S)], call, train=True)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_with_norm(norm_first):
    def make(nn):
        layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first)
        return nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(E))

    def call(lib, m, x, kpm):
        mask = lib.from_numpy(_causal(S))
        return m(x, mask=mask, src_key_padding_mask=kpm)  # causal mask detected (is_causal)

    gm, _ = compare(make, [_rand((S, N, E)), _padding(S)], call)
    assert "layers.2.self_attn.in_proj_weight" in gm.state_dict()
    assert gm.layers[0].linear1 is not gm.layers[1].linear1  # deep copies


def test_decoder_stack_float64():
    def make(nn):
        return nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF), 2)

    def call(lib, m, tgt, mem):
        return m(tgt, mem, tgt_mask=lib.from_numpy(_causal(T).astype(np.float64)))

    compare(make, [_rand((T, N, E)), _rand((S, N, E), 1)], call, dtype=np.float64, atol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_full(batch_first):
    def make(nn):
        return nn.Transformer(E, H, 2, 2, FF, dropout=0.0, batch_first=batch_first)

    def call(lib, m, src, tgt, skpm):
        mask = lib.from_numpy(_causal(T))
        return m(src, tgt, tgt_mask=mask, src_key_padding_mask=skpm,
                 memory_key_padding_mask=skpm)

    src, tgt = ((N, S, E), (N, T, E)) if batch_first else ((S, N, E), (T, N, E))
    gm, tm = compare(make, [_rand(src), _rand(tgt, 1), _padding(S)], call, train=True)
    assert list(gm.state_dict()) == list(tm.state_dict())


def test_transformer_init_and_mask():
    ganglion.manual_seed(0)
    m = Transformer(16, 2, 1, 1, 32)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = math.sqrt(6.0 / (16 + 32))  # xavier_uniform_ on every matrix
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    g = Transformer.generate_square_subsequent_mask(4)
    t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert g.dtype == ganglion.float32
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    g64 = Transformer.generate_square_subsequent_mask(3, dtype=ganglion.float64)
    assert g64.dtype == ganglion.float64


def test_transformer_errors_like_torch():
    m = Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        m(ganglion.randn(S, 2, E), ganglion.randn(T, 3, E))
    with pytest.raises(RuntimeError, match="feature number of src and tgt"):
        m(ganglion.randn(S, 2, E), ganglion.randn(T, 2, E + 1))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        TransformerEncoderLayer(E, H, activation="tanh")
    with pytest.raises(AssertionError, match="divisible"):
        TransformerEncoderLayer(10, 3)
    layer = TransformerEncoderLayer(E, H, FF)
    with pytest.raises(AssertionError, match="TransformerEncoderLayer: only bool and floating "
                                             "types of src_mask"):
        layer(ganglion.randn(S, N, E), src_mask=ganglion.zeros(S, S, dtype=ganglion.int64))
    with pytest.raises(RuntimeError, match="MultiheadAttention: The shape of the 2D attn_mask"):
        layer(ganglion.randn(S, N, E), src_mask=ganglion.zeros(S, S + 1))


def test_layer_attributes_like_torch():
    for kw in ({}, {"activation": "gelu"}, {"activation": GF.silu}):
        tkw = dict(kw)
        if kw.get("activation") is GF.silu:
            tkw["activation"] = torch.nn.functional.silu
        g, t = TransformerEncoderLayer(E, H, **kw), torch.nn.TransformerEncoderLayer(E, H, **tkw)
        assert g.activation_relu_or_gelu == t.activation_relu_or_gelu
        assert repr(g).replace("ganglion", "torch") == repr(t)


# --------------------------------------------------------------------------------------------
# positional encodings


def test_sinusoidal_matches_direct_formula():
    d, n = 6, 50
    ref = np.zeros((n, d))
    for pos in range(n):
        for i in range(d):
            angle = pos / 10000 ** (2 * (i // 2) / d)
            ref[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    pe = SinusoidalPositionalEncoding(d, max_len=n)
    np.testing.assert_allclose(pe.pe.numpy(), ref, atol=1e-6)
    x = _rand((7, 3, d))
    np.testing.assert_allclose(pe(ganglion.from_numpy(x)).numpy(), x + ref[:7, None], atol=1e-6)
    xb = _rand((3, 7, d))
    peb = SinusoidalPositionalEncoding(d, max_len=n, batch_first=True)
    np.testing.assert_allclose(peb(ganglion.from_numpy(xb)).numpy(), xb + ref[None, :7],
                               atol=1e-6)
    assert "pe" not in pe.state_dict()
    odd = SinusoidalPositionalEncoding(5, max_len=4).pe.numpy()
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(4) / 10000 ** (4 / 5)), atol=1e-6)


def test_positional_tables_raise_on_long_sequences():
    with pytest.raises(ValueError, match="SinusoidalPositionalEncoding: sequence length 9 "
                                         "exceeds max_len=8"):
        SinusoidalPositionalEncoding(4, max_len=8)(ganglion.zeros(9, 1, 4))
    with pytest.raises(ValueError, match="LearnedPositionalEmbedding: sequence length 9 "
                                         "exceeds max_len=8"):
        LearnedPositionalEmbedding(8, 4, batch_first=True)(ganglion.zeros(1, 9, 4))
    with pytest.raises(ValueError, match="d_model=4"):
        LearnedPositionalEmbedding(8, 4)(ganglion.zeros(3, 1, 5))
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(5)


def test_learned_positional_embedding_grad():
    pe = LearnedPositionalEmbedding(10, 4)
    x = ganglion.from_numpy(_rand((6, 2, 4))).requires_grad_()
    out = pe(x)
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy()
                               + pe.weight.detach().numpy()[:6, None], atol=1e-7)
    out.sum().backward()
    g = pe.weight.grad.numpy()
    np.testing.assert_allclose(g[:6], 2.0)  # two batch items per position
    assert not g[6:].any()


def test_rotary_relative_position_property():
    rope = RotaryEmbedding(8)
    rng = np.random.default_rng(0)
    q0, k0 = rng.standard_normal(8), rng.standard_normal(8)

    def score(m, n):
        q = ganglion.from_numpy(np.tile(q0, (12, 1)))
        k = ganglion.from_numpy(np.tile(k0, (12, 1)))
        qr, kr = rope.apply_rotary(q, k)
        return float((qr[m] * kr[n]).sum())

    for m, n in ((3, 1), (7, 5), (11, 9)):  # all m - n = 2
        assert score(m, n) == pytest.approx(score(2, 0), abs=1e-9)
    assert score(4, 0) != pytest.approx(score(2, 0), abs=1e-3)
    assert score(0, 0) == pytest.approx(float(q0 @ k0), abs=1e-9)  # position 0: no rotation


def test_rotary_matches_neox_formula_positions_and_partial():
    dim, base = 6, 500.0
    rope = RotaryEmbedding(dim, base=base)
    x = _rand((2, 3, 5, 10), dtype=np.float64)  # 10 features: the last 4 pass through
    pos = np.array([4, 0, 2, 9, 1])
    inv = 1.0 / base ** (np.arange(0, dim, 2) / dim)
    ang = np.concatenate([pos[:, None] * inv] * 2, axis=-1)
    xr = x[..., :dim]
    rot = np.concatenate([-xr[..., dim // 2:], xr[..., :dim // 2]], axis=-1)
    ref = np.concatenate([xr * np.cos(ang) + rot * np.sin(ang), x[..., dim:]], axis=-1)
    t = ganglion.from_numpy(x).requires_grad_()
    qr, kr = rope(t, t, positions=ganglion.tensor(pos))
    np.testing.assert_allclose(qr.detach().numpy(), ref, atol=1e-12)
    (qr.sum() + kr.sum()).backward()  # the rotation is differentiable
    assert t.grad.shape == t.shape
    with pytest.raises(ValueError, match="dim=6"):
        rope.apply_rotary(ganglion.zeros(3, 4), ganglion.zeros(3, 4))
