"""backend.parallel: parts of one op on ganglion's threads, and the ops that use it (the
convolution's batch blocks, banded linear GEMMs), compared with torch."""
import threading

import numpy as np
import pytest
import torch

import ganglion
from ganglion.backend import jit, parallel
from ganglion.ops import conv_jit


@pytest.fixture
def two_threads():
    before = ganglion.get_num_threads()
    ganglion.set_num_threads(2)
    yield
    ganglion.set_num_threads(before)


def test_split_covers_the_range_in_order():
    for n in (0, 1, 5, 64):
        for parts in (1, 2, 3, 8):
            runs = parallel.split(n, parts)
            assert [i for r in runs for i in r] == list(range(n))
            assert len(runs) <= max(1, parts)
            if runs:
                sizes = [len(r) for r in runs]
                assert max(sizes) - min(sizes) <= 1


def test_run_parts_returns_results_in_parts_order(two_threads):
    parts = [range(k * 1000, (k + 1) * 1000) for k in range(40)]
    assert parallel.run_parts(sum, parts) == [sum(p) for p in parts]


def test_run_parts_runs_parts_at_the_same_time(two_threads):
    # each part waits for the other: run one after the other, the barrier would time out
    meet = threading.Barrier(2, timeout=10)
    assert parallel.run_parts(lambda p: (meet.wait(), p)[1], ["a", "b"]) == ["a", "b"]


def test_run_parts_raises_the_error_after_all_parts_stopped(two_threads):
    done = []

    def part(p):
        if p == 3:
            raise ValueError("part 3 failed")
        done.append(p)
        return p

    with pytest.raises(ValueError, match="part 3 failed"):
        parallel.run_parts(part, list(range(20)))
    # nothing still runs afterwards: the count does not change any more
    n = len(done)
    threading.Event().wait(0.05)
    assert len(done) == n


def test_run_parts_nested_and_from_other_threads_run_in_order(two_threads):
    def outer(p):
        return parallel.run_parts(lambda q: q * 10, [p, p + 1])

    assert parallel.run_parts(outer, [1, 5]) == [[10, 20], [50, 60]]
    out = []
    t = threading.Thread(target=lambda: out.append(parallel.run_parts(lambda q: q, [1, 2, 3])))
    t.start()
    t.join()
    assert out == [[1, 2, 3]]


def test_run_parts_sets_blas_threads_back(two_threads):
    from threadpoolctl import threadpool_info

    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    parallel.run_parts(lambda p: np.ones((64, 64)) @ np.ones((64, 64)), [0, 1, 2])
    after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert after == before


@pytest.mark.parametrize("shape", [(300, 200, 150), (70, 300, 400), (257, 129, 513)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_banded_matmul_matches_numpy(two_threads, monkeypatch, shape, dtype):
    monkeypatch.setattr(parallel, "gemms_claimed", lambda: True)
    monkeypatch.setattr(parallel, "MATMUL_MIN_FLOPS", 1)
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype).T  # a transposed view, as linear's w.T
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(parallel.matmul(a, b), a.astype(np.float64) @ b, rtol=tol,
                               atol=tol * k)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding=1, groups=2),
                                dict(dilation=2, padding=2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_in_many_blocks_on_threads_matches_torch(two_threads, monkeypatch, kw, dtype):
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    # tiny blocks: an odd batch of 7 cut into many blocks shared by the threads
    monkeypatch.setattr(conv_jit, "_BLOCK_BYTES", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4, 9, 11)).astype(dtype)
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    g = rng.standard_normal(torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), **kw).shape).astype(dtype)
    gx, gw, gb = (ganglion.tensor(a, requires_grad=True) for a in (x, w, b))
    out = ganglion.nn.functional.conv2d(gx, gw, gb, **kw)
    out.backward(ganglion.tensor(g))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ref.backward(torch.from_numpy(g))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for mine, theirs in ((out, ref), (gx.grad, tx.grad), (gw.grad, tw.grad), (gb.grad, tb.grad)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


def test_conv2d_weight_grad_does_not_depend_on_threads(monkeypatch):
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    monkeypatch.setattr(conv_jit, "_BLOCK_BYTES", 1)
    rng = np.random.default_rng(2)
    x = ganglion.tensor(rng.standard_normal((13, 3, 8, 8)).astype(np.float32))
    w0 = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    grads = []
    before = ganglion.get_num_threads()
    try:
        for n in (1, 2, 3):
            ganglion.set_num_threads(n)
            w = ganglion.tensor(w0, requires_grad=True)
            ganglion.nn.functional.conv2d(x, w, padding=1).square().sum().backward()
            grads.append(w.grad.numpy())
    finally:
        ganglion.set_num_threads(before)
    assert all(np.array_equal(grads[0], gr) for gr in grads[1:])


def test_banding_and_kernel_threads_follow_recent_convolutions(two_threads, monkeypatch):
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    import numba

    monkeypatch.delenv("GANGLION_KERNEL_THREADS", raising=False)
    monkeypatch.setattr(parallel, "CLAIM_SECONDS", 0.05)
    monkeypatch.setattr(conv_jit, "_BLOCK_BYTES", 1)
    x = ganglion.randn(4, 2, 6, 6)
    ganglion.nn.functional.conv2d(x, ganglion.randn(3, 2, 3, 3))
    assert parallel.gemms_claimed()
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    threading.Event().wait(0.1)
    assert not parallel.gemms_claimed()
    parallel.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))
    assert numba.get_num_threads() == 1
