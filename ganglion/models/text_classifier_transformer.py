"""``TransformerTextClassifier``: token embeddings plus sinusoidal positions, a
``nn.TransformerEncoder`` that ignores padding through ``src_key_padding_mask``, a masked
mean (or CLS) pooling and a linear layer to class logits.

Example:
    >>> import ganglion
    >>> model = TransformerTextClassifier(vocab_size=100, d_model=16, nhead=2, num_layers=1,
    ...                                   dim_feedforward=32, num_classes=2, max_len=64)
    >>> model(ganglion.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])).shape
    ganglion.Size([2, 2])
"""
from __future__ import annotations

from ganglion import nn
from ganglion.models.text_classifier_inputs import (check_choice, check_dropout,
                                                    check_positive_int, check_token_batch)

__all__ = ["TransformerTextClassifier"]


class TransformerTextClassifier(nn.Module):
    """A Transformer encoder (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762) over
    token embeddings, pooled into one vector per text, then dropout and a linear layer.

    Padded positions are masked out as attention keys and left out of the pooling, so the
    logits do not depend on how much padding a batch carries.

    Args:
        vocab_size: number of token ids (the tokenizer's ``vocab_size``).
        d_model: embedding and model width.
        nhead: attention heads (must divide ``d_model``).
        num_layers: encoder layers.
        dim_feedforward: hidden size of each layer's feed-forward block.
        num_classes: number of output logits.
        max_len: the longest input supported (size of the position table).
        dropout: after the positions, inside the layers and before the classifier.
        padding_idx: the padding token id (zero embedding; with no ``attention_mask``,
            positions holding it are padding). None: no padding id.
        pooling: ``'mean'`` over the tokens (default) or ``'cls'``: the output at position
            0, which should then hold a classification token (the WordPiece tokenizer's
            ``[CLS]``).
        norm_first: pre-LN layers (Xiong et al. 2020, https://arxiv.org/abs/2002.04745)
            with a final LayerNorm; they train stably without warm-up. Default: True.
        activation: the feed-forward activation, ``'gelu'`` (default) or ``'relu'``.

    Shape:
        ``input_ids`` (N, L) int with L <= max_len, optional ``attention_mask`` (N, L)
        (1 / True on tokens, padding anywhere) -> logits (N, num_classes).

    Raises:
        ValueError, TypeError: bad sizes or choices (``d_model`` not divisible by
        ``nhead``); float, out-of-range or non-2-D ids; inputs longer than ``max_len``; a
        mask of another shape; a row with no tokens.

    Example:
        >>> import ganglion
        >>> model = TransformerTextClassifier(60, 8, 2, 1, 16, num_classes=3, max_len=10,
        ...                                   pooling="cls")
        >>> ids = ganglion.tensor([[2, 7, 9, 3], [2, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
        >>> model(ids, attention_mask=ids != 0).shape
        ganglion.Size([2, 3])
    """

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 256, num_classes: int = 2,
                 max_len: int = 512, dropout: float = 0.1, padding_idx=0,
                 pooling: str = "mean", norm_first: bool = True,
                 activation: str = "gelu") -> None:
        super().__init__()
        name = "TransformerTextClassifier"
        check_positive_int(name, vocab_size=vocab_size, d_model=d_model, nhead=nhead,
                           num_layers=num_layers, dim_feedforward=dim_feedforward,
                           num_classes=num_classes, max_len=max_len)
        if d_model % nhead:
            raise ValueError(f"{name}: d_model ({d_model}) must be divisible by nhead "
                             f"({nhead}); each head gets d_model / nhead features")
        check_choice(name, "pooling", pooling, ("mean", "cls"))
        check_choice(name, "activation", activation, ("gelu", "relu"))
        check_dropout(name, dropout)
        self.vocab_size, self.num_classes, self.padding_idx = vocab_size, num_classes, padding_idx
        self.max_len, self.pooling = max_len, pooling
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        self.pos_encoding = nn.SinusoidalPositionalEncoding(d_model, max_len, dropout,
                                                            batch_first=True)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                           activation, batch_first=True,
                                           norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, num_layers,
                                             norm=nn.LayerNorm(d_model) if norm_first else None,
                                             enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, input_ids, attention_mask=None):
        name = type(self).__name__
        mask, _ = check_token_batch(name, input_ids, attention_mask, self.vocab_size,
                                    self.padding_idx)
        if input_ids.shape[1] > self.max_len:
            raise ValueError(f"{name}: input has {input_ids.shape[1]} tokens but max_len="
                             f"{self.max_len}; truncate it (encode_batch(..., max_length="
                             f"{self.max_len})) or build the model with a larger max_len")
        x = self.pos_encoding(self.embedding(input_ids))
        h = self.encoder(x, src_key_padding_mask=~mask)  # True = padding, as torch
        if self.pooling == "cls":
            feats = h[:, 0]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            feats = (h * m).sum(1) / m.sum(1)
        return self.classifier(self.dropout(feats))

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, max_len={self.max_len}"
