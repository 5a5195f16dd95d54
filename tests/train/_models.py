"""Tiny models for the training-loop tests, built from nn.Module, Parameter and F only."""
import math

import ganglion
import ganglion.nn as nn
import ganglion.nn.functional as F


class MLP(nn.Module):
    """Linear layers with ReLU (and optional dropout) between them; torch-like uniform init."""

    def __init__(self, *sizes, dropout=0.0):
        super().__init__()
        self.n_layers, self.dropout = len(sizes) - 1, dropout
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = 1.0 / math.sqrt(fan_in)
            setattr(self, f"w{i}", nn.Parameter(ganglion.rand(fan_out, fan_in) * 2 * bound - bound))
            setattr(self, f"b{i}", nn.Parameter(ganglion.rand(fan_out) * 2 * bound - bound))

    def forward(self, x):
        for i in range(self.n_layers):
            x = F.linear(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"))
            if i < self.n_layers - 1:
                x = F.relu(x)
                if self.dropout:
                    x = F.dropout(x, self.dropout, training=self.training)
        return x


def blobs(n=96, d=4, classes=3, seed=0):
    """Separable Gaussian blobs: float32 features and int64 labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, d))
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.normal(size=(n, d))
    return ganglion.from_numpy(x.astype(np.float32)), ganglion.from_numpy(y.astype(np.int64))
