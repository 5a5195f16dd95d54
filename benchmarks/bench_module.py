"""Module machinery: ganglion vs PyTorch eager, side by side in one process.

Times (medians, float32, the same code on both libraries):
- a hook-free module call (Identity) and a parameter attribute read (``m.weight``);
- W6-sized MLP 64-64-64-10 (batch 32) built from Sequential + a Module using F.linear:
  forward + backward + zero_grad;
- clip_grad_norm_ over W1's parameters (784-1024-1024-10, 1.86 M);
- state_dict() + load_state_dict() of that W1 model.

Run: python benchmarks/bench_module.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np

import ganglion

try:
    import torch
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = None


def _median_ms(fn, repeats, inner=1):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return 1e3 * statistics.median(times)


def _mlp(lib, sizes):
    nn, F = lib.nn, lib.nn.functional

    class Linear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = nn.Parameter(lib.randn(o, i) * (1.0 / i) ** 0.5)
            self.bias = nn.Parameter(lib.zeros(o))

        def forward(self, x):
            return F.linear(x, self.weight, self.bias)

    class ReLU(nn.Module):
        def forward(self, x):
            return x.relu()

    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(i, o), ReLU()]
    return nn.Sequential(*layers[:-1])


def _cases(lib):
    ident = lib.nn.Identity()
    x_small = lib.ones(2)
    small = _mlp(lib, [64, 64, 64, 10])
    xb = lib.tensor(np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32))
    big = _mlp(lib, [784, 1024, 1024, 10])
    for p in big.parameters():
        p.grad = lib.ones_like(p) * 0.01
    sd = {k: v.clone() for k, v in big.state_dict().items()}
    lin = small[0]

    def w6():
        small(xb).sum().backward()
        small.zero_grad()

    return {
        "module call (us)": (lambda: ident(x_small), 1e3, 2000),
        "param attribute (us)": (lambda: lin.weight, 1e3, 5000),
        "W6 fwd+bwd+zero_grad (ms)": (w6, 1.0, 20),
        "clip_grad_norm_ W1 (ms)": (lambda: lib.nn.utils.clip_grad_norm_(big.parameters(),
                                                                         1e9), 1.0, 5),
        "state_dict+load W1 (ms)": (lambda: big.load_state_dict(sd), 1.0, 5),
    }


def main():
    if torch is not None:
        torch.set_num_threads(2)
    g_cases = _cases(ganglion)
    t_cases = _cases(torch) if torch is not None else {}
    print(f"{'case':30s} {'ganglion':>10s} {'torch':>10s} {'ratio':>7s}")
    for name, (fn, scale, inner) in g_cases.items():
        g = scale * _median_ms(fn, 15, inner)
        if name in t_cases:
            tf = t_cases[name][0]
            t = scale * _median_ms(tf, 15, inner)
            print(f"{name:30s} {g:10.3f} {t:10.3f} {g / t:7.2f}")
        else:
            print(f"{name:30s} {g:10.3f}")


if __name__ == "__main__":
    main()
