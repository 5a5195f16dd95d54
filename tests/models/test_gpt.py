"""GPT: a block against an equivalent torch module, the whole model against Hugging Face's
GPT-2, the KV cache against full recomputation at every step, greedy / top-k / top-p
sampling, errors, and a char-LM learning test on real French text."""
import contextlib
import math

import numpy as np
import pytest

import ganglion
import ganglion.models.gpt as gpt_module
import ganglion.nn.functional as F
from ganglion.data.download import find_data_root
from ganglion.models.gpt import GPT, GPTBlock
from ganglion.models.gpt_sampling import sample_next_token, top_k_top_p_filter
from tests.examples_loader import load_example

torch = pytest.importorskip("torch")

CONV1D = (".c_attn.weight", ".c_proj.weight", ".c_fc.weight")  # HF stores these as (in, out)


def _model(seed=0, std=0.3, **kw):
    """A small GPT with larger-than-default random weights, so that its logits are spread
    out (a default init gives near-uniform next-token distributions)."""
    ganglion.manual_seed(seed)
    cfg = dict(vocab_size=23, block_size=24, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    model = GPT(**cfg).eval()
    with ganglion.no_grad():
        for p in model.parameters():
            p.copy_(ganglion.randn(*p.shape) * std)
    return model


def _t(x):
    return torch.from_numpy(np.array(x.detach().numpy()))


class TorchBlock(torch.nn.Module):
    """The same pre-LN block written directly in torch (explicit masked softmax)."""

    def __init__(self, C, H):
        super().__init__()
        nn = torch.nn
        self.H = H
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn = nn.ModuleDict({"c_attn": nn.Linear(C, 3 * C), "c_proj": nn.Linear(C, C)})
        self.mlp = nn.ModuleDict({"c_fc": nn.Linear(C, 4 * C), "c_proj": nn.Linear(4 * C, C)})

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn["c_attn"](self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = q @ k.transpose(-2, -1) / math.sqrt(C // self.H)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn["c_proj"](y)
        h = torch.nn.functional.gelu(self.mlp["c_fc"](self.ln_2(x)), approximate="tanh")
        return x + self.mlp["c_proj"](h)


def test_block_forward_and_grads_match_torch():
    ganglion.manual_seed(0)
    block = GPTBlock(16, 4)
    ref = TorchBlock(16, 4)
    sd = block.state_dict()
    assert set(sd) == set(ref.state_dict())
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(_t(sd[name]) + 0.1 * torch.randn(p.shape))  # non-trivial LN weights too
    with ganglion.no_grad():
        for name, p in block.named_parameters():
            p.copy_(ganglion.from_numpy(ref.state_dict()[name].numpy().copy()))
    x = ganglion.randn(3, 7, 16, requires_grad=True)
    xt = _t(x).requires_grad_()
    w = np.random.default_rng(0).standard_normal((3, 7, 16)).astype(np.float32)
    out, out_t = block(x), ref(xt)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), atol=1e-5)
    (out * ganglion.from_numpy(w)).sum().backward()
    (out_t * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-4)
    for name, p in block.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), dict(ref.named_parameters())[name].grad,
                                   atol=1e-4, rtol=1e-4, err_msg=name)


def test_matches_hugging_face_gpt2_forward_loss_grads_and_greedy():
    transformers = pytest.importorskip("transformers")
    model = _model(std=0.2)
    cfg = transformers.GPT2Config(vocab_size=23, n_positions=24, n_embd=16, n_layer=2,
                                  n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                  activation_function="gelu_new", layer_norm_epsilon=1e-5)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    sd = {k: (_t(v).T if k.endswith(CONV1D) else _t(v)) for k, v in model.state_dict().items()}
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith(".attn.bias") for k in missing)  # HF's buffers
    idx = ganglion.randint(0, 23, (2, 9))
    targets = ganglion.cat([idx[:, 1:], ganglion.full((2, 1), -1)], dim=1)  # HF shifts
    model.train()  # no dropout in this model; gradients flow
    logits, loss = model(idx, targets)
    out = hf(_t(idx), labels=_t(idx))
    np.testing.assert_allclose(logits.detach().numpy(), out.logits.detach().numpy(), atol=1e-4)
    np.testing.assert_allclose(loss.item(), out.loss.item(), rtol=1e-5)
    loss.backward()
    out.loss.backward()
    hf_params = dict(hf.named_parameters())
    for name in ("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight",
                 "transformer.h.1.mlp.c_fc.bias", "transformer.ln_f.weight"):
        g = hf_params[name].grad.numpy()
        mine = dict(model.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(mine, g.T if name.endswith(CONV1D) else g, atol=1e-5,
                                   err_msg=name)
    greedy = model.generate(idx, 10, temperature=0.0)
    hf_greedy = hf.generate(_t(idx), attention_mask=torch.ones(2, 9, dtype=torch.long),
                            max_new_tokens=10, do_sample=False, pad_token_id=0)
    np.testing.assert_array_equal(greedy.numpy(), hf_greedy.numpy())


def test_state_dict_names_and_tied_head():
    model = GPT(10, 8, n_layer=1, n_head=2, n_embd=4)
    assert list(model.state_dict())[:3] == ["transformer.wte.weight", "transformer.wpe.weight",
                                           "transformer.h.0.ln_1.weight"]
    assert model.lm_head.weight is model.transformer.wte.weight
    untied = GPT(10, 8, n_layer=1, n_head=2, n_embd=4, tie_weights=False, bias=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert not any(k.endswith("bias") for k in untied.state_dict())
    assert len(list(untied.parameters())) == len(list(model.parameters())) - 7 + 1  # 7 biases, 1 head


def _recording(monkeypatch):
    """Record the logits ``generate`` hands to the sampler at every step."""
    seen = []

    def spy(logits, *args, **kwargs):
        seen.append(logits.numpy().copy())
        return sample_next_token(logits, *args, **kwargs)

    monkeypatch.setattr(gpt_module, "sample_next_token", spy)
    return seen


def test_cached_and_uncached_generation_see_equal_logits_every_step(monkeypatch):
    model = _model()
    prompt = ganglion.randint(0, 23, (3, 5))
    runs = {}
    for use_cache in (True, False):
        seen = _recording(monkeypatch)
        g = ganglion.Generator().manual_seed(7)
        out = model.generate(prompt, 19, temperature=1.0, top_p=0.95, use_cache=use_cache,
                             generator=g)
        runs[use_cache] = (out.numpy(), seen)
    np.testing.assert_array_equal(runs[True][0], runs[False][0])
    assert len(runs[True][1]) == len(runs[False][1]) == 19
    for step, (a, b) in enumerate(zip(runs[True][1], runs[False][1])):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5, err_msg=f"step {step}")
    # and each step's logits are the full model's last-position logits on the prefix
    full = runs[False][0]
    for step in (0, 9, 18):
        ref = model(ganglion.tensor(full[:, :5 + step]))[:, -1].detach().numpy()
        np.testing.assert_allclose(runs[True][1][step], ref, atol=2e-5, rtol=1e-5)


def test_cache_steps_attend_one_query_over_the_cache(monkeypatch):
    shapes = []
    sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        shapes.append((q.shape[2], k.shape[2]))
        return sdpa(q, k, v, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    _model(n_layer=1).generate(ganglion.randint(0, 23, (2, 4)), 5)
    assert shapes == [(4, 4), (1, 5), (1, 6), (1, 7), (1, 8)]


def test_cache_chunks_match_full_forward():
    """Prefill, then a chunk of several tokens at once (the bottom-right causal mask),
    then single tokens: every position's logits equal the full forward's."""
    model = _model()
    idx = ganglion.randint(0, 23, (2, 14))
    with ganglion.no_grad():
        full = model(idx).numpy()
        cache = model.new_kv_cache(2)
        parts = [model(idx[:, a:b], kv_cache=cache).numpy()
                 for a, b in ((0, 6), (6, 10), (10, 11), (11, 14))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, atol=2e-5, rtol=1e-5)
    assert cache.length == 14


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_is_deterministic_and_the_argmax_path(use_cache):
    model = _model()
    prompt = ganglion.randint(0, 23, (4, 3))
    a = model.generate(prompt, 12, temperature=0.0, use_cache=use_cache)
    b = model.generate(prompt, 12, top_k=1, use_cache=not use_cache,
                       generator=ganglion.Generator().manual_seed(123))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    seq = prompt.numpy()
    for _ in range(12):  # independent reference: argmax of the full forward each step
        nxt = model(ganglion.tensor(seq))[:, -1].detach().numpy().argmax(-1)
        seq = np.concatenate([seq, nxt[:, None]], axis=1)
    np.testing.assert_array_equal(a.numpy(), seq)


def test_generate_top_k_samples_only_the_k_best():
    model = _model(seed=3)
    out = model.generate(ganglion.randint(0, 23, (16, 2)), 14, top_k=3,
                         generator=ganglion.Generator().manual_seed(0)).numpy()
    logits = model(ganglion.tensor(out[:, :-1])).detach().numpy()[:, 1:]  # predicts 2..15
    best3 = np.argsort(-logits, axis=-1)[..., :3]
    assert (best3 == out[:, 2:, None]).any(-1).all()
    assert (best3[..., 0] != out[:, 2:]).any()  # it samples, not only the argmax


def test_top_k_sampling_distribution():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 20)).astype(np.float32)
    reps = 3000
    rows = ganglion.tensor(np.repeat(logits, reps, axis=0))
    draws = sample_next_token(rows, temperature=1.0, top_k=4,
                              generator=ganglion.Generator().manual_seed(1)).numpy()
    draws = draws.reshape(3, reps)
    for r in range(3):
        best = np.argsort(-logits[r])[:4]
        assert np.isin(draws[r], best).all()
        p = np.exp(logits[r][best] - logits[r][best].max())
        p /= p.sum()
        freq = (draws[r][:, None] == best).mean(0)
        np.testing.assert_allclose(freq, p, atol=0.035)


def test_top_k_ties_keep_exactly_k():
    out = top_k_top_p_filter(ganglion.tensor([[1.0, 1.0, 1.0, 0.0]]), top_k=2)
    assert np.isfinite(out.numpy()).sum() == 2


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = np.array([0.05, 0.4, 0.1, 0.25, 0.2])  # sorted: .4 .25 .2 .1 .05
    logp = ganglion.tensor(np.log(np.tile(probs, (5, 1))).astype(np.float32))
    cases = {0.3: [1], 0.6: [1, 3], 0.7: [1, 3, 4], 0.9: [1, 3, 4, 2], 1.0: [0, 1, 2, 3, 4]}
    for p, keep in cases.items():
        kept = np.isfinite(top_k_top_p_filter(logp[:1], top_p=p).numpy()[0])
        assert sorted(np.flatnonzero(kept)) == sorted(keep), p
    # top-p sees the renormalized top-k: top-2 is {.4, .25} -> {.615, .385}
    kept = np.isfinite(top_k_top_p_filter(logp[:1], top_k=2, top_p=0.6).numpy()[0])
    assert np.flatnonzero(kept).tolist() == [1]
    draws = sample_next_token(ganglion.tensor(np.repeat(logp.numpy()[:1], 4000, 0)),
                              top_p=0.7, generator=ganglion.Generator().manual_seed(2))
    draws = draws.numpy()[:, 0]
    assert np.isin(draws, [1, 3, 4]).all()
    np.testing.assert_allclose([(draws == i).mean() for i in (1, 3, 4)],
                               np.array([0.4, 0.25, 0.2]) / 0.85, atol=0.03)


def test_errors_name_the_problem():
    model = _model()
    idx = ganglion.randint(0, 23, (2, 20))
    with pytest.raises(ValueError, match="block_size=24.*at most 4 new tokens"):
        model.generate(idx, 5)
    with pytest.raises(ValueError, match="exceeds block_size"):
        model(ganglion.randint(0, 23, (1, 25)))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(idx, 2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(idx, 2, top_k=0)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            model.generate(idx, 2, top_p=bad)
    with pytest.raises(ValueError, match="unsqueeze"):
        model.generate(idx[0], 2)
    with pytest.raises(ValueError, match="int64"):
        model(idx.float())
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(idx, -1)
    with pytest.raises(RuntimeError, match="no_grad"):
        model(idx, kv_cache=model.new_kv_cache(2))
    with pytest.raises(ValueError, match="n_head=3 must divide"):
        GPT(10, 8, n_head=3, n_embd=16)
    with pytest.raises(ValueError, match="GPT: n_layer must be a positive int, got 0"):
        GPT(10, 8, n_layer=0)
    with pytest.raises(ValueError, match=r"GPT: dropout .*\[0, 1\), got 1.0"):
        GPT(10, 8, dropout=1.0)
    with pytest.raises(ValueError, match="KVCache: batch_size must be a positive int, got 0"):
        model.new_kv_cache(0)
    with pytest.raises(ValueError, match="batch size 2"):
        with ganglion.no_grad():
            model(idx[:1], kv_cache=model.new_kv_cache(2))


def test_generate_restores_training_mode_and_zero_new_tokens():
    model = _model(dropout=0.1).train()
    idx = ganglion.randint(0, 23, (2, 4))
    assert model.generate(idx, 0).shape == (2, 4)
    model.generate(idx, 3)
    assert model.training


@pytest.mark.skipif(find_data_root("eng-fra") is None, reason="shared data absent")
def test_char_lm_learns_french_beyond_bigram(tmp_path):
    """~100 KB of real French sentences, 400 steps of a 2-layer GPT: the held-out loss
    ends clearly below the bigram baseline (so the model uses more than one character of
    context) and far below the unigram one."""
    recipe = load_example("char_lm")
    args = recipe.parse_args(["--max-lines", "3000", "--steps", "400", "--eval-every", "200",
                              "--block-size", "32", "--n-layer", "2", "--n-embd", "64",
                              "--batch-size", "16", "--lr", "3e-3", "--warmup", "20",
                              "--plot", str(tmp_path / "curves.png"), "--no-samples"])
    # One BLAS thread: these GEMMs are tiny, and on a loaded 2-core machine two OpenBLAS
    # threads spin against each other (258 s instead of 17 s measured here).
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:
        limit = contextlib.nullcontext()
    with limit:
        result = recipe.run(args, log=lambda *_: None)
    assert result["val_loss"] < result["bigram"] - 0.1
    assert result["val_loss"] < result["unigram"] - 0.8
    hist = result["history"]
    assert hist["eval_val"][-1] < hist["eval_val"][0]
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    texts = recipe.samples(result["model"], result["tokenizer"], 32, 0, n=2,
                           log=lambda *_: None)
    assert all(len(rows) == 2 for name, rows in texts.items() if "greedy" not in name)
