"""Normalization and loss ops: ganglion vs PyTorch eager, side by side in one process.

Workloads (float32, forward + backward unless noted):
  batch_norm 2d, training, affine, on (64, 64, 32, 32)
  layer_norm over the last dim of (16, 128, 256), affine
  cross_entropy on (256, 10) and (2048, 8000) logits with class-index targets

Each row prints the median ms for ganglion and torch (their repeats interleaved, so that load
on this shared machine hits both alike) and the ratio ganglion / torch (lower is better).

Run: python benchmarks/bench_norm_loss.py [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
import ganglion.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = TF = None


def _bn(mod, fn):
    def setup(x):
        c = x.shape[1]
        w = mod.ones(c, requires_grad=True)
        b = mod.zeros(c, requires_grad=True)
        rm, rv = mod.zeros(c), mod.ones(c)
        return lambda: fn.batch_norm(x, rm, rv, w, b, training=True)
    return setup


def _ln(mod, fn):
    def setup(x):
        d = x.shape[-1]
        w = mod.ones(d, requires_grad=True)
        b = mod.zeros(d, requires_grad=True)
        return lambda: fn.layer_norm(x, (d,), w, b)
    return setup


def _ce(mod, fn):
    def setup(x):
        rng = np.random.default_rng(1)
        t = mod.from_numpy(rng.integers(0, x.shape[1], x.shape[0]))
        return lambda: fn.cross_entropy(x, t)
    return setup


CASES = [
    ("batch_norm2d fwd+bwd (64,64,32,32)", (64, 64, 32, 32), _bn, 15),
    ("layer_norm fwd+bwd (16,128,256)", (16, 128, 256), _ln, 30),
    ("cross_entropy fwd+bwd (256,10)", (256, 10), _ce, 200),
    ("cross_entropy fwd+bwd (2048,8000)", (2048, 8000), _ce, 10),
]


def _step(call, x, grad_out):
    t0 = time.perf_counter()
    y = call()
    if grad_out is None:
        y.backward()
    else:
        y.backward(grad_out)
    x.grad = None
    return time.perf_counter() - t0


def _time_case(shape, make, repeats):
    arr = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    gx = ganglion.from_numpy(arr.copy()).requires_grad_()
    g_call = make(ganglion, F)(gx)
    g_out = g_call()
    g_grad = None if g_out.ndim == 0 else ganglion.ones(*g_out.shape)
    if torch is not None:
        tx = torch.from_numpy(arr.copy()).requires_grad_()
        t_call = make(torch, TF)(tx)
        t_out = t_call()
        t_grad = None if t_out.ndim == 0 else torch.ones(*t_out.shape)
    gt, tt = [], []
    for _ in range(repeats + 2):  # the first two of each are warm-up
        gt.append(_step(g_call, gx, g_grad))
        if torch is not None:
            tt.append(_step(t_call, tx, t_grad))
    g_ms = statistics.median(gt[2:]) * 1e3
    t_ms = statistics.median(tt[2:]) * 1e3 if tt else float("nan")
    return g_ms, t_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ganglion.set_num_threads(args.threads)  # BLAS and compiled kernels, as torch's below
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"{'workload':40s} {'ganglion ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, shape, make, repeats in CASES:
        g_ms, t_ms = _time_case(shape, make, repeats)
        print(f"{name:40s} {g_ms:12.3f} {t_ms:10.3f} {g_ms / t_ms:7.2f}")


if __name__ == "__main__":
    main()
