"""``BertConfig``: the hyperparameters of a BERT encoder, read from and written to Hugging
Face's ``config.json`` (same field names and defaults as ``transformers.BertConfig``).

Fields that change the architecture in ways ``BertModel`` does not implement (relative
position embeddings, decoder / cross-attention use) are rejected with a clear error rather
than silently ignored; bookkeeping fields (``architectures``, ``transformers_version``, ...)
are kept in ``extra`` and written back.

Example:
    >>> cfg = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
    ...                  intermediate_size=128)
    >>> cfg.head_dim, BertConfig.from_dict(cfg.to_dict()) == cfg
    (16, True)
"""
from __future__ import annotations

import dataclasses
import json
import os

__all__ = ["BertConfig", "BERT_ACTIVATIONS"]

# hidden_act names of transformers' ACT2FN that BertModel implements, mapped to
# (F function name, keyword arguments). "gelu" is the exact erf form, as in BERT.
BERT_ACTIVATIONS = {
    "gelu": ("gelu", {}),
    "gelu_new": ("gelu", {"approximate": "tanh"}),
    "gelu_pytorch_tanh": ("gelu", {"approximate": "tanh"}),
    "relu": ("relu", {}),
    "silu": ("silu", {}),
    "swish": ("silu", {}),
}

# Fields whose non-default value asks for something BertModel does not build.
_UNSUPPORTED = {
    "position_embedding_type": "absolute",
    "is_decoder": False,
    "add_cross_attention": False,
    "chunk_size_feed_forward": 0,
}


@dataclasses.dataclass
class BertConfig:
    """BERT hyperparameters (defaults: BERT-base, as ``transformers.BertConfig``).

    Args:
        vocab_size: rows of the word embedding.
        hidden_size: model width; a multiple of ``num_attention_heads``.
        num_hidden_layers: Transformer layers.
        num_attention_heads: heads per attention layer.
        intermediate_size: width of the feed-forward block.
        hidden_act: feed-forward activation: ``'gelu'`` (erf), ``'gelu_new'`` /
            ``'gelu_pytorch_tanh'`` (tanh approximation), ``'relu'``, ``'silu'``/``'swish'``.
        hidden_dropout_prob: dropout on embeddings and sublayer outputs.
        attention_probs_dropout_prob: dropout on the attention weights.
        max_position_embeddings: longest sequence the position table covers.
        type_vocab_size: number of segment (token type) ids.
        initializer_range: std of the normal init of weights.
        layer_norm_eps: LayerNorm epsilon.
        pad_token_id: the padding id (its word-embedding row starts at zero).
        extra: other ``config.json`` fields, kept as they are.

    Raises:
        ValueError: a size that is not positive, a width that the heads do not divide, an
            unknown activation, or a field asking for an architecture BertModel lacks.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    extra: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"BertConfig: {name} must be a positive int, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size={self.hidden_size} is not a multiple "
                             f"of num_attention_heads={self.num_attention_heads}; pick a head "
                             f"count that divides the width")
        if self.hidden_act not in BERT_ACTIVATIONS:
            raise ValueError(f"BertConfig: hidden_act {self.hidden_act!r} is not supported; "
                             f"choose one of {sorted(BERT_ACTIVATIONS)}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"BertConfig: {name} must lie in [0, 1], got "
                                 f"{getattr(self, name)!r}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"BertConfig: pad_token_id={self.pad_token_id} is outside the "
                             f"vocabulary [0, {self.vocab_size})")
        for name, default in _UNSUPPORTED.items():
            if self.extra.get(name, default) != default:
                raise ValueError(f"BertConfig: {name}={self.extra[name]!r} is not supported "
                                 f"by ganglion's BertModel (it builds {name}={default!r} "
                                 f"only); use a checkpoint with the standard BERT encoder")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, config: dict) -> "BertConfig":
        """Build from a ``config.json`` dict; unknown fields go to ``extra``."""
        if not isinstance(config, dict):
            raise TypeError(f"BertConfig.from_dict: expected a dict, got "
                            f"{type(config).__name__}")
        model_type = config.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"BertConfig: model_type {model_type!r} is not 'bert'; this "
                             f"loader reads BERT-architecture checkpoints only")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in config.items() if k in names}
        extra = {k: v for k, v in config.items() if k not in names}
        return cls(**known, extra=extra)

    @classmethod
    def from_json_file(cls, path) -> "BertConfig":
        """Read a ``config.json`` file (or the one in a model folder)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"BertConfig.from_json_file: no such file {path!r}; pass "
                                    f"a config.json or the model folder holding one")
        with open(path, encoding="utf-8") as f:
            try:
                config = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"BertConfig: {path} is not valid JSON ({e})") from None
        return cls.from_dict(config)

    def to_dict(self) -> dict:
        """The ``config.json`` dict (``extra`` fields included, ``model_type`` 'bert')."""
        out = dict(self.extra)
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if f.name != "extra"})
        out["model_type"] = "bert"
        return out
