"""Recurrent layers: ganglion vs PyTorch eager, side by side in one process.

Workloads (float32):
  W4: LSTM(input 64, hidden 256), sequence 64, batch 64 (batch_first), last hidden ->
      Linear(10), cross-entropy, Adam step (zero_grad + forward + backward + step);
  LSTM forward only (no_grad) on the same shapes;
  GRU training step on the same shapes;
  packed LSTM step: lengths spread over 16..64.

Each row prints the median ms for ganglion and torch and the ratio ganglion / torch (lower is
better). The libraries run in alternating blocks of repeats (several rounds, so that load on
this shared machine hits both alike): alternating every single step would make each pay for
the other's idle BLAS/OpenMP threads still spinning on the two cores.

Run: python benchmarks/bench_rnn.py [--repeats 15] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ganglion
import ganglion.nn.layers.rnn as _g_rnn_layers
import ganglion.nn.utils.rnn as _g_rnn_utils

try:
    import torch
except ImportError:  # the benchmark still reports ganglion's own figures
    torch = None

I, H, T, B, C = 64, 256, 64, 64, 10


def _model(lib, kind, seed=0):
    nn = lib.nn
    # (ganglion.nn re-exports the recurrent layers once they are wired into nn/layers)
    rnn = getattr(nn, kind, None) or getattr(_g_rnn_layers, kind)
    rnn = rnn(I, H, batch_first=True)
    head = nn.Linear(H, C)
    params = list(rnn.parameters()) + list(head.parameters())
    return rnn, head, lib.optim.Adam(params, lr=1e-3)


def _copy(g_mods, t_mods):
    """Same weights on both sides (ganglion's copied into torch)."""
    for g, t in zip(g_mods, t_mods):
        t.load_state_dict({k: torch.from_numpy(np.array(v.array))
                           for k, v in g.state_dict().items()})


def _train_step(lib, kind, x, y, packed=None):
    rnn, head, opt = _model(lib, kind)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        inp = x if packed is None else packed(x)
        _, h = rnn(inp)
        h = h[0] if kind == "LSTM" else h
        loss = F.cross_entropy(head(h[-1]), y)
        loss.backward()
        opt.step()
    return step, (rnn, head)


def _forward(lib, x):
    rnn, head, _ = _model(lib, "LSTM")

    def step():
        with lib.no_grad():
            rnn(x)
    return step, (rnn, head)


def _packer(lib, lengths):
    utils = lib.nn.utils.rnn if lib is torch else _g_rnn_utils
    return lambda x: utils.pack_padded_sequence(x, lengths, batch_first=True,
                                                enforce_sorted=False)


def _cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.integers(0, C, B)
    lengths = list(rng.integers(16, T + 1, B))
    lengths[0] = T
    return {
        "W4 LSTM train step": lambda lib: _train_step(lib, "LSTM", lib.tensor(x),
                                                      lib.tensor(y)),
        "LSTM forward (no_grad)": lambda lib: _forward(lib, lib.tensor(x)),
        "GRU train step": lambda lib: _train_step(lib, "GRU", lib.tensor(x), lib.tensor(y)),
        "packed LSTM train step": lambda lib: _train_step(lib, "LSTM", lib.tensor(x),
                                                          lib.tensor(y),
                                                          _packer(lib, lengths)),
    }


def _time(fns, repeats, rounds=3):
    for fn in fns:
        fn()  # warm up
    times = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            fn()  # the first step of a block pays for the other library's threads
            for _ in range(max(1, repeats // rounds)):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return [1e3 * statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:  # both libraries: BLAS, numba and torch's intra-op pool
        ganglion.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(f"{'workload':28s} {'ganglion ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, make in _cases().items():
        g_step, g_mods = make(ganglion)
        if torch is None:
            print(f"{name:28s} {_time([g_step], args.repeats)[0]:12.1f}")
            continue
        t_step, t_mods = make(torch)
        _copy(g_mods, t_mods)
        g_ms, t_ms = _time([g_step, t_step], args.repeats)
        print(f"{name:28s} {g_ms:12.1f} {t_ms:10.1f} {g_ms / t_ms:7.2f}")


if __name__ == "__main__":
    main()
