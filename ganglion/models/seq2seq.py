"""``Seq2SeqGRU``: a GRU encoder-decoder with attention for translation.

The encoder embeds the source and runs a (bidirectional) GRU over it as a packed sequence, so
padding never enters a state; each decoder layer starts from ``tanh(W [h_fwd; h_bwd])`` of the
matching encoder layer's final states. Two decoders, both trained with teacher forcing:

- ``attention="bahdanau"`` (Bahdanau et al. 2015, https://arxiv.org/abs/1409.0473): at step t
  the previous decoder state s_{t-1} attends (additive score) to the encoder states; the
  context c_t and the embedding of y_{t-1} are the GRU's input; the output is read from
  ``tanh(W [s_t; c_t; e(y_{t-1})])``. The attention depends on the recurrence, so training
  loops over target steps (one fused GRU step each).
- ``attention="luong"`` (Luong et al. 2015, https://arxiv.org/abs/1508.04025, global
  attention without input feeding): the GRU runs over the whole target at once, every state
  h_t attends ("general" or "dot" score), and ``h~_t = tanh(W_c [c_t; h_t])`` gives the
  output, so training needs no Python loop.

Source padding (``src_key_padding_mask``, by default ``src == pad_idx``) is excluded from the
encoder and masked in the attention. The step protocol of ``ganglion.models.decoding``
(``start_decoding``, ``decode_step``, ``reorder_state``) gives greedy and beam search.

Example:
    >>> import ganglion
    >>> _ = ganglion.manual_seed(0)
    >>> model = Seq2SeqGRU(20, 30, embed_dim=8, hidden_size=16, attention="luong")
    >>> src = ganglion.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])   # 0 pads
    >>> tgt_in = ganglion.tensor([[1, 4, 4], [1, 5, 0]])     # starts with BOS = 1
    >>> model(src, tgt_in).shape
    ganglion.Size([2, 3, 30])
"""
from __future__ import annotations

import ganglion.nn.functional as F
from ganglion.models.seq2seq_attention import BahdanauAttention, LuongAttention
from ganglion.models.seq2seq_common import check_tokens, gather_rows, padding_mask
from ganglion.nn.layers.dropout import Dropout
from ganglion.nn.layers.linear import Linear
from ganglion.nn.layers.rnn import GRU
from ganglion.nn.layers.sparse import Embedding
from ganglion.nn.module import Module
from ganglion.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from ganglion.ops.movement import cat

__all__ = ["Seq2SeqGRU"]


class Seq2SeqGRU(Module):
    """GRU encoder-decoder with Bahdanau or Luong attention over token ids (batch first).

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes.
        embed_dim: embedding size (also the readout size). Default: 256.
        hidden_size: GRU state size per direction. Default: 512.
        num_layers: GRU layers in the encoder and in the decoder. Default: 1.
        bidirectional: bidirectional encoder. Default: True.
        attention: ``"bahdanau"`` (additive) or ``"luong"``.
        score: Luong's score, ``"general"`` or ``"dot"`` (dot needs a unidirectional encoder,
            as its states must have the decoder's size).
        dropout: on embeddings, between GRU layers and before the output. Default: 0.1.
        pad_idx: the padding id (embedding row kept at zero; source padding masked).
        tie_weights: share the target embedding with the output projection.

    Shape:
        src (N, S) and tgt (N, T) int64 -> logits (N, T, tgt_vocab_size).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embed_dim=256, hidden_size=512,
                 num_layers=1, bidirectional=True, attention="bahdanau", score="general",
                 dropout=0.1, pad_idx=0, tie_weights=False):
        super().__init__()
        if attention not in ("bahdanau", "luong"):
            raise ValueError(f"Seq2SeqGRU: attention must be 'bahdanau' or 'luong', got "
                             f"{attention!r}")
        sizes = {"src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size,
                 "embed_dim": embed_dim, "hidden_size": hidden_size, "num_layers": num_layers}
        bad = {k: v for k, v in sizes.items() if not isinstance(v, int) or v <= 0}
        if bad:
            raise ValueError(f"Seq2SeqGRU: sizes must be positive ints, got {bad}")
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.attention_type, self.pad_idx, self.num_layers = attention, pad_idx, num_layers
        E, H, dirs = embed_dim, hidden_size, 2 if bidirectional else 1
        enc = H * dirs
        inner = dropout if num_layers > 1 else 0.0
        self.src_embed = Embedding(src_vocab_size, E, padding_idx=pad_idx)
        self.tgt_embed = Embedding(tgt_vocab_size, E, padding_idx=pad_idx)
        self.encoder = GRU(E, H, num_layers, batch_first=True, dropout=inner,
                           bidirectional=bidirectional)
        self.bridge = Linear(enc, H)
        if attention == "bahdanau":
            self.attention = BahdanauAttention(H, enc, H)
            self.decoder = GRU(E + enc, H, num_layers, batch_first=True, dropout=inner)
            self.readout = Linear(H + enc + E, E)
        else:
            self.attention = LuongAttention(H, enc, score)
            self.decoder = GRU(E, H, num_layers, batch_first=True, dropout=inner)
            self.readout = Linear(enc + H, E)
        self.dropout = Dropout(dropout)
        self.output_proj = Linear(E, tgt_vocab_size)
        if tie_weights:
            self.output_proj.weight = self.tgt_embed.weight

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, src, src_key_padding_mask=None):
        """Encoder states (N, S, H * directions), the padding mask (N, S) or None, and the
        decoder's initial state (num_layers, N, H)."""
        check_tokens("Seq2SeqGRU.encode", src, "src", self.src_vocab_size)
        mask = padding_mask("Seq2SeqGRU", src, src_key_padding_mask, self.pad_idx)
        x = self.dropout(self.src_embed(src))
        if mask is None:
            memory, h = self.encoder(x)
        else:
            lengths = (~mask).long().sum(1)
            if bool((lengths == 0).any()):
                raise ValueError("Seq2SeqGRU: a source sentence is all padding; every row "
                                 "of src needs at least one token")
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, h = self.encoder(packed)
            memory = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])[0]
        dirs = 2 if self.encoder.bidirectional else 1
        N = src.shape[0]
        finals = h.reshape(self.num_layers, dirs, N, -1).permute(0, 2, 1, 3)
        h0 = self.bridge(finals.reshape(self.num_layers, N, -1)).tanh()
        return memory, mask, h0

    # -- teacher-forced decoder --------------------------------------------------------------
    def forward(self, src, tgt, src_key_padding_mask=None):
        """Teacher-forced logits: ``tgt`` is the decoder input (BOS, y_1, ..., y_{T-1})."""
        if src.ndim != 2 or tgt.ndim != 2 or src.shape[0] != tgt.shape[0]:
            raise ValueError(f"Seq2SeqGRU: expected src (N, S) and tgt (N, T) token ids with "
                             f"the same N, got {tuple(src.shape)} and {tuple(tgt.shape)}")
        check_tokens("Seq2SeqGRU.forward", tgt, "tgt", self.tgt_vocab_size)
        memory, mask, h = self.encode(src, src_key_padding_mask)
        keys = self.attention.keys(memory)
        emb = self.dropout(self.tgt_embed(tgt))
        if self.attention_type == "luong":
            return self._luong(emb, h, keys, memory, mask)[0]
        steps = []
        for t in range(tgt.shape[1]):  # the attention needs s_{t-1}: one step at a time
            out, h = self._bahdanau_step(emb[:, t:t + 1], h, keys, memory, mask)
            steps.append(out)
        return self._read(cat(steps, dim=1))

    def _bahdanau_step(self, emb, h, keys, memory, mask):
        """One target position (emb (N, 1, E)): the hidden state and readout inputs."""
        context, _ = self.attention(h[-1][:, None], keys, memory, mask)
        s, h = self.decoder(cat([emb, context], dim=-1), h)
        return cat([s, context, emb], dim=-1), h

    def _luong(self, emb, h, keys, memory, mask):
        s, h = self.decoder(emb, h)
        context, _ = self.attention(s, keys, memory, mask)
        return self._read(cat([context, s], dim=-1)), h

    def _read(self, features):
        return self.output_proj(self.dropout(self.readout(features).tanh()))

    # -- the step protocol of ganglion.models.decoding ----------------------------------
    def start_decoding(self, src, src_key_padding_mask=None) -> dict:
        memory, mask, h = self.encode(src, src_key_padding_mask)
        return {"memory": memory, "keys": self.attention.keys(memory), "mask": mask, "h": h}

    def decode_step(self, tokens, state):
        """Log-probabilities (N, V) of the next token after ``tokens`` (N,), and the state."""
        emb = self.dropout(self.tgt_embed(tokens[:, None]))
        args = (state["keys"], state["memory"], state["mask"])
        if self.attention_type == "luong":
            logits, h = self._luong(emb, state["h"], *args)
        else:
            features, h = self._bahdanau_step(emb, state["h"], *args)
            logits = self._read(features)
        return F.log_softmax(logits[:, 0], dim=-1), {**state, "h": h}

    def reorder_state(self, state, index) -> dict:
        mask = state["mask"]
        return {"memory": gather_rows(state["memory"], index),
                "keys": gather_rows(state["keys"], index),
                "mask": None if mask is None else gather_rows(mask, index),
                "h": state["h"].index_select(1, index)}  # (layers, N, H): batch is dim 1

    def extra_repr(self) -> str:
        return f"attention={self.attention_type!r}, pad_idx={self.pad_idx}"
