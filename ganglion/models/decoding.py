"""Greedy and beam-search decoding for encoder-decoder models, batched over sentences and
vectorized over beams: the only Python loop runs over time steps.

A model decodes through three methods (``Seq2SeqGRU`` and ``TransformerSeq2Seq`` have them):

- ``start_decoding(src, src_key_padding_mask=None) -> state``: encode once;
- ``decode_step(tokens, state) -> (log_probs, state)``: ``tokens`` (B,) are the previous
  tokens, ``log_probs`` (B, V) the next token's log-probabilities;
- ``reorder_state(state, index) -> state``: the rows ``index`` of every tensor in the state.

``max_len`` counts generated tokens, EOS included; a hypothesis still open at the last step is
closed with EOS there (as fairseq does), so every output ends in EOS and then padding. The pad
id is never generated (its log-probability is set to -inf), so padding in an output is always
padding.

Beam search (as fairseq's, https://arxiv.org/abs/1904.01038): each step takes the best 2K
extensions of the K live beams; an extension ending in EOS becomes a finished hypothesis if it
ranks among the best K (so ``beam_size=1`` is greedy search), the best K others live on.
Finished hypotheses are ranked by ``score / lp(length)`` with GNMT's length penalty
``lp(L) = ((5 + L) / 6) ** length_penalty`` (Wu et al. 2016, https://arxiv.org/abs/1609.08144).
A sentence stops when ``early_stopping`` and K hypotheses are finished, or else when no live
beam can still beat the K-th finished one (log-probs only lower a score, so the bound is
``live / lp(L)`` at the best possible length ``L``): with enough beams, the search is exact.

Example:
    >>> import ganglion
    >>> from ganglion.models import TransformerSeq2Seq
    >>> _ = ganglion.manual_seed(0)
    >>> model = TransformerSeq2Seq(12, 12, d_model=16, nhead=2, num_encoder_layers=1,
    ...                            num_decoder_layers=1, dim_feedforward=16)
    >>> src = ganglion.tensor([[4, 5, 6, 2], [7, 2, 0, 0]])
    >>> tokens, scores = beam_search(model, src, bos_idx=1, eos_idx=2, beam_size=3,
    ...                              max_len=5, return_scores=True)
    >>> tokens.shape[0], scores.shape
    (2, ganglion.Size([2]))
"""
from __future__ import annotations

import contextlib
import math

import ganglion
from ganglion.autograd.grad_mode import no_grad
from ganglion.backend.device import get_array_module
from ganglion.backend.dtypes import bool as bool_, int64
from ganglion.ops.creation import arange, full, zeros
from ganglion.ops.movement import cat, stack

__all__ = ["greedy_search", "beam_search", "length_penalty_factor", "strip_special"]

_NEG_INF = float("-inf")


def length_penalty_factor(length, alpha: float) -> float:
    """GNMT's ``lp(L) = ((5 + L) / 6) ** alpha`` (1 for alpha = 0).

    Example:
        >>> length_penalty_factor(1, 0.6)
        1.0
    """
    return ((5.0 + length) / 6.0) ** alpha


def _topk(x, k: int):
    """The k largest entries of each row of a 2-D tensor, best first, ties to the lower
    index, as ``ganglion.topk(x, k, dim=1)``; a linear-time partition instead of a full sort
    of every row (the rows here hold beam_size x vocabulary candidates)."""
    a = x.array
    xp = get_array_module(a)
    if xp.isnan(a.max()):  # topk ranks NaN first; argpartition would rank it last
        return tuple(ganglion.topk(x, k, dim=1))
    if k < a.shape[1]:
        part = xp.argpartition(-a, k - 1, axis=1)[:, :k]
        vals = xp.take_along_axis(a, part, axis=1)
        # argpartition keeps an arbitrary subset of the entries equal to the k-th value;
        # where it left some out, reselect: the larger entries, then the first equal ones.
        kth = vals.min(axis=1, keepdims=True)
        rows = xp.nonzero((a == kth).sum(axis=1) > (vals == kth).sum(axis=1))[0]
        if len(rows):
            b, bk = a[rows], kth[rows]
            gt, eq = b > bk, b == bk
            keep = gt | (eq & (xp.cumsum(eq, axis=1) <= k - gt.sum(axis=1, keepdims=True)))
            part[rows] = xp.nonzero(keep)[1].reshape(len(rows), k)
            vals[rows] = xp.take_along_axis(b, part[rows], axis=1)
    else:
        part = xp.broadcast_to(xp.arange(a.shape[1]), a.shape)
        vals = a
    order = xp.lexsort((part, -vals), axis=1)  # value descending, then index ascending
    idx = xp.take_along_axis(part, order, axis=1).astype(xp.int64)
    return ganglion.as_tensor(xp.take_along_axis(vals, order, axis=1)), ganglion.as_tensor(idx)


@contextlib.contextmanager
def _eval_no_grad(model):
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _check(op, model, src, bos_idx, eos_idx, max_len, beam_size=1):
    for name in ("start_decoding", "decode_step", "reorder_state"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"{op}: the model ({type(model).__name__}) has no {name}(); it "
                            f"must provide start_decoding/decode_step/reorder_state (see "
                            f"ganglion.models.decoding)")
    if src.ndim != 2:
        raise ValueError(f"{op}: src must be (N, S) token ids, got shape {tuple(src.shape)}")
    for name, v in (("max_len", max_len), ("beam_size", beam_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")
    for name, v in (("bos_idx", bos_idx), ("eos_idx", eos_idx)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{op}: {name} must be a non-negative token id, got {v!r}")


def _no_pad(logp, pad):
    if 0 <= pad < logp.shape[-1]:
        mask = zeros(logp.shape[-1], dtype=logp.dtype, device=logp.device)
        mask[pad] = _NEG_INF
        logp = logp + mask
    return logp


def _pad_id(model, pad_idx):
    if pad_idx is not None:
        return pad_idx
    pad = getattr(model, "pad_idx", None)
    return 0 if pad is None else pad


def greedy_search(model, src, bos_idx: int, eos_idx: int, max_len: int = 50,
                  src_key_padding_mask=None, pad_idx=None):
    """The most likely next token at every step, for a batch of sentences.

    Args:
        model: an encoder-decoder with the step protocol (module docstring).
        src: (N, S) source token ids.
        bos_idx, eos_idx: the target's begin / end token ids.
        max_len: most tokens generated per sentence, EOS included (forced at the last step).
        src_key_padding_mask: (N, S) bool, True at padding (default: the model's pad id).
        pad_idx: the id written after EOS (default: ``model.pad_idx``).

    Returns:
        (N, L) int64 ids: the generated tokens (no BOS), EOS, then ``pad_idx``; L <= max_len.
    """
    _check("greedy_search", model, src, bos_idx, eos_idx, max_len)
    pad = _pad_id(model, pad_idx)
    N = src.shape[0]
    with _eval_no_grad(model):
        state = model.start_decoding(src, src_key_padding_mask)
        tokens = full((N,), bos_idx, dtype=int64, device=src.device)
        done = zeros(N, dtype=bool_, device=src.device)
        out = []
        for t in range(max_len):
            logp, state = model.decode_step(tokens, state)
            tokens = _no_pad(logp, pad).argmax(dim=-1)
            if t == max_len - 1:
                tokens = ganglion.full_like(tokens, eos_idx)
            tokens = tokens.masked_fill(done, pad)
            out.append(tokens)
            done = done | (tokens == eos_idx)
            if bool(done.all()):
                break
        return stack(out, dim=1)


def beam_search(model, src, bos_idx: int, eos_idx: int, beam_size: int = 4,
                max_len: int = 50, length_penalty: float = 0.6, early_stopping: bool = False,
                num_return_sequences: int = 1, src_key_padding_mask=None, pad_idx=None,
                return_scores: bool = False):
    """Beam search for a batch of sentences, all beams of all sentences in one model call per
    step (the module docstring describes the algorithm).

    Args:
        model, src, bos_idx, eos_idx, max_len, src_key_padding_mask, pad_idx: as
            ``greedy_search``.
        beam_size: live hypotheses per sentence (K).
        length_penalty: GNMT's alpha; 0 ranks by the summed log-probability.
        early_stopping: stop a sentence once K hypotheses are finished (fairseq) instead of
            when no live beam can beat them any more.
        num_return_sequences: how many of the best finished hypotheses to return (<= K).
        return_scores: also return the length-normalized scores.

    Returns:
        (N, L) int64 ids (no BOS, EOS, then padding), or (N, R, L) when
        ``num_return_sequences`` R > 1; with ``return_scores`` a tuple (ids, scores (N,) or
        (N, R)), scores being ``sum log p / lp(length)``.
    """
    _check("beam_search", model, src, bos_idx, eos_idx, max_len, beam_size)
    if not 1 <= num_return_sequences <= beam_size:
        raise ValueError(f"beam_search: num_return_sequences must be in [1, beam_size="
                         f"{beam_size}], got {num_return_sequences}")
    if not math.isfinite(length_penalty):
        raise ValueError(f"beam_search: length_penalty must be finite, got {length_penalty}")
    pad = _pad_id(model, pad_idx)
    with _eval_no_grad(model):
        search = _Beams(model, src, src_key_padding_mask, beam_size, max_len, pad)
        for t in range(max_len):
            search.step(t, bos_idx, eos_idx, length_penalty, early_stopping)
            if bool(search.done.all()):
                break
        R = num_return_sequences
        seqs, scores = search.fin_seqs[:, :R], search.fin_scores[:, :R]
        used = int((seqs != pad).any(dim=1).any(dim=0).long().sum())
        length = max(used, 1)
        seqs = seqs[:, :, :length]  # drop the all-padding tail columns
        if R == 1:
            seqs, scores = seqs[:, 0], scores[:, 0]
        return (seqs, scores) if return_scores else seqs


class _Beams:
    """The search state of N sentences x K beams; tensors are (N, K, ...)."""

    def __init__(self, model, src, mask, K, max_len, pad):
        N, dev = src.shape[0], src.device
        self.model, self.N, self.K, self.max_len, self.pad = model, N, K, max_len, pad
        state = model.start_decoding(src, mask)
        self.rows = arange(N, device=dev)[:, None] * K  # first flat row of each sentence
        self.state = model.reorder_state(state, arange(N, device=dev).repeat_interleave(K))
        self.alive = full((N, K), _NEG_INF, device=dev)
        self.alive[:, 0] = 0.0  # one live beam at first: the others would duplicate it
        self.seqs = full((N, K, 0), pad, dtype=int64, device=dev)
        self.fin_scores = full((N, K), _NEG_INF, device=dev)
        self.fin_seqs = full((N, K, max_len), pad, dtype=int64, device=dev)
        self.done = zeros(N, dtype=bool_, device=dev)
        self.tokens = None

    def step(self, t, bos, eos, alpha, early_stopping):
        N, K, max_len = self.N, self.K, self.max_len
        tokens = self.tokens if t else full((N * K,), bos, dtype=int64, device=self.rows.device)
        logp, self.state = self.model.decode_step(tokens, self.state)
        logp = _no_pad(logp, self.pad)
        V = logp.shape[-1]
        if 2 * K > K * V:
            raise ValueError(f"beam_search: beam_size={K} needs a vocabulary of at least 2 "
                             f"tokens, got {V}")
        if t == max_len - 1:  # close every open hypothesis with EOS
            only_eos = full((V,), _NEG_INF, device=logp.device)
            only_eos[eos] = 0.0
            logp = logp + only_eos
        cand = (self.alive[:, :, None] + logp.reshape(N, K, V)).reshape(N, K * V)
        top, idx = _topk(cand, 2 * K)  # (N, 2K), best first
        beam, word = idx // V, idx % V
        prefix = self.seqs.gather(1, beam[:, :, None].expand(N, 2 * K, t))
        cand_seqs = cat([prefix, word[:, :, None]], dim=2)  # (N, 2K, t + 1)
        is_eos = word == eos
        self._finish(top, is_eos, cand_seqs, t, alpha)
        live, sel = _topk(top.masked_fill(is_eos, _NEG_INF), K)
        self.alive = live
        self.seqs = cand_seqs.gather(1, sel[:, :, None].expand(N, K, t + 1))
        self.tokens = word.gather(1, sel).reshape(-1)
        origin = (self.rows + beam.gather(1, sel)).reshape(-1)
        self.state = self.model.reorder_state(self.state, origin)
        self._update_done(t, alpha, early_stopping)

    def _finish(self, top, is_eos, cand_seqs, t, alpha):
        """Merge the EOS extensions ranked among the best K into the K best finished."""
        N, K, max_len = self.N, self.K, self.max_len
        rank_ok = (arange(2 * K, device=top.device) < K)[None, :]
        take = is_eos & rank_ok & ~self.done[:, None]
        scores = (top / length_penalty_factor(t + 1, alpha)).masked_fill(~take, _NEG_INF)
        tail = full((N, 2 * K, max_len - t - 1), self.pad, dtype=int64, device=top.device)
        pool_seqs = cat([self.fin_seqs, cat([cand_seqs, tail], dim=2)], dim=1)  # (N, 3K, L)
        pool_scores = cat([self.fin_scores, scores], dim=1)
        self.fin_scores, pick = _topk(pool_scores, K)
        self.fin_seqs = pool_seqs.gather(1, pick[:, :, None].expand(N, K, max_len))

    def _update_done(self, t, alpha, early_stopping):
        worst = self.fin_scores[:, -1]
        if early_stopping:
            self.done = self.done | (worst > _NEG_INF)
            return
        best_live = self.alive.max(dim=1).values
        if t + 1 >= self.max_len:
            self.done = self.done | True
            return
        # A live beam ends at a length in [t + 2, max_len]; lp is monotonic in the length
        # and scores are <= 0, so its best normalized score is at one end of that range.
        bound = ganglion.maximum(best_live / length_penalty_factor(t + 2, alpha),
                                 best_live / length_penalty_factor(self.max_len, alpha))
        self.done = self.done | (bound <= worst)


def strip_special(ids, eos_idx: int, pad_idx: int = 0) -> list:
    """Lists of ids up to (without) the first EOS, padding dropped: decoder output to text.

    Example:
        >>> import ganglion
        >>> strip_special(ganglion.tensor([[5, 6, 2, 0], [7, 2, 0, 0]]), eos_idx=2)
        [[5, 6], [7]]
    """
    out = []
    for row in ids.tolist():  # per sentence, for the tokenizer: not a hot path
        if eos_idx in row:
            row = row[:row.index(eos_idx)]
        out.append([i for i in row if i != pad_idx])
    return out
