"""Multi-layer perceptron.

Example:
    >>> import ganglion
    >>> from ganglion.models import MLP
    >>> MLP(784, [256, 128], 10)(ganglion.randn(2, 1, 28, 28)).shape
    ganglion.Size([2, 10])
"""
from __future__ import annotations

from ganglion import nn

__all__ = ["MLP"]


class MLP(nn.Sequential):
    """Flatten, then Linear -> activation (-> Dropout) per hidden size, then a Linear head.

    State_dict keys are those of the equivalent ``torch.nn.Sequential`` ('1.weight', ...).
    """

    def __init__(self, in_features: int, hidden: list, out_features: int,
                 activation=nn.ReLU, dropout: float = 0.0):
        layers = [nn.Flatten()]
        prev = in_features
        for h in hidden:
            layers += [nn.Linear(prev, h), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            prev = h
        layers.append(nn.Linear(prev, out_features))
        super().__init__(*layers)
