"""``GPT``: a decoder-only Transformer language model (Radford et al. 2019, "Language Models
are Unsupervised Multitask Learners"), laid out as GPT-2 / nanoGPT: token and learned
position embeddings, pre-LN blocks of causal self-attention and a GELU MLP, a final
LayerNorm and a linear head (tied to the token embedding by default).

Parameter names follow GPT-2 (``transformer.wte``, ``transformer.h.0.attn.c_attn``,
``transformer.h.0.mlp.c_fc``, ``lm_head``, ...) as nanoGPT spells them with ``nn.Linear``
weights ``(out, in)``; Hugging Face's ``GPT2LMHeadModel`` has the same names with its
``Conv1D`` weights transposed.

``generate`` samples with temperature, top-k and top-p, batched, and keeps a ``KVCache`` so
each new token costs one position's attention over the stored keys/values.

Example:
    >>> import ganglion
    >>> _ = ganglion.manual_seed(0)
    >>> model = GPT(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8)
    >>> idx = ganglion.randint(0, 11, (3, 5))
    >>> logits, loss = model(idx, targets=idx)
    >>> logits.shape, loss.shape
    (ganglion.Size([3, 5, 11]), ganglion.Size([]))
    >>> model.generate(idx, max_new_tokens=4, top_k=3).shape
    ganglion.Size([3, 9])
"""
from __future__ import annotations

import math

import ganglion
import ganglion.nn.functional as F
from ganglion import nn
from ganglion.models.gpt_cache import KVCache
from ganglion.models.gpt_sampling import check_sampling_args, sample_next_token
from ganglion.models.text_classifier_inputs import check_dropout, check_positive_int

__all__ = ["GPT", "GPTBlock", "GPTSelfAttention", "GPTMLP"]


class GPTSelfAttention(nn.Module):
    """Multi-head causal self-attention: one ``c_attn`` projection to queries, keys and
    values, fused ``scaled_dot_product_attention`` with ``is_causal``, output projection.

    Args:
        n_embd: model width; n_head: heads (must divide ``n_embd``).
        dropout: on the attention weights and after the output projection (training only).
        bias: biases in the projections.

    Shape: ``(B, T, n_embd) -> (B, T, n_embd)``.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"GPTSelfAttention: n_head={n_head} must divide "
                             f"n_embd={n_embd}; pick n_embd a multiple of n_head")
        self.n_embd, self.n_head, self.dropout = n_embd, n_head, dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x, kv_cache=None, layer: int = 0):
        B, T, C = x.shape
        hd = C // self.n_head
        q, k, v = (t.view(B, T, self.n_head, hd).transpose(1, 2)
                   for t in self.c_attn(x).split(self.n_embd, dim=2))
        mask = None
        if kv_cache is not None:
            k, v, mask = kv_cache.update(layer, k, v)
        # Plain top-left causal masking is right whenever queries and keys start together
        # (no cache, or an empty one); one new token over a cache sees everything.
        causal = mask is None and k.shape[2] == T and T > 1
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                           is_causal=causal)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}, dropout={self.dropout}"


class GPTMLP(nn.Module):
    """``c_proj(gelu(c_fc(x)))`` with a 4x wider hidden layer, then dropout. GELU is GPT-2's
    tanh approximation (Hugging Face's ``gelu_new``), also the cheaper one to compute."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class GPTBlock(nn.Module):
    """Pre-LN Transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Example:
        >>> import ganglion
        >>> GPTBlock(16, 4)(ganglion.randn(2, 5, 16)).shape
        ganglion.Size([2, 5, 16])
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = GPTSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = GPTMLP(n_embd, dropout, bias)

    def forward(self, x, kv_cache=None, layer: int = 0):
        x = x + self.attn(self.ln_1(x), kv_cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only Transformer language model.

    Args:
        vocab_size: number of token ids.
        block_size: context length (the most positions the model sees at once).
        n_layer: Transformer blocks. n_head: attention heads. n_embd: model width.
        dropout: on embeddings, attention weights and residual branches (training only).
        bias: biases in the linear layers and LayerNorms (GPT-2 has them).
        tie_weights: share the LM head's weight with the token embedding (GPT-2 does).

    Shape:
        ``idx`` ``(B, T)`` int64 -> logits ``(B, T, vocab_size)``.

    Weights start as in GPT-2: normal(0, 0.02) for linear and embedding weights, zero
    biases, and the residual output projections (``c_proj``) scaled by ``1/sqrt(2 n_layer)``.
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_head: int = 4,
                 n_embd: int = 128, dropout: float = 0.0, bias: bool = True,
                 tie_weights: bool = True) -> None:
        super().__init__()
        check_positive_int("GPT", vocab_size=vocab_size, block_size=block_size,
                           n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        check_dropout("GPT", dropout)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(vocab_size, n_embd),
            "wpe": nn.Embedding(block_size, n_embd),
            "drop": nn.Dropout(dropout),
            "h": nn.ModuleList([GPTBlock(n_embd, n_head, dropout, bias)
                                for _ in range(n_layer)]),
            "ln_f": nn.LayerNorm(n_embd, bias=bias),
        })
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        if tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialization (see the class docstring)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for block in self.transformer.h:
            for proj in (block.attn.c_proj, block.mlp.c_proj):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * self.n_layer))

    def _check_idx(self, idx, op: str) -> None:
        if not isinstance(idx, ganglion.Tensor) or idx.dim() != 2 \
                or idx.is_floating_point() or idx.dtype == ganglion.bool:
            shape = tuple(idx.shape) if hasattr(idx, "shape") else type(idx).__name__
            raise ValueError(f"{op}: expected idx as an int64 tensor of shape (batch, time), "
                             f"got {shape}; add a batch axis with idx.unsqueeze(0) for one "
                             f"sequence")
        if idx.shape[1] == 0:
            raise ValueError(f"{op}: idx has no tokens (shape {tuple(idx.shape)}); start from "
                             f"at least one token, e.g. a newline or start token")

    def hidden_states(self, idx, kv_cache=None):
        """The final LayerNorm's output ``(B, T, n_embd)``; with ``kv_cache``, ``idx`` are
        the tokens after those the cache holds (see ``forward``)."""
        self._check_idx(idx, "GPT")
        B, T = idx.shape
        start = 0
        if kv_cache is not None:
            if ganglion.is_grad_enabled():
                raise RuntimeError("GPT: kv_cache is for inference; run under "
                                   "ganglion.no_grad() (training uses the full sequence)")
            kv_cache.check_room(B, T, "GPT")
            start = kv_cache.length
        elif T > self.block_size:
            raise ValueError(f"GPT: sequence length {T} exceeds block_size="
                             f"{self.block_size}; crop the input to its last block_size "
                             f"tokens (idx[:, -{self.block_size}:]) or build the model with "
                             f"a larger block_size")
        pos = ganglion.arange(start, start + T)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for i, block in enumerate(self.transformer.h):
            x = block(x, kv_cache, i)
        if kv_cache is not None:
            kv_cache.advance(T)
        return self.transformer.ln_f(x)

    def forward(self, idx, targets=None, kv_cache=None):
        """Logits of the next token at every position; with ``targets`` also the mean
        cross-entropy (positions whose target is ``-1`` are ignored).

        Args:
            idx: ``(B, T)`` token ids.
            targets: optional ``(B, T)`` next-token ids.
            kv_cache: optional ``KVCache`` (from ``new_kv_cache``) holding earlier positions;
                ``idx`` then continues them, and its keys/values are appended (inference).

        Returns:
            ``logits`` ``(B, T, vocab_size)``, or ``(logits, loss)`` when ``targets`` is given.
        """
        logits = self.lm_head(self.hidden_states(idx, kv_cache))
        if targets is None:
            return logits
        if tuple(targets.shape) != tuple(idx.shape):
            raise ValueError(f"GPT: targets must have idx's shape {tuple(idx.shape)}, got "
                             f"{tuple(targets.shape)}")
        loss = F.cross_entropy(logits.reshape(-1, self.vocab_size), targets.reshape(-1),
                               ignore_index=-1)
        return logits, loss

    def new_kv_cache(self, batch_size: int) -> KVCache:
        """An empty ``KVCache`` sized for this model and ``batch_size`` sequences."""
        dtype = self.transformer.wte.weight.dtype
        return KVCache(self.n_layer, batch_size, self.n_head, self.block_size,
                       self.n_embd // self.n_head, dtype=dtype)

    def _check_generate(self, idx, max_new_tokens, temperature, top_k, top_p):
        self._check_idx(idx, "GPT.generate")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an int >= 0, got "
                             f"{max_new_tokens!r}")
        check_sampling_args(temperature, top_k, top_p, "GPT.generate")
        total = idx.shape[1] + max_new_tokens
        if total > self.block_size:
            raise ValueError(
                f"GPT.generate: the prompt's {idx.shape[1]} tokens plus max_new_tokens="
                f"{max_new_tokens} make {total} positions, more than block_size="
                f"{self.block_size}; ask for at most {self.block_size - idx.shape[1]} new "
                f"tokens, crop the prompt to idx[:, -{max(self.block_size - max_new_tokens, 1)}"
                f":], or generate in several calls, each starting from the last tokens")

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k=None,
                 top_p=None, use_cache: bool = True, generator=None):
        """Continue each row of ``idx`` by ``max_new_tokens`` sampled tokens.

        Runs in eval mode (no dropout) without recording a graph, and restores the
        training flag. All rows are sampled together, one batched step per token.

        Args:
            idx: ``(B, T)`` prompt token ids.
            max_new_tokens: tokens to add; ``T + max_new_tokens`` must fit in block_size.
            temperature: logits are divided by it; ``0`` is greedy (argmax) decoding.
            top_k: sample only among the ``top_k`` most likely tokens.
            top_p: nucleus sampling: only among the smallest set of most likely tokens
                whose probability reaches ``top_p``.
            use_cache: keep keys/values in a ``KVCache`` (each step then attends one new
                position over the cache); ``False`` reruns the whole sequence every step.
            generator: a ``ganglion.Generator`` for reproducible samples.

        Returns:
            ``(B, T + max_new_tokens)`` int64: the prompt followed by the new tokens.
        """
        self._check_generate(idx, max_new_tokens, temperature, top_k, top_p)
        was_training = self.training
        self.eval()
        try:
            with ganglion.no_grad():
                new = self._sample_loop(idx, max_new_tokens, temperature, top_k, top_p,
                                        use_cache, generator)
        finally:
            self.train(was_training)
        return ganglion.cat([idx] + new, dim=1)

    def _sample_loop(self, idx, steps, temperature, top_k, top_p, use_cache, generator):
        cache = self.new_kv_cache(idx.shape[0]) if use_cache else None
        seq, new = idx, []
        feed = idx  # what the next forward reads: the prompt, then one token at a time
        for _ in range(steps):
            if cache is None:
                feed = seq
            hidden = self.hidden_states(feed, cache)[:, -1]
            token = sample_next_token(self.lm_head(hidden), temperature, top_k, top_p,
                                      generator)
            new.append(token)
            feed = token
            if cache is None:
                seq = ganglion.cat([seq, token], dim=1)
        return new
