"""Targeted tests for the 'linalg' family: errors, result dtypes, layouts and fast paths.
Forward/gradient/second-derivative agreement with torch for every op is in table_linalg.py."""
import math

import numpy as np
import pytest

import ganglion
from ganglion.testing import check_against_torch

torch = pytest.importorskip("torch")

DTYPES = ["float16", "float32", "float64", "int64", "int32", "uint8"]


def _pair(shape_a, shape_b, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-3, 3, shape_a).astype(dtype)
    b = rng.uniform(-3, 3, shape_b).astype(dtype)
    return a, b


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_dtypes_match_torch(dtype):
    a, b = _pair((2, 3), (3, 4), dtype)
    g = ganglion.from_numpy(a) @ ganglion.from_numpy(b)
    t = torch.from_numpy(a) @ torch.from_numpy(b)
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(g.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=1e-2 if dtype == "float16" else 1e-6)


def test_matmul_bool_raises_like_torch():
    a = np.ones((2, 2), dtype=bool)
    with pytest.raises(RuntimeError):
        torch.from_numpy(a) @ torch.from_numpy(a)
    with pytest.raises(NotImplementedError, match="matmul"):
        ganglion.from_numpy(a) @ ganglion.from_numpy(a)


@pytest.mark.parametrize("shapes,match", [
    (((2, 3), (4, 5)), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (((2, 3, 4), (5, 6)), "matmul"),
    (((3,), (4, 5)), "matmul"),
    (((3, 4), (5,)), "matmul"),
    (((3,), (4,)), "inconsistent tensor size"),
    (((2, 3, 4), (3, 4, 5)), "matmul"),
    (((), (3,)), "at least 1D"),
])
def test_matmul_shape_errors(shapes, match):
    a, b = _pair(*shapes)
    with pytest.raises(RuntimeError):
        torch.from_numpy(a) @ torch.from_numpy(b)
    with pytest.raises(RuntimeError, match=match):
        ganglion.from_numpy(a) @ ganglion.from_numpy(b)


def test_matmul_dtype_mismatch_message():
    a = ganglion.ones(2, 3)
    b = ganglion.ones(3, 2, dtype=ganglion.float64)
    with pytest.raises(RuntimeError, match="float != double"):
        a @ b
    with pytest.raises(RuntimeError, match="matmul"):
        ganglion.matmul(a, b)
    with pytest.raises(TypeError, match="matmul"):
        ganglion.matmul(a, [[1.0]])


@pytest.mark.parametrize("fn,args,match", [
    ("mm", [(3,), (3, 2)], "mm: self must be a matrix"),
    ("mm", [(2, 3), (4, 2)], "mat1 and mat2 shapes"),
    ("bmm", [(2, 3), (3, 2)], "bmm: batch1 must be a 3D tensor"),
    ("bmm", [(2, 2, 3), (3, 3, 2)], "bmm: Expected size"),
    ("mv", [(2, 3), (4,)], "mv: size mismatch"),
    ("mv", [(2, 3), (3, 1)], "mv"),
    ("dot", [(2, 3), (4,)], "dot: 1D tensors expected"),
    ("dot", [(3,), (4,)], "dot: inconsistent tensor size"),
    ("outer", [(3, 1), (4,)], "outer"),
    ("inner", [(3, 2), (4, 3)], "inner"),
])
def test_product_errors(fn, args, match):
    a, b = _pair(*args)
    with pytest.raises(RuntimeError):
        getattr(torch, fn)(torch.from_numpy(a), torch.from_numpy(b))
    with pytest.raises(RuntimeError, match=match):
        getattr(ganglion, fn)(ganglion.from_numpy(a), ganglion.from_numpy(b))


def test_tensordot_mismatch():
    a, b = _pair((2, 3, 4), (4, 3, 5))
    with pytest.raises(RuntimeError, match="tensordot: contracted dimensions need to match"):
        ganglion.tensordot(ganglion.from_numpy(a), ganglion.from_numpy(b), dims=([1, 2], [0, 1]))


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "does not broadcast"),
    ("ij,jk->ik", [(2, 3)], "fewer operands"),
    ("ij->ik", [(2, 3)], "output subscript k does not appear"),
    ("ijk,jk->ik", [(2, 3), (3, 5)], "number of subscripts"),
    ("ii->i", [(2, 3)], "repeated for operand 0"),
    ("ij->jii", [(2, 3)], "appears more than once"),
    ("i1,j->ij", [(2,), (3,)], "invalid subscript"),
])
def test_einsum_errors(eq, shapes, match):
    arrays = [np.ones(s, np.float32) for s in shapes]
    with pytest.raises(RuntimeError):
        torch.einsum(eq, *[torch.from_numpy(a) for a in arrays])
    with pytest.raises(RuntimeError, match=match):
        ganglion.einsum(eq, *[ganglion.from_numpy(a) for a in arrays])


def test_einsum_mixed_dtypes_raise():
    with pytest.raises(RuntimeError, match="einsum"):
        ganglion.einsum("i,i->", ganglion.ones(2), ganglion.ones(2, dtype=ganglion.float64))


def test_einsum_int_and_view_output():
    a = np.arange(6).reshape(2, 3)
    g = ganglion.einsum("ij->ji", ganglion.from_numpy(a))
    t = torch.einsum("ij->ji", torch.from_numpy(a))
    np.testing.assert_array_equal(g.numpy(), t.numpy())
    assert g.dtype == ganglion.int64
    assert not np.shares_memory(g.numpy(), a)  # a fresh array, never a view of the operand


def test_einsum_many_operands_float32():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4, 5), (5, 2), (2,)]]
    g = ganglion.einsum("ij,jk,kl,l->i", *[ganglion.from_numpy(a) for a in arrays])
    t = torch.einsum("ij,jk,kl,l->i", *[torch.from_numpy(a) for a in arrays])
    assert g.dtype == ganglion.float32
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_first_order_fast_path_matches_torch():
    # check_against_torch without gradgrad takes Linear's raw-array backward
    for shapes in ([(4, 3), (5, 3), (5,)], [(2, 4, 3), (5, 3), (5,)], [(4, 3), (5, 3), (4, 5)]):
        check_against_torch(lambda x, w, b: (ganglion if isinstance(x, ganglion.Tensor)
                                             else torch.nn.functional).linear(x, w, b),
                            shapes=shapes, gradgrad=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_large_bias_paths_match_torch(dtype, jit_mode):
    # outputs past the compiled bias add's threshold (2^16 elements), 2-D and 3-D inputs,
    # a transposed (non-contiguous) input; the bias gradient is a gemv
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((260, 64)).astype(dtype), rng.standard_normal(260).astype(dtype)
    for x in (rng.standard_normal((300, 64)), rng.standard_normal((3, 100, 64)),
              rng.standard_normal((100, 3, 64)).transpose(1, 0, 2)):
        x = x.astype(dtype)
        check_against_torch(lambda x, w, b: (ganglion if isinstance(x, ganglion.Tensor)
                                             else torch.nn.functional).linear(x, w, b),
                            inputs=[x, w, b], gradgrad=False,
                            rtol=1e-4 if dtype == np.float32 else 1e-10,
                            atol=1e-4 if dtype == np.float32 else 1e-10)


def test_linear_weight_grad_in_weight_layout():
    x = ganglion.randn(8, 6, 3)
    w = ganglion.randn(5, 3, requires_grad=True)
    b = ganglion.randn(5, requires_grad=True)
    ganglion.linear(x, w, b).sum().backward()
    assert w.grad.shape == (5, 3) and w.grad.array.flags.c_contiguous
    assert w.grad.dtype == ganglion.float32 and b.grad.dtype == ganglion.float32


def test_linear_skips_unneeded_input_grad():
    x = ganglion.randn(4, 3)
    w = ganglion.randn(5, 3, requires_grad=True)
    out = ganglion.linear(x, w)
    assert tuple(out.grad_fn.needs_input_grad[:2]) == (False, True)
    out.sum().backward()
    assert x.grad is None and w.grad is not None


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"linear: .*\(4x20 and 30x10\).*in_features=30"):
        ganglion.linear(ganglion.ones(4, 20), ganglion.ones(10, 30))
    with pytest.raises(RuntimeError, match="float != double"):
        ganglion.linear(ganglion.ones(4, 20), ganglion.ones(10, 20, dtype=ganglion.float64))
    with pytest.raises(RuntimeError, match="linear: bias"):
        ganglion.linear(ganglion.ones(3, 20), ganglion.ones(10, 20), ganglion.ones(4))
    with pytest.raises(RuntimeError, match="at least 1D"):
        ganglion.linear(ganglion.tensor(1.0), ganglion.ones(10, 1))


def test_addmm_beta_zero_ignores_nan():
    inp = torch.full((3,), math.nan)
    t = torch.addmm(inp, torch.ones(2, 4), torch.ones(4, 3), beta=0)
    g = ganglion.addmm(ganglion.full((3,), math.nan), ganglion.ones(2, 4), ganglion.ones(4, 3),
                       beta=0)
    np.testing.assert_array_equal(g.numpy(), t.numpy())


def test_addmm_errors():
    with pytest.raises(RuntimeError, match="addmm"):
        ganglion.addmm(ganglion.ones(4, 4), ganglion.ones(2, 3), ganglion.ones(3, 3))
    with pytest.raises(RuntimeError, match="addmm: mat1 must be a matrix"):
        ganglion.addmm(ganglion.ones(3), ganglion.ones(3), ganglion.ones(3, 3))
    with pytest.raises(RuntimeError, match="addmm"):
        ganglion.addmm(ganglion.ones(3, dtype=ganglion.float64), ganglion.ones(2, 3),
                       ganglion.ones(3, 3))


def test_matmul_backward_without_create_graph_batched():
    check_against_torch(lambda a, b: a @ b, shapes=[(2, 1, 3, 4), (5, 4, 2)])
    check_against_torch(lambda a, b: a @ b, shapes=[(3, 2, 4), (4, 5)])


@pytest.mark.parametrize("call,match", [
    (lambda: ganglion.linalg.vector_norm(ganglion.arange(3)), "floating point"),
    (lambda: ganglion.linalg.vector_norm(ganglion.ones(3), dtype=ganglion.int64), "dtype"),
    (lambda: ganglion.linalg.vector_norm(ganglion.ones(0, 3), math.inf), "empty"),
    (lambda: ganglion.linalg.norm(ganglion.ones(2, 3, 4), ord=2), "must be 1D or 2D"),
    (lambda: ganglion.linalg.matrix_norm(ganglion.ones(3)), "at least 2 dimensions"),
    (lambda: ganglion.linalg.matrix_norm(ganglion.ones(3, 3), 3), "Order 3 not supported"),
    (lambda: ganglion.linalg.matrix_norm(ganglion.ones(2, 3, 4), dim=1), "2-tuple"),
])
def test_norm_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_vector_norm_ord_type_error():
    with pytest.raises(TypeError, match="vector_norm"):
        ganglion.linalg.vector_norm(ganglion.ones(3), "fro")


def test_norm_at_zero_has_zero_gradient_like_torch():
    for ord in (2, 3, 1.5):
        x = ganglion.zeros(3, requires_grad=True)
        ganglion.linalg.vector_norm(x, ord).backward()
        tx = torch.zeros(3, requires_grad=True)
        torch.linalg.vector_norm(tx, ord).backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_inf_norm_ties_split_gradient_like_torch():
    x = ganglion.tensor([1.0, -3.0, 3.0], requires_grad=True)
    ganglion.linalg.vector_norm(x, math.inf).backward()
    tx = torch.tensor([1.0, -3.0, 3.0], requires_grad=True)
    torch.linalg.vector_norm(tx, math.inf).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_norm_dtype_argument_and_float32():
    x = ganglion.ones(3)
    assert ganglion.linalg.vector_norm(x).dtype == ganglion.float32
    assert ganglion.linalg.vector_norm(x, dtype=ganglion.float64).dtype == ganglion.float64


def test_decomposition_errors():
    with pytest.raises(RuntimeError, match="linalg.inv"):
        ganglion.linalg.inv(ganglion.zeros(2, 2))
    with pytest.raises(RuntimeError, match="square"):
        ganglion.linalg.det(ganglion.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.cholesky"):
        ganglion.linalg.cholesky(-ganglion.eye(2))
    with pytest.raises(RuntimeError, match="linalg.solve"):
        ganglion.linalg.solve(ganglion.eye(2), ganglion.ones(3, 1))
