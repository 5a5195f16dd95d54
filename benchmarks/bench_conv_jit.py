"""The three convolution passes of W2/W3's layers, one at a time: ganglion's raw-array kernels
(``conv_kernels``: forward, input gradient, weight gradient) vs torch's aten ops, same threads,
float32, wall-time medians of interleaved repeats.

    python -m benchmarks.bench_conv_jit [--threads 1] [--repeats 7] [--numpy]

``--numpy`` times ganglion's NumPy path (compiled kernels off) for a before/after. Prints
ganglion ms, torch ms and the ratio (lower is better) per layer and pass, then the totals.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ganglion.backend import jit
from ganglion.ops.conv_kernels import (Geom, conv_forward, conv_input_grad, conv_out_size,
                                       conv_weight_grad)

# name, input shape, weight shape, stride, padding
LAYERS = [
    ("W2 conv1 1->32 28x28 b128", (128, 1, 28, 28), (32, 1, 3, 3), 1, 0),
    ("W2 conv2 32->64 26x26 b128", (128, 32, 26, 26), (64, 32, 3, 3), 1, 0),
    ("W3 stem 3->64 32x32 b64", (64, 3, 32, 32), (64, 3, 3, 3), 1, 1),
    ("W3 64->64 32x32 b64", (64, 64, 32, 32), (64, 64, 3, 3), 1, 1),
    ("W3 64->128 s2 b64", (64, 64, 32, 32), (128, 64, 3, 3), 2, 1),
    ("W3 128->128 16x16 b64", (64, 128, 16, 16), (128, 128, 3, 3), 1, 1),
    ("W3 1x1 64->128 s2 b64", (64, 64, 32, 32), (128, 64, 1, 1), 2, 0),
]


def _passes(xs, ws, stride, pad, rng):
    """{pass: (ganglion fn, torch fn)} for one layer."""
    import torch  # noqa: PLC0415 - the reference, only for the benchmark

    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    geom = Geom((stride,) * 2, ((pad, pad),) * 2, (1, 1), 1)
    osp = conv_out_size(xs[2:], ws[2:], geom)
    g = rng.standard_normal((xs[0], ws[0]) + osp).astype(np.float32)
    tx, tw, tb, tg = map(torch.from_numpy, (x, w, b, g))
    aten = torch.ops.aten

    def t_bwd(mask):
        return lambda: aten.convolution_backward(tg, tx, tw, None, [stride] * 2, [pad] * 2,
                                                 [1, 1], False, [0, 0], 1, mask)

    return {
        "fwd+bias": (lambda: conv_forward(x, w, b, geom, osp),
                     lambda: torch.nn.functional.conv2d(tx, tw, tb, stride, pad)),
        "input grad": (lambda: conv_input_grad(g, w, xs, geom), t_bwd([True, False, False])),
        "weight grad": (lambda: conv_weight_grad(x, g, ws, geom), t_bwd([False, True, False])),
    }


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--numpy", action="store_true", help="ganglion's NumPy path (no numba)")
    args = ap.parse_args()
    from benchmarks.suite import set_threads  # noqa: PLC0415

    set_threads(args.threads)
    if args.numpy:
        jit.set_enabled(False)
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, ganglion {'NumPy' if args.numpy else 'compiled'} path")
    print(f"{'layer':28s} {'pass':12s} {'ganglion ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    tot = [0.0, 0.0]
    for name, xs, ws, stride, pad in LAYERS:
        for pname, (gf, tf) in _passes(xs, ws, stride, pad, rng).items():
            gf(), tf()  # warm up (compiles, first-touch buffers)
            times = ([], [])
            for _ in range(args.repeats):
                times[0].append(_time(gf))
                times[1].append(_time(tf))
            gm, tm = statistics.median(times[0]), statistics.median(times[1])
            tot[0] += gm
            tot[1] += tm
            print(f"{name:28s} {pname:12s} {gm:12.2f} {tm:9.2f} {gm / tm:6.2f}")
    print(f"{'total':41s} {tot[0]:12.2f} {tot[1]:9.2f} {tot[0] / tot[1]:6.2f}")


if __name__ == "__main__":
    main()
