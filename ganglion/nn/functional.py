"""``ganglion.nn.functional`` (``F``): the functional forms of layers, activations and losses,
as ``torch.nn.functional``. The ops live in ``ganglion.ops``; this module gathers the names torch
puts in ``torch.nn.functional``.

Example:
    >>> import ganglion
    >>> import ganglion.nn.functional as F
    >>> F.relu(ganglion.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""
from __future__ import annotations

from ganglion.ops.activation import *  # noqa: F401,F403 - every activation is an F function
from ganglion.ops.activation import __all__ as _activation_all
from ganglion.ops.indexing import one_hot
from ganglion.ops.linalg import linear
from ganglion.ops.pad import pad
from ganglion.ops.random import (alpha_dropout, dropout, dropout1d, dropout2d, dropout3d,
                                 feature_alpha_dropout)
from ganglion.ops.unary import sigmoid, tanh
from ganglion.ops.conv import *  # noqa: F401,F403
from ganglion.ops.pool import *  # noqa: F401,F403
from ganglion.ops.upsample import *  # noqa: F401,F403
from ganglion.ops.norm import *  # noqa: F401,F403
from ganglion.ops.loss import *  # noqa: F401,F403
from ganglion.ops.embedding import *  # noqa: F401,F403
from ganglion.ops import conv as _conv, embedding as _embedding, loss as _loss, norm as _norm
from ganglion.ops import pool as _pool, upsample as _upsample
from ganglion.ops.attention import scaled_dot_product_attention
from ganglion.ops.attention_mha import multi_head_attention_forward

__all__ = list(_activation_all) + [
    "one_hot", "linear", "pad", "dropout", "alpha_dropout", "feature_alpha_dropout",
    "dropout1d", "dropout2d", "dropout3d", "sigmoid", "tanh", "scaled_dot_product_attention",
    "multi_head_attention_forward",
] + [n for m in (_conv, _pool, _upsample, _norm, _loss, _embedding) for n in m.__all__]


def bilinear(input1, input2, weight, bias=None):
    """y = x1^T A_o x2 + b_o for each output feature o (torch.nn.functional.bilinear).

    One einsum contraction over all output features; leading batch dims are kept.

    Example:
        >>> import ganglion
        >>> import ganglion.nn.functional as F
        >>> F.bilinear(ganglion.ones(4, 2), ganglion.ones(4, 3), ganglion.ones(5, 2, 3)).shape
        ganglion.Size([4, 5])
    """
    from ganglion.ops.linalg import einsum  # noqa: PLC0415

    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2] or \
            input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: inputs of shapes {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)} do not match weight of shape "
                           f"{tuple(weight.shape)} (expected (..., {weight.shape[1]}) and "
                           f"(..., {weight.shape[2]}) with equal leading dims).")
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out + bias if bias is not None else out


__all__.append("bilinear")
