"""``multinomial``: draw category indices from rows of non-negative weights, vectorised over
rows (part of the 'random' family; see ganglion/ops/random.py).

Without replacement it uses the Gumbel-top-k trick: the k largest of ``log w + Gumbel noise``
are distributed exactly as k sequential draws without replacement, in draw order. With
replacement it inverts each row's CDF with one ``searchsorted`` over all rows (the rows are
offset by their index so that one sorted array holds them all).

Example:
    >>> import ganglion
    >>> ganglion.multinomial(ganglion.tensor([0., 1., 0.]), 2, replacement=True)
    tensor([1, 1])
"""
from __future__ import annotations

import numpy as np

from ganglion.ops._util import check_tensor
from ganglion.ops.creation import finalize
from ganglion.ops.random_fill import rng_of

__all__ = ["multinomial"]


def _check(w, num_samples, replacement):
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {w.shape}")
    if w.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{w.dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got "
                           f"num_samples={num_samples})")
    if not replacement and num_samples > w.shape[-1]:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {w.shape[-1]} categories); "
                           f"pass replacement=True")
    if w.size and not (np.isfinite(w).all() and (w >= 0).all()):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if w.size and (w.sum(-1) <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")


def _with_replacement(rng, w, k):
    rows, n = w.shape
    cdf = np.cumsum(w, axis=1, dtype=np.float64)
    cdf /= cdf[:, -1:]
    offset = np.arange(rows, dtype=np.float64)[:, None]
    u = rng.random((rows, k))
    # smallest j with u < cdf[j]: zero-weight categories (flat CDF steps) are never chosen
    idx = np.searchsorted((cdf + offset).ravel(), (u + offset).ravel(), side="right")
    idx = idx.reshape(rows, k) - np.arange(rows)[:, None] * n
    last = n - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # guard against rounding at u ~ 1
    return np.minimum(np.maximum(idx, 0), last[:, None])


def _without_replacement(rng, w, k):
    with np.errstate(divide="ignore"):
        keys = np.log(w.astype(np.float64))
    keys += rng.gumbel(size=w.shape)
    # descending keys; a stable sort keeps zero-weight (-inf) categories in index order
    order = np.argsort(-keys, axis=1, kind="stable")
    return order[:, :k]


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Sample ``num_samples`` category indices per row of non-negative weights ``input``.

    Args:
        input: weights (need not sum to 1), 1-D (n,) or 2-D (rows, n), floating.
        num_samples: draws per row.
        replacement: draw with replacement (otherwise no index repeats within a row).
        generator: a ``ganglion.Generator`` (default: the global one).

    Returns:
        int64 indices of shape (num_samples,) or (rows, num_samples).

    Raises:
        RuntimeError: bad dims or dtype, negative/non-finite weights, an all-zero row, or
            more samples than categories without replacement.

    Example:
        >>> import ganglion
        >>> ganglion.multinomial(ganglion.ones(4, 3), 3).shape
        ganglion.Size([4, 3])
    """
    check_tensor(input, "multinomial", "input")
    w = np.asarray(input.__array__())
    num_samples = int(num_samples)
    _check(w, num_samples, replacement)
    w2 = w.reshape(1, -1) if w.ndim == 1 else w
    rng = rng_of(generator)
    if w2.shape[0] == 0:
        idx = np.zeros((0, num_samples), dtype=np.int64)
    elif replacement:
        idx = _with_replacement(rng, w2, num_samples)
    else:
        idx = _without_replacement(rng, w2, num_samples)
    idx = idx.astype(np.int64, copy=False)
    return finalize(idx.reshape(-1) if w.ndim == 1 else idx, input.device)
