"""The ``ganglion`` command. ``ganglion demo`` trains a classifier on real data and reports
test accuracy: by default scikit-learn's bundled 8x8 handwritten digits (no download).

The demo is written with ganglion's tensors and autograd only (``matmul``, ``relu``,
``log_softmax``, indexing, ``backward``), so it exercises the engine end to end.

Example:
    $ ganglion demo --epochs 20
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import ganglion as G

__all__ = ["main", "run_demo"]


def _load_digits():
    try:
        from sklearn.datasets import load_digits  # noqa: PLC0415 - optional 'demo' extra
    except ImportError:
        raise SystemExit("ganglion demo needs scikit-learn for its embedded digits data: "
                         "pip install 'ganglion[demo]'") from None
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> 0..1
    return x, data.target.astype(np.int64)


def _split(x, y, test_fraction, seed):
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def _init_layer(fan_in, fan_out):
    # torch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    bound = 1.0 / np.sqrt(fan_in)
    w = (G.rand(fan_out, fan_in) * 2 - 1) * bound
    b = (G.rand(fan_out) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def _forward(params, x):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.t() + b
        if i < len(params) - 1:
            h = h.relu()
    return h


def _accuracy(params, x, y) -> float:
    with G.no_grad():
        pred = _forward(params, x).argmax(dim=1)
    return float((pred == y).float().mean().item())


def run_demo(epochs=30, batch_size=64, lr=0.1, momentum=0.9, hidden=128, seed=0,
             out=sys.stdout) -> float:
    """Train an MLP 64-hidden-10 with SGD + momentum on the digits; return test accuracy."""
    G.manual_seed(seed)
    x, y = _load_digits()
    xtr, ytr, xte, yte = _split(x, y, 0.2, seed)
    xtr, ytr, xte, yte = (G.from_numpy(a) for a in (xtr, ytr, xte, yte))
    params = [_init_layer(64, hidden), _init_layer(hidden, 10)]
    velocity = [[G.zeros_like(p) for p in layer] for layer in params]
    print(f"ganglion demo: MLP 64-{hidden}-10 on scikit-learn digits "
          f"({len(xtr)} train / {len(xte)} test), SGD lr={lr} momentum={momentum}", file=out)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        perm = G.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), batch_size):
            idx = perm[i:i + batch_size]
            logits = _forward(params, xtr[idx])
            # cross-entropy: mean negative log-probability of the true class
            loss = -logits.log_softmax(dim=1).gather(1, ytr[idx].unsqueeze(1)).mean()
            loss.backward()
            with G.no_grad():
                for layer, vel in zip(params, velocity):
                    for p, v in zip(layer, vel):
                        v.mul_(momentum).add_(p.grad)
                        p.sub_(v * lr)
                        p.grad = None
            total += loss.item() * len(idx)
        if epoch == 1 or epoch % 5 == 0 or epoch == epochs:
            print(f"epoch {epoch:3d}  loss {total / len(xtr):.4f}  "
                  f"test accuracy {_accuracy(params, xte, yte):.4f}", file=out)
    acc = _accuracy(params, xte, yte)
    print(f"final test accuracy {acc:.4f} in {time.perf_counter() - start:.1f} s", file=out)
    return acc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ganglion", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a classifier on the bundled digits")
    demo.add_argument("--epochs", type=int, default=30)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--lr", type=float, default=0.1)
    demo.add_argument("--hidden", type=int, default=128)
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 hidden=args.hidden, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
