"""backend.jit (when compiled kernels run) and set_num_threads/get_num_threads."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ganglion
from ganglion.backend import jit


def test_disabled_is_scoped_and_restores():
    before = jit.enabled()
    with jit.disabled():
        assert not jit.enabled()
        assert not jit.enabled_for(np.zeros(2))
        with jit.disabled():
            assert not jit.enabled()
        assert not jit.enabled()
    assert jit.enabled() == before


def test_enabled_for_refuses_non_numpy_arrays():
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    assert jit.enabled_for(np.zeros(2), np.ones(3))
    assert not jit.enabled_for(np.zeros(2), [1.0, 2.0])


def test_env_switch_turns_kernels_off():
    code = "from ganglion.backend import jit; print(jit.enabled())"
    env = dict(os.environ, GANGLION_JIT="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_uses_numpy_paths():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report and leave at once
        os.write(w, b"1" if jit.enabled() else b"0")
        os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    os.close(r)
    assert got == b"0"


def test_kernel_compiles_and_runs():
    if not jit.enabled():
        pytest.skip("compiled kernels are off")

    from numba import prange

    @jit.kernel(parallel=True, cache=False)
    def _scaled(a, s, out):
        for i in prange(a.size):
            out[i] = a[i] * s

    x = np.linspace(-1, 1, 1001, dtype=np.float32)
    y = np.empty_like(x)
    _scaled(x, np.float32(3), y)
    np.testing.assert_array_equal(y, x * np.float32(3))
    assert y.dtype == np.float32


def test_set_enabled_round_trip():
    before = jit.enabled()
    try:
        jit.set_enabled(False)
        assert not jit.enabled()
    finally:
        if jit.AVAILABLE:
            jit.set_enabled(before)


def test_set_num_threads_sets_blas_and_optimizer_threads():
    from threadpoolctl import threadpool_info

    from ganglion.optim import _fused

    n = ganglion.get_num_threads()
    try:
        ganglion.set_num_threads(1)
        assert ganglion.get_num_threads() == 1 == _fused.NUM_THREADS
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        ganglion.set_num_threads(n)


@pytest.mark.parametrize("bad, err", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      ("2", TypeError)])
def test_set_num_threads_rejects_bad_counts(bad, err):
    with pytest.raises(err, match="set_num_threads"):
        ganglion.set_num_threads(bad)


def test_kernels_only_in_the_main_thread():
    import threading

    seen = []
    t = threading.Thread(target=lambda: seen.append(jit.enabled_for(np.zeros(2))))
    t.start()
    t.join()
    assert seen == [False]


@pytest.mark.parametrize("env, expect", [({}, "True"), ({"GANGLION_MALLOC_TUNING": "0"}, "False"),
                                         ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "False")])
def test_allocator_tuning_follows_the_environment(env, expect):
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    code = "import ganglion; from ganglion.backend import allocator; print(allocator.tuned())"
    base = {k: v for k, v in os.environ.items()
            if k not in ("GANGLION_MALLOC_TUNING", "MALLOC_TRIM_THRESHOLD_",
                         "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == expect
