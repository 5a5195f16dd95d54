"""Shape-only layers: ``Identity``, ``Flatten``, ``Unflatten`` (torch.nn's).

Example:
    >>> import ganglion
    >>> from ganglion import nn
    >>> nn.Flatten()(ganglion.zeros(2, 3, 4)).shape
    ganglion.Size([2, 12])
"""
from __future__ import annotations

from ganglion.nn.module import Module
from ganglion.tensor import Tensor

__all__ = ["Identity", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored.

    Example:
        >>> import ganglion
        >>> from ganglion import nn
        >>> x = ganglion.ones(2)
        >>> nn.Identity(54, unused="x")(x) is x
        True
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """Flattens dims ``start_dim`` to ``end_dim`` into one (the batch dim 0 is kept).

    Args:
        start_dim: first dim to flatten. Default: 1.
        end_dim: last dim to flatten. Default: -1.

    Shape: (N, *dims) -> (N, prod(dims[start_dim - 1:end_dim]), ...)

    Example:
        >>> import ganglion
        >>> from ganglion import nn
        >>> nn.Flatten(0, 1)(ganglion.zeros(2, 3, 4)).shape
        ganglion.Size([6, 4])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into the shape ``unflattened_size`` (one entry may be -1).

    Example:
        >>> import ganglion
        >>> from ganglion import nn
        >>> nn.Unflatten(1, (2, 5))(ganglion.zeros(3, 10)).shape
        ganglion.Size([3, 2, 5])
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of "
                                f"type {type(elem).__name__} at pos {idx}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
