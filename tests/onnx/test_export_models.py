"""The model zoo, recurrent layers, Transformer encoders and BERT exported, checked with
``onnx.checker`` (full check) and run by onnxruntime at the example's batch size and another
(and another sequence length for the sequence models)."""
import numpy as np
import pytest

import ganglion
from ganglion import models, nn

from tests.onnx.helpers import batch_axes, check_ort


def _randomize_bn(model):
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.array[...] = rng.normal(0, 0.3, m.running_mean.shape)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
    return model


IMAGE_MODELS = {
    "mlp": (lambda: models.MLP(784, [64, 32], 10), (1, 28, 28)),
    "small_cnn": (lambda: models.SmallCNN(10, 1, 8), (1, 8, 8)),
    "mnist_cnn": (lambda: models.MnistCNN(10, 1, 28), (1, 28, 28)),
    "lenet5": (lambda: models.LeNet5(10, 1), (1, 28, 28)),
    "resnet20": (lambda: _randomize_bn(models.resnet20(10, 3)), (3, 16, 16)),
}


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_image_models_match_onnxruntime(name):
    ganglion.manual_seed(0)
    build, shape = IMAGE_MODELS[name]
    model = build()
    examples = [(ganglion.randn(1, *shape),), (ganglion.randn(3, *shape),)]
    check_ort(model, examples, ["input"], batch_axes(["input"]))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_bidirectional_batch_first(kind):
    ganglion.manual_seed(1)
    layer = getattr(nn, kind)(6, 5, num_layers=2, batch_first=True, bidirectional=True)
    examples = [(ganglion.randn(2, 3, 6),), (ganglion.randn(4, 9, 6),), (ganglion.randn(1, 1, 6),)]
    check_ort(layer, examples, ["x"], batch_axes(["x"], (1, "seq")))


def test_lstm_time_major_with_given_state():
    ganglion.manual_seed(2)
    layer = nn.LSTM(4, 3, num_layers=1)
    def ex(t, b):
        return (ganglion.randn(t, b, 4), ganglion.randn(1, b, 3), ganglion.randn(1, b, 3))

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = layer

        def forward(self, x, h, c):
            return self.lstm(x, (h, c))

    axes = {"x": {0: "seq", 1: "batch"}, "h": {1: "batch"}, "c": {1: "batch"}}
    check_ort(WithState(), [ex(5, 2), ex(3, 6)], ["x", "h", "c"], axes)


class TokenTransformer(nn.Module):
    """Token and learned position embeddings, a pre-LN Transformer encoder with a padding mask
    from the ids, masked mean pooling and a linear head."""

    def __init__(self, vocab=40, d=16, heads=4, layers=2, classes=3):
        super().__init__()
        self.tok = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Embedding(32, d)
        layer = nn.TransformerEncoderLayer(d, heads, 32, dropout=0.1, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d))
        self.head = nn.Linear(d, classes)

    def forward(self, ids):
        pos = ganglion.arange(ids.shape[1])
        pad = ids == 0
        h = self.encoder(self.tok(ids) + self.pos(pos), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return self.head((h * keep).sum(1) / keep.sum(1))


def _ids(b, t, seed):
    ids = np.random.default_rng(seed).integers(1, 40, (b, t))
    ids[0, t // 2:] = 0  # padding in the first row
    return ganglion.tensor(ids)


def test_transformer_encoder_classifier():
    ganglion.manual_seed(3)
    model = TokenTransformer()
    examples = [(_ids(2, 5, 0),), (_ids(3, 11, 1),)]
    check_ort(model, examples, ["ids"], batch_axes(["ids"], (1, "seq")))


def test_transformer_encoder_post_ln_relu_opset20():
    ganglion.manual_seed(4)
    layer = nn.TransformerEncoderLayer(12, 3, 24, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2)
    examples = [(ganglion.randn(2, 4, 12),), (ganglion.randn(5, 7, 12),)]
    check_ort(model, examples, ["src"], batch_axes(["src"], (1, "seq")), opset_version=20)


def test_bert_model_exports():
    bert = pytest.importorskip("ganglion.models.bert")
    ganglion.manual_seed(5)
    cfg = bert.BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=48)
    model = bert.BertModel(cfg)

    def ex(b, t, seed):
        ids = _ids(b, t, seed)
        return ids, (ids != 0).long()

    names = ["input_ids", "attention_mask"]
    check_ort(model, [ex(2, 6, 0), ex(4, 9, 1)], names, batch_axes(names, (1, "seq")),
              output_names=["last_hidden_state", "pooler_output"])
