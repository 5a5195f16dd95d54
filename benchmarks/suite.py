"""The benchmark suite: ganglion vs PyTorch eager on DESIGN.md's workloads W1-W6, one command.

    python -m benchmarks.suite [--quick] [--threads N] [--mnist] [--out BENCHMARKS.md]

In one process, with the same thread count for both libraries (torch.set_num_threads, NumPy's
BLAS through threadpoolctl, ganglion's optimizer threads), float32, the same seeds, shapes
and initial weights, it measures:

- the float32 GEMM rate of the machine (2048^3 matmul, NumPy and torch);
- per workload, the median ms per training step (zero_grad + forward + backward + Adam), the
  ratio ganglion / torch, achieved GFLOP/s and its fraction of NumPy's GEMM rate;
- the inference forward (eval, no_grad) of W1-W5;
- per-op overhead on small tensors (forward + backward), reusing bench_op_overhead;
- peak training memory, each library and workload in a fresh process (benchmarks/memory.py);
- with ``--mnist``, time to 99.0% MNIST test accuracy with the same recipe (mnist_recipes.py).

Timing: the two libraries run in alternating blocks of steps, several rounds, so that load on
a shared machine hits both alike; the first step of every block is not counted (it pays for
the other library's idle threads and caches). Writes BENCHMARKS.md and, with ``--json``, the
raw results. Without ``--mnist`` a full run takes a few minutes on a quiet 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # ``python benchmarks/suite.py``: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_op_overhead, bench_rnn, report  # noqa: E402
from benchmarks import workloads as W  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPS = ["add", "mul_scalar", "exp", "relu", "sigmoid", "mean_keepdim", "reshape", "matmul",
       "getitem", "softmax"]


def load_lib(name: str):
    if name == "ganglion":
        import ganglion  # noqa: PLC0415

        return ganglion
    import torch  # noqa: PLC0415

    return torch


def set_threads(n: int) -> None:
    """The same thread count for torch's intra-op pool and ganglion's pools (BLAS, compiled
    kernels, optimizer threads: ``ganglion.set_num_threads``)."""
    import ganglion  # noqa: PLC0415

    ganglion.set_num_threads(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def gemm_rate(repeats: int) -> dict:
    """GFLOP/s of a float32 2048^3 matmul in NumPy (ganglion's BLAS) and in torch."""
    import torch  # noqa: PLC0415

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2048, 2048)).astype(np.float32) for _ in range(2))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out = np.empty_like(a)
    fns = [lambda: np.matmul(a, b, out=out), lambda: torch.mm(ta, tb)]
    ms = bench_rnn._time(fns, repeats, rounds=1)
    flop = 2 * 2048 ** 3
    return {"numpy_gflops": flop / ms[0] / 1e6, "torch_gflops": flop / ms[1] / 1e6,
            "repeats": repeats}


def _repeats(fns, budget_s: float, lo: int, hi: int) -> int:
    """Steps per library so that each spends about ``budget_s`` (after one warm-up call)."""
    for fn in fns:
        fn()
    t = []
    for fn in fns:
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return int(min(hi, max(lo, budget_s / max(t))))


def _timed_pair(fns, budget_s, lo, hi):
    n = _repeats(fns, budget_s, lo, hi)
    rounds = 3 if n >= 6 else 1
    return bench_rnn._time(fns, n, rounds=rounds), n - n % rounds  # steps timed per library


def bench_steps(wids, gemm, budget_s, log, mode="train"):
    """Median ms of a training step (``mode="train"``) or an inference forward ("infer")."""
    rows = []
    for wid in wids:
        g, t = W.pair(wid)
        if mode == "train":
            fns, flop = [g.train().train_step, t.train().train_step], W.TRAIN_FLOPS[wid]
        else:
            fns, flop = [g.eval().infer, t.eval().infer], W.FLOPS[wid]
        (g_ms, t_ms), n = _timed_pair(fns, budget_s, 5, 400)
        rows.append({"id": wid, "ganglion_ms": g_ms, "torch_ms": t_ms, "ratio": g_ms / t_ms,
                     "gflop": flop / 1e9, "ganglion_gflops": flop / g_ms / 1e6,
                     "torch_gflops": flop / t_ms / 1e6,
                     "ganglion_frac": flop / g_ms / 1e6 / gemm["numpy_gflops"],
                     "torch_frac": flop / t_ms / 1e6 / gemm["numpy_gflops"], "repeats": n})
        log(f"{mode} {wid}: ganglion {g_ms:.3f} ms, torch {t_ms:.3f} ms, "
            f"ratio {g_ms / t_ms:.2f} ({n} steps each)")
    return rows


def bench_ops(repeats, log):
    bench_op_overhead.REPEATS = repeats
    rows = []
    for name in OPS:
        shape = (2, 2) if name == "getitem" else (8, 8)
        g, t = bench_op_overhead._time_pair(bench_op_overhead.OPS[name], shape)
        rows.append((name, g, t))
        log(f"op {name}: ganglion {g:.2f} us, torch {t:.2f} us, ratio {g / t:.2f}")
    geo = math.exp(statistics.fmean(math.log(g / t) for _, g, t in rows))
    return {"rows": rows, "geomean": geo, "chain": bench_op_overhead.CHAIN}


def bench_memory(wids, threads, steps, log):
    from benchmarks import memory  # noqa: PLC0415

    rows = []
    for wid in wids:
        r = {"id": wid}
        for lib in ("ganglion", "torch"):
            r[lib] = memory.run_subprocess(wid, lib, threads, steps)
        r["param_mb"] = r["ganglion"].get("param_mb")
        rows.append(r)
        log(f"memory {wid}: ganglion {r['ganglion']}, torch {r['torch']}")
    return rows


def bench_mnist(data_dir, log, recipe="cnn", epochs=8, target=0.99):
    import torch  # noqa: PLC0415

    import ganglion  # noqa: PLC0415
    from benchmarks import mnist_recipes  # noqa: PLC0415
    from ganglion.cli_data import load_tensors  # noqa: PLC0415

    train_set, test_set, _ = load_tensors("mnist", data_dir)
    out = {"recipe": f"{recipe}, Adam 1e-3, cosine over {epochs} epochs, batch 128, 1-px shifts",
           "libs": {}}
    for lib in (ganglion, torch):
        acc, sec, ep = mnist_recipes.train(lib, recipe, train_set, test_set, epochs,
                                           target=target)
        out["libs"][lib.__name__] = {"accuracy": acc, "seconds": sec, "epochs": ep,
                                     "reached": acc >= target}
        log(f"mnist {lib.__name__}: {acc:.4f} after {ep} epochs, {sec:.0f} s")
    return out


def notes(args) -> list[str]:
    return [
        "Timing: medians over the timed steps; ganglion and torch alternate in blocks of steps "
        "(3 rounds when there are at least 6 steps), the first step of each block discarded. "
        "Step counts are chosen so each library spends about "
        f"{args.budget:.0f} s per row (at least 5 steps).",
        "Training step: `opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()` with "
        "`Adam(lr=1e-3)` with default options on both sides (on the CPU torch's default is its "
        "single-tensor for-loop implementation; ganglion's Adam is its fused NumPy update) and "
        "cross-entropy; dropout 0.1 in W5 is active.",
        "GFLOP/s = the workload's FLOPs / median time; fraction = that / NumPy's 2048^3 GEMM rate "
        "measured in this run at the same thread count. The forward FLOP formulas below were "
        "checked against torch.utils.flop_counter on W1, W2, W3, W5 and W6 (exact match; the "
        "counter cannot see inside torch's fused LSTM). Counting a training step as 3x the "
        "forward overstates W1 slightly: neither library computes the first layer's input "
        "gradient (2.45 instead of 2.86 GFLOP).",
        "Memory: each library and workload in a fresh process; peak RSS (VmHWM, reset with "
        "/proc/self/clear_refs) during the first "
        f"{args.mem_steps} training steps minus the RSS before the model was built (after "
        "imports and one W6 step, which takes the libraries' one-time set-up out: ~90 MB for "
        "torch). It includes parameters, gradients, Adam state, activations, temporaries and "
        "allocator caches. The traced column is NumPy's own array bytes (tracemalloc) for "
        "ganglion.",
        "Per-op overhead: bench_op_overhead's chains, ganglion and torch interleaved per repeat.",
        "Inference: `model.eval()` and `torch.no_grad()` / `ganglion.no_grad()`; torch's "
        "Transformer encoder takes its fused fast path there.",
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (about a minute)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both libraries (default: all available cores)")
    ap.add_argument("--workloads", default=",".join(W.WORKLOADS))
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds per library per timed row (default 6, quick 1)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-infer", action="store_true")
    ap.add_argument("--no-ops", action="store_true")
    ap.add_argument("--mnist", action="store_true",
                    help="also time MNIST to 99.0%% test accuracy (long)")
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"),
                    help="markdown output ('' to skip)")
    ap.add_argument("--json", default="", help="also write the raw results here")
    args = ap.parse_args(argv)
    import os  # noqa: PLC0415

    import torch  # noqa: PLC0415

    threads = args.threads or len(os.sched_getaffinity(0))
    set_threads(threads)
    torch.set_num_threads(threads)
    args.budget = args.budget or (1.0 if args.quick else 6.0)
    args.mem_steps = 2 if args.quick else 3
    wids = [w.strip() for w in args.workloads.split(",") if w.strip()]

    def log(msg):
        print(msg, flush=True)

    res = {"machine": report.machine(threads), "workloads": W.WORKLOADS,
           "command": "python -m benchmarks.suite " + " ".join(argv if argv is not None
                                                                else sys.argv[1:])}
    log(f"machine: {res['machine']}")
    res["gemm"] = gemm_rate(3 if args.quick else 7)
    log(f"gemm: {res['gemm']}")
    res["train"] = bench_steps(wids, res["gemm"], args.budget, log)
    res["infer"] = [] if args.no_infer else bench_steps(
        [w for w in wids if w != "W6"], res["gemm"], args.budget / 2, log, mode="infer")
    res["ops"] = ({"rows": [], "geomean": float("nan"), "chain": bench_op_overhead.CHAIN}
                  if args.no_ops else bench_ops(15 if args.quick else 60, log))
    res["memory"] = [] if args.no_memory else bench_memory(wids, threads, args.mem_steps, log)
    if args.mnist:
        res["mnist"] = bench_mnist(args.data_dir, log)
    res["load_end"] = report.load()
    loads = [res["machine"]["load_start"], res["load_end"]]
    peak_load = max([float(v.split("/")[0]) for v in loads if v != "unknown"], default=0.0)
    res["busy"] = peak_load > 0.5 * res["machine"]["cores"] + 0.5
    res["notes"] = notes(args)
    if args.out:
        Path(args.out).write_text(report.markdown(res))
        log(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    return res


if __name__ == "__main__":
    main()
