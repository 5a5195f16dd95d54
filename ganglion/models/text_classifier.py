"""Text classifiers: a recurrent one (LSTM/GRU over word embeddings) here, and
``TransformerTextClassifier`` in ``text_classifier_transformer``. Both take a padded batch of
token ids (what ``ganglion.data.Tokenizer.encode_batch`` returns) and give class logits;
padding never changes the result.

Example:
    >>> import ganglion
    >>> model = RecurrentTextClassifier(vocab_size=100, embed_dim=16, hidden_size=8,
    ...                                 num_classes=2)
    >>> ids = ganglion.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])  # 0 = padding
    >>> model(ids).shape
    ganglion.Size([2, 2])
"""
from __future__ import annotations

import ganglion
from ganglion import nn
from ganglion.models.text_classifier_inputs import (check_choice, check_dropout,
                                                    check_positive_int, check_token_batch)
from ganglion.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["RecurrentTextClassifier"]

_RNNS = {"lstm": nn.LSTM, "gru": nn.GRU}
_POOLINGS = ("last", "max", "mean")


class RecurrentTextClassifier(nn.Module):
    """Embedding, a (bi)directional LSTM or GRU, a pooling over time, dropout and a linear
    layer to ``num_classes`` logits.

    Sequences are packed (``pack_padded_sequence``), so the recurrence runs over each
    sequence's own tokens only: the backward direction starts at the last real token, and
    ``'last'`` pooling takes each direction's final state at the sequence's own end.
    ``'max'`` and ``'mean'`` pool the outputs over real positions only. Max pooling over
    BiLSTM states is InferSent's choice (Conneau et al. 2017,
    https://arxiv.org/abs/1705.02364).

    Args:
        vocab_size: number of token ids (the tokenizer's ``vocab_size``).
        embed_dim: embedding size.
        hidden_size: recurrent state size per direction.
        num_classes: number of output logits.
        rnn: ``'lstm'`` or ``'gru'``.
        num_layers: stacked recurrent layers.
        bidirectional: run a second, backward recurrence and concatenate. Default: True.
        dropout: on the embeddings, between recurrent layers and before the classifier.
        padding_idx: the padding token id (its embedding stays zero); with no
            ``attention_mask``, positions holding it are padding. None: no padding id.
        pooling: ``'max'`` (default), ``'mean'`` or ``'last'``.

    Shape:
        ``input_ids`` (N, L) int, optional ``attention_mask`` (N, L) (1 / True on tokens,
        right-padded) -> logits (N, num_classes).

    Raises:
        ValueError, TypeError: bad sizes or choices; float, out-of-range or non-2-D ids; a
        mask of another shape, with padding before tokens, or a row with no tokens.

    Example:
        >>> import ganglion
        >>> model = RecurrentTextClassifier(50, 8, 6, num_classes=3, rnn="gru",
        ...                                 pooling="last")
        >>> ids = ganglion.tensor([[4, 5, 6], [7, 8, 0]])
        >>> mask = ganglion.tensor([[1, 1, 1], [1, 1, 0]])
        >>> model(ids, attention_mask=mask).shape
        ganglion.Size([2, 3])
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_classes: int,
                 rnn: str = "lstm", num_layers: int = 1, bidirectional: bool = True,
                 dropout: float = 0.5, padding_idx=0, pooling: str = "max") -> None:
        super().__init__()
        name = "RecurrentTextClassifier"
        check_positive_int(name, vocab_size=vocab_size, embed_dim=embed_dim,
                           hidden_size=hidden_size, num_classes=num_classes,
                           num_layers=num_layers)
        check_choice(name, "rnn", rnn, tuple(_RNNS))
        check_choice(name, "pooling", pooling, _POOLINGS)
        check_dropout(name, dropout)
        self.vocab_size, self.num_classes, self.padding_idx = vocab_size, num_classes, padding_idx
        self.rnn_type, self.pooling, self.bidirectional = rnn, pooling, bidirectional
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.embed_dropout = nn.Dropout(dropout)
        # torch's RNN dropout acts only between layers (and warns when there are none)
        self.rnn = _RNNS[rnn](embed_dim, hidden_size, num_layers, batch_first=True,
                              dropout=dropout if num_layers > 1 else 0.0,
                              bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, input_ids, attention_mask=None):
        mask, lengths = check_token_batch(type(self).__name__, input_ids, attention_mask,
                                          self.vocab_size, self.padding_idx, right_padded=True)
        x = self.embed_dropout(self.embedding(input_ids))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h = state[0] if self.rnn_type == "lstm" else state  # (layers * dirs, N, H)
            dirs = 2 if self.bidirectional else 1
            feats = h[-dirs:].transpose(0, 1).reshape(h.shape[1], -1)  # fwd, bwd of the top
        else:
            # -inf padding is never the max; zero padding adds nothing to the mean
            fill = float("-inf") if self.pooling == "max" else 0.0
            padded, _ = pad_packed_sequence(out, batch_first=True, padding_value=fill,
                                            total_length=input_ids.shape[1])
            if self.pooling == "max":
                feats = padded.amax(1)
            else:
                n = ganglion.tensor(lengths, device=padded.device).to(padded.dtype)
                feats = padded.sum(1) / n.unsqueeze(1)
        return self.classifier(self.dropout(feats))

    def extra_repr(self) -> str:
        return f"rnn={self.rnn_type!r}, pooling={self.pooling!r}"
