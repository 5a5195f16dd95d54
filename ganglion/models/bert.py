"""BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805): the encoder of
``transformers.BertModel`` with the same submodules and ``state_dict`` keys
(``embeddings.word_embeddings.weight``, ``encoder.layer.0.attention.self.query.weight``, ...),
so Hugging Face checkpoints such as sentence-transformers' all-MiniLM-L6-v2 load directly
(``BertModel.from_pretrained``, in ``bert_pretrained.py``).

Post-LN layers: x = LN(x + Dropout(W_o Attn(x))); x = LN(x + Dropout(W_2 act(W_1 x))).
Self-attention is ganglion's fused ``F.scaled_dot_product_attention`` with a boolean padding
mask, so padded keys get no weight.

Example:
    >>> import ganglion
    >>> cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
    ...                  num_attention_heads=4, intermediate_size=64)
    >>> model = BertModel(cfg).eval()
    >>> ids = ganglion.tensor([[2, 5, 7, 0], [2, 9, 0, 0]])
    >>> out = model(ids, attention_mask=(ids != 0).long())
    >>> out.last_hidden_state.shape, out.pooler_output.shape
    (ganglion.Size([2, 4, 32]), ganglion.Size([2, 32]))
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import ganglion
import ganglion.nn.functional as F
from ganglion.models.bert_config import BERT_ACTIVATIONS, BertConfig
from ganglion.nn import init
from ganglion.nn.containers import ModuleList
from ganglion.nn.layers.dropout import Dropout
from ganglion.nn.layers.linear import Linear
from ganglion.nn.layers.normalization import LayerNorm
from ganglion.nn.layers.sparse import Embedding
from ganglion.nn.module import Module
from ganglion.tensor import Tensor

__all__ = ["BertConfig", "BertModel", "BertModelOutput", "BertEmbeddings", "BertSelfAttention",
           "BertSelfOutput", "BertAttention", "BertIntermediate", "BertOutput", "BertLayer",
           "BertEncoder", "BertPooler"]


class BertModelOutput(NamedTuple):
    """``BertModel``'s result; indexes like Hugging Face's output (``out[0]`` is the last
    hidden state). ``pooler_output`` is None for a model built without the pooler."""

    last_hidden_state: Tensor
    pooler_output: Optional[Tensor] = None


class BertEmbeddings(Module):
    """LayerNorm(word + position + token-type embeddings), then dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size,
                                         padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        positions = ganglion.arange(input_ids.shape[1], device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Multi-head self-attention: separate query/key/value projections (BERT's keys), one
    fused attention op over all heads."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.head_dim
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob

    def _heads(self, x: Tensor) -> Tensor:
        n, s, _ = x.shape  # (N, S, H*D) -> (N, H, S, D)
        return x.view(n, s, self.num_attention_heads, self.attention_head_size).transpose(1, 2)

    def forward(self, hidden: Tensor, mask: Optional[Tensor]) -> Tensor:
        q, k, v = (self._heads(f(hidden)) for f in (self.query, self.key, self.value))
        p = self.dropout_prob if self.training else 0.0
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        n, _, s, _ = ctx.shape
        return ctx.transpose(1, 2).reshape(n, s, -1)


class _DenseResidualNorm(Module):
    """LayerNorm(residual + dropout(dense(x))): the end of both sublayers."""

    def __init__(self, config: BertConfig, in_features: int) -> None:
        super().__init__()
        self.dense = Linear(in_features, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertSelfOutput(_DenseResidualNorm):
    """LayerNorm(input + dropout(dense(attention))): the attention block's output."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config, config.hidden_size)


class BertAttention(Module):
    """Self-attention block with its output projection and residual LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden: Tensor, mask: Optional[Tensor]) -> Tensor:
        return self.output(self.self(hidden, mask), hidden)


class BertIntermediate(Module):
    """act(dense(x)): the first half of the feed-forward block."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        name, kwargs = BERT_ACTIVATIONS[config.hidden_act]
        self._act, self._act_kwargs, self.hidden_act = getattr(F, name), kwargs, config.hidden_act

    def forward(self, hidden: Tensor) -> Tensor:
        return self._act(self.dense(hidden), **self._act_kwargs)

    def extra_repr(self) -> str:
        return f"hidden_act={self.hidden_act!r}"


class BertOutput(_DenseResidualNorm):
    """LayerNorm(input + dropout(dense(intermediate))): the feed-forward block's output."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config, config.intermediate_size)


class BertLayer(Module):
    """One Transformer layer: attention block, then feed-forward block (post-LN)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden: Tensor, mask: Optional[Tensor]) -> Tensor:
        attended = self.attention(hidden, mask)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(Module):
    """``num_hidden_layers`` BertLayers in sequence (``encoder.layer.<i>``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden: Tensor, mask: Optional[Tensor]) -> Tensor:
        for layer in self.layer:
            hidden = layer(hidden, mask)
        return hidden


class BertPooler(Module):
    """tanh(dense(first token's hidden state)): BERT's sentence vector for classification."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return ganglion.tanh(self.dense(hidden[:, 0]))


class BertModel(Module):
    """The BERT encoder (``transformers.BertModel``'s modules, keys and forward).

    Args:
        config: a ``BertConfig``.
        add_pooling_layer: build the pooler (``pooler.dense``). Default: True.

    Shape:
        input_ids, attention_mask, token_type_ids: (N, S) int; S <= max_position_embeddings.
        Output: ``last_hidden_state`` (N, S, hidden_size) float32 and ``pooler_output``
        (N, hidden_size) or None.

    Raises:
        ValueError / TypeError: ids that are not a 2-D integer tensor, a sequence longer than
            the position table, masks or token types of another shape.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BertModel: config must be a BertConfig, got "
                            f"{type(config).__name__}; build one with BertConfig(...) or "
                            f"BertConfig.from_json_file(path)")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """BERT's init: weights ~ N(0, initializer_range), biases 0, LayerNorm 1/0, and the
        padding row of the word embedding 0 (as transformers' ``_init_weights``)."""
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, (Linear, Embedding)):
                init.normal_(m.weight, 0.0, std)
            if isinstance(m, Linear) and m.bias is not None:
                init.zeros_(m.bias)
            elif isinstance(m, LayerNorm):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        pad = self.config.pad_token_id
        if pad is not None:
            with ganglion.no_grad():
                self.embeddings.word_embeddings.weight[pad] = 0.0

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                token_type_ids: Optional[Tensor] = None) -> BertModelOutput:
        mask = _check_inputs(input_ids, attention_mask, token_type_ids, self.config)
        if token_type_ids is None:
            token_type_ids = ganglion.zeros_like(input_ids)
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), mask)
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BertModelOutput(hidden, pooled)

    @classmethod
    def from_pretrained(cls, path, add_pooling_layer=None) -> "BertModel":
        """Load a Hugging Face BERT folder (``config.json`` + ``model.safetensors``); see
        ``ganglion.models.bert_pretrained.load_bert``."""
        from ganglion.models.bert_pretrained import load_bert
        return load_bert(path, add_pooling_layer=add_pooling_layer)


def _is_int(t) -> bool:
    return isinstance(t, Tensor) and t.dtype in (ganglion.int64, ganglion.int32)


def _check_inputs(input_ids, attention_mask, token_type_ids, config):
    """Validates the inputs; returns the (N, 1, 1, S) boolean key mask, or None."""
    if not _is_int(input_ids) or input_ids.dim() != 2:
        what = (f"a {input_ids.dim()}-D {input_ids.dtype} tensor" if isinstance(input_ids, Tensor)
                else type(input_ids).__name__)
        raise TypeError(f"BertModel: input_ids must be a 2-D int64 tensor (batch, seq_len), "
                        f"got {what}; tokenize with padding=True to get one")
    n, s = input_ids.shape
    if s > config.max_position_embeddings:
        raise ValueError(f"BertModel: input_ids has {s} positions but the position table "
                         f"holds max_position_embeddings={config.max_position_embeddings}; "
                         f"truncate the inputs (tokenizer max_length)")
    for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if t is not None and (not isinstance(t, Tensor) or tuple(t.shape) != (n, s)):
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"BertModel: {name} must be a tensor of input_ids' shape "
                             f"{(n, s)}, got {got}")
    if attention_mask is None:
        return None
    return (attention_mask != 0).view(n, 1, 1, s)  # True = a real token keys may attend to
