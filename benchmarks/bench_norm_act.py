"""Normalization and activation ops: ganglion (compiled kernels, and its NumPy path) vs PyTorch
eager, side by side in one process.

Cases (float32): batch norm 2d training forward+backward at W3's two sizes and eval forward,
layer norm at W5's size, ReLU at W3's size, exact/tanh GELU and SiLU on 1M elements
(forward+backward), softmax along the last dim. Each row prints the median ms of ganglion with
kernels, ganglion's NumPy path (``jit.disabled()``) and torch, their repeats interleaved so
that load on this shared machine hits all alike, and the ratio kernels / torch.

Run: python benchmarks/bench_norm_act.py [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
from ganglion.backend import jit

try:
    import torch
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = None


def _bn(train):
    def make(lib, x):
        c = x.shape[1]
        w, b = lib.ones(c, requires_grad=True), lib.zeros(c, requires_grad=True)
        rm, rv = lib.zeros(c), lib.ones(c)
        return lambda: lib.nn.functional.batch_norm(x, rm, rv, w, b, training=train)
    return make


def _ln(lib, x):
    d = x.shape[-1]
    w, b = lib.ones(d, requires_grad=True), lib.zeros(d, requires_grad=True)
    return lambda: lib.nn.functional.layer_norm(x, (d,), w, b)


def _act(name, **kw):
    def make(lib, x):
        fn = getattr(lib.nn.functional, name)
        return lambda: fn(x, **kw)
    return make


def _softmax(lib, x):
    return lambda: x.softmax(-1)


# (label, shape, builder, backward?, repeats)
CASES = [
    ("batch_norm2d train (64,64,32,32)", (64, 64, 32, 32), _bn(True), True, 15),
    ("batch_norm2d train (64,128,16,16)", (64, 128, 16, 16), _bn(True), True, 20),
    ("batch_norm2d eval fwd (64,64,32,32)", (64, 64, 32, 32), _bn(False), False, 20),
    ("layer_norm (16,128,256)", (16, 128, 256), _ln, True, 30),
    ("relu (64,64,32,32)", (64, 64, 32, 32), _act("relu"), True, 15),
    ("gelu exact (1M)", (1024, 1024), _act("gelu"), True, 20),
    ("gelu tanh (1M)", (1024, 1024), _act("gelu", approximate="tanh"), True, 20),
    ("silu (1M)", (1024, 1024), _act("silu"), True, 20),
    ("softmax (8,8)", (8, 8), _softmax, True, 400),
    ("softmax (64,128)", (64, 128), _softmax, True, 200),
]


def _step(call, x, cot, backward):
    t0 = time.perf_counter()
    y = call()
    if backward:
        y.backward(cot)
        x.grad = None
    return time.perf_counter() - t0


def _setup(lib, arr, make):
    x = lib.from_numpy(arr.copy()).requires_grad_()
    call = make(lib, x)
    cot = lib.from_numpy(np.random.default_rng(1).standard_normal(call().shape)
                         .astype(np.float32))
    return call, x, cot


def time_case(shape, make, backward, repeats):
    """Median ms: (ganglion with kernels, ganglion NumPy path, torch)."""
    arr = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    runs = [("jit", _setup(ganglion, arr, make)), ("numpy", _setup(ganglion, arr, make))]
    if torch is not None:
        runs.append(("torch", _setup(torch, arr, make)))
    times = {k: [] for k, _ in runs}
    for i in range(repeats + 2):  # the first two of each are warm-up (and compile)
        for k, (call, x, cot) in runs:
            if k == "numpy":
                with jit.disabled():
                    t = _step(call, x, cot, backward)
            else:
                t = _step(call, x, cot, backward)
            if i >= 2:
                times[k].append(t)
    return tuple(statistics.median(times[k]) * 1e3 if times.get(k) else float("nan")
                 for k in ("jit", "numpy", "torch"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    ganglion.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"threads {args.threads}; forward+backward unless marked fwd")
    print(f"{'case':38s} {'kernels ms':>11s} {'numpy ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, shape, make, backward, repeats in CASES:
        j, n, t = time_case(shape, make, backward, repeats)
        print(f"{name:38s} {j:11.3f} {n:9.3f} {t:9.3f} {j / t:6.2f}")


if __name__ == "__main__":
    main()
