"""Seq2SeqGRU, TransformerSeq2Seq and their decoding: shapes, padding masks, the incremental
step path against teacher forcing, beam search against greedy search and against exhaustive
enumeration, errors, and learning a toy reversal task."""
import itertools

import numpy as np
import pytest

import ganglion
import ganglion.nn.functional as F
from ganglion.models import Seq2SeqGRU, TransformerSeq2Seq
from ganglion.models.decoding import (_topk, beam_search, greedy_search,
                                      length_penalty_factor, strip_special)
from ganglion.models.seq2seq_attention import BahdanauAttention, LuongAttention

PAD, BOS, EOS = 0, 1, 2


def _gru(attention="bahdanau", **kw):
    ganglion.manual_seed(0)
    kw = {"embed_dim": 8, "hidden_size": 12, "attention": attention, "dropout": 0.0, **kw}
    return Seq2SeqGRU(15, 17, **kw).eval()


def _transformer(**kw):
    ganglion.manual_seed(0)
    kw = {"d_model": 16, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2,
          "dim_feedforward": 24, "dropout": 0.0, **kw}
    return TransformerSeq2Seq(15, 17, **kw).eval()


MODELS = {
    "gru-bahdanau": lambda: _gru("bahdanau", num_layers=2),
    "gru-luong": lambda: _gru("luong"),
    "gru-luong-dot": lambda: _gru("luong", score="dot", bidirectional=False),
    "transformer-preln": lambda: _transformer(),
    "transformer-postln": lambda: _transformer(norm_first=False, tie_weights=False),
}


def _batch():
    src = ganglion.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0], [11, 2, 0, 0, 0]])
    tgt = ganglion.tensor([[1, 4, 4, 7, 9, 3], [1, 5, 6, 3, 0, 0], [1, 12, 0, 0, 0, 0]])
    return src, tgt


@pytest.mark.parametrize("name", MODELS)
def test_shapes(name):
    src, tgt = _batch()
    assert tuple(MODELS[name]()(src, tgt).shape) == (3, 6, 17)


@pytest.mark.parametrize("name", MODELS)
def test_source_padding_does_not_change_outputs(name):
    model = MODELS[name]()
    src, tgt = _batch()
    ref = model(src, tgt)
    # More padding columns, and pad positions holding real (non-pad) ids flagged by the mask.
    junk = ganglion.tensor([[3, 4, 5]] * 3)
    longer = ganglion.cat([src, junk], 1)
    mask = ganglion.cat([src == PAD, ganglion.ones(3, 3, dtype=ganglion.bool)], 1)
    longer = longer.masked_fill(mask & (longer == PAD), 13)
    out = model(longer, tgt, src_key_padding_mask=mask)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-5)
    # and the unpadded single sentence gives its batch row
    single = model(ganglion.tensor([[9, 10, 2]]), tgt[1:2])
    np.testing.assert_allclose(single.detach().numpy()[0], ref.detach().numpy()[1], atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_decode_steps_equal_teacher_forcing(name):
    model = MODELS[name]()
    src, tgt = _batch()
    full = F.log_softmax(model(src, tgt), dim=-1).detach().numpy()
    with ganglion.no_grad():
        state = model.start_decoding(src)
        # reorder through a permutation and back: the state must follow its rows
        perm = ganglion.tensor([2, 0, 1])
        state = model.reorder_state(model.reorder_state(state, perm), ganglion.tensor([1, 2, 0]))
        for t in range(tgt.shape[1]):
            logp, state = model.decode_step(tgt[:, t], state)
            np.testing.assert_allclose(logp.detach().numpy(), full[:, t], atol=2e-5)


@pytest.mark.parametrize("name", ["gru-bahdanau", "gru-luong", "transformer-preln"])
@pytest.mark.parametrize("alpha,early", [(0.0, False), (0.6, True), (1.0, True)])
def test_beam_size_one_is_greedy(name, alpha, early):
    model = MODELS[name]()
    src, _ = _batch()
    greedy = greedy_search(model, src, BOS, EOS, max_len=7)
    beam = beam_search(model, src, BOS, EOS, beam_size=1, max_len=7, length_penalty=alpha,
                       early_stopping=early)
    np.testing.assert_array_equal(beam.detach().numpy(), greedy.detach().numpy())
    g = greedy.detach().numpy()
    first_eos = (g == EOS).argmax(1)
    assert (g == EOS).any(1).all()
    assert ((g == PAD) == (np.arange(g.shape[1])[None] > first_eos[:, None])).all()


def _sequence_logprob(model, src, seq):
    """sum log p(seq | src) by teacher forcing (seq ends with EOS)."""
    tgt = ganglion.tensor([[BOS] + seq[:-1]])
    logp = F.log_softmax(model(src, tgt), dim=-1).detach().numpy()[0]
    return float(logp[np.arange(len(seq)), seq].sum())


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_beam_search_finds_the_best_of_all_sequences(alpha):
    # Vocabulary 5 (pad never generated) and max_len 4: every hypothesis is 0-3 of the 3
    # tokens BOS, 3, 4 then EOS, 40 of them.
    # With 128 beams nothing is ever pruned, so the search must return the enumerated best.
    ganglion.manual_seed(3)
    model = TransformerSeq2Seq(6, 5, d_model=8, nhead=2, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=8, dropout=0.0).eval()
    with ganglion.no_grad():
        model.output_proj.bias.copy_(ganglion.randn(5) * 2)  # uneven, sharper distributions
    src = ganglion.tensor([[3, 4, 5, 2]])
    best, best_score = None, -np.inf
    others = [t for t in range(5) if t not in (EOS, PAD)]
    for n in range(4):
        for prefix in itertools.product(others, repeat=n):
            seq = list(prefix) + [EOS]
            score = _sequence_logprob(model, src, seq) / length_penalty_factor(len(seq), alpha)
            if score > best_score:
                best, best_score = seq, score
    tokens, score = beam_search(model, src, BOS, EOS, beam_size=128, max_len=4,
                                length_penalty=alpha, return_scores=True)
    out = tokens.detach().numpy()[0].tolist()
    assert out[:len(best)] == best and all(t == PAD for t in out[len(best):])
    assert score.item() == pytest.approx(best_score, abs=1e-4)


def test_beam_returns_sorted_hypotheses_with_true_scores():
    model = MODELS["gru-luong"]()
    src, _ = _batch()
    tokens, scores = beam_search(model, src, BOS, EOS, beam_size=4, max_len=6,
                                 num_return_sequences=3, length_penalty=0.0,
                                 return_scores=True)
    assert tuple(tokens.shape[:2]) == (3, 3) and tuple(scores.shape) == (3, 3)
    s = scores.detach().numpy()
    assert (np.diff(s, axis=1) <= 1e-6).all()
    for i in range(3):
        seq = strip_special(tokens[i, :1], EOS, PAD)[0] + [EOS]
        lp = _sequence_logprob(model, src[i:i + 1][:, :int((src[i] != PAD).sum())], seq)
        assert lp == pytest.approx(float(s[i, 0]), abs=1e-4)


def test_topk_breaks_ties_at_the_boundary_to_the_lower_index():
    # Many equal values straddle the k-th place (argpartition alone keeps an arbitrary subset
    # of them), plus -inf rows as beam search has before its beams diverge.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.integers(-2, 2, size=(6, 40)).astype(np.float32)
    a[0, ::2] = 1.0
    a[1, 5:] = -np.inf
    for k in (1, 5, 12, 39, 40):
        vals, idx = _topk(ganglion.tensor(a), k)
        want = np.argsort(-a, axis=1, kind="stable")[:, :k]  # value descending, index ascending
        np.testing.assert_array_equal(idx.numpy(), want)
        np.testing.assert_array_equal(vals.numpy(), torch.tensor(a).topk(k, dim=1).values)
        assert vals.dtype == ganglion.float32 and idx.dtype == ganglion.int64


def test_attention_weights_skip_padding():
    ganglion.manual_seed(0)
    memory = ganglion.randn(2, 4, 6)
    pad = ganglion.tensor([[False] * 4, [False, True, True, True]])
    for attn in (BahdanauAttention(5, 6, 7), LuongAttention(6, 6, "dot"),
                 LuongAttention(5, 6, "general")):
        q = ganglion.randn(2, 3, attn.query_size)
        ctx, w = attn(q, attn.keys(memory), memory, pad)
        np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0, rtol=1e-6)
        assert (w.detach().numpy()[1, :, 1:] == 0).all()
        first = np.repeat(memory.numpy()[1, :1], 3, 0)  # the only unmasked state
        np.testing.assert_allclose(ctx.detach().numpy()[1], first, rtol=1e-6)


def test_checkpoint_roundtrip_keeps_outputs_and_tied_weights(tmp_path):
    model = MODELS["transformer-preln"]()
    src, tgt = _batch()
    ganglion.io.save({"model": model.state_dict()}, tmp_path / "m.safetensors")
    other = _transformer()
    with ganglion.no_grad():
        for p in other.parameters():
            p.zero_()
    other.load_state_dict(ganglion.io.load(tmp_path / "m.safetensors")["model"])
    assert other.output_proj.weight is other.tgt_embed.weight
    np.testing.assert_array_equal(other(src, tgt).detach().numpy(),
                                  model(src, tgt).detach().numpy())


def test_errors():
    src, tgt = _batch()
    with pytest.raises(ValueError, match="attention must be"):
        Seq2SeqGRU(10, 10, attention="cosine")
    with pytest.raises(ValueError, match="'dot' score needs"):
        Seq2SeqGRU(10, 10, attention="luong", score="dot")  # bidirectional: 2H != H
    with pytest.raises(ValueError, match="not divisible by nhead"):
        TransformerSeq2Seq(10, 10, d_model=10, nhead=3)
    with pytest.raises(ValueError, match="ids must lie in"):
        MODELS["gru-luong"]()(src + 20, tgt)
    with pytest.raises(TypeError, match="integer token ids"):
        MODELS["transformer-preln"]()(src.float(), tgt)
    with pytest.raises(ValueError, match=r"\(N, S\)"):
        MODELS["transformer-preln"]()(src[0], tgt)
    with pytest.raises(ValueError, match="max_len=4"):
        _transformer(max_len=4)(src, tgt)
    with pytest.raises(ValueError, match="bool tensor of src's shape"):
        MODELS["gru-luong"]()(src, tgt, src_key_padding_mask=(src == 0).float())
    model = MODELS["transformer-preln"]()
    state = model.start_decoding(src)
    model.train()
    with pytest.raises(RuntimeError, match="model.eval"):
        model.decode_step(tgt[:, 0], state)
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        beam_search(model, src, BOS, EOS, beam_size=0)
    with pytest.raises(ValueError, match="num_return_sequences"):
        beam_search(model, src, BOS, EOS, beam_size=2, num_return_sequences=3)
    with pytest.raises(TypeError, match="start_decoding"):
        greedy_search(ganglion.nn.Linear(2, 2), src, BOS, EOS)
    assert model.training  # decoding restores the mode it found


def _reversal_data(rng, n, vocab=10, min_len=2, max_len=6):
    """Random sequences of ids 3..3+vocab and their reversals, padded, with BOS/EOS."""
    lengths = rng.integers(min_len, max_len + 1, n)
    tokens = rng.integers(3, 3 + vocab, (n, max_len))
    keep = np.arange(max_len)[None] < lengths[:, None]
    src = np.where(keep, tokens, PAD)
    rev = np.where(keep, tokens[np.arange(n)[:, None], lengths[:, None] - 1 - np.arange(max_len)],
                   PAD)
    eos_col = np.full((n, 1), PAD)
    src = np.concatenate([src, eos_col], 1)
    src[np.arange(n), lengths] = EOS
    tgt = np.concatenate([np.full((n, 1), BOS), rev, eos_col], 1)
    tgt[np.arange(n), lengths + 1] = EOS
    return ganglion.from_numpy(src), ganglion.from_numpy(tgt)


@pytest.mark.parametrize("kind", ["transformer", "gru-luong"])
def test_learns_to_reverse_sequences(kind):
    ganglion.manual_seed(0)
    rng = np.random.default_rng(0)
    if kind == "transformer":
        model = TransformerSeq2Seq(13, 13, d_model=32, nhead=4, num_encoder_layers=1,
                                   num_decoder_layers=1, dim_feedforward=64, dropout=0.0)
        steps, lr = 250, 3e-3
    else:
        model = Seq2SeqGRU(13, 13, embed_dim=16, hidden_size=32, attention="luong",
                           dropout=0.0)
        steps, lr = 250, 1e-2
    opt = ganglion.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        src, tgt = _reversal_data(rng, 64)
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 13), tgt[:, 1:].reshape(-1),
                               ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.2 * np.mean(losses[:10])
    src, tgt = _reversal_data(np.random.default_rng(1), 200)
    out = greedy_search(model, src, BOS, EOS, max_len=8).detach().numpy()
    want = tgt.detach().numpy()[:, 1:]
    width = min(out.shape[1], want.shape[1])
    exact = (out[:, :width] == want[:, :width]).all(1) & (want[:, width:] == PAD).all(1)
    beam = beam_search(model, src, BOS, EOS, beam_size=3, max_len=8).detach().numpy()
    exact_beam = (beam[:, :width] == want[:, :width]).all(1)
    assert exact.mean() > 0.9 and exact_beam.mean() > 0.9
