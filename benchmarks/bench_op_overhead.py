"""Per-op overhead: ganglion vs PyTorch eager, side by side in one process.

Each op is applied 50 times in a chain on a small tensor that requires grad, then one
backward runs through the chain; the time per op (forward + backward) is the median over
repeats. Also times W6 (MLP 64-64-64-10, batch 32, one SGD training step) written with the
same tensor code on both libraries.

Run: python benchmarks/bench_op_overhead.py [--threads N]   (default 1: on a loaded machine
torch's idle OpenMP threads spin and its small-op times blow up)
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

CHAIN, REPEATS = 50, 60

OPS = {
    "add": lambda x: x + x,
    "mul_scalar": lambda x: x * 1.0001,
    "sub": lambda x: x - 0.5,
    "div": lambda x: x / 1.0001,
    "exp": lambda x: (x * 0.01).exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "mean_keepdim": lambda x: x.mean(dim=-1, keepdim=True).expand(x.shape),
    "reshape": lambda x: x.reshape(-1).reshape(x.shape),
    "transpose": lambda x: x.t(),
    "matmul": lambda x: x @ x * 0.1,
    "getitem": lambda x: x[0:2, :],
    "softmax": lambda x: x.softmax(dim=-1),
}


def _chain_once(x, fn):
    t0 = time.perf_counter()
    y = x
    for _ in range(CHAIN):
        y = fn(y)
    y.sum().backward()
    x.grad = None
    return (time.perf_counter() - t0) / CHAIN


def _time_pair(fn, shape):
    """Median us per op for ganglion and torch, their repeats interleaved so that load on
    this (noisy, shared) machine hits both alike."""
    gx = ganglion.ones(*shape, requires_grad=True)
    tx = torch.ones(*shape, requires_grad=True) if torch else None
    gt, tt = [], []
    for _ in range(REPEATS):
        gt.append(_chain_once(gx, fn))
        if tx is not None:
            tt.append(_chain_once(tx, fn))
    return statistics.median(gt) * 1e6, (statistics.median(tt) * 1e6 if tt else float("nan"))


def bench_ops():
    rows = []
    for name, fn in OPS.items():
        shape = (2, 2) if name in ("getitem",) else (8, 8)
        try:
            g, t = _time_pair(fn, shape)
        except (AttributeError, TypeError) as e:
            print(f"{name:14s} skipped on ganglion: {e}")
            continue
        rows.append((name, g, t))
    print(f"{'op':14s} {'ganglion us':>12s} {'torch us':>10s} {'ratio':>7s}")
    for name, g, t in rows:
        print(f"{name:14s} {g:12.2f} {t:10.2f} {g / t:7.2f}")
    ratios = [g / t for _, g, t in rows]
    print(f"geometric mean ratio (ganglion / torch): "
          f"{float(np.exp(np.mean(np.log(ratios)))):.2f}")


def _mlp_step(lib, params, x, y, lr=0.01):
    # the idiomatic functional MLP: F.linear (one fused op), relu, log_softmax + NLL
    F = lib.nn.functional
    h = x
    for i, (w, b) in enumerate(params):
        h = F.linear(h, w, b)
        if i < len(params) - 1:
            h = F.relu(h)
    loss = -(F.log_softmax(h, dim=1) * y).sum() / x.shape[0]
    loss.backward()
    with lib.no_grad():
        for w, b in params:
            w.sub_(w.grad * lr)
            b.sub_(b.grad * lr)
            w.grad = None
            b.grad = None
    return loss


def bench_w6():
    rng = np.random.default_rng(0)
    sizes = [64, 64, 64, 10]
    arrays = [(rng.standard_normal((o, i)).astype(np.float32) * 0.1,
               np.zeros(o, np.float32)) for i, o in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((32, 64)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    state = {}
    for lib in (ganglion, torch):
        if lib is None:
            continue
        t = lib.tensor if lib is ganglion else torch.tensor
        params = [(t(w.copy(), requires_grad=True), t(b.copy(), requires_grad=True))
                  for w, b in arrays]
        state[lib] = (params, t(x), t(y))
        for _ in range(20):
            _mlp_step(lib, *state[lib])
    times = {lib: [] for lib in state}
    for _ in range(300):  # interleaved, as in _time_pair
        for lib in state:
            t0 = time.perf_counter()
            _mlp_step(lib, *state[lib])
            times[lib].append(time.perf_counter() - t0)
    res = {lib.__name__: statistics.median(v) * 1e3 for lib, v in times.items()}
    g, tt = res.get("ganglion"), res.get("torch", float("nan"))
    print(f"W6 MLP 64-64-64-10 batch 32 step: ganglion {g:.3f} ms, torch {tt:.3f} ms, "
          f"ratio {g / tt:.2f}")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    n_threads = ap.parse_args().threads
    ganglion.set_num_threads(n_threads)
    if torch is not None:
        torch.set_num_threads(n_threads)
    bench_ops()
    try:
        bench_w6()
    except (AttributeError, TypeError) as e:
        print(f"W6 skipped: {e}")
