"""Small Module subclasses written once and built against either library.

``build(nn, lib)`` runs the same class definitions with ``nn``/``lib`` = ``ganglion.nn``/
``ganglion`` or ``torch.nn``/``torch``, so state_dict keys, reprs and hook behaviour can be
compared one to one (layer modules proper are written elsewhere).
"""
from __future__ import annotations

import types

import numpy as np


def build(nn, lib):
    """The toy classes for one library, as a namespace."""
    ns = _layers(nn, lib)
    _models(nn, lib, ns)
    return ns


def _layers(nn, lib):
    class Linear(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.weight = nn.Parameter(lib.zeros(out_features, in_features))
            if bias:
                self.bias = nn.Parameter(lib.zeros(out_features))
            else:
                self.register_parameter("bias", None)

        def forward(self, x):
            y = x @ self.weight.t()
            return y + self.bias if self.bias is not None else y

        def extra_repr(self):
            return (f"in_features={self.in_features}, out_features={self.out_features}, "
                    f"bias={self.bias is not None}")

    class ReLU(nn.Module):
        def forward(self, x):
            return x.relu()

    class BatchNorm1d(nn.Module):
        def __init__(self, num_features, eps=1e-5):
            super().__init__()
            self.num_features, self.eps = num_features, eps
            self.weight = nn.Parameter(lib.ones(num_features))
            self.bias = nn.Parameter(lib.zeros(num_features))
            self.register_buffer("running_mean", lib.zeros(num_features))
            self.register_buffer("running_var", lib.ones(num_features))
            self.register_buffer("num_batches_tracked", lib.tensor(0, dtype=lib.long))

        def forward(self, x):
            return (x - self.running_mean) / (self.running_var + self.eps).sqrt() * \
                self.weight + self.bias

        def extra_repr(self):
            return f"{self.num_features}, eps={self.eps}"

    return types.SimpleNamespace(Linear=Linear, ReLU=ReLU, BatchNorm1d=BatchNorm1d)


def _models(nn, lib, ns):
    Linear, ReLU, BatchNorm1d = ns.Linear, ns.ReLU, ns.BatchNorm1d

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(4, 8)
            self.act = ReLU()
            self.bn = BatchNorm1d(8)
            self.fc2 = Linear(8, 3)
            self.register_buffer("scale", lib.tensor(2.0), persistent=False)

        def forward(self, x):
            return self.fc2(self.bn(self.act(self.fc1(x)))) * self.scale

    class TwoIO(nn.Module):
        """Two inputs, two outputs: for backward hooks."""

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(lib.ones(3))

        def forward(self, x, y):
            return x * self.w + y, (x * y).tanh()

    class Multi(nn.Module):
        """Multi-line extra_repr next to children (torch's repr layout case)."""

        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(Linear(2, 2), ReLU())
            self.head = Linear(2, 1, bias=False)

        def extra_repr(self):
            return "first=1\nsecond=2"

    ns.Net, ns.TwoIO, ns.Multi = Net, TwoIO, Multi


def randomize(module, seed=0):
    """Seeded values in every floating parameter/buffer of a ganglion module (in place)."""
    rng = np.random.default_rng(seed)
    for t in module.state_dict(keep_vars=True).values():  # persistent state only
        if t.is_floating_point():
            t.array[...] = rng.uniform(0.5, 1.5, t.shape).astype(t.array.dtype)
    return module


def to_torch_state(module):
    """A ganglion module's state_dict as torch tensors."""
    import torch  # noqa: PLC0415 - test-only

    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in module.state_dict().items()}
