"""Optimizer step time: ganglion vs torch.optim, side by side in one process.

Parameters have W1's shapes (MLP 784-1024-1024-10: 1.86 M float32 values), W5's (a 4-layer
Transformer encoder LM, d 256, vocab 8000: 7.3 M values in 53 tensors) and W6's (MLP
64-64-64-10, where per-call overhead dominates). Each optimizer step is timed with fresh
random gradients set beforehand; the figure is the median over repeats, ganglion's and
torch's repeats interleaved so that load on this shared machine hits both alike. ganglion runs
its compiled kernels where it has them (``--jit 0``: its NumPy kernels only).

Run: python benchmarks/bench_optim.py [--threads N] [--jit 0|1]   (N: threads for both
libraries, set with ganglion.set_num_threads and torch.set_num_threads; default: the cores)
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
from ganglion import optim
from ganglion.backend import jit

try:
    import torch
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = None

W1 = [(1024, 784), (1024,), (1024, 1024), (1024,), (10, 1024), (10,)]
W6 = [(64, 64), (64,), (64, 64), (64,), (10, 64), (10,)]
_LAYER = [(768, 256), (768,), (256, 256), (256,), (1024, 256), (1024,), (256, 1024), (256,),
          (256,), (256,), (256,), (256,)]
W5 = [(8000, 256)] + _LAYER * 4 + [(256,), (256,), (8000, 256), (8000,)]
REPEATS = {"W1": 40, "W5": 15, "W6": 400}

CASES = [  # (label, ganglion factory, torch factory)
    ("Adam", lambda p: optim.Adam(p, lr=1e-3),
     lambda p: torch.optim.Adam(p, lr=1e-3, foreach=False)),
    ("Adam vs torch foreach", lambda p: optim.Adam(p, lr=1e-3),
     lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True)),
    ("Adam vs torch fused", lambda p: optim.Adam(p, lr=1e-3),
     lambda p: torch.optim.Adam(p, lr=1e-3, fused=True)),
    ("AdamW", lambda p: optim.AdamW(p, lr=1e-3),
     lambda p: torch.optim.AdamW(p, lr=1e-3, foreach=False)),
    ("SGD momentum", lambda p: optim.SGD(p, lr=1e-2, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, foreach=False)),
    ("SGD momentum vs torch foreach", lambda p: optim.SGD(p, lr=1e-2, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, foreach=True)),
]


def _params(shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes]
    gp = [ganglion.nn.Parameter(ganglion.tensor(a.copy())) for a in arrays]
    for p, g in zip(gp, grads):
        p.grad = ganglion.tensor(g)
    tp = None
    if torch is not None:
        tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g)
    return gp, tp


def _time_step(opt) -> float:
    t0 = time.perf_counter()
    opt.step()
    return time.perf_counter() - t0


def bench(shapes, make_g, make_t, repeats):
    gp, tp = _params(shapes)
    gopt = make_g(gp)
    topt = make_t(tp) if torch is not None else None
    for _ in range(3):  # warm-up: lazy state, allocator, thread pools
        gopt.step()
        if topt is not None:
            topt.step()
    gt, tt = [], []
    for _ in range(repeats):
        gt.append(_time_step(gopt))
        if topt is not None:
            tt.append(_time_step(topt))
    g_ms = statistics.median(gt) * 1e3
    t_ms = statistics.median(tt) * 1e3 if tt else float("nan")
    return g_ms, t_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--jit", type=int, default=1, choices=(0, 1))
    args = parser.parse_args()
    if args.threads:
        ganglion.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    if not args.jit and jit.enabled():
        jit.set_enabled(False)
    n_torch = torch.get_num_threads() if torch is not None else 0
    print(f"ganglion threads: {ganglion.get_num_threads()}, compiled kernels: {jit.enabled()}, "
          f"torch threads: {n_torch}")
    print(f"{'workload':5} {'optimizer':32} {'ganglion ms':>12} {'torch ms':>10} {'ratio':>7}")
    for wl, shapes in (("W1", W1), ("W5", W5), ("W6", W6)):
        for label, make_g, make_t in CASES:
            g_ms, t_ms = bench(shapes, make_g, make_t, REPEATS[wl])
            print(f"{wl:5} {label:32} {g_ms:12.3f} {t_ms:10.3f} {g_ms / t_ms:7.2f}")


if __name__ == "__main__":
    main()
