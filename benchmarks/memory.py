"""Peak training memory of one workload on one library, each in a fresh process.

Method (the same for both libraries): a new Python process imports the library, sets the
thread count, runs one W6 training step (so that one-time library set-up is not counted) and
records its resident set size (RSS). It then builds the model, optimizer
and batch, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``, value 5) right
after recording the baseline, and runs ``steps`` training steps. The figure is the peak RSS
(``VmHWM``) minus that baseline: parameters, gradients, optimizer state, saved activations,
temporaries and whatever the allocators keep, as the operating system sees it. For ganglion
the process also reports, in a second pass, the peak of NumPy array bytes traced by
``tracemalloc`` (NumPy reports its data buffers there), which separates array data from
allocator slack.

Run: python -m benchmarks.memory W1 ganglion [--threads 1] [--steps 3]   (prints JSON)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"memory: {key} not found in /proc/self/status (Linux only)")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:  # not permitted: the peak then includes the import phase
        return False


def measure(wid: str, lib_name: str, threads: int, steps: int) -> dict:
    """Run in this (fresh) process: the peak RSS increase over ``steps`` training steps."""
    try:
        from benchmarks import suite  # noqa: PLC0415
        from benchmarks import workloads as W  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        import suite  # noqa: PLC0415
        import workloads as W  # noqa: PLC0415
    lib = suite.load_lib(lib_name)
    suite.set_threads(threads)
    # one W6 step first: the library's one-time set-up (torch's allocator and kernel
    # initialisation is ~90 MB) is not the workload's memory
    W.build("W6", lib).train().train_step()
    base = _status_kb("VmRSS")
    reset = _reset_peak()
    built = W.build(wid, lib).train()
    for _ in range(steps):
        built.train_step()
    out = {"workload": wid, "lib": lib_name, "baseline_mb": base / 1024,
           "peak_mb": (_status_kb("VmHWM") - base) / 1024, "peak_reset": reset,
           "param_mb": built.param_bytes() / 2**20}
    if lib_name == "ganglion":
        del built
        tracemalloc.start()
        built = W.build(wid, lib).train()
        for _ in range(min(steps, 2)):
            built.train_step()
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def run_subprocess(wid: str, lib_name: str, threads: int, steps: int = 3,
                   timeout: float = 300) -> dict:
    """:func:`measure` in a fresh interpreter; returns its JSON (or an ``error`` entry)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), GANGLION_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "benchmarks.memory", wid, lib_name, "--threads",
           str(threads), "--steps", str(steps)]
    try:
        res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload")
    ap.add_argument("lib", choices=["ganglion", "torch"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(measure(args.workload, args.lib, args.threads, args.steps)))


if __name__ == "__main__":
    main()
