"""Pooling, cross-entropy and dropout: ganglion vs PyTorch eager, side by side in one process.

Cases (float32, forward + backward unless noted), at the shapes of the workloads:
  max_pool2d(2) on W2's (128, 64, 24, 24) maps; avg_pool2d(2) on the same
  adaptive_avg_pool2d(1) (global average pooling) on W3's (64, 128, 16, 16)
  cross_entropy on W5's (2048, 8000) logits with class-index targets (plain, label smoothing)
  dropout(p=0.1) forward on W5's (16, 128, 1024) feed-forward activations (mask + apply)

Each row prints the median ms for ganglion and torch (their repeats interleaved, so that load
on this shared machine hits both alike) and the ratio ganglion / torch (lower is better).

Run: python -m benchmarks.bench_pool_loss [--threads 2] [--repeats 20]
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks import bench_rnn
from benchmarks.suite import load_lib, set_threads


def _backward(lib, x, y):
    """One backward through ``y`` (a scalar, or a tensor with a ones gradient)."""
    if y.ndim:
        y.backward(lib.ones_like(y))
    else:
        y.backward()
    x.grad = None


def _case(shape, fn, grad=True):
    """A step over a fixed random input of ``shape``: fn(lib, F, x) forward, then backward."""
    arr = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def make(lib):
        x = lib.from_numpy(arr.copy()).requires_grad_(grad)
        F = lib.nn.functional
        fwd = fn(lib, F, x)

        def step():
            y = fwd()
            if grad:
                _backward(lib, x, y)
        return step
    return make


def _ce(**kw):
    def fn(lib, F, x):
        t = lib.from_numpy(np.random.default_rng(1).integers(0, x.shape[1], x.shape[0]))
        return lambda: F.cross_entropy(x, t, **kw)
    return fn


CASES = {
    "max_pool2d(2) fwd+bwd (128,64,24,24)": _case(
        (128, 64, 24, 24), lambda lib, F, x: lambda: F.max_pool2d(x, 2)),
    "max_pool2d(2) fwd (128,64,24,24)": _case(
        (128, 64, 24, 24), lambda lib, F, x: lambda: F.max_pool2d(x, 2), grad=False),
    "max_pool2d(3,s2,p1) fwd+bwd (64,64,32,32)": _case(
        (64, 64, 32, 32), lambda lib, F, x: lambda: F.max_pool2d(x, 3, 2, 1)),
    "avg_pool2d(2) fwd+bwd (128,64,24,24)": _case(
        (128, 64, 24, 24), lambda lib, F, x: lambda: F.avg_pool2d(x, 2)),
    "adaptive_avg_pool2d(1) fwd+bwd (64,128,16,16)": _case(
        (64, 128, 16, 16), lambda lib, F, x: lambda: F.adaptive_avg_pool2d(x, 1)),
    "cross_entropy fwd+bwd (2048,8000)": _case((2048, 8000), _ce()),
    "cross_entropy fwd (2048,8000)": _case((2048, 8000), _ce(), grad=False),
    "cross_entropy ls=0.1 fwd+bwd (2048,8000)": _case((2048, 8000),
                                                      _ce(label_smoothing=0.1)),
    "dropout(0.1) fwd (16,128,1024)": _case(
        (16, 128, 1024), lambda lib, F, x: lambda: F.dropout(x, 0.1), grad=False),
    "dropout(0.1) fwd+bwd (16,128,256)": _case(
        (16, 128, 256), lambda lib, F, x: lambda: F.dropout(x, 0.1)),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    args = ap.parse_args(argv)
    libs = [load_lib("ganglion"), load_lib("torch")]
    set_threads(args.threads)  # after both imports: it sets torch's threads too
    print(f"{'case':46s} {'ganglion ms':>11s} {'torch ms':>9s} {'ratio':>6s}  "
          f"({args.threads} threads)")
    for name, make in CASES.items():
        if args.only not in name:
            continue
        g, t = bench_rnn._time([make(lib) for lib in libs], args.repeats)
        print(f"{name:46s} {g:11.2f} {t:9.2f} {g / t:6.2f}", flush=True)


if __name__ == "__main__":
    main()
