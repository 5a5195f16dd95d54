"""Forward + backward of the W2 CNN's conv/pool pieces (DESIGN.md, Performance): ganglion vs
PyTorch eager in one process, same threads, float32, medians of interleaved repeats.

    python benchmarks/bench_conv.py [--repeats 15] [--threads 2]

``--threads`` sets both torch's intra-op threads and NumPy's BLAS threads (threadpoolctl).
Prints ganglion ms, torch ms and the ratio ganglion / torch (lower is better). On a machine
shared with other busy processes, multi-threaded OpenBLAS can slow down many-fold (its threads
spin waiting for a descheduled peer); compare ``--threads 1`` there.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
import ganglion.nn.functional as GF


def _cases(rng):
    """(name, input shape, input needs grad, weight shape or None, fn(F, x, w, b))."""
    return [
        ("conv3x3 1->32, 128x1x28x28", (128, 1, 28, 28), False, (32, 1, 3, 3),
         lambda F, x, w, b: F.conv2d(x, w, b)),
        ("conv3x3 32->64, 128x32x26x26", (128, 32, 26, 26), True, (64, 32, 3, 3),
         lambda F, x, w, b: F.conv2d(x, w, b)),
        ("maxpool2, 128x64x24x24", (128, 64, 24, 24), True, None,
         lambda F, x, w, b: F.max_pool2d(x, 2)),
        ("conv3x3 64->64 pad1, 64x64x32x32", (64, 64, 32, 32), True, (64, 64, 3, 3),
         lambda F, x, w, b: F.conv2d(x, w, b, padding=1)),
        ("W2 convs: conv-relu-conv-relu-pool", (128, 1, 28, 28), False, None, None),
    ]


def _w2(F, x, p):
    y = F.relu(F.conv2d(x, p[0], p[1]))
    y = F.relu(F.conv2d(y, p[2], p[3]))
    return F.max_pool2d(y, 2)


def _setup(lib, case, rng):
    name, xs, xgrad, ws, fn = case
    T = ganglion if lib == "ganglion" else __import__("torch")
    F = GF if lib == "ganglion" else T.nn.functional
    x = T.from_numpy(rng.standard_normal(xs).astype(np.float32)).requires_grad_(xgrad)
    if fn is None:  # the whole W2 feature extractor
        shapes = [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,)]
        params = [T.from_numpy((rng.standard_normal(s) * 0.1).astype(np.float32))
                  .requires_grad_(True) for s in shapes]
        return lambda: _w2(F, x, params), [x] if xgrad else [], params
    if ws is None:
        return lambda: fn(F, x, None, None), [x], []
    w = T.from_numpy((rng.standard_normal(ws) * 0.1).astype(np.float32)).requires_grad_(True)
    b = T.from_numpy(rng.standard_normal(ws[0]).astype(np.float32)).requires_grad_(True)
    return lambda: fn(F, x, w, b), [x] if xgrad else [], [w, b]


def _step(lib, fwd, inputs, params):
    out = fwd()
    leaves = inputs + params
    if lib == "ganglion":
        ganglion.autograd.grad(out.sum(), leaves)
    else:
        import torch  # noqa: PLC0415

        torch.autograd.grad(out.sum(), leaves)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch  # noqa: PLC0415 - the reference, only for the benchmark

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415

        threadpool_limits(limits=args.threads, user_api="blas")
    except ImportError:
        print("threadpoolctl not installed: NumPy's BLAS uses its default thread count")
    rng = np.random.default_rng(0)
    print(f"{'case':40s} {'ganglion ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for case in _cases(rng):
        runs = {lib: _setup(lib, case, np.random.default_rng(1)) for lib in ("ganglion", "torch")}
        times = {lib: [] for lib in runs}
        for lib, r in runs.items():
            _step(lib, *r)  # warm up
        for _ in range(args.repeats):
            for lib, r in runs.items():
                t0 = time.perf_counter()
                _step(lib, *r)
                times[lib].append((time.perf_counter() - t0) * 1e3)
        g, t = statistics.median(times["ganglion"]), statistics.median(times["torch"])
        print(f"{case[0]:40s} {g:12.2f} {t:10.2f} {g / t:7.2f}")


if __name__ == "__main__":
    main()
