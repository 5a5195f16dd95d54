"""The six workloads of DESIGN.md's Performance section, built the same way on either library.

Every workload is written once against the torch-named API (``lib.nn``, ``lib.optim``), so
ganglion and PyTorch run the same model code; ``build(wid, lib)`` returns a :class:`Built`
with a training step (zero_grad + forward + backward + Adam step) and an inference forward
(eval mode, no_grad). ``pair(wid)`` builds both and copies ganglion's initial weights into the
torch model, so the two start from identical parameters and identical inputs.

``FLOPS[wid]`` is the analytic multiply-add count of one forward pass (2 FLOPs per
multiply-add of every GEMM, convolution and attention product; elementwise work, norms and
the optimizer are not counted). A training step counts 3x the forward: the backward pass
computes two products of the forward's size per layer (input gradient and weight gradient).

Example:
    >>> import ganglion
    >>> b = build("W6", ganglion)
    >>> b.train_step() is None
    True
    >>> FLOPS["W1"] == 2 * 256 * (784 * 1024 + 1024 * 1024 + 1024 * 10)
    True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

try:  # run as ``python -m benchmarks.suite`` or as ``python benchmarks/suite.py``
    from benchmarks import bench_rnn, bench_transformer
except ImportError:  # pragma: no cover - the script's own directory is on sys.path
    import bench_rnn
    import bench_transformer

SEED = 0

# one-line descriptions and the forward FLOP formula, as written in BENCHMARKS.md
WORKLOADS = {
    "W1": ("MLP 784-1024-1024-10, ReLU, cross-entropy, batch 256",
           "2B(784*1024 + 1024*1024 + 1024*10), B=256"),
    "W2": ("CNN 1x28x28: conv3x3(32)-ReLU-conv3x3(64)-ReLU-maxpool2-linear(128)-ReLU-"
           "linear(10), batch 128",
           "2B(26^2*32*9 + 24^2*64*32*9 + 9216*128 + 128*10), B=128"),
    "W3": ("ResNet-ish 3x32x32: conv-BN-ReLU(64), 4 basic blocks (64,64,128s2,128), GAP, "
           "linear(10), batch 64",
           "2B(32^2*64*27 + 4*32^2*64*64*9 + 16^2*128*(64*9 + 3*128*9 + 64) + 128*10), B=64"),
    "W4": ("LSTM input 64, hidden 256, seq 64, batch 64, last hidden -> linear(10)",
           "2BT*4H(I+H) + 2B*H*10, B=64 T=64 I=64 H=256"),
    "W5": ("Transformer encoder LM: 4 pre-LN layers, d 256, 4 heads, ff 1024, seq 128, "
           "batch 16, vocab 8000",
           "2BS(L(4d^2 + 2d*ff + 2Sd) + dV), B=16 S=128 L=4 d=256 ff=1024 V=8000"),
    "W6": ("small-op overhead: MLP 64-64-64-10, batch 32",
           "2B(64*64 + 64*64 + 64*10), B=32"),
}


def _w3_flops(b=64):
    stem = 32 * 32 * 64 * 3 * 9
    blocks12 = 4 * 32 * 32 * 64 * 64 * 9            # two blocks, two convs each, at 32x32
    block3 = 16 * 16 * 128 * (64 * 9 + 128 * 9 + 64)  # strided conv, conv, 1x1 projection
    block4 = 2 * 16 * 16 * 128 * 128 * 9
    return 2 * b * (stem + blocks12 + block3 + block4 + 128 * 10)


_V, _D, _FF, _L, _S, _B = (bench_transformer.VOCAB, bench_transformer.D, bench_transformer.FF,
                           bench_transformer.LAYERS, bench_transformer.SEQ,
                           bench_transformer.BATCH)
_I, _H, _T, _RB = bench_rnn.I, bench_rnn.H, bench_rnn.T, bench_rnn.B

FLOPS = {
    "W1": 2 * 256 * (784 * 1024 + 1024 * 1024 + 1024 * 10),
    "W2": 2 * 128 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 9216 * 128 + 128 * 10),
    "W3": _w3_flops(),
    "W4": 2 * _RB * _T * 4 * _H * (_I + _H) + 2 * _RB * _H * 10,
    "W5": 2 * _B * _S * (_L * (4 * _D * _D + 2 * _D * _FF + 2 * _S * _D) + _D * _V),
    "W6": 2 * 32 * (64 * 64 + 64 * 64 + 64 * 10),
}
TRAIN_FLOPS = {k: 3 * v for k, v in FLOPS.items()}


@dataclass
class Built:
    """One workload on one library: its modules, optimizer and fixed batch."""

    lib: object
    modules: list
    forward: Callable          # the model applied to the fixed inputs
    loss: Callable             # output -> scalar loss
    opt: object

    def train_step(self):
        """zero_grad + forward + backward + Adam step (the modules must be in train mode)."""
        self.opt.zero_grad()
        self.loss(self.forward()).backward()
        self.opt.step()

    def infer(self):
        """One forward pass under no_grad (call :meth:`eval` first)."""
        with self.lib.no_grad():
            return self.forward()

    def train(self):
        for m in self.modules:
            m.train()
        return self

    def eval(self):
        for m in self.modules:
            m.eval()
        return self

    def param_bytes(self) -> int:
        return sum(int(np.prod(p.shape)) * 4 for m in self.modules for p in m.parameters())


def _data(wid):
    """The fixed (seeded) batch of a workload, as NumPy arrays."""
    rng = np.random.default_rng(SEED)
    if wid == "W1":
        return rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256)
    if wid == "W2":
        return rng.standard_normal((128, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 128)
    if wid == "W3":
        return rng.standard_normal((64, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 64)
    if wid == "W4":
        return (rng.standard_normal((_RB, _T, _I)).astype(np.float32),
                rng.integers(0, 10, _RB))
    if wid == "W5":
        tokens = rng.integers(0, _V, (_B, _S + 1)).astype(np.int64)
        return tokens[:, :-1].copy(), tokens[:, 1:].copy()
    if wid == "W6":
        return rng.standard_normal((32, 64)).astype(np.float32), rng.integers(0, 10, 32)
    raise ValueError(f"workloads: unknown workload {wid!r}; choose one of {sorted(WORKLOADS)}")


def _mlp(nn, sizes):
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(i, o), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _w2(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def _w3(nn):
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                           nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.short is None else self.short(x)))

    return nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         Block(64, 64, 1), Block(64, 64, 1), Block(64, 128, 2),
                         Block(128, 128, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(128, 10))


def build(wid: str, lib) -> Built:
    """Workload ``wid`` (``"W1"``..``"W6"``) on ``lib`` (the ganglion or torch module)."""
    x, y = _data(wid)
    lib.manual_seed(SEED)
    F = lib.nn.functional
    ce = F.cross_entropy
    if wid == "W4":
        rnn, head, opt = bench_rnn._model(lib, "LSTM")
        xt, yt = lib.from_numpy(x), lib.from_numpy(y)
        return Built(lib, [rnn, head], lambda: head(rnn(xt)[1][0][-1]),
                     lambda out: ce(out, yt), opt)
    if wid == "W5":
        nn = lib.nn
        model = bench_transformer._lm(lib, nn.TransformerEncoderLayer, nn.TransformerEncoder)
        mask = nn.Transformer.generate_square_subsequent_mask(_S)
        idx, tgt = lib.from_numpy(x), lib.from_numpy(y.reshape(-1))
        return Built(lib, [model], lambda: model(idx, mask),
                     lambda out: ce(out.reshape(-1, _V), tgt),
                     lib.optim.Adam(model.parameters(), lr=1e-3))
    nn = lib.nn
    model = {"W1": lambda: _mlp(nn, [784, 1024, 1024, 10]), "W2": lambda: _w2(nn),
             "W3": lambda: _w3(nn), "W6": lambda: _mlp(nn, [64, 64, 64, 10])}[wid]()
    xt, yt = lib.from_numpy(x), lib.from_numpy(y)
    return Built(lib, [model], lambda: model(xt), lambda out: ce(out, yt),
                 lib.optim.Adam(model.parameters(), lr=1e-3))


def pair(wid: str):
    """(ganglion Built, torch Built) with the torch model holding ganglion's initial weights."""
    import torch  # noqa: PLC0415 - the reference, only for the benchmark

    import ganglion  # noqa: PLC0415

    g, t = build(wid, ganglion), build(wid, torch)
    bench_rnn._copy(g.modules, t.modules)
    return g, t
