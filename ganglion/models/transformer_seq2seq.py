"""``TransformerSeq2Seq``: the encoder-decoder Transformer of Vaswani et al. (2017,
https://arxiv.org/abs/1706.03762) for translation: scaled token embeddings, sinusoidal
positions, ``nn.Transformer`` (batch first), and an output projection optionally tied to the
target embedding (Press & Wolf 2017, https://arxiv.org/abs/1608.05859).

Besides ``forward`` (teacher forcing: all target positions at once under the causal mask) it
speaks the step protocol of ``ganglion.models.decoding``: ``start_decoding`` runs the encoder
once and projects every decoder layer's cross-attention keys/values of the memory once;
``decode_step`` feeds one token per sentence and keeps each layer's self-attention keys/values
in a cache, so a step costs one position, not the whole prefix.

Example:
    >>> import ganglion
    >>> from ganglion.models.decoding import greedy_search
    >>> _ = ganglion.manual_seed(0)
    >>> model = TransformerSeq2Seq(20, 30, d_model=16, nhead=2, num_encoder_layers=1,
    ...                            num_decoder_layers=1, dim_feedforward=32)
    >>> src = ganglion.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])   # 0 pads
    >>> tgt_in = ganglion.tensor([[1, 4, 4], [1, 5, 0]])     # starts with BOS = 1
    >>> model(src, tgt_in).shape
    ganglion.Size([2, 3, 30])
    >>> greedy_search(model, src, bos_idx=1, eos_idx=2, max_len=6).shape[0]
    2
"""
from __future__ import annotations

import math

import ganglion.nn.functional as F
from ganglion.models.seq2seq_common import check_tokens, gather_rows, padding_mask
from ganglion.nn import init
from ganglion.nn.layers.linear import Linear
from ganglion.nn.layers.positional import SinusoidalPositionalEncoding
from ganglion.nn.layers.sparse import Embedding
from ganglion.nn.layers.transformer import Transformer
from ganglion.nn.module import Module
from ganglion.ops.movement import cat

__all__ = ["TransformerSeq2Seq"]


class TransformerSeq2Seq(Module):
    """Encoder-decoder Transformer over token ids (batch first).

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes.
        d_model: model width. Default: 256.
        nhead: attention heads. Default: 4.
        num_encoder_layers, num_decoder_layers: stack depths. Default: 3 each.
        dim_feedforward: feed-forward width. Default: 1024.
        dropout: dropout of the embeddings and inside the layers. Default: 0.1.
        max_len: longest source/target supported (positional table). Default: 256.
        pad_idx: the padding id (embedding row kept at zero; source padding masked).
        norm_first: pre-LN layers (Xiong et al. 2020), stabler without long warmup.
        tie_weights: share the target embedding matrix with the output projection.
        activation: "relu" or "gelu".

    Shape:
        src (N, S) and tgt (N, T) int64 -> logits (N, T, tgt_vocab_size).

    Raises:
        ValueError: non-positive sizes, ``d_model`` not divisible by ``nhead``.
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=256, nhead=4,
                 num_encoder_layers=3, num_decoder_layers=3, dim_feedforward=1024,
                 dropout=0.1, max_len=256, pad_idx=0, norm_first=True, tie_weights=True,
                 activation="relu"):
        super().__init__()
        sizes = {"src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size,
                 "d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
                 "max_len": max_len}
        bad = {k: v for k, v in sizes.items() if not isinstance(v, int) or v <= 0}
        if bad:
            raise ValueError(f"TransformerSeq2Seq: sizes must be positive ints, got {bad}")
        if d_model % nhead:
            raise ValueError(f"TransformerSeq2Seq: d_model={d_model} is not divisible by "
                             f"nhead={nhead}; pick nhead among the divisors of d_model")
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.d_model, self.nhead, self.pad_idx, self.max_len = d_model, nhead, pad_idx, max_len
        self.tie_weights = tie_weights
        self.src_embed = Embedding(src_vocab_size, d_model, padding_idx=pad_idx)
        self.tgt_embed = Embedding(tgt_vocab_size, d_model, padding_idx=pad_idx)
        self.pos_encoding = SinusoidalPositionalEncoding(d_model, max_len, dropout,
                                                         batch_first=True)
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                       dim_feedforward, dropout, activation=activation,
                                       batch_first=True, norm_first=norm_first)
        self.output_proj = Linear(d_model, tgt_vocab_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # N(0, d^-1/2) embeddings times sqrt(d) give unit-variance inputs (as fairseq); tied,
        # the same scale keeps the initial logits near unit variance.
        for emb in (self.src_embed, self.tgt_embed):
            init.normal_(emb.weight, 0.0, self.d_model ** -0.5)
            if self.pad_idx is not None:
                emb.weight.data[self.pad_idx] = 0.0
        if self.tie_weights:
            self.output_proj.weight = self.tgt_embed.weight
        init.zeros_(self.output_proj.bias)

    def _embed(self, embedding, tokens, offset=0):
        x = embedding(tokens) * math.sqrt(self.d_model)
        if offset == 0:
            return self.pos_encoding(x)
        return self.pos_encoding.dropout(x + self.pos_encoding.pe[offset:offset + 1])

    def encode(self, src, src_key_padding_mask=None):
        """The encoder's memory (N, S, d_model) and the source padding mask (N, S)."""
        check_tokens("TransformerSeq2Seq.encode", src, "src", self.src_vocab_size,
                     self.max_len)
        mask = padding_mask("TransformerSeq2Seq", src, src_key_padding_mask, self.pad_idx)
        memory = self.transformer.encoder(self._embed(self.src_embed, src),
                                          src_key_padding_mask=mask)
        return memory, mask

    def decode(self, tgt, memory, memory_key_padding_mask=None):
        """Logits (N, T, V) of all target positions at once under the causal mask."""
        check_tokens("TransformerSeq2Seq.decode", tgt, "tgt", self.tgt_vocab_size,
                     self.max_len)
        T = tgt.shape[1]
        causal = Transformer.generate_square_subsequent_mask(T, dtype=memory.dtype)
        h = self.transformer.decoder(self._embed(self.tgt_embed, tgt), memory,
                                     tgt_mask=causal, tgt_is_causal=True,
                                     memory_key_padding_mask=memory_key_padding_mask)
        return self.output_proj(h)

    def forward(self, src, tgt, src_key_padding_mask=None):
        """Teacher-forced logits: ``tgt`` is the decoder input (BOS, y_1, ..., y_{T-1}).
        ``src_key_padding_mask`` (N, S) is True at padding; by default ``src == pad_idx``."""
        if src.ndim != 2 or tgt.ndim != 2 or src.shape[0] != tgt.shape[0]:
            raise ValueError(f"TransformerSeq2Seq: expected src (N, S) and tgt (N, T) token "
                             f"ids with the same N, got {tuple(src.shape)} and "
                             f"{tuple(tgt.shape)}")
        memory, mask = self.encode(src, src_key_padding_mask)
        return self.decode(tgt, memory, mask)

    # -- the step protocol of ganglion.models.decoding ------------------------------------
    def start_decoding(self, src, src_key_padding_mask=None) -> dict:
        """Encode once; project each decoder layer's cross-attention keys/values once."""
        memory, mask = self.encode(src, src_key_padding_mask)
        cross = [self._heads_kv(layer.multihead_attn, memory)
                 for layer in self.transformer.decoder.layers]
        keep = None if mask is None else (~mask)[:, None, None, :]  # (N, 1, 1, S), True=attend
        return {"step": 0, "keep": keep, "cross": cross,
                "self": [None] * len(self.transformer.decoder.layers)}

    def decode_step(self, tokens, state):
        """Log-probabilities (N, V) of the next token after ``tokens`` (N,), and the state."""
        if self.training:
            raise RuntimeError("TransformerSeq2Seq.decode_step: the step path is the "
                               "eval-mode computation (no attention dropout); call "
                               "model.eval() first (greedy_search/beam_search do)")
        t = state["step"]
        if t >= self.max_len:
            raise ValueError(f"TransformerSeq2Seq.decode_step: step {t} exceeds max_len="
                             f"{self.max_len}; build the model with a larger max_len")
        x = self._embed(self.tgt_embed, tokens[:, None], offset=t)  # (N, 1, d)
        new_self = []
        for layer, cache, (mk, mv) in zip(self.transformer.decoder.layers, state["self"],
                                          state["cross"]):
            x, cache = self._layer_step(layer, x, cache, mk, mv, state["keep"])
            new_self.append(cache)
        h = self.transformer.decoder.norm(x)[:, 0]
        logp = F.log_softmax(self.output_proj(h), dim=-1)
        return logp, {**state, "step": t + 1, "self": new_self}

    def reorder_state(self, state, index) -> dict:
        """Rows ``index`` of every cached tensor (beam reordering / expansion)."""
        return {"step": state["step"],
                "keep": None if state["keep"] is None else gather_rows(state["keep"], index),
                "cross": [(gather_rows(k, index), gather_rows(v, index))
                          for k, v in state["cross"]],
                "self": [None if c is None else (gather_rows(c[0], index),
                                                 gather_rows(c[1], index))
                         for c in state["self"]]}

    def _heads(self, x):
        N, L, _ = x.shape
        return x.reshape(N, L, self.nhead, self.d_model // self.nhead).transpose(1, 2)

    def _heads_kv(self, mha, x):
        d, w, b = self.d_model, mha.in_proj_weight, mha.in_proj_bias
        k = F.linear(x, w[d:2 * d], None if b is None else b[d:2 * d])
        v = F.linear(x, w[2 * d:], None if b is None else b[2 * d:])
        return self._heads(k), self._heads(v)

    def _attend(self, mha, x, k, v, keep):
        d, w, b = self.d_model, mha.in_proj_weight, mha.in_proj_bias
        q = self._heads(F.linear(x, w[:d], None if b is None else b[:d]))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # (N, h, 1, hd)
        out = out.transpose(1, 2).reshape(x.shape[0], 1, d)
        return mha.out_proj(out)

    def _layer_step(self, layer, x, cache, mem_k, mem_v, keep):
        """One position through a ``TransformerDecoderLayer`` (its forward, pre- or post-LN),
        self-attending to the cached keys/values of the earlier positions."""
        def self_attn(y):
            k, v = self._heads_kv(layer.self_attn, y)
            if cache is not None:
                k, v = cat([cache[0], k], dim=2), cat([cache[1], v], dim=2)
            return self._attend(layer.self_attn, y, k, v, None), (k, v)

        if layer.norm_first:
            sa, cache = self_attn(layer.norm1(x))
            x = x + sa
            x = x + self._attend(layer.multihead_attn, layer.norm2(x), mem_k, mem_v, keep)
            x = x + layer._ff_block(layer.norm3(x))
        else:
            sa, cache = self_attn(x)
            x = layer.norm1(x + sa)
            x = layer.norm2(x + self._attend(layer.multihead_attn, x, mem_k, mem_v, keep))
            x = layer.norm3(x + layer._ff_block(x))
        return x, cache

    def extra_repr(self) -> str:
        return (f"src_vocab_size={self.src_vocab_size}, tgt_vocab_size={self.tgt_vocab_size}, "
                f"d_model={self.d_model}, nhead={self.nhead}, pad_idx={self.pad_idx}, "
                f"tie_weights={self.tie_weights}")
