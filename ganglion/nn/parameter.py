"""``Parameter``: a leaf Tensor that a Module registers as learnable.

Example:
    >>> import ganglion
    >>> from ganglion.nn import Parameter
    >>> p = Parameter(ganglion.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
"""
from __future__ import annotations

from ganglion.tensor import Tensor

__all__ = ["Parameter", "Buffer", "is_parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter; shares the data of the tensor it wraps."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ganglion.ops.creation import empty  # noqa: PLC0415

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor to wrap, got {type(data).__name__}")
        p = Tensor.__new__(cls)
        p.array = data.array
        p.grad = None
        p.grad_fn = None
        p._out_idx = 0
        p._vc = data._vc
        p._rg = False
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass  # all set in __new__ (Tensor.__init__ is the legacy constructor)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor to register as a module buffer (``torch.nn.Buffer``)."""

    def __new__(cls, data, *, persistent=True):
        b = Tensor.__new__(cls)
        b.array, b.grad, b.grad_fn, b._out_idx, b._vc, b._rg = \
            data.array, None, None, 0, data._vc, False
        b.persistent = persistent
        return b

    def __init__(self, data, *, persistent=True):
        pass


def is_parameter(obj) -> bool:
    return isinstance(obj, Parameter)
