"""ReLU, GELU (exact, tanh) and SiLU on both paths (compiled kernels and NumPy) vs torch, at
sizes that reach the kernels (and an odd one that ends mid-block), with NaN/inf, float64,
non-contiguous input, second derivatives, and a compiled forward whose backward runs with the
kernels off."""
import numpy as np
import pytest

import ganglion
from ganglion.backend import jit
from ganglion.ops.activation_pointwise import JIT_MIN
from ganglion.testing import check_against_torch

torch = pytest.importorskip("torch")

ACTS = {
    "relu": lambda F: F.relu,
    "gelu": lambda F: F.gelu,
    "gelu_tanh": lambda F: (lambda x: F.gelu(x, approximate="tanh")),
    "silu": lambda F: F.silu,
}
BIG = (3, JIT_MIN // 3 + 7)  # above the kernel threshold, not a multiple of the block


def _fns(name):
    return ACTS[name](ganglion.nn.functional), ACTS[name](torch.nn.functional)


def _x(shape, dtype=np.float32, seed=0):
    x = np.random.default_rng(seed).uniform(-7, 7, shape).astype(dtype)
    x.reshape(-1)[:6] = [0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0]  # the kink, tiny and saturated
    return x


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_both_paths(jit_mode, name, dtype):
    g, t = _fns(name)
    tol = dict(atol=1e-12, rtol=1e-12) if dtype == np.float64 else dict(atol=2e-6, rtol=2e-6)
    check_against_torch(g, inputs=[_x(BIG, dtype)], torch_fn=t, **tol)


@pytest.mark.parametrize("name", ACTS)
def test_small_inputs_and_noncontiguous(jit_mode, name):
    g, t = _fns(name)
    check_against_torch(g, inputs=[_x((5, 7))], torch_fn=t, atol=2e-6, rtol=2e-6)
    check_against_torch(g, inputs=[_x((64, 65))], torch_fn=t, atol=2e-6, rtol=2e-6)  # serial
    check_against_torch(g, inputs=[_x((BIG[1], 3)).T], torch_fn=t, atol=2e-6, rtol=2e-6)


@pytest.mark.parametrize("name", ACTS)
def test_nan_like_torch(jit_mode, name):
    # (not inf: torch's own GELU gives inf or NaN at inf depending on its vectorized path)
    g, t = _fns(name)
    x = _x(BIG)
    x.reshape(-1)[10:13] = np.nan
    gx = ganglion.from_numpy(x).requires_grad_(True)
    tx = torch.from_numpy(x).requires_grad_(True)
    gy, ty = g(gx), t(tx)
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy(), atol=2e-6, rtol=2e-6)
    gy.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), atol=2e-6, rtol=2e-6)


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu"])
def test_second_derivatives_after_a_compiled_forward(jit_mode, name):
    g, t = _fns(name)
    check_against_torch(g, inputs=[_x(BIG)], torch_fn=t, gradgrad=True, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("name", ACTS)
def test_compiled_forward_then_numpy_backward(name):
    if not jit.enabled():
        pytest.skip("compiled kernels are off")
    g, t = _fns(name)
    x = _x(BIG)
    gx = ganglion.from_numpy(x).requires_grad_(True)
    y = g(gx)
    with jit.disabled():
        y.sum().backward()
    tx = torch.from_numpy(x).requires_grad_(True)
    t(tx).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), atol=2e-6, rtol=2e-6)


def test_relu_integer_and_float16_keep_dtype(jit_mode):
    xi = np.arange(-3, JIT_MIN + 3, dtype=np.int64)
    np.testing.assert_array_equal(ganglion.relu(ganglion.from_numpy(xi)).numpy(),
                                  torch.relu(torch.from_numpy(xi)).numpy())
    xh = _x(BIG, np.float16)
    out = ganglion.relu(ganglion.from_numpy(xh))
    assert out.dtype == ganglion.float16
    np.testing.assert_array_equal(out.numpy(), torch.relu(torch.from_numpy(xh)).numpy())


@pytest.mark.parametrize("shape,dim", [((8, 8), -1), ((3, 4, 5), 2), ((6, 1), 1), ((7,), 0),
                                       ((4, 5), 0), ((40, 2000), -1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_both_paths(jit_mode, shape, dim, dtype):
    # the last-dim float32 cases below 2^16 elements take the compiled kernel
    tol = dict(atol=1e-12, rtol=1e-12) if dtype == np.float64 else dict(atol=1e-6, rtol=1e-5)
    x = np.random.default_rng(1).uniform(-30, 30, shape).astype(dtype)
    check_against_torch(lambda t: t.softmax(dim), inputs=[x], gradgrad=True, **tol)


def test_softmax_nan_and_inf_rows_like_torch(jit_mode):
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    x[1, 2] = np.nan
    x[2] = -np.inf
    x[3, 0] = np.inf
    x[4, 1] = -np.inf
    g = ganglion.from_numpy(x).softmax(-1).numpy()
    r = torch.from_numpy(x).softmax(-1).numpy()
    np.testing.assert_allclose(g, r, atol=1e-6, rtol=1e-6)
