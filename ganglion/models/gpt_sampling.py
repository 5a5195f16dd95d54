"""Next-token sampling for language models: temperature, top-k and nucleus (top-p)
filtering, batched over rows with no Python loop over batch items.

Both filters work on each row's logits sorted once in descending order (a stable sort, so
tied logits keep index order): top-k keeps exactly the ``k`` first of that order (ties at
the boundary are broken by index, never letting more than ``k`` through), and top-p keeps
the shortest prefix whose probability mass reaches ``p`` (Holtzman et al. 2019, "The
Curious Case of Neural Text Degeneration", https://arxiv.org/abs/1904.09751). Top-k is
applied first and top-p sees the renormalized top-k distribution, as Hugging Face's
``generate`` does.

Example:
    >>> import ganglion
    >>> logits = ganglion.tensor([[2.0, 1.0, 0.5, -1.0]])
    >>> top_k_top_p_filter(logits, top_k=2)
    tensor([[  2.,   1., -inf, -inf]])
    >>> sample_next_token(logits, temperature=0.0).tolist()
    [[0]]
"""
from __future__ import annotations

import math

import ganglion
import ganglion.nn.functional as F

__all__ = ["top_k_top_p_filter", "sample_next_token", "check_sampling_args"]


def check_sampling_args(temperature, top_k, top_p, op: str = "sample_next_token") -> None:
    """Raise a ValueError/TypeError naming ``op`` for a bad temperature, top_k or top_p."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"{op}: temperature must be a finite number >= 0 (0 means greedy "
                         f"decoding), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ValueError(f"{op}: top_k must be None or an int >= 1 (the number of most "
                         f"likely tokens kept), got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float))
                              or not 0.0 < top_p <= 1.0):
        raise ValueError(f"{op}: top_p must be None or a number in (0, 1] (the probability "
                         f"mass kept), got {top_p!r}")


def _check_logits(logits, op):
    if not isinstance(logits, ganglion.Tensor) or logits.dim() != 2 \
            or not logits.is_floating_point():
        shape = tuple(logits.shape) if hasattr(logits, "shape") else type(logits).__name__
        raise ValueError(f"{op}: expected floating-point logits of shape (batch, vocab), got "
                         f"{shape}; select the last position with logits[:, -1]")


def top_k_top_p_filter(logits, top_k=None, top_p=None):
    """Set to ``-inf`` the logits outside each row's top-k and nucleus (top-p) sets.

    Args:
        logits: ``(batch, vocab)`` floating-point scores (any temperature already applied).
        top_k: keep the ``top_k`` largest per row (all of them when ``top_k >= vocab``).
        top_p: keep the smallest set of most likely tokens whose probability (after top-k)
            sums to at least ``top_p``; the most likely token is always kept.

    Returns:
        A new ``(batch, vocab)`` tensor: kept logits unchanged, the others ``-inf``.

    Example:
        >>> import ganglion
        >>> probs = ganglion.tensor([[0.5, 0.05, 0.3, 0.15]])
        >>> top_k_top_p_filter(probs.log(), top_p=0.75).exp()
        tensor([[0.5000, 0.0000, 0.3000, 0.0000]])
    """
    _check_logits(logits, "top_k_top_p_filter")
    check_sampling_args(1.0, top_k, top_p, "top_k_top_p_filter")
    vocab = logits.shape[-1]
    if (top_k is None or top_k >= vocab) and (top_p is None or top_p >= 1.0):
        return logits.clone()
    ordered, order = logits.sort(dim=-1, descending=True, stable=True)
    drop = ganglion.zeros(ordered.shape, dtype=ganglion.bool)
    if top_k is not None and top_k < vocab:
        drop = drop | (ganglion.arange(vocab) >= top_k)[None, :]
        ordered = ordered.masked_fill(drop, float("-inf"))
    if top_p is not None and top_p < 1.0:
        # float64 for the running sum: the set boundary should not move with rounding
        probs = F.softmax(ordered.double(), dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs
        drop = drop | (mass_before >= top_p)
    kept = ordered.masked_fill(drop, float("-inf"))
    # scatter the sorted row back to vocabulary order
    return ganglion.empty_like(logits).scatter(-1, order, kept)


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Draw one token id per row from ``logits / temperature`` after top-k / top-p.

    Args:
        logits: ``(batch, vocab)`` scores of the next position.
        temperature: divides the logits; ``0`` picks the argmax (greedy, deterministic,
            the lowest index among ties).
        top_k, top_p: see ``top_k_top_p_filter``.
        generator: a ``ganglion.Generator`` for reproducible draws (default: global).

    Returns:
        int64 ``(batch, 1)`` token ids.

    Example:
        >>> import ganglion
        >>> g = ganglion.Generator().manual_seed(0)
        >>> sample_next_token(ganglion.zeros(3, 5), top_k=1, generator=g).tolist()
        [[0], [0], [0]]
    """
    _check_logits(logits, "sample_next_token")
    check_sampling_args(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    scaled = top_k_top_p_filter(logits / temperature, top_k, top_p)
    probs = F.softmax(scaled, dim=-1)
    return ganglion.multinomial(probs, 1, replacement=True, generator=generator)
