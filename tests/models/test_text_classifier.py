"""Text classifiers: shapes, padding invariance, torch as the oracle for logits and gradients,
errors, length bucketing, and learning on real SST-2 phrases."""
import math

import numpy as np
import pytest

import ganglion
from ganglion.data.download import find_data_root
from ganglion.models import (RecurrentTextClassifier, TokenBatches, TransformerTextClassifier,
                             evaluate_text_classifier, fit_text_classifier,
                             predict_text_classifier)

RNN_CONFIGS = [(rnn, pooling, bidir) for rnn in ("lstm", "gru")
               for pooling in ("max", "mean", "last") for bidir in (True, False)]


def _ragged(rng, n, vocab, low=1, high=9):
    lengths = rng.integers(low, high, n)
    return [rng.integers(1, vocab, k).tolist() for k in lengths]


def _padded(seqs, width):
    ids = np.zeros((len(seqs), width), np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
    return ganglion.tensor(ids)


def _rnn(rnn="lstm", pooling="max", bidirectional=True, **kw):
    kw = {"dropout": 0.0, **kw}
    return RecurrentTextClassifier(30, 6, 5, 3, rnn=rnn, bidirectional=bidirectional,
                                   pooling=pooling, **kw)


def _transformer(pooling="mean", **kw):
    kw = {"dropout": 0.0, "max_len": 32, **kw}
    return TransformerTextClassifier(30, 8, 2, 2, 16, num_classes=3, pooling=pooling, **kw)


MODELS = ([pytest.param(lambda c=c: _rnn(*c), id="-".join(map(str, c))) for c in RNN_CONFIGS]
          + [pytest.param(lambda: _transformer("mean"), id="transformer-mean"),
             pytest.param(lambda: _transformer("cls"), id="transformer-cls")])


@pytest.mark.parametrize("make", MODELS)
def test_shapes_and_dtypes(make):
    model = make().eval()
    seqs = _ragged(np.random.default_rng(0), 5, 30)
    out = model(_padded(seqs, 9))
    assert tuple(out.shape) == (5, 3) and out.dtype == ganglion.float32
    out64 = model.double()(_padded(seqs, 9))
    assert out64.dtype == ganglion.float64


@pytest.mark.parametrize("make", MODELS)
def test_padding_does_not_change_logits(make):
    model = make().eval()
    seqs = _ragged(np.random.default_rng(1), 6, 30)
    with ganglion.no_grad():
        tight = model(_padded(seqs, max(map(len, seqs)))).numpy()
        wide = model(_padded(seqs, 15)).numpy()
        # the same mask given explicitly, with the pad positions holding real token ids
        ids = _padded(seqs, 15).numpy().copy()
        mask = (ids != 0).astype(np.int64)
        ids[mask == 0] = 7
        masked = model(ganglion.tensor(ids), attention_mask=ganglion.tensor(mask)).numpy()
        alone = np.concatenate([model(_padded([s], len(s))).numpy() for s in seqs])
    np.testing.assert_allclose(wide, tight, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(masked, tight, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(alone, tight, atol=1e-5, rtol=1e-5)


# -- torch as the oracle ---------------------------------------------------------------------
def _torch_rnn_reference(torch, rnn, pooling, bidirectional):
    tnn = torch.nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Reference(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tnn.Embedding(30, 6, padding_idx=0)
            self.rnn = (tnn.LSTM if rnn == "lstm" else tnn.GRU)(
                6, 5, batch_first=True, bidirectional=bidirectional)
            self.classifier = tnn.Linear(10 if bidirectional else 5, 3)

        def forward(self, ids, lengths):
            packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                          enforce_sorted=False)
            out, h = self.rnn(packed)
            if pooling == "last":
                h = h[0] if rnn == "lstm" else h
                feats = torch.cat(list(h[-2:] if bidirectional else h[-1:]), dim=1)
            else:
                padded, _ = pad_packed_sequence(out, batch_first=True)
                real = (torch.arange(padded.shape[1])[None] < lengths[:, None])[..., None]
                if pooling == "max":
                    feats = padded.masked_fill(~real, -math.inf).amax(1)
                else:
                    feats = padded.sum(1) / lengths[:, None]
            return self.classifier(feats)

    return Reference()


def _torch_transformer_reference(torch, pooling):
    tnn = torch.nn

    class Reference(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tnn.Embedding(30, 8, padding_idx=0)
            layer = tnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                                batch_first=True, norm_first=True)
            self.encoder = tnn.TransformerEncoder(layer, 2, norm=tnn.LayerNorm(8),
                                                  enable_nested_tensor=False)
            self.classifier = tnn.Linear(8, 3)

        def forward(self, ids, lengths):
            pos = torch.arange(ids.shape[1], dtype=torch.float64)[:, None]
            div = torch.exp(torch.arange(0, 8, 2, dtype=torch.float64) * (-math.log(1e4) / 8))
            pe = torch.stack([torch.sin(pos * div), torch.cos(pos * div)], -1).reshape(-1, 8)
            real = torch.arange(ids.shape[1])[None] < lengths[:, None]
            h = self.encoder(self.embedding(ids) + pe.float(), src_key_padding_mask=~real)
            if pooling == "cls":
                return self.classifier(h[:, 0])
            m = real[..., None].float()
            return self.classifier((h * m).sum(1) / m.sum(1))

    return Reference()


def _compare_with_torch(model, reference, torch):
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    reference.load_state_dict(state)
    seqs = _ragged(np.random.default_rng(2), 7, 30, 1, 11)
    ids = _padded(seqs, 12)
    labels = np.random.default_rng(3).integers(0, 3, 7)
    lengths = torch.tensor([len(s) for s in seqs])
    out = model(ids)
    loss = ganglion.nn.functional.cross_entropy(out, ganglion.tensor(labels))
    loss.backward()
    t_out = reference(torch.from_numpy(ids.numpy()), lengths)
    torch.nn.functional.cross_entropy(t_out, torch.from_numpy(labels)).backward()
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), atol=1e-5,
                               rtol=1e-4)
    t_params = dict(reference.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), atol=1e-5,
                                   rtol=1e-4, err_msg=name)
    assert not np.any(model.embedding.weight.grad.numpy()[0])  # the padding row learns nothing


@pytest.mark.parametrize("rnn,pooling,bidirectional", [("lstm", "max", True),
                                                       ("gru", "last", True),
                                                       ("lstm", "mean", False)])
def test_recurrent_matches_torch(rnn, pooling, bidirectional):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    _compare_with_torch(_rnn(rnn, pooling, bidirectional),
                        _torch_rnn_reference(torch, rnn, pooling, bidirectional), torch)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_transformer_matches_torch(pooling):
    torch = pytest.importorskip("torch")
    _compare_with_torch(_transformer(pooling), _torch_transformer_reference(torch, pooling),
                        torch)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [_rnn, _transformer])
def test_input_errors(make):
    model = make()
    name = type(model).__name__
    ids = ganglion.tensor([[1, 2, 0], [3, 0, 0]])
    with pytest.raises(TypeError, match=f"{name}.*integer token ids"):
        model(ids.float())
    with pytest.raises(ValueError, match=f"{name}.*shape \\(N, L\\).*unsqueeze"):
        model(ganglion.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=f"{name}.*token id 30.*vocab_size=30"):
        model(ganglion.tensor([[1, 30]]))
    with pytest.raises(ValueError, match=f"{name}.*attention_mask has shape"):
        model(ids, attention_mask=ganglion.ones(2, 2).long())
    with pytest.raises(TypeError, match=f"{name}.*attention_mask must be bool or integer"):
        model(ids, attention_mask=ganglion.ones(2, 3))
    with pytest.raises(ValueError, match=f"{name}.*sequence\\(s\\) \\[1\\].*no tokens"):
        model(ganglion.tensor([[1, 2], [0, 0]]))


def test_model_specific_errors():
    with pytest.raises(ValueError, match="RecurrentTextClassifier.*padding must come after"):
        _rnn()(ganglion.tensor([[0, 1, 2]]), attention_mask=ganglion.tensor([[0, 1, 1]]))
    # the transformer takes padding anywhere
    assert tuple(_transformer()(ganglion.tensor([[0, 1, 2]])).shape) == (1, 3)
    with pytest.raises(ValueError, match="TransformerTextClassifier.*33 tokens.*max_len=32"):
        _transformer()(ganglion.ones(1, 33).long())
    with pytest.raises(ValueError, match="RecurrentTextClassifier: rnn must be one of"):
        _rnn(rnn="rnn")
    with pytest.raises(ValueError, match="RecurrentTextClassifier: pooling"):
        _rnn(pooling="sum")
    with pytest.raises(ValueError, match="RecurrentTextClassifier: hidden_size"):
        RecurrentTextClassifier(10, 4, 0, 2)
    with pytest.raises(ValueError, match="RecurrentTextClassifier: dropout"):
        RecurrentTextClassifier(10, 4, 4, 2, dropout=1.0)
    with pytest.raises(ValueError, match="TransformerTextClassifier: d_model \\(10\\).*nhead"):
        TransformerTextClassifier(10, 10, 3, 1, 8)
    with pytest.raises(ValueError, match="TransformerTextClassifier: pooling"):
        TransformerTextClassifier(10, 8, 2, 1, 8, pooling="max")


# -- bucketing -------------------------------------------------------------------------------
def test_token_batches_cover_every_sequence_and_bucket_by_length():
    rng = np.random.default_rng(4)
    seqs = _ragged(rng, 1000, 50, 1, 40)
    labels = rng.integers(0, 2, 1000)
    batches = TokenBatches(seqs, labels, batch_size=32, shuffle=True, pad_id=0, seed=0)
    seen = []
    for ids, mask, y in batches:
        rows = ids.numpy()
        m = mask.numpy().astype(bool)
        assert rows.shape == m.shape and not rows[~m].any()  # padded with pad_id only
        seen.append((rows, m, y.numpy()))
    assert sum(len(y) for _, _, y in seen) == 1000 and len(seen) == len(batches)
    # every sequence comes back exactly once, with its label
    got = sorted((tuple(r[mm]), int(lab)) for rows, m, y in seen
                 for r, mm, lab in zip(rows, m, y))
    assert got == sorted((tuple(s), int(lab)) for s, lab in zip(seqs, labels))
    unbucketed = 1 - sum(map(len, seqs)) / (1000 * max(map(len, seqs)))
    assert batches.padding_fraction() < 0.2 < unbucketed
    first = [b.tolist() for b in batches.index_batches()]
    assert first != [b.tolist() for b in batches.index_batches()]  # a new order each pass
    with pytest.raises(ValueError, match="TokenBatches: sequence 1 is empty"):
        TokenBatches([[1], []])
    with pytest.raises(ValueError, match="TokenBatches: 2 sequences but labels"):
        TokenBatches([[1], [2]], labels=[0])


# -- learning --------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: _rnn("gru", "max"), lambda: _transformer("mean")],
                         ids=["gru", "transformer"])
def test_learns_which_token_decides(make):
    # label = whether token 1 occurs: learnable only through the embeddings, the sequence
    # layer and the pooling together; accuracy is measured on held-out sequences
    rng = np.random.default_rng(5)
    seqs = _ragged(rng, 512, 30, 2, 10)
    for s in seqs[::2]:
        s[rng.integers(len(s))] = 1
    labels = [int(1 in s) for s in seqs]
    train = TokenBatches(seqs[:256], labels[:256], batch_size=32, shuffle=True)
    held_out = TokenBatches(seqs[256:], labels[256:], batch_size=64)
    model = make()
    result = fit_text_classifier(model, train, held_out, epochs=10, lr=3e-2, log=None)
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < 0.3 * losses[0]
    assert result["best_accuracy"] > 0.9
    assert (predict_text_classifier(model, held_out) == np.array(labels[256:])).mean() > 0.9
    # the best epoch's weights were loaded back
    assert evaluate_text_classifier(model, held_out) == result["best_accuracy"]


@pytest.mark.skipif(find_data_root("sst2") is None, reason="shared SST-2 data absent")
def test_sst2_small_run_beats_chance():
    # 4,000 training phrases, a small BiLSTM, 3 epochs; the dev majority class is 50.9%
    from examples import sst2_classify  # the repository root is on sys.path under pytest

    result = sst2_classify.run("lstm", train_limit=4000, epochs=3, lr=1e-2, batch_size=32,
                           vocab_size=3000, seed=0, log=None,
                           model_kwargs={"embed_dim": 32, "hidden_size": 32, "dropout": 0.2})
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert result["best_accuracy"] > 0.65
