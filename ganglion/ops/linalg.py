"""Op family 'linalg': matrix products and norms (see ganglion/ops/__init__.py).

The ops live in ``linalg_matmul`` (``matmul``/``@``, ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``,
``inner``, ``tensordot``), ``linalg_addmm`` (the fused ``linear`` op and ``addmm``-style
products), ``linalg_einsum`` (``einsum``) and ``linalg_norm`` (``norm``); this module gathers
their public functions and Tensor methods. ``ganglion.linalg`` (torch.linalg) is
``linalg_namespace``.

Example:
    >>> import ganglion
    >>> x = ganglion.ones(4, 3, requires_grad=True)
    >>> (x @ ganglion.ones(3, 2)).sum().backward()
    >>> x.grad.shape
    ganglion.Size([4, 3])
"""
from __future__ import annotations

from ganglion.ops.linalg_addmm import addbmm, addmm, addmv, addr, baddbmm, linear
from ganglion.ops.linalg_einsum import einsum
from ganglion.ops.linalg_matmul import (bmm, dot, ger, inner, matmul, mm, mv, outer, tensordot,
                                        vdot)
from ganglion.ops.linalg_norm import norm
from ganglion.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot",
           "einsum", "linear", "addmm", "baddbmm", "addbmm", "addmv", "addr", "norm"]


def _rmatmul(self, other):
    if not isinstance(other, Tensor):
        from ganglion.ops.creation import as_tensor  # noqa: PLC0415 - rare path

        other = as_tensor(other)
    return matmul(other, self)


TENSOR_METHODS = {
    "matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm,
    "mv": mv, "dot": dot, "vdot": vdot, "outer": outer, "ger": ger, "inner": inner,
    "addmm": addmm, "baddbmm": baddbmm, "addbmm": addbmm, "addmv": addmv, "addr": addr,
    "norm": norm,
}
